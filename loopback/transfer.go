package loopback

import (
	"net/netip"

	"github.com/wsspi/wsspi/spi"
)

// Transfers. Every send (WSPSend, WSPSendTo, WriteFile) and every receive
// (WSPRecv, WSPRecvFrom, ReadFile) starts here with the same preamble
// (beginTransfer), then moves its bytes as a stream (stream.go) or as a
// datagram (dgram.go).

// Flags a send or a receive accepts; any other bit (MSG_OOB included)
// fails the call with WSAEOPNOTSUPP.
const (
	sendFlags = spi.MSG_DONTROUTE | spi.MSG_PARTIAL
	recvFlags = spi.MSG_PEEK | spi.MSG_WAITALL | spi.MSG_PARTIAL | spi.MSG_PUSH_IMMEDIATE
)

// send serves WSPSend, WSPSendTo (sendTo set, with its destination) and
// WriteFile. A send that would block re-enables FD_WRITE, recorded once
// buffer space returns (docs/facts.md §12.3).
func (s *socket) send(bufs [][]byte, flags uint32, to netip.AddrPort, sendTo bool, req spi.IORequest) (uint32, error) {
	k, err := s.sendOne(bufs, flags, to, sendTo, req)
	if err == spi.WSAEWOULDBLOCK {
		s.reenable(spi.FD_WRITE)
	}
	return k, err
}

func (s *socket) sendOne(bufs [][]byte, flags uint32, to netip.AddrPort, sendTo bool, req spi.IORequest) (uint32, error) {
	if flags&^sendFlags != 0 {
		return 0, spi.WSAEOPNOTSUPP
	}
	bufs, err := s.beginTransfer(bufs, true, 0, req)
	if err != nil {
		return 0, err
	}
	if s.stream {
		return s.streamSendAndUnlock(bufs, req)
	}
	return s.dgramSendAndUnlock(bufs, to, sendTo, req)
}

// recv serves WSPRecv, WSPRecvFrom and ReadFile. flags is in/out. It is
// the re-enabling call of FD_READ and FD_OOB, whatever its result
// (docs/facts.md §12.3).
func (s *socket) recv(bufs [][]byte, flags *uint32, from *netip.AddrPort, req spi.IORequest) (uint32, error) {
	k, err := s.recvOne(bufs, flags, from, req)
	s.reenable(spi.FD_READ | spi.FD_OOB)
	return k, err
}

func (s *socket) recvOne(bufs [][]byte, flags *uint32, from *netip.AddrPort, req spi.IORequest) (uint32, error) {
	var in uint32
	if flags != nil {
		in = *flags
	}
	if in&^recvFlags != 0 {
		return 0, spi.WSAEOPNOTSUPP
	}
	if in&spi.MSG_WAITALL != 0 && (!s.stream || in&(spi.MSG_PEEK|spi.MSG_PARTIAL) != 0) {
		return 0, spi.WSAEOPNOTSUPP
	}
	bufs, err := s.beginTransfer(bufs, false, in, req)
	if err != nil {
		return 0, err
	}
	if s.stream {
		return s.streamRecvAndUnlock(bufs, in, flags, req)
	}
	return s.dgramRecvAndUnlock(bufs, in, flags, from, req)
}

// beginTransfer is what a send (send set) and a receive with flags in
// share once their flags are checked: the transfer fault of a stream
// socket (see [Faults]), which may cut bufs or fail the call; the check of
// an overlapped request and the reset of its event (see start); then,
// under the network lock, the check of the socket's state
// (transferCheckLocked). It returns the buffers to move with the network
// lock held, or the error that fails the call, with nothing started and
// the lock released.
func (s *socket) beginTransfer(bufs [][]byte, send bool, in uint32, req spi.IORequest) ([][]byte, error) {
	if s.stream && s.n.faults != nil {
		var err error
		if bufs, err = s.transferFault(bufs, send); err != nil {
			return nil, err
		}
	}
	if err := s.start(req); err != nil {
		return nil, err
	}
	s.n.mu.Lock()
	if err := s.transferCheckLocked(send, in, req); err != nil {
		s.n.mu.Unlock()
		return nil, err
	}
	return bufs, nil
}

// transferCheckLocked returns why s cannot send (send set) or receive with
// flags in, if it cannot. A stream socket moves data once connected, a
// datagram socket receives once bound (its destination is checked by
// dgramSendAndUnlock), and a MSG_WAITALL receive is overlapped or blocks
// (recv has refused MSG_WAITALL on datagrams).
func (s *socket) transferCheckLocked(send bool, in uint32, req spi.IORequest) error {
	switch {
	case s.closed:
		return spi.WSAENOTSOCK
	case !send && !s.stream && !s.bound:
		return spi.WSAEINVAL
	case s.stream && s.state != stateConnected:
		return spi.WSAENOTCONN
	case send && s.shutSend, !send && s.shutRecv:
		return spi.WSAESHUTDOWN
	case s.err != 0: // a reset connection (s.err is set on streams only)
		return s.err
	case !send && in&spi.MSG_WAITALL != 0 && req.Overlapped == nil && s.nonblocking:
		return spi.WSAEOPNOTSUPP
	}
	return nil
}
