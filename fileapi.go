package wsspi

import (
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// ReadFile reads from a socket handle, as ReadFile does. On an IFS handle
// the request goes straight to the base provider's driver and no layer sees
// it. On a handle from WPUCreateSocketHandle the redirector turns it into
// the owning provider's WSPRecv, at the cost of two more user/kernel round
// trips (see [Process.Transitions]). With ov nil the call is not
// overlapped. Errors are file-style: ERROR_INVALID_HANDLE for a handle that
// is not a live socket, ERROR_NETNAME_DELETED for a reset connection.
func (t *Thread) ReadFile(h spi.Handle, buf []byte, ov *spi.Overlapped) (uint32, error) {
	c := t.traceCall(trace.LayerIFS, "ReadFile", h, buf)
	return c.endN(t.p.ifs.ReadFile(t.id, h, buf, ov))
}

// WriteFile writes to a socket handle, as WriteFile does; the routing of
// [Thread.ReadFile] applies, with WSPSend.
func (t *Thread) WriteFile(h spi.Handle, buf []byte, ov *spi.Overlapped) (uint32, error) {
	c := t.traceCall(trace.LayerIFS, "WriteFile", h, buf)
	return c.endN(t.p.ifs.WriteFile(t.id, h, buf, ov))
}

// CancelIo cancels the overlapped operations this thread issued on h
// through the driver, as CancelIo does; each completes once with
// ERROR_OPERATION_ABORTED. On a handle from WPUCreateSocketHandle it
// reaches no provider and cancels nothing.
func (t *Thread) CancelIo(h spi.Handle) error {
	return t.traceCall(trace.LayerIFS, "CancelIo", h).end(t.p.ifs.CancelIo(t.id, h))
}

// CancelIoEx cancels the overlapped operations on h that use ov, or all of
// them when ov is nil, whichever thread issued them, as CancelIoEx does. It
// fails with ERROR_NOT_FOUND when there was nothing to cancel.
func (t *Thread) CancelIoEx(h spi.Handle, ov *spi.Overlapped) error {
	return t.traceCall(trace.LayerIFS, "CancelIoEx", h).end(t.p.ifs.CancelIoEx(t.id, h, ov))
}

// GetOverlappedResult returns the result of an overlapped operation on h,
// as kernel32's GetOverlappedResult does: the bytes transferred, and the
// Win32 code of the NTSTATUS in ov.Internal ([spi.RtlNtStatusToDosError]),
// so a peer's reset is ERROR_NETNAME_DELETED where WSAGetOverlappedResult
// says WSAECONNRESET, and a truncated datagram ERROR_MORE_DATA (with its
// bytes) where it says WSAEMSGSIZE. A completed operation is read from ov
// alone, whatever h now is. A pending one gives ERROR_IO_INCOMPLETE, or
// with wait set blocks until it completes (through the socket's provider,
// as WSAGetOverlappedResult waits; ERROR_INVALID_HANDLE if h is no longer
// a socket). A nil ov is ERROR_INVALID_PARAMETER.
func (t *Thread) GetOverlappedResult(h spi.Handle, ov *spi.Overlapped, wait bool) (uint32, error) {
	const op = "GetOverlappedResult"
	c := t.traceCall(trace.LayerKernel, op, h)
	if ov == nil {
		return c.endN(0, spi.NewOpError(op, h, spi.ERROR_INVALID_PARAMETER))
	}
	if ov.InProgress() {
		if !wait {
			return c.endN(0, spi.NewOpError(op, h, spi.ERROR_IO_INCOMPLETE))
		}
		pt, err := t.call(op, h)
		if err != nil {
			return c.endN(0, spi.NewOpError(op, h, spi.ERROR_INVALID_HANDLE))
		}
		_, _, _ = pt.WSPGetOverlappedResult(h, ov, true) // only to wait; the result is read below
		if ov.InProgress() {
			return c.endN(0, spi.NewOpError(op, h, spi.ERROR_IO_INCOMPLETE))
		}
	}
	bytes := uint32(ov.LoadInternalHigh())
	if st := spi.NTStatus(ov.LoadInternal()); !st.IsSuccess() {
		return c.endN(bytes, spi.NewOpError(op, h, spi.RtlNtStatusToDosError(st)))
	}
	return c.endN(bytes, nil)
}
