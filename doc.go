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
// # Decisions where Windows is not observable
//
//   - A new process has called WSAStartup(2.2) once, as nearly every
//     Winsock program does first; use [Machine.NewProcessWith] for one that
//     has not.
//   - Go has no thread identity, so WPUOpenCurrentThread cannot know which
//     simulated thread calls it. It returns the process's worker thread: a
//     thread, started on first use and stopped by [Process.Close], that
//     waits alertably forever, so routines queued to it run promptly (the
//     role ws2ifsl's APC thread plays on Windows).
//   - Overlapped.Internal holds the result as a Windows error code (0 for
//     success) rather than an NTSTATUS.
package wsspi
