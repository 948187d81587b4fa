package loopback

import (
	"net/netip"

	"github.com/wsspi/wsspi/spi"
)

// readerGone reports whether the peer d can no longer receive: it was
// closed, or shut down for receiving.
func readerGone(d *socket) bool { return d.closed || d.shutRecv }

// canSendLocked reports whether a send of size bytes is accepted now: the
// peer's buffer holds fewer bytes than the sender's SO_SNDBUF plus the
// receiver's SO_RCVBUF, or none at all, or the send is empty, or the peer
// can no longer receive (the bytes are then dropped and the connection
// reset). A send is accepted whole, as AFD does while its buffer is not
// full.
func (s *socket) canSendLocked(size int) bool {
	d := s.peer
	if readerGone(d) || size == 0 {
		return true
	}
	b := d.rx.Len()
	return b == 0 || b < s.opt.sndbuf+d.opt.rcvbuf
}

// pushLocked moves the bytes of an accepted send to the peer. When the peer
// can no longer receive, the bytes are dropped and pushLocked returns the
// peer, which must then reset the connection (after the caller has finished
// the send, which succeeded).
func (s *socket) pushLocked(bufs [][]byte, size int) (rst *socket) {
	d := s.peer
	if readerGone(d) {
		if size > 0 {
			return d
		}
		return nil
	}
	d.rx.write(bufs)
	return nil
}

// streamSendAndUnlock moves a send on a stream socket, called by send with
// the network lock held; it releases the lock.
func (s *socket) streamSendAndUnlock(bufs [][]byte, req spi.IORequest) (uint32, error) {
	n := s.n
	size := totalLen(bufs)
	var fl flushList
	if s.sendq.empty() && s.canSendLocked(size) {
		if rst := s.pushLocked(bufs, size); rst != nil {
			n.resetConnLocked(rst, &fl)
		}
		n.settleLocked(s, &fl)
		return s.returnAndUnlock(req, 0, uint32(size), 0, &fl)
	}
	return s.waitOrPendAndUnlock(getOp(s, req, bufs, size, false), nil, &fl)
}

// streamRecvAndUnlock serves a receive on a stream socket, called by recv
// with the network lock held; it releases the lock.
func (s *socket) streamRecvAndUnlock(bufs [][]byte, in uint32, flags *uint32, req spi.IORequest) (uint32, error) {
	n := s.n
	var fl flushList
	size := totalLen(bufs)
	avail := s.rx.Len()
	ready := avail > 0 || s.rxFin
	if in&spi.MSG_WAITALL != 0 && avail < size && !s.rxFin {
		ready = false
	}
	if s.recvq.empty() && ready {
		k := s.rx.peekInto(bufs, 0, size)
		if in&spi.MSG_PEEK == 0 {
			s.rx.discard(k)
		}
		if flags != nil {
			*flags = 0
		}
		n.settleLocked(s, &fl)
		return s.returnAndUnlock(req, 0, uint32(k), 0, &fl)
	}
	o := getOp(s, req, bufs, size, true)
	o.flags = in
	return s.waitOrPendAndUnlock(o, flags, &fl)
}

// settleLocked moves everything that can move on the connection of s (or,
// for UDP, delivers queued datagrams to pending receives): queued sends
// into the peer's buffer, buffered bytes and FINs into queued receives, in
// both directions, until nothing changes. Every change of data or state
// ends with a call to it, so it also wakes the waiters of WSPSelect.
func (n *Network) settleLocked(s *socket, fl *flushList) {
	defer n.cond.Broadcast()
	if !s.stream {
		n.pumpDgramLocked(s, fl)
		n.readinessLocked(s, fl)
		return
	}
	d0 := s.peer
	defer func() {
		n.readinessLocked(s, fl)
		n.readinessLocked(d0, fl)
		if d := s.peer; d != d0 {
			n.readinessLocked(d, fl)
		}
	}()
	for {
		d := s.peer
		progress := n.pumpSendsLocked(s, fl)
		if n.pumpRecvsLocked(s, fl) {
			progress = true
		}
		if d != nil {
			if n.pumpSendsLocked(d, fl) {
				progress = true
			}
			if n.pumpRecvsLocked(d, fl) {
				progress = true
			}
		}
		if !progress {
			return
		}
	}
}

// pumpSendsLocked accepts the queued sends of s that fit, in order, and
// sends the FIN of a pending SD_SEND once they are all accepted.
func (n *Network) pumpSendsLocked(s *socket, fl *flushList) bool {
	progress := false
	for o := s.sendq.head; o != nil; o = s.sendq.head {
		if s.peer == nil || !s.canSendLocked(o.size) {
			break
		}
		s.sendq.pop()
		rst := s.pushLocked(o.bufs, o.size)
		o.n = uint32(o.size)
		n.finishLocked(o, 0, fl)
		if rst != nil {
			n.resetConnLocked(rst, fl)
		}
		progress = true
	}
	if s.finPending && s.sendq.empty() && s.peer != nil {
		s.finPending = false
		s.peer.rxFin = true
		progress = true
	}
	return progress
}

// pumpRecvsLocked fills the queued receives of s, in order, from its
// buffer. A receive finishes with the bytes available (all it asked for,
// with MSG_WAITALL), or with what it holds once the FIN has arrived; a
// zero-length receive finishes, with 0 bytes and nothing consumed, as soon
// as data or the FIN is there.
func (n *Network) pumpRecvsLocked(s *socket, fl *flushList) bool {
	progress := false
	for o := s.recvq.head; o != nil; o = s.recvq.head {
		avail := s.rx.Len()
		if avail == 0 && !s.rxFin {
			break
		}
		progress = true
		if o.size > 0 && avail > 0 {
			k := s.rx.peekInto(o.bufs, int(o.n), o.size-int(o.n))
			if o.flags&spi.MSG_PEEK == 0 {
				s.rx.discard(k)
			}
			o.n += uint32(k)
			if o.flags&spi.MSG_WAITALL != 0 && int(o.n) < o.size && !s.rxFin {
				break
			}
		}
		s.recvq.pop()
		o.flags = 0
		n.finishLocked(o, 0, fl)
	}
	return progress
}

// sendFinLocked starts the graceful end of the sending side of s: the
// peer reads 0 bytes once it has read everything s sent, the sends still
// queued included.
func (s *socket) sendFinLocked() {
	if s.peer == nil {
		return
	}
	if s.sendq.empty() {
		s.peer.rxFin = true
	} else {
		s.finPending = true
	}
}

// resetConnLocked makes s reset its connection, as an RST sent by s: the
// peer, if it is still open, loses its unread bytes and fails its pending
// and later calls with WSAECONNRESET; s itself, if still open, with
// WSAECONNABORTED.
func (n *Network) resetConnLocked(s *socket, fl *flushList) {
	if d := s.peer; d != nil {
		if d.closed {
			d.peer = nil
		} else {
			n.resetLocked(d, spi.WSAECONNRESET, fl)
		}
	}
	if s.closed {
		s.peer = nil
		s.rx.reset()
		s.rxFin = false
		return
	}
	n.resetLocked(s, spi.WSAECONNABORTED, fl)
}

// resetLocked ends the connection of s with err.
func (n *Network) resetLocked(s *socket, err spi.Errno, fl *flushList) {
	s.err, s.soError = err, err
	s.peer = nil
	s.rx.reset()
	s.rxFin, s.finPending = false, false
	for _, q := range [2]*opQueue{&s.sendq, &s.recvq} {
		for o := q.pop(); o != nil; o = q.pop() {
			n.finishLocked(o, err, fl)
		}
	}
	n.readinessLocked(s, fl)
	n.cond.Broadcast()
}

// connect serves WSPConnect.
func (s *socket) connect(to netip.AddrPort) error {
	var fl flushList
	s.n.mu.Lock()
	err := s.connectLocked(to, &fl)
	s.n.mu.Unlock()
	fl.flush()
	return err
}

func (s *socket) connectLocked(to netip.AddrPort, fl *flushList) error {
	n := s.n
	if s.closed {
		return spi.WSAENOTSOCK
	}
	if !to.IsValid() {
		return spi.WSAEFAULT
	}
	if !s.stream {
		err := n.dgramConnectLocked(s, to)
		if err == nil && s.state == stateConnected {
			n.connectOutcomeLocked(s, 0, fl)
		}
		return err
	}
	switch s.state {
	case stateListening:
		return spi.WSAEINVAL
	case stateConnected:
		return spi.WSAEISCONN
	}
	if s.nonblocking && s.soError != 0 {
		err := s.soError
		s.soError = 0
		return err
	}
	if err := remoteCheck(to, s.v6); err != nil {
		return err
	}
	to = netip.AddrPortFrom(to.Addr().WithZone(""), to.Port())
	if !s.bound {
		if err := n.bindLocked(s, netip.AddrPortFrom(anyAddr(s.v6), 0)); err != nil {
			return err
		}
	}
	if err := n.establishLocked(s, to, fl); err != nil {
		n.connectOutcomeLocked(s, err.(spi.Errno), fl)
		if s.nonblocking {
			s.soError = err.(spi.Errno)
			return spi.WSAEWOULDBLOCK
		}
		return err
	}
	n.connectOutcomeLocked(s, 0, fl)
	if s.nonblocking {
		return spi.WSAEWOULDBLOCK
	}
	return nil
}

// connectOutcomeLocked records that the connect of s has its outcome, err
// (0 for success): FD_CONNECT's condition, and a change of readiness.
func (n *Network) connectOutcomeLocked(s *socket, err spi.Errno, fl *flushList) {
	s.connectDone, s.connectErr = true, err
	n.readinessLocked(s, fl)
}

// establishLocked connects s, a bound stream socket, to the listener at to
// (with zone removed): the server end waits in the listener's backlog, or
// is taken at once by a pending AcceptEx. It fails with WSAECONNREFUSED
// when nobody listens at to or the backlog is full.
func (n *Network) establishLocked(s *socket, to netip.AddrPort, fl *flushList) error {
	l := n.findLocked(false, s.v6, to, func(t *socket) bool { return t.state == stateListening })
	if l == nil || len(l.acceptq) >= l.backlog {
		return spi.WSAECONNREFUSED
	}
	s.local = netip.AddrPortFrom(sourceAddr(s.local.Addr(), s.v6), s.local.Port())
	c := newSocket(n, l.info, l.overlapped)
	c.opt, c.nonblocking = l.opt, l.nonblocking
	c.state, c.bound, c.accepted = stateConnected, true, true
	c.local, c.remote = to, s.local
	c.listener, c.peer = l, s
	s.state, s.peer, s.remote = stateConnected, c, to
	l.acceptq = append(l.acceptq, c)
	n.matchAcceptLocked(l, fl)
	n.readinessLocked(l, fl)
	n.cond.Broadcast()
	return nil
}

// anyAddr returns the wildcard address of family v6.
func anyAddr(v6 bool) netip.Addr {
	if v6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// listen serves WSPListen.
func (s *socket) listen(backlog int32) error {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case s.closed:
		return spi.WSAENOTSOCK
	case !s.stream:
		return spi.WSAEOPNOTSUPP
	case s.state == stateConnected:
		return spi.WSAEISCONN
	case !s.bound:
		return spi.WSAEINVAL
	}
	s.state = stateListening
	s.backlog = min(max(int(backlog), 1), MaxBacklog)
	return nil
}

// accept serves WSPAccept. It is the re-enabling call of FD_ACCEPT,
// whatever its result, except when the condition function deferred the
// connection (docs/facts.md §12.3). An accepted connection takes the
// listener's selection.
func (p *Provider) accept(l *socket, condition spi.ConditionFunc, callbackData any) (spi.Socket, netip.AddrPort, error) {
	h, addr, err := p.acceptOne(l, condition, callbackData)
	if err != spi.WSATRY_AGAIN {
		l.reenable(spi.FD_ACCEPT)
	}
	return h, addr, err
}

func (p *Provider) acceptOne(l *socket, condition spi.ConditionFunc, callbackData any) (spi.Socket, netip.AddrPort, error) {
	n := l.n
	n.mu.Lock()
	switch {
	case l.closed:
		n.mu.Unlock()
		return spi.INVALID_SOCKET, netip.AddrPort{}, spi.WSAENOTSOCK
	case !l.stream:
		n.mu.Unlock()
		return spi.INVALID_SOCKET, netip.AddrPort{}, spi.WSAEOPNOTSUPP
	case l.state != stateListening:
		n.mu.Unlock()
		return spi.INVALID_SOCKET, netip.AddrPort{}, spi.WSAEINVAL
	}
	for len(l.acceptq) == 0 {
		if l.closed {
			n.mu.Unlock()
			return spi.INVALID_SOCKET, netip.AddrPort{}, spi.WSAEINTR
		}
		if l.nonblocking {
			n.mu.Unlock()
			return spi.INVALID_SOCKET, netip.AddrPort{}, spi.WSAEWOULDBLOCK
		}
		n.cond.Wait()
	}
	c := l.acceptq[0]
	l.acceptq = append(l.acceptq[:0], l.acceptq[1:]...)
	c.listener = nil
	n.mu.Unlock()

	if condition != nil {
		var calleeData []byte
		var g spi.Group
		switch condition(c.remote, nil, nil, nil, c.local, &calleeData, &g, callbackData) {
		case spi.CF_ACCEPT:
		case spi.CF_DEFER:
			n.requeue(l, c)
			return spi.INVALID_SOCKET, netip.AddrPort{}, spi.WSATRY_AGAIN
		case spi.CF_REJECT:
			n.drop(c)
			return spi.INVALID_SOCKET, netip.AddrPort{}, spi.WSAECONNREFUSED
		default:
			n.drop(c)
			return spi.INVALID_SOCKET, netip.AddrPort{}, spi.WSAEINVAL
		}
	}
	h, err := p.newHandle(c)
	if err != nil {
		n.requeue(l, c)
		return spi.INVALID_SOCKET, netip.AddrPort{}, err
	}
	var fl flushList
	n.mu.Lock()
	n.inheritSelectionLocked(l, c, h, &fl)
	n.mu.Unlock()
	fl.flush()
	return h, c.remote, nil
}

// requeue puts a connection taken from l's backlog back at its head, for a
// connection that could not get a handle (a full handle table): as msafd's
// WSPAccept creates the accepting socket before it accepts the connection
// from AFD's backlog (ReactOS dll/win32/msafd), a failure to make the
// socket leaves the connection queued, and a later accept takes it with
// the data that arrived meanwhile. A condition function's CF_DEFER does
// the same. A listener closed meanwhile resets it.
func (n *Network) requeue(l, c *socket) {
	n.mu.Lock()
	if l.closed {
		n.mu.Unlock()
		n.drop(c)
		return
	}
	c.listener = l
	l.acceptq = append([]*socket{c}, l.acceptq...)
	var fl flushList
	n.readinessLocked(l, &fl)
	n.cond.Broadcast()
	n.mu.Unlock()
	fl.flush()
}

// drop discards a server end taken from a backlog without giving it a
// handle: the client's connection is reset.
func (n *Network) drop(c *socket) {
	var fl flushList
	n.mu.Lock()
	c.closed = true
	n.resetConnLocked(c, &fl)
	n.mu.Unlock()
	fl.flush()
}

// shutdown serves WSPShutdown.
func (s *socket) shutdown(how int32) error {
	n := s.n
	var fl flushList
	n.mu.Lock()
	var err error
	switch {
	case s.closed:
		err = spi.WSAENOTSOCK
	case how != spi.SD_RECEIVE && how != spi.SD_SEND && how != spi.SD_BOTH:
		err = spi.WSAEINVAL
	case s.stream && s.state != stateConnected:
		err = spi.WSAENOTCONN
	}
	if err != nil {
		n.mu.Unlock()
		return err
	}
	if how != spi.SD_SEND {
		s.shutRecv = true
		if s.stream && s.peer != nil && s.rx.Len() > 0 {
			// Unread data makes TCP reset the connection (shutdown docs).
			n.resetConnLocked(s, &fl)
		}
	}
	if how != spi.SD_RECEIVE && !s.shutSend {
		s.shutSend = true
		if s.stream {
			s.sendFinLocked()
		}
	}
	if s.stream {
		n.settleLocked(s, &fl)
	}
	n.cond.Broadcast()
	n.mu.Unlock()
	fl.flush()
	return nil
}
