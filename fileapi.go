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
