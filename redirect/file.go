package redirect

import (
	"sync"

	"github.com/wsspi/wsspi/spi"
)

// ReadFile models ReadFile on a socket handle, issued by thread: on an IFS
// handle the provider's driver serves it directly; on a non-IFS handle it
// becomes the owner's WSPRecv with the client's overlapped (and no thread
// id: the request runs on ws2ifsl's helper thread, not the client's). With
// ov nil the call is not overlapped. Results are file-style (see the
// package documentation).
func (l *Layer) ReadFile(thread spi.ThreadID, h spi.Handle, buf []byte, ov *spi.Overlapped) (uint32, error) {
	const op = "ReadFile"
	s, err := l.Socket(op, h)
	if err != nil {
		return 0, err
	}
	l.charge(op, s, 1)
	if s.driver != nil {
		n, err := s.driver.ReadFile(buf, spi.IORequest{Overlapped: ov, Thread: thread})
		return n, fileError(op, h, err)
	}
	procs, err := l.redirect(op, s)
	if err != nil {
		return 0, err
	}
	r := getUpcall(buf)
	if ov == nil && s.synchronous.Load() {
		defer r.put()
		return s.syncRedirect(op, func(ov *spi.Overlapped) (uint32, error) {
			return procs.WSPRecv(h, r.bufs[:], &r.flags, ov, nil, nil)
		})
	}
	n, err := procs.WSPRecv(h, r.bufs[:], &r.flags, ov, nil, nil)
	r.put()
	return n, fileError(op, h, err)
}

// WriteFile models WriteFile on a socket handle; the routing of
// [Layer.ReadFile] applies, with WSPSend.
func (l *Layer) WriteFile(thread spi.ThreadID, h spi.Handle, buf []byte, ov *spi.Overlapped) (uint32, error) {
	const op = "WriteFile"
	s, err := l.Socket(op, h)
	if err != nil {
		return 0, err
	}
	l.charge(op, s, 1)
	if s.driver != nil {
		n, err := s.driver.WriteFile(buf, spi.IORequest{Overlapped: ov, Thread: thread})
		return n, fileError(op, h, err)
	}
	procs, err := l.redirect(op, s)
	if err != nil {
		return 0, err
	}
	r := getUpcall(buf)
	if ov == nil && s.synchronous.Load() {
		defer r.put()
		return s.syncRedirect(op, func(ov *spi.Overlapped) (uint32, error) {
			return procs.WSPSend(h, r.bufs[:], 0, ov, nil, nil)
		})
	}
	n, err := procs.WSPSend(h, r.bufs[:], 0, ov, nil, nil)
	r.put()
	return n, fileError(op, h, err)
}

// redirect charges the two extra round trips of a redirected request and
// finds the owner's proc table.
func (l *Layer) redirect(op string, s *Socket) (*spi.WSPProcTable, error) {
	up := "WSPRecv" // the call the request becomes
	if op == "WriteFile" {
		up = "WSPSend"
	}
	l.charge(up, s, 2)
	procs, err := l.owner(op, s.Handle())
	if err != nil {
		return nil, fileError(op, s.Handle(), err)
	}
	return procs, nil
}

// CancelIo models CancelIo on a socket handle, issued by thread: the
// operations that thread issued on h through the driver complete once each
// with ERROR_OPERATION_ABORTED. On a non-IFS handle nothing is cancelled:
// the layer's own requests to the layer below are not the client's, and no
// SPI entry cancels a request in a layered provider.
func (l *Layer) CancelIo(thread spi.ThreadID, h spi.Handle) error {
	s, err := l.Socket("CancelIo", h)
	if err != nil {
		return err
	}
	l.charge("CancelIo", s, 1)
	if s.driver != nil {
		s.driver.CancelIo(thread, false, nil)
	}
	return nil
}

// CancelIoEx models CancelIoEx: the operations on h that use ov, or all of
// them when ov is nil, whichever thread issued them, complete once each
// with ERROR_OPERATION_ABORTED. It fails with ERROR_NOT_FOUND when there was
// nothing to cancel, as on a non-IFS handle (see [Layer.CancelIo]).
func (l *Layer) CancelIoEx(thread spi.ThreadID, h spi.Handle, ov *spi.Overlapped) error {
	const op = "CancelIoEx"
	s, err := l.Socket(op, h)
	if err != nil {
		return err
	}
	l.charge(op, s, 1)
	if s.driver == nil || s.driver.CancelIo(thread, true, ov) == 0 {
		return spi.NewOpError(op, h, spi.ERROR_NOT_FOUND)
	}
	return nil
}

// fileError reports a provider's error as ReadFile and WriteFile do: the
// I/O request ends with the status of the provider's Winsock code
// ([spi.WinsockErrorToNtStatus]), and kernel32 reports that status's Win32
// code ([spi.RtlNtStatusToDosError]), the rule GetQueuedCompletionStatus
// follows too: WSAECONNRESET is ERROR_NETNAME_DELETED, WSAECONNABORTED
// ERROR_CONNECTION_ABORTED, WSAEMSGSIZE ERROR_MORE_DATA, WSAENOTSOCK
// ERROR_INVALID_HANDLE, WSA_IO_PENDING ERROR_IO_PENDING; a code with no
// status of its own comes back unchanged.
func fileError(op string, h spi.Handle, err error) error {
	if err == nil {
		return nil
	}
	code := spi.ErrnoOf(err)
	win32 := spi.RtlNtStatusToDosError(spi.WinsockErrorToNtStatus(code))
	if oe, ok := err.(*spi.OpError); ok && oe.Op == op && win32 == code {
		return err
	}
	return spi.NewOpError(op, h, win32)
}

// upcallArgs are the WSABUF array and flags word a redirected ReadFile or
// WriteFile hands the provider. They live for the call only: a provider
// copies the WSABUF array before it returns when the operation goes
// overlapped, and writes the flags only at once (docs/facts.md §2.5), so
// they are pooled and a redirected request allocates nothing.
type upcallArgs struct {
	bufs  [1][]byte
	flags uint32
}

var upcallPool = sync.Pool{New: func() any { return new(upcallArgs) }}

func getUpcall(buf []byte) *upcallArgs {
	r := upcallPool.Get().(*upcallArgs)
	r.bufs[0], r.flags = buf, 0
	return r
}

// put returns r to the pool, keeping no buffer alive.
func (r *upcallArgs) put() {
	r.bufs[0] = nil
	upcallPool.Put(r)
}
