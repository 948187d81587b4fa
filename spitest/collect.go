package spitest

import (
	"runtime"
	"slices"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// routine returns the completion routine of o.
func (e *env) routine(o *op) spi.CompletionRoutine {
	return func(status spi.Errno, n uint32, ov *spi.Overlapped, _ uint32) {
		if ov != o.ov {
			e.fail(ruleMechanism, "%s: its completion routine was called with overlapped %p, not the operation's %p", o.name, ov, o.ov)
		}
		e.note(o, note{via: viaRoutine, status: status, bytes: n, thread: e.alertable})
	}
}

// note records and checks one notification of o.
func (e *env) note(o *op, n note) {
	o.notes = append(o.notes, n)
	e.logOp(o, len(o.notes)-1)
	switch {
	case !o.expectsNote():
		e.fail(ruleImmediate, "%s failed at once (%v), so nothing started, yet it was notified by %v (status %v)",
			o.name, errText(o.ret), n.via, errText(errOrNil(n.status)))
	case len(o.notes) == 2:
		e.fail(ruleCompletesOnce, "%s completed twice: first by %v (%d bytes, %v), then by %v (%d bytes, %v)", o.name,
			o.notes[0].via, o.notes[0].bytes, errText(errOrNil(o.notes[0].status)), n.via, n.bytes, errText(errOrNil(n.status)))
	}
	if n.via != o.mech {
		e.fail(ruleMechanism, "%s asked for notification by %v but was notified by %v", o.name, o.mech, n.via)
	}
	if n.via == viaPort && n.key != o.s.key {
		e.fail(rulePortKey, "%s: its packet carries key %#x, not the key %#x the client associated %v with", o.name, n.key, o.s.key, o.s.h)
	}
	if n.via == viaRoutine && n.thread != o.s.th {
		where := "outside any alertable wait"
		if n.thread != nil {
			where = "in an alertable wait of another thread"
		}
		e.fail(ruleMechanism, "%s: its completion routine ran %s, not in an alertable wait of the issuing thread", o.name, where)
	}
	if o.immediate && len(o.notes) == 1 && n.status == 0 && n.bytes != o.retBytes {
		e.fail(ruleCompletesOnce, "%s returned success with %d bytes, but its notification says %d", o.name, o.retBytes, n.bytes)
	}
	if n.status == 0 {
		switch {
		case o.send && n.bytes != uint32(len(o.buf)) && !o.s.short:
			e.fail(ruleCompletesOnce, "%s sent %d bytes but completed with %d and no error", o.name, len(o.buf), n.bytes)
		case n.bytes > uint32(len(o.buf)):
			e.fail(ruleCompletesOnce, "%s completed with %d bytes, more than its %d-byte buffer", o.name, n.bytes, len(o.buf))
		}
	}
}

func errOrNil(e spi.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// collect takes every notification waiting for the client: packets on the
// port, signalled events, and completion routines, each thread in an
// alertable wait of its own.
func (e *env) collect() {
	if e.port != 0 {
		for {
			en, err := e.poller.GetQueuedCompletionStatus(e.port, 0)
			if en.Overlapped == nil {
				break
			}
			o := e.ops[en.Overlapped]
			if o == nil {
				e.fail(ruleMechanism, "a packet (key %#x, %d bytes) names an overlapped the client never used", en.CompletionKey, en.NumberOfBytesTransferred)
				continue
			}
			// The packet carries the NTSTATUS; the client's Winsock view of it
			// is what the rules speak of, and GetQueuedCompletionStatus must
			// report its Win32 code.
			status := spi.NtStatusToWinsockError(spi.NTStatus(en.Internal))
			if win32 := spi.RtlNtStatusToDosError(spi.NTStatus(en.Internal)); spi.ErrnoOf(err) != win32 {
				e.fail(ruleResult, "GetQueuedCompletionStatus of %s reported %v for a packet of status %#x, want %v", o.name, errText(err), en.Internal, win32)
			}
			e.note(o, note{via: viaPort, status: status, bytes: en.NumberOfBytesTransferred, key: en.CompletionKey})
			e.checkResult(o, status, en.NumberOfBytesTransferred)
		}
	}
	for i := e.nextSignaled(0); i >= 0; i = e.nextSignaled(i + 1) {
		o := e.evOps[i]
		_ = e.p.WSAResetEvent(o.event)
		status, n := spi.NtStatusToWinsockError(spi.NTStatus(o.ov.LoadInternal())), uint32(o.ov.LoadInternalHigh())
		e.note(o, note{via: viaEvent, status: status, bytes: n})
		e.checkResult(o, status, n)
	}
	for _, th := range e.threads {
		e.alertable = th
		for {
			r, _ := th.SleepEx(0, true)
			if r != spi.WAIT_IO_COMPLETION {
				break
			}
		}
		e.alertable = nil
	}
	e.advance()
}

// nextSignaled returns the index of the first signalled event of
// e.evObjs from start on, or -1 if none is. It asks the kernel about up to
// WSA_MAXIMUM_WAIT_EVENTS at once, in a wait that does not wait, as a
// client's WSAWaitForMultipleEvents with a zero timeout does: one look at
// each event apart took a lock each, at every collect, for every event
// the run made (bench/README.md). A manual-reset event's wait leaves it
// as it was. An event closed under the client fails the wait; then the
// events are looked at one by one, and a closed one is not signalled.
func (e *env) nextSignaled(start int) int {
	for start < len(e.evObjs) {
		batch := e.evObjs[start:min(start+spi.WSA_MAXIMUM_WAIT_EVENTS, len(e.evObjs))]
		r, err := e.poller.Kernel().WaitForEvents(batch, false, 0, false)
		switch {
		case err != nil:
			for i, ev := range batch {
				if st := ev.Snapshot(); st.Signaled && !st.Closed {
					return start + i
				}
			}
		case r-spi.WSA_WAIT_EVENT_0 < uint32(len(batch)):
			return start + int(r-spi.WSA_WAIT_EVENT_0)
		}
		start += len(batch)
	}
	return -1
}

// settle runs the scheduler's queued work and lets the provider's own
// goroutines finish theirs, until nothing is left to run.
func (e *env) settle() {
	for range 1000 {
		if e.sched != nil {
			e.sched.Drain()
		}
		e.quiesce()
		if e.sched == nil || e.sched.Len() == 0 {
			return
		}
	}
}

// quiesce waits for the provider's goroutines: synctest.Wait inside a
// bubble. Outside one it yields the processor, when that can help: while
// an operation awaits its notification (with none awaited, the provider's
// goroutines have nothing to deliver that the client could see now), and
// with one processor only (with more, a goroutine the client's call woke
// runs on another). Each yield wakes an idle processor to look for work,
// so yielding at every settle, where it cannot help, slows the workload
// (bench/README.md). Nothing depends on the yield: awaitAll waits for late notifications.
func (e *env) quiesce() {
	if e.cfg.bubble {
		synctest.Wait()
		return
	}
	if runtime.GOMAXPROCS(0) == 1 && e.awaiting() {
		runtime.Gosched()
	}
}

// awaiting reports whether an operation expects a notification and has
// none yet.
func (e *env) awaiting() bool {
	for _, o := range slices.Backward(e.allOps) { // the latest are likeliest
		if !o.done() {
			return true
		}
	}
	return false
}

// awaitAll settles and collects until every operation that expects a
// notification has one, or, outside a bubble, the timeout passes.
func (e *env) awaitAll() {
	deadline := time.Now().Add(e.cfg.timeout)
	for {
		e.settle()
		e.collect()
		missing := false
		for _, o := range e.allOps {
			if o.expectsNote() && len(o.notes) == 0 {
				missing = true
			}
		}
		if !missing || e.cfg.bubble || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
