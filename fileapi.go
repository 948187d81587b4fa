package wsspi

import (
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// ReadFile reads from a socket handle, as ReadFile does. On an IFS handle
// the request goes straight to the base provider's driver and no layer sees
// it. On a handle from WPUCreateSocketHandle it becomes the owning
// provider's WSPRecv. With ov nil the call is not overlapped.
func (t *Thread) ReadFile(h spi.Handle, buf []byte, ov *spi.Overlapped) (uint32, error) {
	const op = "ReadFile"
	o, err := t.fileObject(op, h)
	if err != nil {
		return 0, err
	}
	if o.driver != nil {
		n, err := o.driver.ReadFile(buf, spi.IORequest{Overlapped: ov, Thread: t.id})
		return n, spi.NewOpError(op, h, err)
	}
	pt, err := t.call(op, h)
	if err != nil {
		return 0, err
	}
	var flags uint32
	n, err := pt.WSPRecv(h, [][]byte{buf}, &flags, ov, nil, &t.id)
	return n, spi.NewOpError(op, h, err)
}

// WriteFile writes to a socket handle, as WriteFile does; the routing of
// [Thread.ReadFile] applies, with WSPSend.
func (t *Thread) WriteFile(h spi.Handle, buf []byte, ov *spi.Overlapped) (uint32, error) {
	const op = "WriteFile"
	o, err := t.fileObject(op, h)
	if err != nil {
		return 0, err
	}
	if o.driver != nil {
		n, err := o.driver.WriteFile(buf, spi.IORequest{Overlapped: ov, Thread: t.id})
		return n, spi.NewOpError(op, h, err)
	}
	pt, err := t.call(op, h)
	if err != nil {
		return 0, err
	}
	n, err := pt.WSPSend(h, [][]byte{buf}, 0, ov, nil, &t.id)
	return n, spi.NewOpError(op, h, err)
}

// CancelIo cancels the overlapped operations this thread issued on h
// through the file system path, as CancelIo does; each completes once with
// ERROR_OPERATION_ABORTED. On a handle from WPUCreateSocketHandle it
// reaches no provider: the layer's own requests to the layer below are not
// the client's, so nothing is cancelled.
func (t *Thread) CancelIo(h spi.Handle) error {
	o, err := t.fileObject("CancelIo", h)
	if err != nil {
		return err
	}
	if o.driver != nil {
		o.driver.CancelIo(t.id, false, nil)
	}
	return nil
}

// CancelIoEx cancels the overlapped operations on h that use ov, or all of
// them when ov is nil, whichever thread issued them, as CancelIoEx does. It
// fails with ERROR_NOT_FOUND when there was nothing to cancel.
func (t *Thread) CancelIoEx(h spi.Handle, ov *spi.Overlapped) error {
	o, err := t.fileObject("CancelIoEx", h)
	if err != nil {
		return err
	}
	if o.driver == nil || o.driver.CancelIo(t.id, true, ov) == 0 {
		return spi.NewOpError("CancelIoEx", h, spi.ERROR_NOT_FOUND)
	}
	return nil
}

// fileObject finds the socket object of a file handle, or fails with
// ERROR_INVALID_HANDLE.
func (t *Thread) fileObject(op string, h spi.Handle) (*socketObject, error) {
	e, ok := t.p.table.Lookup(h)
	if !ok || (e.Kind != handles.KindSocket && e.Kind != handles.KindIFSSocket) {
		return nil, spi.NewOpError(op, h, spi.ERROR_INVALID_HANDLE)
	}
	return e.Object.(*socketObject), nil
}
