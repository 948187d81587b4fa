package redirect

import "github.com/wsspi/wsspi/spi"

// DeviceIoControl models NtDeviceIoControlFile on a socket handle, issued
// by thread with the request's OVERLAPPED as its IO_STATUS_BLOCK: on an IFS
// handle whose driver serves device controls ([spi.DeviceController], as
// AFD serves IOCTL_AFD_POLL) the driver gets it, after the I/O manager has
// reset the request's event; anything else refuses it before it starts.
// The result is the NTSTATUS the call returns, as an error: nil for
// STATUS_SUCCESS, spi.STATUS_PENDING when the request completes later
// through the completion rule.
//
// The refusals: STATUS_INVALID_HANDLE for a handle that is no live socket
// of the process (wepoll reads it as "the socket was closed"), and
// STATUS_INVALID_DEVICE_REQUEST for a handle from WPUCreateSocketHandle
// (on Windows a ws2ifsl file object, which is no AFD endpoint; the status
// is the simulator's choice, the one a driver gives for a control code it
// does not serve) and for a driver that serves no device controls. An
// event that names nothing is STATUS_INVALID_HANDLE too, as the I/O manager
// checks it before the request starts.
func (l *Layer) DeviceIoControl(thread spi.ThreadID, h spi.Handle, code uint32, in, out []byte, ov *spi.Overlapped) (uint32, error) {
	const op = "NtDeviceIoControlFile"
	s, err := l.Socket(op, h)
	if err != nil {
		return 0, spi.NewOpError(op, h, spi.STATUS_INVALID_HANDLE)
	}
	l.charge(op, s, 1)
	dc, ok := s.driver.(spi.DeviceController)
	if !ok {
		return 0, spi.NewOpError(op, h, spi.STATUS_INVALID_DEVICE_REQUEST)
	}
	req := spi.IORequest{Overlapped: ov, Thread: thread}
	if err := s.ResetEvent(req); err != nil {
		return 0, spi.NewOpError(op, h, spi.STATUS_INVALID_HANDLE)
	}
	n, err := dc.DeviceIoControl(code, in, out, req)
	return n, spi.NewOpError(op, h, err)
}

// Overlapped reports whether the handle was opened for overlapped I/O, so
// that a call on it that pends returns at once; on one that was not, the
// caller waits for the request to end, as the I/O manager does for a file
// object opened for synchronous I/O.
func (s *Socket) Overlapped() bool { return s.file.Overlapped() }
