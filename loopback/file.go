package loopback

import (
	"net/netip"

	"github.com/wsspi/wsspi/spi"
)

// The file driver. A socket is also the [spi.FileDriver] of its file
// object: ReadFile, WriteFile and CloseHandle on the socket's handle reach
// the provider here, with no layer in between, as they reach AFD on an IFS
// handle; CancelIo is in cancel.go.

var _ spi.FileDriver = (*socket)(nil)

// Cleanup serves [spi.FileDriver.Cleanup], CloseHandle on the socket's
// handle: the socket closes as closesocket closes it (its pending
// operations abort, its connection closes gracefully unless SO_LINGER or
// unread data make it abortive), but the provider's table keeps its entry,
// as msafd keeps its user-mode socket when closesocket is bypassed: calls
// that still reach it fail with WSAENOTSOCK, and the last WSPCleanup
// drops it.
//
// Unlike closesocket, it posts FD_CLOSE (no error) to a WSPAsyncSelect
// window that selected it, as Windows does (docs/facts.md §10.1).
func (s *socket) Cleanup() {
	n := s.n
	var fl flushList
	n.mu.Lock()
	if !s.closed {
		n.closeHandleEventLocked(s, &fl)
	}
	n.mu.Unlock()
	fl.flush()
	s.close()
}

// ReadFile receives into buf with WSPRecv semantics and no flags; it is how
// ReadFile on the socket's handle reaches the provider. With an overlapped
// on a socket made without WSA_FLAG_OVERLAPPED it runs synchronously (see
// syncFile).
func (s *socket) ReadFile(buf []byte, req spi.IORequest) (uint32, error) {
	bufs := [1][]byte{buf}
	var flags uint32
	if req.Overlapped != nil && !s.overlapped {
		return s.syncFile(req, func(sync spi.IORequest) (uint32, error) {
			return s.recv(bufs[:], &flags, nil, sync)
		})
	}
	return s.recv(bufs[:], &flags, nil, req)
}

// WriteFile sends buf with WSPSend semantics; it is how WriteFile on the
// socket's handle reaches the provider. The rule of [socket.ReadFile] for
// an overlapped on a socket that is not overlapped applies.
func (s *socket) WriteFile(buf []byte, req spi.IORequest) (uint32, error) {
	bufs := [1][]byte{buf}
	if req.Overlapped != nil && !s.overlapped {
		return s.syncFile(req, func(sync spi.IORequest) (uint32, error) {
			return s.send(bufs[:], 0, netip.AddrPort{}, false, sync)
		})
	}
	return s.send(bufs[:], 0, netip.AddrPort{}, false, req)
}

// syncFile serves ReadFile or WriteFile with an overlapped on a socket made
// without WSA_FLAG_OVERLAPPED, as the I/O manager serves a handle opened
// without FILE_FLAG_OVERLAPPED: the OVERLAPPED does not make the call
// asynchronous. The event is reset, the call runs as one with no
// overlapped (it waits, or fails with WSAEWOULDBLOCK when nonblocking), and
// a result that is not an error (a success, or a truncated datagram) is
// written to the status block and signals the event, through the file
// object, before the call returns. A failure notifies nothing.
func (s *socket) syncFile(req spi.IORequest, call func(spi.IORequest) (uint32, error)) (uint32, error) {
	if err := s.resetEvent(req); err != nil {
		return 0, err
	}
	n, err := call(spi.IORequest{Thread: req.Thread})
	if status := spi.ErrnoOf(err); err == nil || status == spi.WSAEMSGSIZE {
		s.deliver(req, status, n, 0, true)
	}
	return n, err
}
