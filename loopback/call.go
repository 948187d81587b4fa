package loopback

import "github.com/wsspi/wsspi/spi"

// How a call on a socket starts and ends. An I/O call builds its request
// (request), checks it and resets its event (start), and decides its result
// under the network lock. A result decided at once ends the call there
// (returnAndUnlock, with scheduleResultAndUnlock under a scheduler); an
// operation that must wait is queued and the call blocks, pends or fails
// with WSAEWOULDBLOCK (waitOrPendAndUnlock). Either way an overlapped
// call's completion reaches the client through the socket's completion
// queue (see deliver.go).

// request builds the I/O request of a call: overlapped when ov is set
// (a routine without an overlapped is ignored, as the call is then not
// overlapped).
func request(ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) spi.IORequest {
	if ov == nil {
		return spi.IORequest{}
	}
	req := spi.IORequest{Overlapped: ov, Routine: cr}
	if th != nil {
		req.Thread = *th
	}
	return req
}

// start checks an overlapped request against the socket and resets its
// event. Overlapped calls on a socket made without WSA_FLAG_OVERLAPPED fail
// with WSAEINVAL.
func (s *socket) start(req spi.IORequest) error {
	if req.Overlapped == nil {
		return nil
	}
	if !s.overlapped {
		return errNotOverlapped
	}
	return s.resetEvent(req)
}

// resetEvent resets the request's event through the file object, as the
// I/O manager does when an I/O starts, in the process that issued it. A
// failing reset (an hEvent that names no event) fails the call with
// WSA_INVALID_HANDLE before anything starts.
func (s *socket) resetEvent(req spi.IORequest) error {
	if s.fo == nil || s.fo.ResetEvent(req) == nil {
		return nil
	}
	return spi.WSA_INVALID_HANDLE
}

// errOrNil turns a result code into an error.
func errOrNil(e spi.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// returnAndUnlock ends a call whose operation finished at once with the
// given result, releases the network lock and delivers fl. An overlapped
// call's completion is delivered through the file object before the call
// returns, after every completion of the socket decided before it.
func (s *socket) returnAndUnlock(req spi.IORequest, status spi.Errno, bytes, flags uint32, fl *flushList) (uint32, error) {
	n := s.n
	if req.Overlapped == nil {
		n.mu.Unlock()
		fl.flush()
		return bytes, errOrNil(status)
	}
	if n.sched != nil {
		return s.scheduleResultAndUnlock(req, status, bytes, flags, fl)
	}
	if !s.notifying && s.notifyq.empty() {
		// Fast path: nothing of this socket is waiting to be delivered, so
		// this call delivers its own completion, with no op record.
		s.notifying = true
		n.mu.Unlock()
		fl.flush()
		s.deliver(req, status, bytes, flags, true)
		n.mu.Lock()
		s.drainAndUnlock()
		return bytes, errOrNil(status)
	}
	o := getOp(s, req, nil, 0, false)
	o.n, o.flags, o.status, o.immediate, o.wait = bytes, flags, status, true, true
	s.notifyq.push(o)
	n.mu.Unlock()
	fl.flush()
	s.flush()
	n.mu.Lock()
	for !o.done {
		n.cond.Wait()
	}
	n.mu.Unlock()
	putOp(o)
	return bytes, errOrNil(status)
}

// scheduleResultAndUnlock is returnAndUnlock for an overlapped call under a
// scheduler: when the scheduler says so, or when earlier completions of the
// socket are still queued, the call returns WSA_IO_PENDING (with Internal
// set to WSS_OPERATION_IN_PROGRESS) instead of its result, and the result
// is delivered through the scheduler behind the earlier ones; otherwise it
// is delivered before the call returns.
func (s *socket) scheduleResultAndUnlock(req spi.IORequest, status spi.Errno, bytes, flags uint32, fl *flushList) (uint32, error) {
	pend := s.n.sched.Pend()
	if !pend && !s.notifying && s.notifyq.empty() {
		// An immediate result is delivered before the call returns, as the
		// I/O manager writes the status block of a request that completes
		// at once; only a result queued behind others is made to pend.
		s.notifying = true
		s.n.mu.Unlock()
		fl.flush()
		s.deliver(req, status, bytes, flags, true)
		s.n.mu.Lock()
		s.drainAndUnlock()
		return bytes, errOrNil(status)
	}
	o := getOp(s, req, nil, 0, false)
	o.n, o.flags, o.status, o.immediate = bytes, flags, status, false
	req.Overlapped.SetInProgress()
	s.notifyq.push(o)
	s.n.mu.Unlock()
	fl.flush()
	s.flush()
	return 0, spi.WSA_IO_PENDING // queued: the result comes through the scheduler
}

// waitOrPendAndUnlock queues an operation that cannot finish now. A
// nonblocking, non-overlapped call fails with WSAEWOULDBLOCK; a blocking
// call waits until its op is done; an overlapped call returns WSA_IO_PENDING
// with Internal set to WSS_OPERATION_IN_PROGRESS. It releases the network
// lock. A blocking receive reports its result flags in flagsOut.
func (s *socket) waitOrPendAndUnlock(o *op, flagsOut *uint32, fl *flushList) (uint32, error) {
	n := s.n
	overlapped := o.req.Overlapped != nil
	if !overlapped && s.nonblocking {
		n.mu.Unlock()
		putOp(o)
		fl.flush()
		return 0, spi.WSAEWOULDBLOCK
	}
	if overlapped {
		o.req.Overlapped.SetInProgress()
	} else {
		o.wait = true
	}
	if o.recv {
		s.recvq.push(o)
	} else {
		s.sendq.push(o)
	}
	n.settleLocked(s, fl) // a MSG_WAITALL receive takes what is there already
	n.mu.Unlock()
	fl.flush()
	if overlapped {
		return 0, spi.WSA_IO_PENDING // o belongs to the network now
	}
	n.mu.Lock()
	for !o.done {
		n.cond.Wait()
	}
	bytes, status := o.n, o.status
	if flagsOut != nil {
		*flagsOut = o.flags
	}
	n.mu.Unlock()
	putOp(o)
	return bytes, errOrNil(status)
}

// errNotOverlapped is the error of an overlapped call on a socket made
// without WSA_FLAG_OVERLAPPED.
var errNotOverlapped = spi.Because(spi.WSAEINVAL, "the socket was not created with WSA_FLAG_OVERLAPPED")
