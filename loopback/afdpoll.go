package loopback

import (
	"math"
	"slices"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// AFD poll: IOCTL_AFD_POLL on a socket's handle, the device control that
// wepoll, mio and libuv issue to wait for readiness of several sockets
// through one completion (docs/facts.md §13, §13.5). A poll is an
// operation of the socket it was issued on: it completes through that
// socket's completion queue, CancelIo on that socket cancels it, and
// closing that socket ends it. The sockets it lists watch it
// (socket.polls) and re-evaluate it at each change (readinessLocked).

var _ spi.DeviceController = (*socket)(nil)

// afdPoll is one IOCTL_AFD_POLL, guarded by the network lock until it
// ends; after that it is read-only and belongs to its op's delivery.
type afdPoll struct {
	o     *op             // the op record: issuing socket o.s, request o.req
	in    spi.AFDPollInfo // the request as parsed
	socks []*socket       // the sockets of in.Handles, in order
	out   []byte          // the caller's output buffer, written at delivery
	timer *time.Timer     // the timeout, or nil (for ever)
	ended bool

	status spi.NTStatus    // the result, once ended
	result spi.AFDPollInfo // the output, once ended
}

// DeviceIoControl serves [spi.DeviceController] on the socket's handle:
// IOCTL_AFD_POLL only; any other control code is STATUS_NOT_SUPPORTED, the
// status AFD's dispatch gives an unknown control code (R:afd, main.c). See
// the package documentation, "AFD poll", for the rules.
func (s *socket) DeviceIoControl(code uint32, in, out []byte, req spi.IORequest) (uint32, error) {
	if code != spi.IOCTL_AFD_POLL {
		return 0, spi.STATUS_NOT_SUPPORTED
	}
	info, err := spi.ParseAFDPollInfo(in)
	if err != nil {
		return 0, err
	}
	if len(out) < spi.AFDPollInfoSize(len(info.Handles)) {
		return 0, spi.STATUS_INVALID_PARAMETER
	}
	p := s.p
	if p == nil {
		return 0, spi.STATUS_INVALID_HANDLE
	}
	socks := make([]*socket, len(info.Handles))
	for i, h := range info.Handles {
		t, err := p.lookup(spi.Socket(h.Handle))
		if err != nil {
			return 0, spi.STATUS_INVALID_HANDLE
		}
		socks[i] = t
	}
	if err := s.resetEvent(req); err != nil {
		return 0, spi.STATUS_INVALID_HANDLE
	}
	wait, forever := pollWait(info.Timeout, time.Now())

	n := s.n
	var fl flushList
	n.mu.Lock()
	if s.closed || slices.ContainsFunc(socks, func(t *socket) bool { return t.closed }) {
		n.mu.Unlock()
		return 0, spi.STATUS_INVALID_HANDLE
	}
	pl := &afdPoll{in: info, socks: socks, out: out}
	if info.Exclusive {
		n.replaceExclusiveLocked(socks, &fl)
	}
	if res, ok := pl.evaluateLocked(); ok {
		return s.pollReturnAndUnlock(pl, req, spi.STATUS_SUCCESS, res, &fl)
	}
	if !forever && wait <= 0 {
		return s.pollReturnAndUnlock(pl, req, spi.STATUS_TIMEOUT, pl.emptyResult(), &fl)
	}
	o := getOp(s, req, nil, 0, false)
	o.poll, pl.o = pl, o
	req.Overlapped.SetInProgress()
	s.issued = append(s.issued, pl)
	for i, t := range socks {
		if !slices.Contains(socks[:i], t) {
			t.polls = append(t.polls, pl)
		}
	}
	if !forever {
		pl.timer = time.AfterFunc(wait, func() { n.pollTimedOut(pl) })
	}
	n.mu.Unlock()
	fl.flush()
	return 0, spi.STATUS_PENDING
}

// filetimeEpoch is the Unix epoch as a FILETIME: 100 ns intervals since
// 1601-01-01 UTC.
const filetimeEpoch = 116444736000000000

// pollWait turns an NT timeout into the time left to wait: negative is
// relative, in 100 ns units; positive is an absolute FILETIME; 0 does not
// wait; INT64_MAX, and any wait longer than a time.Duration holds, is for
// ever.
func pollWait(t int64, now time.Time) (wait time.Duration, forever bool) {
	const most = math.MaxInt64 / 100
	switch {
	case t == math.MaxInt64:
		return 0, true
	case t < 0:
		if t < -most {
			return 0, true
		}
		return time.Duration(-t) * 100, false
	case t == 0:
		return 0, false
	}
	left := t - (now.UnixNano()/100 + filetimeEpoch)
	if left <= 0 {
		return 0, false
	}
	if left > most {
		return 0, true
	}
	return time.Duration(left) * 100, false
}

// afdEventsLocked returns the AFD_POLL_* events that hold on s now.
// RECEIVE means data (a datagram, or stream bytes); the peer's FIN is
// DISCONNECT, and counts once the bytes before it are read, as FD_CLOSE
// does (R:afd, read.c); a reset is ABORT; CONNECT holds for as long as the
// connection is up (docs/facts.md §13.2); CONNECT_FAIL while a
// nonblocking connect's failure waits in SO_ERROR. A datagram socket can
// always send (R:afd, main.c). A closed socket reports LOCAL_CLOSE only.
func (s *socket) afdEventsLocked() uint32 {
	if s.closed {
		return spi.AFD_POLL_LOCAL_CLOSE
	}
	if !s.stream {
		ev := uint32(spi.AFD_POLL_SEND)
		if s.dq.Len() > 0 {
			ev |= spi.AFD_POLL_RECEIVE
		}
		return ev
	}
	var ev uint32
	switch s.state {
	case stateListening:
		if len(s.acceptq) > 0 {
			ev |= spi.AFD_POLL_ACCEPT
		}
	case stateConnected:
		if s.rx.Len() > 0 {
			ev |= spi.AFD_POLL_RECEIVE
		}
		if s.err != 0 {
			ev |= spi.AFD_POLL_ABORT
		} else {
			ev |= spi.AFD_POLL_CONNECT
			if s.rxFin && s.rx.Len() == 0 {
				ev |= spi.AFD_POLL_DISCONNECT
			}
		}
		if s.readyLocked(1) {
			ev |= spi.AFD_POLL_SEND
		}
	case stateOpen:
		if s.soError != 0 {
			ev |= spi.AFD_POLL_CONNECT_FAIL
		}
	}
	return ev
}

// evaluateLocked returns the output of the poll as things stand: the
// entries with any requested event that holds, in input order, and
// whether there is one.
func (pl *afdPoll) evaluateLocked() (spi.AFDPollInfo, bool) {
	res := pl.emptyResult()
	for i, h := range pl.in.Handles {
		if ev := h.Events & pl.socks[i].afdEventsLocked(); ev != 0 {
			res.Handles = append(res.Handles, spi.AFDPollHandleInfo{Handle: h.Handle, Events: ev, Status: spi.STATUS_SUCCESS})
		}
	}
	return res, len(res.Handles) > 0
}

// emptyResult is the output of a poll that ends with no event: the input's
// header with NumberOfHandles 0.
func (pl *afdPoll) emptyResult() spi.AFDPollInfo {
	return spi.AFDPollInfo{Timeout: pl.in.Timeout, Exclusive: pl.in.Exclusive}
}

// pollReturnAndUnlock ends a poll decided at submission, as
// returnAndUnlock ends other calls: delivered through the socket's
// completion queue, in order, before the call returns nil and the byte
// count; under a scheduler that says so, or behind queued completions,
// the call returns STATUS_PENDING instead and the result follows through
// the scheduler.
func (s *socket) pollReturnAndUnlock(pl *afdPoll, req spi.IORequest, status spi.NTStatus, res spi.AFDPollInfo, fl *flushList) (uint32, error) {
	n := s.n
	o := getOp(s, req, nil, 0, false)
	o.poll, pl.o = pl, o
	pl.ended, pl.status, pl.result = true, status, res
	o.n = uint32(spi.AFDPollInfoSize(len(res.Handles)))
	bytes := o.n
	if n.sched != nil && (n.sched.Pend() || s.notifying || !s.notifyq.empty()) {
		req.Overlapped.SetInProgress()
		s.notifyq.push(o)
		n.mu.Unlock()
		fl.flush()
		s.flush()
		return 0, spi.STATUS_PENDING
	}
	o.immediate, o.wait = true, true
	s.notifyq.push(o)
	n.mu.Unlock()
	fl.flush()
	s.deliverQueued()
	n.mu.Lock()
	for !o.done {
		n.cond.Wait()
	}
	n.mu.Unlock()
	putOp(o)
	return bytes, nil
}

// endPollLocked ends a pending poll with status and output res: it stops
// watching, and its op joins the issuing socket's completion queue.
func (n *Network) endPollLocked(pl *afdPoll, status spi.NTStatus, res spi.AFDPollInfo, fl *flushList) {
	n.unlinkPollLocked(pl)
	pl.status, pl.result = status, res
	o := pl.o
	o.n = uint32(spi.AFDPollInfoSize(len(res.Handles)))
	o.s.notifyq.push(o)
	fl.add(o.s)
}

// unlinkPollLocked marks pl ended and removes it from every list that
// holds it, so that nothing refers to it once it is delivered.
func (n *Network) unlinkPollLocked(pl *afdPoll) {
	pl.ended = true
	if pl.timer != nil {
		pl.timer.Stop()
		pl.timer = nil
	}
	for _, t := range pl.socks {
		if i := slices.Index(t.polls, pl); i >= 0 {
			t.polls = slices.Delete(t.polls, i, i+1)
		}
	}
	is := &pl.o.s.issued
	if i := slices.Index(*is, pl); i >= 0 {
		*is = slices.Delete(*is, i, i+1)
	}
}

// endPollSilentLocked ends a pending poll for WSPCleanup, which notifies
// nobody: STATUS_CANCELLED is only written into the Overlapped (and
// WSA_OPERATION_ABORTED into OffsetHigh), as abortOpLocked does.
func (n *Network) endPollSilentLocked(pl *afdPoll) {
	n.unlinkPollLocked(pl)
	ov := pl.o.req.Overlapped
	ov.StoreOffset(0)
	ov.StoreOffsetHigh(uint32(spi.WSA_OPERATION_ABORTED))
	ov.StoreInternalHigh(0)
	ov.StoreInternal(uintptr(spi.STATUS_CANCELLED))
	putOp(pl.o)
}

// deliverPoll writes the output of an ended poll into the caller's buffer
// and completes it through the file object with its NTSTATUS. Offset and
// OffsetHigh are cleared, so that WSPGetOverlappedResult reads the status
// from Internal. Called by drainAndUnlock, outside the lock.
func (s *socket) deliverPoll(o *op) {
	pl := o.poll
	pl.result.MarshalTo(pl.out)
	o.req.Overlapped.StoreOffset(0)
	o.req.Overlapped.StoreOffsetHigh(0)
	s.fo.CompleteStatus(o.req, pl.status, o.n, o.immediate)
}

// pollTimedOut ends pl with STATUS_TIMEOUT and no handle, unless it ended
// first.
func (n *Network) pollTimedOut(pl *afdPoll) {
	var fl flushList
	n.mu.Lock()
	if !pl.ended {
		n.endPollLocked(pl, spi.STATUS_TIMEOUT, pl.emptyResult(), &fl)
	}
	n.mu.Unlock()
	fl.flush()
}

// repollLocked completes, with STATUS_SUCCESS, the pending polls listing s
// that now have an event.
func (n *Network) repollLocked(s *socket, fl *flushList) {
	for _, pl := range slices.Clone(s.polls) {
		if res, ok := pl.evaluateLocked(); ok {
			n.endPollLocked(pl, spi.STATUS_SUCCESS, res, fl)
		}
	}
}

// replaceExclusiveLocked cancels, for a new exclusive poll of socks, the
// pending exclusive polls that list any of them (R:afd, select.c: an
// exclusive poll kills the earlier exclusive polls of its sockets).
// Non-exclusive polls are left alone.
func (n *Network) replaceExclusiveLocked(socks []*socket, fl *flushList) {
	for _, t := range socks {
		for _, pl := range slices.Clone(t.polls) {
			if pl.in.Exclusive && !pl.ended {
				n.endPollLocked(pl, spi.STATUS_CANCELLED, pl.emptyResult(), fl)
			}
		}
	}
}

// cancelPollsLocked cancels, for CancelIo on s, the pending polls issued
// on s that match; it returns how many.
func (n *Network) cancelPollsLocked(s *socket, match func(*op) bool, fl *flushList) int {
	count := 0
	for _, pl := range slices.Clone(s.issued) {
		if match(pl.o) {
			n.endPollLocked(pl, spi.STATUS_CANCELLED, pl.emptyResult(), fl)
			count++
		}
	}
	return count
}

// closePollsLocked ends, as s closes, the polls that involve it. First
// those that list it: s now reports AFD_POLL_LOCAL_CLOSE, so a poll that
// asked for it (or finds another event) completes with STATUS_SUCCESS;
// one that did not is cancelled, as AFD kills the polls of a closing
// socket (R:afd, select.c). Then those issued on s and not ended yet are
// cancelled. silent (WSPCleanup) cancels without notifying the polls
// whose issuing socket is closed too.
func (n *Network) closePollsLocked(s *socket, silent bool, fl *flushList) {
	for _, pl := range slices.Clone(s.polls) {
		switch res, ok := pl.evaluateLocked(); {
		case silent && pl.o.s.closed:
			n.endPollSilentLocked(pl)
		case ok:
			n.endPollLocked(pl, spi.STATUS_SUCCESS, res, fl)
		default:
			n.endPollLocked(pl, spi.STATUS_CANCELLED, pl.emptyResult(), fl)
		}
	}
	for _, pl := range slices.Clone(s.issued) {
		if silent {
			n.endPollSilentLocked(pl)
			continue
		}
		n.endPollLocked(pl, spi.STATUS_CANCELLED, pl.emptyResult(), fl)
	}
}

// pollPendingLocked reports whether ov belongs to a pending poll issued on
// s.
func (s *socket) pollPendingLocked(ov *spi.Overlapped) bool {
	return slices.ContainsFunc(s.issued, func(pl *afdPoll) bool { return pl.o.req.Overlapped == ov })
}
