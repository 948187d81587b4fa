// Package iocp is the kernel wait machinery of a simulated process: I/O
// completion ports, events, threads with their APC queues, alertable waits,
// and the one rule that delivers the end of an overlapped I/O to a client.
//
// # Objects and handles
//
// A [Kernel] serves one process. It creates every object in the process's
// handle table (package handles), so a port, an event or a thread has a
// handle value exactly as on Windows, and a wrong value fails with
// ERROR_INVALID_HANDLE (WSA_INVALID_HANDLE, the same code). The Kernel has
// two layers:
//
//   - Methods named after Win32 functions take handle values:
//     [Kernel.CreateIoCompletionPort], [Kernel.PostQueuedCompletionStatus],
//     [Kernel.GetQueuedCompletionStatus], [Kernel.GetQueuedCompletionStatusEx],
//     [Kernel.CloseHandle], [Kernel.CreateEvent], [Kernel.SetEvent],
//     [Kernel.ResetEvent], [Kernel.WSAWaitForMultipleEvents],
//     [Kernel.SetFileCompletionNotificationModes], and the upcalls
//     [Kernel.WPUQueueApc], [Kernel.WPUOpenCurrentThread] and
//     [Kernel.WPUCloseThread].
//   - Typed objects, [Port], [Event], [Thread] and [File], carry the same
//     operations as methods. Their types keep objects apart: the multi-event
//     wait [Thread.WaitForEvents] takes events, so a completion port cannot
//     be put into it, as it cannot on Windows.
//
// A [Thread] stands for the simulated thread that makes a call: every wait
// takes the calling thread, which owns an APC queue and is associated with at
// most one port. A [File] is the completion context of a file or socket
// handle (overlapped or not, its port and key, its notification modes); the
// socket objects of other packages hold one.
//
// # The completion rule
//
// [Kernel.Complete] is the only function that reports the end of an
// overlapped I/O; every I/O path of the simulator calls it. It writes
// InternalHigh, then Internal; posts a packet to the handle's port unless
// the hEvent low bit or FILE_SKIP_COMPLETION_PORT_ON_SUCCESS says not to;
// signals hEvent; or queues the completion routine as an APC to the issuing
// thread. See [Completion] for the details.
//
// # Decisions where Windows is silent or Go differs
//
//   - Internal holds an NTSTATUS, as on Windows: the status of the Winsock
//     code the provider reported ([spi.WinsockErrorToNtStatus]), so a peer's
//     reset is STATUS_CONNECTION_RESET. [spi.OverlappedEntry.Internal] holds
//     the same status, and GetQueuedCompletionStatus reports it as its Win32
//     code ([spi.RtlNtStatusToDosError]: ERROR_NETNAME_DELETED for a reset),
//     as kernel32 does. Where the provider's report names no status, the
//     code travels wrapped in facility NTWIN32 and comes back unchanged.
//   - Timeouts are [time.Duration] values. [spi.Infinite] (or any timeout of
//     INFINITE milliseconds or more) never expires; a negative timeout fails
//     with ERROR_INVALID_PARAMETER. [Milliseconds] converts a Win32
//     dwMilliseconds value.
//   - Out-parameters become results: a GetQueuedCompletionStatus that
//     dequeues nothing returns a zero [spi.OverlappedEntry] (nil Overlapped)
//     with the error, where Windows leaves bytes and key untouched.
//   - A timed-out GetQueuedCompletionStatus fails with WAIT_TIMEOUT (258).
//   - A port created with concurrency 0 allows [Options.Processors] running
//     threads, 4 unless set, so runs do not depend on the host.
//   - The completion rule writes InternalHigh and Internal when the I/O
//     completes, as WPUCompleteOverlappedRequest does, also on a handle with
//     a port, where the Windows I/O manager fills the status block only when
//     the packet is dequeued.
//   - A completion routine is the only notification of its I/O: no packet,
//     and HEvent is the client's. (Windows refuses a routine on a handle with
//     a port when the I/O starts; refusing is the I/O path's business.)
//   - An HEvent that names no live event at completion time still lets the
//     packet through; Complete reports WSA_INVALID_HANDLE.
//   - A thread's own handle lives until [Thread.Exit]; CloseHandle closes
//     only the handles [Kernel.WPUOpenCurrentThread] opened.
//   - Closing an event does not end waits on it, as on Windows, where the
//     wait holds a reference; only their timeouts can.
//   - A wait that can be satisfied at once is; otherwise an alertable wait
//     with APCs queued runs them and returns WAIT_IO_COMPLETION; otherwise a
//     zero timeout times out at once. This is the order of the NT wait
//     routines.
//
// # Concurrency and time
//
// Ports, events, files and the Kernel are safe for concurrent use. A
// [Thread] is used by one goroutine at a time, as a thread runs one call at a
// time; APCs run on that goroutine, inside its alertable waits. Every wait
// parks on a channel and a timer, never on a held mutex, so the package works
// inside a testing/synctest bubble with virtual time. The package starts no
// goroutines.
package iocp
