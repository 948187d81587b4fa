// Package redirect is the IFS layer of the simulated ws2_32, the part
// Windows implements in the ws2ifsl driver: it makes the socket objects
// behind socket handles, routes ReadFile and WriteFile on them, completes
// requests for non-IFS providers (WPUCompleteOverlappedRequest), and counts
// what each of those costs in user/kernel transitions.
//
// # Two kinds of socket handle
//
// An IFS handle is a base provider's file object, made with
// [Layer.CreateFileObject] (the simulated AFD) and registered by the
// provider with WPUModifyIFSHandle. ReadFile and WriteFile on it go
// straight to the provider's [spi.FileDriver]: no layer sees them, not even
// an IFS layered provider that took the handle over with
// WPUModifyIFSHandle.
//
// A non-IFS handle comes from WPUCreateSocketHandle ([Layer.CreateSocketHandle]).
// ReadFile and WriteFile on it are redirected: the request goes up to the
// owning provider's WSPRecv or WSPSend, with the client's overlapped, so the
// client's port association, event and key are honoured when the provider
// completes it with WPUCompleteOverlappedRequest ([Layer.CompleteOverlappedRequest]).
//
// # Transitions
//
// Every call through this layer counts the user/kernel transitions it
// costs, per handle and per process ([Transitions]):
//
//   - ReadFile, WriteFile, CancelIo and CancelIoEx on any socket handle
//     enter the kernel and return: 1 user→kernel, 1 kernel→user. On an IFS
//     handle that is all.
//   - Redirecting ReadFile or WriteFile on a non-IFS handle adds two round
//     trips: the request is handed up to the provider in the process
//     (kernel→user) and its result handed back (user→kernel), then the
//     result is completed in the driver (user→kernel) and the helper
//     returns (kernel→user). A redirected request therefore costs 4 more
//     than a direct one, whatever its outcome: the cost the documentation
//     of WPUCreateSocketHandle warns about.
//   - WPUCompleteOverlappedRequest enters the kernel to post the packet or
//     set the event: 1 user→kernel, 1 kernel→user, on the handle it
//     completes. (The precise flow inside ws2ifsl is not documented; these
//     counts are the simulator's model of it, chosen so that the
//     documented cost is a number a test can assert.)
//
// # File-style results
//
// ReadFile and WriteFile report Win32 codes, as the file system path does:
// WSAECONNRESET and WSAECONNABORTED become ERROR_NETNAME_DELETED,
// WSAEMSGSIZE becomes ERROR_MORE_DATA, WSAENOTSOCK becomes
// ERROR_INVALID_HANDLE; WSA_IO_PENDING is ERROR_IO_PENDING already. A
// graceful close reads as 0 bytes.
//
// A [Layer] and its [Socket] objects are safe for concurrent use.
package redirect
