package loopback

import (
	"net/netip"

	"github.com/wsspi/wsspi/spi"
)

// dgramSendAndUnlock sends one datagram, called by send with the network
// lock held; it releases the lock. It never waits: a datagram the receiver
// cannot queue is dropped, as UDP drops it, and the send succeeds all the
// same.
func (s *socket) dgramSendAndUnlock(bufs [][]byte, to netip.AddrPort, sendTo bool, req spi.IORequest) (uint32, error) {
	n := s.n
	size := totalLen(bufs)
	var fl flushList
	var err error
	switch {
	case !to.IsValid() && s.state != stateConnected && sendTo:
		err = spi.WSAEDESTADDRREQ
	case !to.IsValid() && s.state != stateConnected:
		err = spi.WSAENOTCONN
	case !to.IsValid():
		to = s.remote
	default:
		err = remoteCheck(to, s.v6)
		to = netip.AddrPortFrom(to.Addr().WithZone(""), to.Port())
	}
	if err == nil && size > s.maxDatagram() {
		err = spi.WSAEMSGSIZE
	}
	if err == nil && !s.bound {
		err = n.bindLocked(s, netip.AddrPortFrom(anyAddr(s.v6), 0))
	}
	if err != nil {
		n.mu.Unlock()
		return 0, err
	}
	src := netip.AddrPortFrom(sourceAddr(s.local.Addr(), s.v6), s.local.Port())
	d := n.findLocked(true, s.v6, to, func(t *socket) bool {
		return !t.shutRecv && (t.state != stateConnected || t.remote == src)
	})
	if d != nil && (!d.recvq.empty() || d.dq.Bytes()+size <= d.opt.rcvbuf) {
		d.dq.push(bufs, size, src)
		n.settleLocked(d, &fl)
	}
	return s.returnAndUnlock(req, 0, uint32(size), 0, &fl)
}

// dgramRecvAndUnlock receives one datagram, waiting for one if none is
// queued, called by recv with the network lock held; it releases the lock.
func (s *socket) dgramRecvAndUnlock(bufs [][]byte, in uint32, flags *uint32, from *netip.AddrPort, req spi.IORequest) (uint32, error) {
	var fl flushList
	size := totalLen(bufs)
	if s.recvq.empty() && s.dq.Len() > 0 {
		k, status, rflags, addr := s.takeDgramLocked(bufs, size, in&spi.MSG_PEEK != 0)
		if from != nil {
			*from = addr
		}
		if flags != nil {
			*flags = rflags
		}
		return s.returnAndUnlock(req, status, k, rflags, &fl)
	}
	o := getOp(s, req, bufs, size, true)
	o.flags, o.from = in, from
	return s.waitOrPendAndUnlock(o, flags, &fl)
}

// takeDgramLocked copies the first queued datagram into bufs and, unless
// peek, removes it. A datagram larger than bufs is truncated: the rest is
// lost, and the result is WSAEMSGSIZE with MSG_PARTIAL in the flags.
func (s *socket) takeDgramLocked(bufs [][]byte, size int, peek bool) (uint32, spi.Errno, uint32, netip.AddrPort) {
	h := s.dq.front()
	k := s.dq.data.peekInto(bufs, 0, min(size, h.size))
	if !peek {
		s.dq.pop()
	}
	if h.size > size {
		return uint32(k), spi.WSAEMSGSIZE, spi.MSG_PARTIAL, h.from
	}
	return uint32(k), 0, 0, h.from
}

// pumpDgramLocked hands queued datagrams to queued receives, in order.
func (n *Network) pumpDgramLocked(s *socket, fl *flushList) {
	for o := s.recvq.head; o != nil && s.dq.Len() > 0; o = s.recvq.head {
		s.recvq.pop()
		k, status, rflags, addr := s.takeDgramLocked(o.bufs, o.size, o.flags&spi.MSG_PEEK != 0)
		o.n, o.flags, o.addr = k, rflags, addr
		n.finishLocked(o, status, fl)
	}
}

// dgramConnectLocked sets or, with the unspecified address, clears the
// default peer of a UDP socket, binding it first if needed. A connected
// UDP socket receives only from its peer.
func (n *Network) dgramConnectLocked(s *socket, to netip.AddrPort) error {
	a := to.Addr().WithZone("")
	if sameFamily(a, s.v6) && a.IsUnspecified() {
		s.state, s.remote = stateOpen, netip.AddrPort{}
		return nil
	}
	if err := remoteCheck(to, s.v6); err != nil {
		return err
	}
	if !s.bound {
		if err := n.bindLocked(s, netip.AddrPortFrom(anyAddr(s.v6), 0)); err != nil {
			return err
		}
	}
	s.state, s.remote = stateConnected, netip.AddrPortFrom(a, to.Port())
	return nil
}
