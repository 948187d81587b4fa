// Package winnet gives net.Conn and net.Listener over a simulated Windows
// process (a *wsspi.Process), driven the way Go's runtime poller and its
// internal/poll and net packages drive Winsock on Windows, so that
// unmodified Go networking code (net/http, gRPC, your own protocol) runs
// over the simulated stack and over any layered provider installed on the
// machine, the misbehaving ones of package wild included, and meets the
// same failures a Go program meets on a Windows machine with such an LSP.
//
// It is written from the behaviour of Go's poller as docs/facts.md §15.1
// records it (G:poll: src/internal/poll/fd_windows.go, with
// src/net/fd_windows.go and src/runtime/netpoll_windows.go), not from its
// code, and follows the newer execIO there, which reads each result with
// WSAGetOverlappedResult itself.
//
// # The parts and the calls they model
//
//   - A [Stack] is the runtime's poller for one process: one completion port
//     (CreateIoCompletionPort with INVALID_HANDLE_VALUE) and one goroutine on
//     a simulated thread that dequeues it with GetQueuedCompletionStatusEx, 64
//     packets at a time, and hands each packet to the operation whose
//     OVERLAPPED it carries, found by the completion key the socket was
//     associated under. [New] also runs Go's start-up check: WSAEnumProtocols
//     over IPPROTO_TCP.
//   - Each socket is associated with the port (CreateIoCompletionPort) and
//     gets the FILE_SKIP_* modes its [SkipPolicy] gives it
//     (SetFileCompletionNotificationModes): Go's process-wide rule, or the
//     per-socket rule of golang/go#77448, which reads the socket's own
//     provider with getsockopt(SO_PROTOCOL_INFOW).
//   - A socket has one read and one write operation, each with its
//     OVERLAPPED, its deadline and a simulated thread that issues its calls;
//     one read and one write run at a time, as under Go's fdMutex.
//   - [Stack.Dial] and [Stack.DialContext]: WSASocket (protocol 0, as Go's
//     sysSocket), association, bind to the wildcard address because ConnectEx
//     needs a bound socket, ConnectEx (fetched with
//     SIO_GET_EXTENSION_FUNCTION_POINTER) waited for as a write, then
//     setsockopt(SO_UPDATE_CONNECT_CONTEXT), getsockname and getpeername.
//   - [Stack.Listen]: WSASocket, bind, listen with SOMAXCONN, association,
//     getsockname. [Listener.Accept]: a new socket associated first, AcceptEx
//     waited for as a read, setsockopt(SO_UPDATE_ACCEPT_CONTEXT) with the
//     listener's handle; connections reset before AcceptEx took them
//     (WSAECONNRESET, ERROR_NETNAME_DELETED) are skipped.
//   - [Conn.Read] and [Conn.Write]: overlapped WSARecv and WSASend. An
//     immediate success returns at once only under
//     FILE_SKIP_COMPLETION_PORT_ON_SUCCESS; otherwise, and for WSA_IO_PENDING,
//     the call waits for its packet, then reads its result with
//     WSAGetOverlappedResult. A zero-byte read of a non-empty buffer is
//     io.EOF. [Conn.CloseRead] and [Conn.CloseWrite] call shutdown.
//   - Deadlines ([Conn.SetDeadline], [Conn.SetReadDeadline],
//     [Conn.SetWriteDeadline]) and Close: a call whose deadline has passed, or
//     whose socket is closing, does not start. A waiting call that its
//     deadline or Close interrupts calls CancelIoEx with its OVERLAPPED
//     (ERROR_NOT_FOUND meaning, as Go reads it, that the call already ended),
//     then waits for the call's packet however long it takes; an
//     ERROR_OPERATION_ABORTED result becomes os.ErrDeadlineExceeded or
//     net.ErrClosed, and a call that succeeded before the cancel reached it
//     counts as done. Close returns once every interrupted call has let go of
//     the socket, then closes it (closesocket).
//
// Errors are *net.OpError values, as the net package returns them: Op is
// "dial", "listen", "accept", "read", "write", "close" or "set", and a
// Winsock or Win32 code travels as an *os.SyscallError named after the call
// ("connectex", "wsarecv", "acceptex", …) around the spi.Errno, so
// errors.Is(err, spi.WSAECONNREFUSED) sees it, and spi.Errno's own Is
// matches the portable errors of the standard library (os.ErrDeadlineExceeded
// for WSAETIMEDOUT, fs.ErrClosed for WSAENOTSOCK, …). Deadlines give
// os.ErrDeadlineExceeded (a net.Error whose Timeout is true) and closed
// sockets net.ErrClosed, the values Go gives.
//
// # The hang over a non-IFS layer
//
// A non-IFS layer (package layered's kit, wild.Lookup("Kit")) hands the
// client a handle of its own (WPUCreateSocketHandle) and issues the real
// receive on its lower socket. CancelIoEx on the client's handle cannot
// reach that receive: it fails with ERROR_NOT_FOUND, Go takes that to mean
// "already completed", and waits for a packet that only the receive's own
// end will send, when data arrives or the peer closes. A read deadline then
// never fires, Close of a connection with a pending read blocks, and so
// does Close of a listener with a pending AcceptEx (net/http's Server.Close
// among them); nanomsg/nng#1598 met the same hang in C. The tests show it as
// a named failure in a synctest bubble. [Options.CancelBaseHandle] is what a
// client must do instead, as libuv does: after the ERROR_NOT_FOUND, ask for
// SIO_BASE_HANDLE and CancelIo there from the thread that issued the call;
// the layer issued its lower call with the client's thread, so that
// cancels it, and the layer completes the client's call as aborted.
//
// The naive layer of package wild (wild.Lookup("Naive")) fails before any
// of this: it passes SIO_GET_EXTENSION_FUNCTION_POINTER down, so Dial calls
// the base provider's ConnectEx with the layer's handle and fails with
// WSAENOTSOCK; it serves no getsockname either, so Listen fails.
//
// # Where winnet differs from Go's poller
//
//   - Go's poller is one per process, started by the runtime; a Stack is a
//     value, and a process may have several.
//   - The runtime's goroutine throws when its wait fails. A Stack's poller
//     ends when its port closes ([Stack.Close], or the process ends), and
//     every operation still waiting then ends with net.ErrClosed, so a test
//     can always stop.
//   - Go panics when CancelIoEx fails with anything but ERROR_NOT_FOUND;
//     winnet treats every failure as ERROR_NOT_FOUND.
//   - Go issues calls from whatever OS thread runs the goroutine; winnet
//     gives each socket a simulated thread per direction (and the stack one
//     for control calls), since a simulated thread does one thing at a time.
//     The base-handle cancel relies on it.
//   - Names are not resolved: addresses are IP literals or "localhost"; an
//     empty host listens on 0.0.0.0 for "tcp" and "tcp4" (Go listens dual
//     stack) and [::] for "tcp6", and dials loopback.
//   - AcceptEx is given no address buffer: the addresses come from
//     getsockname and getpeername rather than GetAcceptExSockaddrs.
//   - Only TCP: no UDP, no raw sockets, no SetKeepAlive, SetLinger or the
//     other options of *net.TCPConn, no ReadFrom/WriteTo shortcuts.
//   - [SkipNever] and [SkipAlways] exist for experiments, and
//     [Options.Base] for a test's peer that no layer is to see; Go has
//     none of them.
//
// # Concurrency
//
// A Stack, its Conns and Listeners are safe for concurrent use. Every wait
// blocks on channels, so a stack works inside a testing/synctest bubble,
// where deadlines run on the bubble's clock.
package winnet
