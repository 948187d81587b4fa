package layered

import (
	"time"
)

// A delay a hook asks for ([Delay], [Verdict.Delayed]) holds an
// operation's completion after its result is decided. The op leaves opLive
// as any forwarded op does, then waits in opHeld, still outstanding and
// linked to its socket (so WSPGetOverlappedResult with wait keeps
// waiting, a later immediate success of the socket goes through the
// private port, and the layer's handle of a closed socket stays open until
// the held completion is delivered), until its delivery runs: a timer
// (time.AfterFunc, virtual time inside a testing/synctest bubble) or,
// under a [Config.Scheduler], the scheduler's deferred work, keyed by the
// socket so that a socket's held completions keep their order. The
// delivery and the last WSPCleanup each try to move the op out of opHeld,
// and whichever does it ends the op: the delivery notifies the client as
// forward does, the cleanup ends it silently, as it ends every outstanding
// operation. A delivery that runs once its instance is cleaned up (its
// load's epoch gone) ends the op silently itself, should the cleanup have
// found it still being forwarded. Deliveries hold deliverMu for reading,
// and the cleanup takes it once after clearing the environment, so no
// delivery is under way when the cleanup ends the operations.

// hold holds the notification of o, whose result r is decided, for delay
// d: the op moves to opHeld and its delivery is armed, with a reference of
// its own. e is the environment that forwarded it.
func (in *Instance) hold(e *env, o *op, r result, d time.Duration) {
	o.res = r
	o.addRefs(1) // the delivery's
	in.p.held.Add(1)
	o.storeState(opHeld)
	deliver := func() { in.deliverHeld(e, o) }
	if sched := in.p.cfg.Scheduler; sched != nil {
		sched.Defer(o.sock, deliver)
		return
	}
	o.timer.Store(time.AfterFunc(d, deliver))
}

// deliverHeld delivers the held completion of o, which e held, unless the
// last WSPCleanup ended it first; it drops the delivery's reference.
func (in *Instance) deliverHeld(e *env, o *op) {
	in.deliverMu.RLock()
	defer in.deliverMu.RUnlock()
	defer o.release()
	cur := in.env.Load()
	if cur == nil || cur.epoch != e.epoch {
		// The instance was cleaned up: end the op silently, unless the
		// cleanup did.
		if o.casState(opHeld, opAbandoned) {
			in.p.held.Add(-1)
			o.sock.dropAbandoned(e, o)
		}
		return
	}
	if o.casState(opHeld, opDone) {
		in.p.held.Add(-1)
		in.notify(cur, o, o.res, false)
	}
}

// unhold ends the live or held state of o for the last WSPCleanup,
// reporting whether this call did it (and stopping a held op's timer).
func (o *op) unhold() bool {
	if o.casState(opLive, opAbandoned) {
		return true
	}
	if !o.casState(opHeld, opAbandoned) {
		return false // forwarded by a call racing with the cleanup
	}
	o.sock.in.p.held.Add(-1)
	if t := o.timer.Load(); t != nil {
		t.Stop()
	}
	return true
}

// wait holds the return of a call that is not overlapped for d (see
// [Delay]), on s: a timer, or, under a [Config.Scheduler], the deferred
// work of the scheduler, which the call waits for.
func (in *Instance) wait(s *Socket, d time.Duration) {
	if d <= 0 {
		return
	}
	if sched := in.p.cfg.Scheduler; sched != nil {
		done := make(chan struct{})
		sched.Defer(s, func() { close(done) })
		<-done
		return
	}
	t := time.NewTimer(d)
	<-t.C
}
