package spi

// IORequest is an overlapped operation as the client issued it: everything
// the completion rule needs to notify the client later. A provider keeps a
// copy (ThreadID included) for as long as the operation is outstanding.
type IORequest struct {
	// Overlapped is the client's OVERLAPPED; nil for a non-overlapped call.
	Overlapped *Overlapped
	// Routine is the client's completion routine, or nil.
	Routine CompletionRoutine
	// Thread is the issuing thread, where Routine runs as an APC.
	Thread ThreadID
}

// FileObject is the kernel side of an IFS socket handle: the file object a
// base provider's driver (AFD on Windows) creates for each socket, and
// through which it completes I/O. The simulated system implements it and
// hands it out through [Imports.CreateFileObject]; providers call it, they
// do not implement it. Safe for concurrent use.
type FileObject interface {
	// Handle returns the handle value of the file object in the process's
	// handle table. A base provider registers it with WPUModifyIFSHandle
	// before returning it from WSPSocket or WSPAccept.
	Handle() Handle
	// Complete reports the end of an overlapped I/O issued on this handle
	// through the completion rule: it writes InternalHigh (bytes) then
	// Internal (status) and notifies through the client's chosen mechanism
	// (a packet to the associated port unless the hEvent low bit or
	// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS says otherwise, the hEvent event,
	// or req.Routine queued as an APC to req.Thread). immediate says that the
	// call that started the I/O is returning success at once. flags are the
	// receive flags passed to a completion routine.
	Complete(req IORequest, status Errno, bytes uint32, flags uint32, immediate bool)
	// CompleteStatus is Complete for a driver that ends a request with an
	// NTSTATUS of its own rather than a Winsock code, as AFD ends a poll
	// with STATUS_TIMEOUT or STATUS_CANCELLED: status is stored in
	// Internal as is, and a completion routine gets its Winsock code
	// ([NtStatusToWinsockError]).
	CompleteStatus(req IORequest, status NTStatus, bytes uint32, immediate bool)
	// ResetEvent resets the event of an overlapped request as the I/O
	// manager does when the I/O starts: the event req.Overlapped's hEvent
	// names (low bit masked) in the process that issued req (the file
	// object may be shared with another process); nothing when hEvent is 0
	// or is a completion routine's context. It fails with
	// WSA_INVALID_HANDLE if hEvent names no event, and the I/O must then
	// not start.
	ResetEvent(req IORequest) error
	// Close closes the file object's remaining handles (normally one: the
	// last, see [Imports.ReleaseFileHandle]), in whichever processes they
	// are. A provider calls it once, when the socket is closed or cleaned
	// up, after its last completion. A handle the client already closed
	// with CloseHandle is left alone, whatever the value names now.
	Close() error
}

// FileDriver is what a base provider's driver serves on its file objects
// without going through any proc table: ReadFile and WriteFile on an IFS
// handle go straight to it, and CancelIo/CancelIoEx reach it. A base
// provider implements one per socket and passes it to
// [Imports.CreateFileObject].
type FileDriver interface {
	// ReadFile receives into buf with WSPRecv semantics (no flags): nil
	// error is immediate success (notified through req all the same),
	// WSA_IO_PENDING means the request completes later through
	// FileObject.Complete, any other error means nothing started.
	ReadFile(buf []byte, req IORequest) (uint32, error)
	// WriteFile sends buf with WSPSend semantics.
	WriteFile(buf []byte, req IORequest) (uint32, error)
	// CancelIo cancels the outstanding operations issued by thread (all
	// threads when allThreads is set, as CancelIoEx does) that use ov (all
	// when ov is nil). Each cancelled operation completes once with
	// ERROR_OPERATION_ABORTED. It returns how many were cancelled.
	CancelIo(thread ThreadID, allThreads bool, ov *Overlapped) int
	// Cleanup ends the socket because the client closed its handle with
	// CloseHandle instead of closesocket, as AFD ends an endpoint when the
	// last handle of its file object closes (IRP_MJ_CLEANUP): pending
	// operations complete as a close completes them, the connection closes
	// as closesocket would close it, and the file object is closed. The
	// provider's own WSPCloseSocket is never called, so whatever it keeps
	// per socket in user mode stays behind until its WSPCleanup.
	Cleanup()
}

// DeviceController is a [FileDriver] that also serves device controls on
// its file objects (NtDeviceIoControlFile, DeviceIoControl), as AFD serves
// IOCTL_AFD_POLL on a socket handle. A driver that does not implement it
// fails every device control with STATUS_INVALID_DEVICE_REQUEST.
type DeviceController interface {
	// DeviceIoControl serves control code with the caller's buffers (for
	// IOCTL_AFD_POLL the same AFD_POLL_INFO is both). A nil error is
	// immediate success, notified through req all the same, with the bytes
	// written to out; STATUS_PENDING means the request completes later
	// through [FileObject.CompleteStatus], and the driver may write out
	// until then; any other [NTStatus] means nothing started. req.Overlapped
	// is never nil: a synchronous caller waits on one of its own.
	DeviceIoControl(code uint32, in, out []byte, req IORequest) (uint32, error)
}
