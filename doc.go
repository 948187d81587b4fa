// Package wsspi simulates the Windows Sockets 2 SPI handle layer of a
// Windows machine, in process and on any OS: the protocol catalog and the
// provider "DLLs" it names, each process's ws2_32 (handle table, loaded
// providers, completion ports, events, threads and their APC queues), and a
// built-in loopback TCP/UDP base provider.
//
// Three nouns carry the model, as on Windows:
//
//   - a [Machine] holds the catalog, the provider registry and the loopback
//     network that its processes share;
//   - a [Process] is one ws2_32 instance: its handle table, the providers it
//     loaded, its completion ports and events;
//   - a [Thread] issues calls. Overlapped calls remember their issuing
//     thread, because completion routines run on it, in its alertable waits.
//
// Client code reads like Windows code:
//
//	m := wsspi.NewMachine()
//	p := m.NewProcess()
//	th := p.NewThread()
//	s, err := th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, nil, 0, spi.WSA_FLAG_OVERLAPPED)
//	port, err := p.CreateIoCompletionPort(s, 0, 42, 0)
//	_, err = th.WSASend(s, [][]byte{msg}, 0, &ov, nil)
//	e, err := th.GetQueuedCompletionStatus(port, time.Second)
//
// and a test that needs a connection makes one in a call, the client's
// socket and the server's accepted one, both on a completion port
// ([Thread.SocketPair]; [Thread.ListenTCP] for a listener alone):
//
//	pr, err := th.SocketPair(wsspi.PairOptions{CompletionPort: true, ClientKey: 42})
//	_, err = th.WSASend(pr.Client, [][]byte{msg}, 0, &ov, nil)
//	e, err := th.GetQueuedCompletionStatus(pr.Port, time.Second) // e.CompletionKey == 42
//
// Every call is routed as ws2_32 routes it: the handle table names the
// catalog entry that owns a socket, and the call goes to that entry's
// provider through its proc table. Providers receive the upcall table
// ([spi.WSPUpcallTable]) and the functions they link directly
// ([spi.Imports]) from the process that loads them.
//
// Errors are [*spi.OpError] values named after the Windows function and
// wrapping an [spi.Errno]: errors.Is(err, spi.WSAENOTSOCK).
//
// Citation keys in the documentation and comments, such as D:wspsend, are
// defined in docs/facts.md, which states each fact the simulator relies on
// with its public source; docs/design.md records the simulator's own
// decisions.
//
// # Where to start
//
//   - To run a Winsock client: this package's examples, a client with a
//     completion port first, then the methods of [Thread], named after
//     the calls they model.
//   - To write a layered service provider (LSP):
//     [github.com/wsspi/wsspi/layered], a correct non-IFS layer after
//     Microsoft's sample that a few hooks complete, installed into a
//     machine's catalog by layered.Install. Its examples build one.
//   - To test an LSP, one of layered's or your own:
//     [github.com/wsspi/wsspi/spitest] runs it through a table of cases,
//     each checking a Winsock rule (spitest.Run in a test, one call), and
//     lends its fault injector and seeded scheduler to plain tests.
//   - To test a client (an event loop, a poller, a protocol library)
//     against the LSPs that broke real ones:
//     [github.com/wsspi/wsspi/clienttest] runs a scenario under every
//     provider of [github.com/wsspi/wsspi/wild], alone and stacked, and
//     says which configurations break it and why (clienttest.Run, one
//     call). [github.com/wsspi/wsspi/winnet] gives net.Conn and
//     net.Listener over a simulated process, driven as Go's poller drives
//     Winsock, so Go code such as net/http runs over any layer unchanged.
//   - To watch what happens: [MachineOptions.Trace] records every call of
//     every layer, which package [github.com/wsspi/wsspi/trace] prints as
//     a timeline or a Mermaid diagram. The programs under examples/ each
//     tell one story with it: go run ./examples/lsp (the main demo: a
//     byte-counting LSP, its trace step by step), examples/naive-lsp (an
//     LSP that loses every completion), examples/ifs-lsp,
//     examples/skip-on-success, examples/exhaustion (WSAENOBUFS),
//     examples/afd-poll (a wepoll-style poller) and examples/echo (no
//     LSP). The README lists them.
//
// # Readiness
//
// Besides completions, clients learn that a socket is ready in the five
// ways Windows offers, each routed as ws2_32 routes it:
//
//   - [Thread.Select]: ws2_32 asks each socket's provider for
//     SIO_BSP_HANDLE_SELECT and gives the whole call to the WSPSelect of
//     the provider of the first answer. A layer that passes the code down
//     lets the base provider serve select; a non-IFS layer that answers
//     with its own handle serves it, and then must know every socket of
//     the call (a layer installed over some protocols only breaks select
//     calls that mix its sockets with others, as python-trio found).
//   - [Thread.WSAPoll]: SIO_BSP_HANDLE_POLL, then one IOCTL_AFD_POLL on the
//     base sockets; no layer ever sees it.
//   - [Thread.WSAEventSelect] with [Thread.WSAEnumNetworkEvents], and
//     [Thread.WSAAsyncSelect] with [Process.GetMessage]: network events
//     recorded by the base provider under Windows' re-enabling rules
//     (package loopback documents them), passed down by layers with the
//     client's event, or reposted by a non-IFS layer from a window of its
//     own with its own handle. Both force non-blocking mode, which
//     [Thread.Ioctlsocket] (FIONBIO) cannot undo while they are on.
//   - [Thread.NtDeviceIoControlFile] with IOCTL_AFD_POLL on a base
//     provider's socket, as wepoll, mio and libuv's uv_poll do: the poll
//     completes through the socket's completion port or event like any
//     I/O, CancelIoEx cancels it, and on a non-IFS layer's handle it fails
//     with STATUS_INVALID_DEVICE_REQUEST, which is why such clients ask for
//     SIO_BASE_HANDLE first. examples/afd-poll is such a poller.
//
// # Decisions where Windows is not observable
//
//   - A new process has called WSAStartup(2.2) once, as nearly every
//     Winsock program does first; use [Machine.NewProcessWithoutStartup] for one that
//     has not.
//   - Go has no thread identity, so WPUOpenCurrentThread cannot know which
//     simulated thread calls it. It returns the process's worker thread: a
//     thread, started on first use and stopped by [Process.Close], that
//     waits alertably forever, so routines queued to it run promptly (the
//     role ws2ifsl's APC thread plays on Windows).
//   - A process that closes ([Process.Close]) ends its threads' waits:
//     those on a port with ERROR_ABANDONED_WAIT_0, the others with
//     ERROR_PROCESS_ABORTED, the code of every later wait too.
//   - There are no windows: a message posted to a client's window is
//     queued for its process ([Process.GetMessage], [Process.PostedMessages]),
//     and one posted to a provider's hidden window runs the window's
//     procedure in the posting call.
//   - A provider that reports a Winsock code where Windows would store an
//     NTSTATUS (WPUCompleteOverlappedRequest's dwError, a failed WSPRecv)
//     gets the status of [spi.WinsockErrorToNtStatus] stored for it, so a
//     client hears the same codes through a layered provider as without
//     one.
//
// # Status codes
//
// Overlapped.Internal holds an NTSTATUS ([spi.NTStatus]), as on Windows,
// and each API reports it the way its family does, from the one table in
// package spi ([spi.RtlNtStatusToDosError] for kernel32,
// [spi.NtStatusToWinsockError] for Winsock):
//
//	what happened                       Internal                   GQCS, GetOverlappedResult, ReadFile   WSAGetOverlappedResult, routine
//	success                             STATUS_SUCCESS             (no error)                            (no error)
//	peer reset the connection           STATUS_CONNECTION_RESET    ERROR_NETNAME_DELETED (64)            WSAECONNRESET
//	closesocket of a connected socket   STATUS_CONNECTION_ABORTED  ERROR_CONNECTION_ABORTED (1236)       WSAECONNABORTED
//	CancelIo(Ex), AcceptEx's listener   STATUS_CANCELLED           ERROR_OPERATION_ABORTED (995)         WSA_OPERATION_ABORTED (995)
//	closed, thread exit, WSACleanup
//	datagram cut to the buffer          STATUS_BUFFER_OVERFLOW     ERROR_MORE_DATA (234)                 WSAEMSGSIZE
//	still in progress                   STATUS_PENDING (0x103)     ERROR_IO_INCOMPLETE                   WSA_IO_INCOMPLETE
//
// A Winsock code with no status of its own travels as 0xC007xxxx (facility
// NTWIN32) and comes back unchanged from both mappings.
package wsspi
