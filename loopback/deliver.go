package loopback

import "github.com/wsspi/wsspi/spi"

// Completion delivery. The results of a socket's overlapped operations
// wait in its completion queue (notifyq) in the order they were decided,
// and one goroutine at a time (the one that set notifying) hands them to
// the file object's Complete, outside the network lock, so that sends
// complete in submission order and Complete never runs under the lock.

// finishLocked records the result of a queued op, which the caller has
// unlinked: an overlapped op goes to its socket's completion queue (and the
// socket to fl), a waiting call is woken.
func (n *Network) finishLocked(o *op, status spi.Errno, fl *flushList) {
	unlinkAcceptLocked(o)
	o.status = status
	if status != 0 && status != spi.WSAEMSGSIZE {
		o.flags = 0 // no result flags for a failure
	}
	if o.req.Overlapped != nil {
		o.s.notifyq.push(o)
		fl.add(o.s)
		return
	}
	if o.from != nil && o.addr.IsValid() {
		*o.from = o.addr
	}
	o.done = true
	n.cond.Broadcast()
}

// deliver reports a finished overlapped operation through the file object,
// following the provider convention first: Offset = result flags,
// OffsetHigh = Winsock error.
func (s *socket) deliver(req spi.IORequest, status spi.Errno, bytes, flags uint32, immediate bool) {
	req.Overlapped.StoreOffset(flags)
	req.Overlapped.StoreOffsetHigh(uint32(status))
	s.fo.Complete(req, status, bytes, flags, immediate)
}

// flush delivers the socket's queued completions unless another goroutine
// is already doing so; under a scheduler it hands that to the scheduler,
// keyed by the socket. The network lock must not be held.
func (s *socket) flush() {
	if sched := s.n.sched; sched != nil {
		sched.Defer(s, s.deliverQueued)
		return
	}
	s.deliverQueued()
}

// deliverQueued is flush done now.
func (s *socket) deliverQueued() {
	n := s.n
	n.mu.Lock()
	if s.notifying || s.notifyq.empty() {
		n.mu.Unlock()
		return
	}
	s.notifying = true
	s.drainAndUnlock()
}

// drainAndUnlock delivers notifyq in order, one Complete call at a time
// and never under the lock, then clears notifying and releases the lock.
// The caller holds the lock and has set notifying.
func (s *socket) drainAndUnlock() {
	n := s.n
	for o := s.notifyq.pop(); o != nil; o = s.notifyq.pop() {
		s.inflight = o
		n.mu.Unlock()
		if o.from != nil && o.addr.IsValid() {
			*o.from = o.addr
		}
		if o.poll != nil {
			s.deliverPoll(o)
		} else {
			s.deliver(o.req, o.status, o.n, o.flags, o.immediate)
		}
		n.mu.Lock()
		s.inflight = nil
		if o.wait {
			o.done = true
		} else {
			putOp(o)
		}
	}
	s.notifying = false
	n.cond.Broadcast()
	n.mu.Unlock()
}
