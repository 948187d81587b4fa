package loopback

import (
	"slices"

	"github.com/wsspi/wsspi/spi"
)

// How a socket ends: closesocket (close), the end of a close under a
// scheduler (finishClose), and the last WSPCleanup of a process
// (closeAll). The file object closes last, after the socket's last
// completion; CloseHandle reaches close through the file driver (see
// file.go).

// close serves WSPCloseSocket. Every pending overlapped operation finishes
// once, with WSAECONNABORTED on a connected stream socket and
// WSA_OPERATION_ABORTED otherwise (see abortOpsLocked), and blocked calls
// return WSAEINTR. A
// connection is closed gracefully (the peer reads the data sent, then 0
// bytes) unless SO_LINGER is {1, 0} or unread data is left, which resets it
// (the peer gets WSAECONNRESET). Connections waiting in a listener's
// backlog are reset. The file object is closed last, after every
// completion of the socket has been delivered.
func (s *socket) close() {
	n := s.n
	var fl flushList
	n.mu.Lock()
	if s.closed {
		n.mu.Unlock()
		return
	}
	s.closed = true
	n.setSelectionLocked(s, nil) // closesocket reports nothing (docs/facts.md §12.4)
	n.abortOpsLocked(s, false, &fl)
	abortive := s.rx.Len() > 0 || (s.opt.linger.OnOff != 0 && s.opt.linger.Linger == 0)
	n.teardownLocked(s, abortive, &fl)
	if sched := n.sched; sched != nil {
		// The aborted operations complete, and the file object closes,
		// when the scheduler says: after closesocket may have returned.
		n.mu.Unlock()
		fl.flush()
		sched.Defer(s, s.finishClose)
		return
	}
	s.waitDeliveredAndUnlock()
	fl.flush()
	s.fo.Close()
}

// finishClose delivers what is left to deliver of a closed socket, then
// closes its file object: the end of close under a scheduler.
func (s *socket) finishClose() {
	s.n.mu.Lock()
	s.waitDeliveredAndUnlock()
	s.fo.Close()
}

// closeAll closes the sockets of a process at its last WSPCleanup: first
// every pending operation of every one of them is cancelled without any
// Complete call (its Overlapped gets WSA_OPERATION_ABORTED in Internal and
// OffsetHigh; blocked calls return WSAEINTR), so that resetting one of the
// process's connections notifies nothing in the process; then every
// connection is reset and every socket closed.
func (n *Network) closeAll(socks []*socket) {
	var fl flushList
	n.mu.Lock()
	socks = slices.DeleteFunc(socks, func(s *socket) bool { return s.closed }) // ended by CloseHandle
	for _, s := range socks {
		s.closed = true
		n.setSelectionLocked(s, nil)
	}
	for _, s := range socks {
		n.abortOpsLocked(s, true, &fl)
	}
	for _, s := range socks {
		n.teardownLocked(s, true, &fl)
	}
	for _, s := range socks {
		s.waitDeliveredAndUnlock()
		n.mu.Lock()
	}
	n.mu.Unlock()
	fl.flush()
	for _, s := range socks {
		s.fo.Close()
	}
}

// abortOpsLocked ends the queued operations of a closing socket: blocked
// calls with WSAEINTR; overlapped operations delivered through Complete
// unless silent, in which case the status is only written into the
// Overlapped. On a connected stream socket the close aborts the
// connection's I/O, WSAECONNABORTED (STATUS_CONNECTION_ABORTED, which
// GetQueuedCompletionStatus reports as ERROR_CONNECTION_ABORTED, as
// Windows since Vista does for a receive pending at closesocket: Wine's
// tests of Windows, docs/facts.md §9.4); on any other socket it cancels
// them, WSA_OPERATION_ABORTED (STATUS_CANCELLED). AcceptEx operations are
// cancelled (see abortAcceptLocked).
func (n *Network) abortOpsLocked(s *socket, silent bool, fl *flushList) {
	n.abortAcceptLocked(s, silent, fl)
	code := spi.WSA_OPERATION_ABORTED
	if s.stream && s.state == stateConnected {
		code = spi.WSAECONNABORTED
	}
	for _, q := range [2]*opQueue{&s.sendq, &s.recvq} {
		for o := q.pop(); o != nil; o = q.pop() {
			switch {
			case o.req.Overlapped == nil:
				n.finishLocked(o, spi.WSAEINTR, fl)
			default:
				n.abortOpLocked(o, code, silent, fl)
			}
		}
	}
	n.abortAddressListChangeLocked(s, silent, fl)
	n.closePollsLocked(s, silent, fl)
}

// teardownLocked releases what a closing socket holds in the network: its
// port, its backlog (each waiting connection is reset) and its connection
// (reset when abortive, else ended with a FIN after the data sent).
func (n *Network) teardownLocked(s *socket, abortive bool, fl *flushList) {
	n.unbindLocked(s)
	switch {
	case s.state == stateListening:
		for _, c := range s.acceptq {
			c.closed, c.listener = true, nil
			n.resetConnLocked(c, fl)
		}
		s.acceptq = nil
	case s.stream && s.state == stateConnected:
		if abortive {
			n.resetConnLocked(s, fl)
		} else if d := s.peer; d != nil {
			s.sendFinLocked()
			n.settleLocked(d, fl)
		}
	}
	s.dq.reset()
	n.cond.Broadcast()
}

// waitDeliveredAndUnlock delivers what is left in the completion queue of
// a closed socket, or waits for the goroutine delivering it, then releases
// the network lock.
func (s *socket) waitDeliveredAndUnlock() {
	n := s.n
	if !s.notifying && !s.notifyq.empty() {
		s.notifying = true
		s.drainAndUnlock()
		n.mu.Lock()
	}
	for s.notifying {
		n.cond.Wait()
	}
	n.mu.Unlock()
}
