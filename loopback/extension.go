package loopback

import (
	"net/netip"
	"slices"

	"github.com/wsspi/wsspi/spi"
)

// extensionPointer serves SIO_GET_EXTENSION_FUNCTION_POINTER: the cookie
// of AcceptEx or ConnectEx in the provider's process, registered with
// RegisterExtension the first time it is asked for.
func (p *Provider) extensionPointer(g spi.GUID) (uintptr, bool) {
	var fn any
	switch g {
	case spi.WSAID_ACCEPTEX:
		fn = spi.AcceptExFunc(p.acceptEx)
	case spi.WSAID_CONNECTEX:
		fn = spi.ConnectExFunc(p.connectEx)
	default:
		return 0, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.cookies[g]; ok {
		return c, true
	}
	if p.imports.RegisterExtension == nil {
		return 0, false
	}
	if p.cookies == nil {
		p.cookies = make(map[spi.GUID]uintptr)
	}
	c := p.imports.RegisterExtension(fn)
	p.cookies[g] = c
	return c, true
}

// acceptEx is the provider's [spi.AcceptExFunc]. The operation completes on
// the listener's file object. It waits in the listener's receive queue
// (unused otherwise) until a connection arrives; the server end then moves
// into the accept socket, and with buf not empty the operation waits
// again, in the accept socket's receive queue, for the first data.
func (p *Provider) acceptEx(listen, accept spi.Socket, buf []byte, ov *spi.Overlapped, thread *spi.ThreadID) (uint32, error) {
	l, err := p.lookup(listen)
	if err != nil {
		return 0, err
	}
	defer l.reenable(spi.FD_ACCEPT) // the re-enabling call of FD_ACCEPT (docs/facts.md §12.3)
	a, err := p.lookup(accept)
	if err != nil {
		return 0, err
	}
	if ov == nil {
		return 0, spi.WSAEINVAL
	}
	req := request(ov, nil, thread)
	if err := l.start(req); err != nil {
		return 0, err
	}
	n := l.n
	var fl flushList
	n.mu.Lock()
	switch {
	case l.closed || a.closed:
		err = spi.WSAENOTSOCK
	case !l.stream:
		err = spi.WSAEOPNOTSUPP
	case l.state != stateListening, a == l, !a.stream, a.v6 != l.v6,
		a.bound, a.state != stateOpen, a.acceptOp != nil:
		err = spi.WSAEINVAL
	}
	if err != nil {
		n.mu.Unlock()
		return 0, err
	}
	bufs := [1][]byte{buf}
	o := getOp(l, req, bufs[:], len(buf), true)
	o.acc = a
	if len(l.acceptq) > 0 && l.recvq.empty() && len(buf) == 0 {
		c := l.acceptq[0]
		l.acceptq = append(l.acceptq[:0], l.acceptq[1:]...)
		joinLocked(a, c)
		putOp(o)
		n.settleLocked(a, &fl)
		return l.returnAndUnlock(req, 0, 0, 0, &fl)
	}
	req.Overlapped.SetInProgress()
	a.acceptOp = o
	l.recvq.push(o)
	n.matchAcceptLocked(l, &fl)
	n.mu.Unlock()
	fl.flush()
	return 0, spi.WSA_IO_PENDING
}

// matchAcceptLocked hands the connections waiting in the backlog of l to
// its pending AcceptEx operations, in order.
func (n *Network) matchAcceptLocked(l *socket, fl *flushList) {
	for len(l.acceptq) > 0 && !l.recvq.empty() {
		o := l.recvq.pop()
		a := o.acc
		a.acceptOp = nil
		if a.closed || a.bound || a.state != stateOpen {
			n.finishLocked(o, spi.WSAEINVAL, fl)
			continue
		}
		c := l.acceptq[0]
		l.acceptq = append(l.acceptq[:0], l.acceptq[1:]...)
		joinLocked(a, c)
		switch {
		case o.size == 0:
			n.finishLocked(o, 0, fl)
		case a.err != 0:
			n.finishLocked(o, a.err, fl)
		default:
			l.acceptData = append(l.acceptData, o)
			a.recvq.push(o)
		}
		n.settleLocked(a, fl)
	}
}

// joinLocked makes accept socket a the server end c of a connection taken
// from a backlog: a takes c's addresses, peer, received bytes and state,
// and c, which never had a handle, is discarded.
func joinLocked(a, c *socket) {
	a.state, a.bound, a.accepted = stateConnected, true, true
	a.local, a.remote = c.local, c.remote
	a.peer = c.peer
	if a.peer != nil {
		a.peer.peer = a
	}
	a.rx, a.rxFin, a.err, a.soError = c.rx, c.rxFin, c.err, c.soError
	c.rx, c.peer, c.listener, c.closed = ring{}, nil, nil, true
}

// unlinkAcceptLocked forgets the AcceptEx bookkeeping of o as it finishes.
func unlinkAcceptLocked(o *op) {
	a := o.acc
	if a == nil {
		return
	}
	o.acc = nil
	if a.acceptOp == o {
		a.acceptOp = nil
	}
	l := o.s
	if i := slices.Index(l.acceptData, o); i >= 0 {
		l.acceptData = slices.Delete(l.acceptData, i, i+1)
	}
}

// abortAcceptLocked ends, as s closes, the AcceptEx operations bound to s:
// the one waiting for a connection onto s, an accept socket, and those of
// s, a listener, that wait for first data on their accept sockets. They
// are cancelled (WSA_OPERATION_ABORTED, STATUS_CANCELLED: what Windows
// reports for an AcceptEx pending when its listener closes), silently when
// silent.
func (n *Network) abortAcceptLocked(s *socket, silent bool, fl *flushList) {
	if o := s.acceptOp; o != nil {
		removeOp(&o.s.recvq, o)
		n.abortOpLocked(o, spi.WSA_OPERATION_ABORTED, silent, fl)
	}
	for len(s.acceptData) > 0 {
		o := s.acceptData[0]
		removeOp(&o.acc.recvq, o)
		n.abortOpLocked(o, spi.WSA_OPERATION_ABORTED, silent, fl)
	}
}

// abortOpLocked finishes o, unlinked from its queue, with code; silently
// when silent: for WSPCleanup, which notifies nobody, the cancellation is
// only written into the Overlapped (STATUS_CANCELLED in Internal,
// WSA_OPERATION_ABORTED in OffsetHigh), whatever code says.
func (n *Network) abortOpLocked(o *op, code spi.Errno, silent bool, fl *flushList) {
	if !silent {
		n.finishLocked(o, code, fl)
		return
	}
	unlinkAcceptLocked(o)
	ov := o.req.Overlapped
	ov.StoreOffset(0)
	ov.StoreOffsetHigh(uint32(spi.WSA_OPERATION_ABORTED))
	ov.StoreInternalHigh(uintptr(o.n))
	ov.StoreInternal(uintptr(spi.STATUS_CANCELLED))
	putOp(o)
}

// cancelAcceptDataLocked cancels, for CancelIo on listener l, its AcceptEx
// operations waiting for first data that match; it returns how many.
func (n *Network) cancelAcceptDataLocked(l *socket, match func(*op) bool, fl *flushList) int {
	count := 0
	for _, o := range slices.Clone(l.acceptData) {
		if match(o) {
			removeOp(&o.acc.recvq, o)
			n.finishLocked(o, spi.ERROR_OPERATION_ABORTED, fl)
			count++
		}
	}
	return count
}

// removeOp unlinks o from q, if it is there.
func removeOp(q *opQueue, o *op) {
	var prev *op
	for t := q.head; t != nil; prev, t = t, t.next {
		if t == o {
			q.remove(prev, o)
			return
		}
	}
}

// connectEx is the provider's [spi.ConnectExFunc]. A connection on
// loopback is made at once, so the operation completes before the call
// returns (its completion still delivered), or fails at once, notifying
// nothing: WSAECONNREFUSED when nobody listens at name.
func (p *Provider) connectEx(h spi.Socket, name netip.AddrPort, sendBuf []byte, ov *spi.Overlapped, thread *spi.ThreadID) (uint32, error) {
	s, err := p.lookup(h)
	if err != nil {
		return 0, err
	}
	if ov == nil {
		return 0, spi.WSAEINVAL
	}
	req := request(ov, nil, thread)
	if err := s.start(req); err != nil {
		return 0, err
	}
	n := s.n
	var fl flushList
	n.mu.Lock()
	switch {
	case s.closed:
		err = spi.WSAENOTSOCK
	case !name.IsValid():
		err = spi.WSAEFAULT
	case !s.stream, s.state == stateListening, !s.bound, s.acceptOp != nil:
		err = spi.WSAEINVAL
	case s.state == stateConnected:
		err = spi.WSAEISCONN
	default:
		err = remoteCheck(name, s.v6)
	}
	if err == nil {
		err = n.establishLocked(s, netip.AddrPortFrom(name.Addr().WithZone(""), name.Port()), &fl)
	}
	if err != nil {
		n.mu.Unlock()
		fl.flush()
		return 0, err
	}
	n.connectOutcomeLocked(s, 0, &fl)
	bufs := [1][]byte{sendBuf}
	if rst := s.pushLocked(bufs[:], len(sendBuf)); rst != nil {
		n.resetConnLocked(rst, &fl)
	}
	n.settleLocked(s, &fl)
	return s.returnAndUnlock(req, 0, uint32(len(sendBuf)), 0, &fl)
}
