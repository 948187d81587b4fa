package layered

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// op is one overlapped operation of a client on a layered socket: the
// sample's WSAOVERLAPPEDPLUS. Its own Overlapped goes to the layer below in
// place of the client's; when the layer below completes it, the op
// completes the client's.
//
// Two parties hold an op, each with a reference: the call that issues it,
// until it returns, and its completion source: the packet that will reach
// the private port, or, when none will (an immediate success from an IFS
// layer below, with skip-on-success), the issuing call again. Forwarding
// is separate from the references: whoever forwards first, the issuing
// call or the worker that dequeues the packet, wins the state from opLive
// to opDone, and the other does nothing. A queued completion routine holds
// a third reference until its trampoline has run. The last release returns
// the op to the pool. An op that WSPCleanup abandons is never recycled,
// since the layer below may still write its Overlapped.
//
// While a packet may still come for it, the op awaits: in one of its
// socket's awaiting slots, or, when they are full or the socket shares its
// lower socket with another process, in its provider's registry (see
// expect). A worker finds the op of a packet there by comparing the
// packet's Overlapped with the ops' own, and never reads through one that
// is not an op's: a packet can carry any Overlapped, a client's included,
// which its owner may be rewriting as the worker dequeues it. The
// registry is the provider's, not one instance's: a lower socket shared
// with another process (WSPDuplicateSocket) has one port for life, the
// private port of the copy of the layer that made it, so the completions
// of the other copy's operations on it arrive there, and that worker
// forwards them through the copy that issued them.
type op struct {
	ov spi.Overlapped // goes down in place of the client's; the private port's packets carry it
	p  *Provider      // whose pool made the op, for life

	// refs and state are read and written with sync/atomic (addRefs,
	// casState, ...), except by begin, which gives an op from the pool,
	// that no one else can reach, its first values.
	refs  int32
	state uint32 // opLive, then opDone or opAbandoned, or opHeld on the way

	sock    *Socket
	client  *spi.Overlapped       // the client's, completed by forward
	routine spi.CompletionRoutine // the client's, run by runRoutine
	thread  spi.ThreadID          // the client's thread, or one from WPUOpenCurrentThread
	opened  bool                  // thread came from WPUOpenCurrentThread
	recv    bool                  // a receive
	stale   bool                  // the layer below may write ov after the op ends: never reuse
	linked  bool                  // on the socket's list
	flags   uint32                // the lower call's in/out flags
	bufs    [][]byte              // a receive's client buffers, kept for OnRecv and After; a send's buffers sent, for After
	bufArr  [2][]byte             // storage for bufs
	from    *netip.AddrPort       // WSPRecvFrom's, for After

	prev, next *op // the socket's list, guarded by sock.mu

	// What only a provider with Before or After hooks uses, last, so that
	// the fields every operation touches share fewer cache lines.
	self  bool          // Before completed the op without the layer below, with res
	res   result        // self's result, or the result a delay holds
	delay time.Duration // Before's delay
	timer atomic.Pointer[time.Timer]
	call  Call // what Before and After see, when either is set
}

// States of an op. It leaves opLive exactly once.
const (
	opLive      uint32 = iota // issued, not yet ended
	opDone                    // forwarded, or failed at once
	opAbandoned               // ended by the last WSPCleanup, without notification
	opHeld                    // its result is decided, and a delay holds its notification (see hold)
)

// result is an operation's outcome as the kit passes it on: its error (0
// for success), byte count and flags.
type result struct {
	status spi.Errno
	n      uint32
	flags  uint32
}

func (o *op) addRefs(d int32) int32 { return atomic.AddInt32(&o.refs, d) }

func (o *op) casState(from, to uint32) bool { return atomic.CompareAndSwapUint32(&o.state, from, to) }

func (o *op) loadState() uint32 { return atomic.LoadUint32(&o.state) }

func (o *op) storeState(v uint32) { atomic.StoreUint32(&o.state, v) }

// expect registers o as awaiting a packet on the private port: in a free
// slot of its socket, which the worker finds by the packet's key (the
// socket's handle), else in the provider's registry. It runs in begin,
// under the socket's lock, before the socket is closing.
func (in *Instance) expect(o *op) {
	if s := o.sock; !s.shared {
		a := s.awaiting.Load()
		if a == nil {
			a = new(awaitSlots)
			s.awaiting.Store(a)
		}
		for k := range uint32(awaitProbes) {
			i := (a.next + k) % awaitSlotCount
			if a.slots[i].Load() == nil && a.slots[i].CompareAndSwap(nil, o) {
				a.next = i + 1
				return
			}
		}
	}
	in.p.awaiting.add(o)
}

// awaitProbes is how many slots expect tries, and a worker's first look
// searches, from where the last op went or was found. The slots fill
// and empty in about issue order, so an occupied slot at next means the
// worker is a whole ring behind; searching all the slots then, for every
// op and every packet, made a lagging worker lag further (bench/README.md,
// "layered").
const awaitProbes = 8

// take returns the op a packet with key and Overlapped ov belongs to and
// stops it awaiting, since an op gets at most one packet; nil means the
// packet is foreign: a client posted it, it completes I/O the client
// issued on a lower socket's handle value (a stale handle of its own), or
// a layer below posted it twice. e is the worker's environment.
func (in *Instance) take(e *env, key uintptr, ov *spi.Overlapped) *op {
	if ov == nil {
		return nil
	}
	var s *Socket
	if ctx, err := e.upcalls.WPUQuerySocketHandleContext(spi.Socket(key)); err == nil {
		if c, ok := ctx.(*Socket); ok && c.in.p == in.p {
			s = c
		}
	}
	return in.takeFrom(s, ov)
}

// takeFrom is take for a packet whose key finds socket s, nil if it
// finds none of the provider's. It looks near where s's last op was
// found, in the registry, in all of s's slots (an op that completed out
// of order), in every socket's (the key's value went to another socket
// while the op waited in the old one's slots), and in the registry again:
// moveAwaiting may have moved the op there from a slot the search had not
// reached yet. A slot whose op is being moved is waited for (takeAwaiting),
// so the last look finds any op a search passed in the move.
func (in *Instance) takeFrom(s *Socket, ov *spi.Overlapped) *op {
	if s != nil {
		if o := s.takeAwaiting(ov, awaitProbes); o != nil {
			return o
		}
	}
	if o := in.p.awaiting.take(ov); o != nil {
		return o
	}
	if s != nil {
		if o := s.takeAwaiting(ov, awaitSlotCount); o != nil {
			return o
		}
	}
	if o := in.takeFromAnySocket(ov); o != nil {
		return o
	}
	return in.p.awaiting.take(ov)
}

// takeFromAnySocket looks for ov's op in the slots of every socket of the
// instance, for a packet whose key no longer finds its socket's slots: the
// client closed the layer's handle with CloseHandle, which the layer is
// never told of, and the value may be free or another socket's since.
// Every packet whose op its key's socket does not hold comes here: those,
// and foreign ones.
func (in *Instance) takeFromAnySocket(ov *spi.Overlapped) *op {
	in.smu.Lock()
	defer in.smu.Unlock()
	for s := range in.socks {
		if o := s.takeAwaiting(ov, awaitSlotCount); o != nil {
			return o
		}
	}
	return nil
}

// movingOp marks an awaiting slot whose op moveAwaiting is moving to the
// registry.
var movingOp = new(op)

// takeAwaiting takes the op whose Overlapped is ov out of the first
// probes of s's awaiting slots from the hint, or returns nil. It compares
// addresses only. A slot that holds the op but is claimed before this
// take can claim it was claimed by moveAwaiting, by noPacket, or by
// another packet for the same op (a lower layer's duplicate); the op is
// then looked for in the registry once any move of the slot is done,
// which finds it after a move and nothing after a take. (Addresses
// cannot tell a duplicate from the packet of the op recycled and issued
// again since: a packet carries no more than its OVERLAPPED's address.)
func (s *Socket) takeAwaiting(ov *spi.Overlapped, probes uint32) *op {
	a := s.awaiting.Load()
	if a == nil {
		return nil
	}
	from := a.hint.Load()
	for k := range probes {
		i := (from + k) % awaitSlotCount
		o := a.waitSlot(i)
		if o == nil || &o.ov != ov {
			continue
		}
		if testHookTaking != nil {
			testHookTaking()
		}
		if a.slots[i].CompareAndSwap(o, nil) {
			a.hint.Store(i + 1)
			return o
		}
		a.waitSlot(i)
		return s.in.p.awaiting.take(ov)
	}
	return nil
}

// waitSlot returns the op in slot i, waiting while moveAwaiting moves
// one out of it.
func (a *awaitSlots) waitSlot(i uint32) *op {
	o := a.slots[i].Load()
	for o == movingOp { // in the registry in a moment
		runtime.Gosched()
		o = a.slots[i].Load()
	}
	return o
}

// Test hooks, nil outside tests: testHookTaking runs when takeAwaiting has
// found its op in a slot, before it claims the slot; testHookMoving when
// moveAwaiting has claimed a slot, before it registers the slot's op.
var testHookTaking, testHookMoving func()

// moveAwaiting moves the ops still awaiting a packet in s's slots to the
// provider's registry, before s's handle closes: the value may go to
// another socket, and a late packet, found by the value, must still find
// its op. A slot is claimed with movingOp first, so that a worker taking
// the same op from the slot either takes it there or finds it in the
// registry.
func (in *Instance) moveAwaiting(s *Socket) {
	a := s.awaiting.Load()
	if a == nil {
		return
	}
	for i := range a.slots {
		o := a.slots[i].Load()
		if o != nil && o != movingOp && a.slots[i].CompareAndSwap(o, movingOp) {
			if testHookMoving != nil {
				testHookMoving()
			}
			in.p.awaiting.add(o)
			a.slots[i].Store(nil)
		}
	}
}

// noPacket drops the reference of an op's completion source when no packet
// will come for it after all, and unregisters it.
func (in *Instance) noPacket(o *op) {
	if o.sock.takeAwaiting(&o.ov, awaitSlotCount) == nil {
		in.p.awaiting.take(&o.ov)
	}
	o.release()
}

// release drops a reference; the last one recycles the op.
func (o *op) release() {
	if o.addRefs(-1) != 0 || o.stale || o.loadState() == opAbandoned {
		return // an abandoned op is never recycled: the layer below may still write it
	}
	o.ov = spi.Overlapped{}
	o.sock, o.client, o.routine = nil, nil, nil
	o.thread, o.opened, o.recv, o.flags = spi.ThreadID{}, false, false, 0
	clear(o.bufArr[:])
	o.bufs, o.from = nil, nil
	if o.p.cfg.Hooks.acts() { // else nothing wrote the call
		o.call = Call{}
	}
	o.self, o.res, o.delay = false, result{}, 0
	if o.timer.Load() != nil {
		o.timer.Store(nil)
	}
	o.p.ops.Put(o)
}

// begin starts an overlapped operation on s, as the sample's
// PrepareOverlappedOperation and QueueOverlappedOperation do: it resets
// the client's event (low bit masked; not when hEvent is a completion
// routine's context), records the client's overlapped, routine and thread
// (opening the current thread when the call gave none), links the op to
// the socket, and marks the client's overlapped in progress. The caller
// then issues the lower call with the op's overlapped and hands the result
// to issued.
func (in *Instance) begin(e *env, s *Socket, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (*op, error) {
	if !s.overlapped {
		return nil, errNotOverlapped
	}
	if cr == nil {
		if ev := ov.EventHandle(); ev != 0 && e.upcalls.WPUResetEvent(ev) != nil {
			return nil, spi.WSA_INVALID_HANDLE
		}
	}
	o := in.p.ops.Get().(*op)
	o.sock, o.client, o.routine = s, ov, cr
	if thread != nil {
		o.thread = *thread
	} else {
		id, err := e.upcalls.WPUOpenCurrentThread()
		if err != nil {
			o.refs = 1
			o.release()
			return nil, err
		}
		o.thread, o.opened = id, true
	}
	o.ov.Internal = spi.WSS_OPERATION_IN_PROGRESS
	o.refs, o.state = 2, opLive // not yet shared (see op)
	ov.SetInProgress()
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		o.storeState(opDone)
		in.unbegin(e, o, spi.WSAENOTSOCK)
		return nil, spi.WSAENOTSOCK
	}
	in.expect(o)
	s.ops.push(o)
	s.pending.Add(1)
	s.mu.Unlock()
	in.p.outstanding.Add(1)
	return o, nil
}

// unbegin undoes begin for an op that never went down, and recycles it.
func (in *Instance) unbegin(e *env, o *op, err spi.Errno) {
	o.endSilently(e, err)
	o.refs = 1 // no one else holds it
	o.release()
}

// endSilently ends the client's operation with err and no notification,
// as the sample's ExecuteOverlappedOperation writes a failure that happens
// at once: 0 bytes, no flags, err in OffsetHigh and Internal. It closes a
// thread the op opened.
func (o *op) endSilently(e *env, err spi.Errno) {
	c := o.client
	c.StoreOffset(0)
	c.StoreOffsetHigh(uint32(err))
	c.StoreInternalHigh(0)
	c.StoreInternal(uintptr(spi.WinsockErrorToNtStatus(err)))
	if o.opened {
		_ = e.upcalls.WPUCloseThread(&o.thread)
	}
}

// issued decides what the lower call's result means for the client, so
// that every operation completes exactly once:
//
//   - success, and the socket has no other operation outstanding: the
//     completion is forwarded now, before returning success (the routine
//     is queued, the packet posted, the event set). From an IFS layer
//     below, with skip-on-success set, no packet will come. From a
//     non-IFS layer below, one will (WPUCompleteOverlappedRequest ignores
//     skip-on-success, KB 2568167); the worker that dequeues it finds the
//     op forwarded and only drops its reference. (An After hook may still
//     fail the call at once, or hold its completion, and the call then
//     returns the error, or WSA_IO_PENDING.);
//   - success while other operations of the socket are outstanding: their
//     completions must not be overtaken, so this one goes through the
//     private port behind them (posted there by the layer, or, over an IFS
//     layer, by the layer below), and the call returns WSA_IO_PENDING;
//   - WSA_IO_PENDING, or a warning with the lower overlapped completed
//     all the same (a receive that truncates a datagram, WSAEMSGSIZE,
//     STATUS_BUFFER_OVERFLOW, whose completion is delivered as a
//     success's is): the packet will come, and the call returns
//     WSA_IO_PENDING;
//   - an error, nothing started: the op ends here and the error is
//     returned; nothing will be notified (unless an After hook turns the
//     failure into a completion). A non-IFS layer below writes such a
//     failure into the overlapped it was given (ours) as the sample does,
//     so a written Internal alone does not mean a packet will come.
func (in *Instance) issued(e *env, o *op, n uint32, err error) (uint32, error) {
	code := errnoOf(err)
	switch {
	case err == nil:
		flags := o.ov.LoadOffset()
		if o.ov.LoadInternal() == spi.WSS_OPERATION_IN_PROGRESS {
			// The layer below returned success but has yet to write the
			// overlapped (a scheduler deferred its delivery): the result
			// is the call's. With no packet to come, nothing tells when
			// the writes end, so the record must never be reused.
			flags = o.flags
			o.stale = o.sock.skip
		}
		alone := o.sock.pending.Load() == 1
		switch {
		case alone:
			out := in.forward(e, o, result{n: n, flags: flags}, true, false)
			if o.sock.skip && out.won {
				// No packet will come. (When a worker forwarded first, a
				// packet did come after all, and that worker holds and
				// drops its reference: dropping it here too would recycle
				// the op under the worker.)
				in.noPacket(o)
			}
			o.release()
			// When the worker won (over a non-IFS layer the packet of the
			// layer below reached it first, and it forwards the
			// completion, perhaps still doing so) the call reports
			// pending, so the client never hears "done at once" before
			// its notification is queued.
			return out.returns()
		case !o.sock.skip:
			o.release()
			return 0, spi.WSA_IO_PENDING
		}
		o.ov.StoreOffset(flags) // for the worker, which finds the socket by the key (see take)
		if e.imports.PostQueuedCompletionStatus(e.port, n, uintptr(o.sock.handle), &o.ov) != nil {
			in.forward(e, o, result{n: n, flags: flags}, false, false) // the port is gone: cleanup is under way
			in.noPacket(o)
		}
		o.release()
		return 0, spi.WSA_IO_PENDING
	case code == spi.WSA_IO_PENDING,
		o.completedBelow(e),
		o.recv && code == spi.WSAEMSGSIZE:
		o.release()
		return 0, spi.WSA_IO_PENDING
	}
	out := in.forward(e, o, result{status: code, n: n}, true, true)
	if !out.won {
		// A worker forwarded the operation already: the layer below
		// completed it after all, and the client hears of it through that
		// notification, so the call must not also report a failure.
		o.release()
		return 0, spi.WSA_IO_PENDING
	}
	in.noPacket(o)
	o.release()
	if out.now && out.r.status == code {
		return n, err // the layer below's error, as it gave it
	}
	return out.returns()
}

// completedBelow reports whether the layer below, returning an error, has
// completed the op's overlapped all the same, so that its notification
// will come: an IFS layer writes Internal only through the completion
// rule, which notifies; a non-IFS layer (the kit, Microsoft's sample)
// also writes a failure it returns at once into the overlapped, with an
// error status and no notification, so only a success or warning status
// written there means a notification will come.
func (o *op) completedBelow(e *env) bool {
	st := o.ov.LoadInternal()
	if st == spi.WSS_OPERATION_IN_PROGRESS {
		return false
	}
	return e.lowerIFS || !spi.NTStatus(st).IsError()
}

// outcome is what forward did with an operation.
type outcome struct {
	won  bool   // this call ended the op's live state; nothing else was done otherwise
	now  bool   // the op failed at once: no notification
	held bool   // a delay holds the notification (see hold)
	r    result // the result notified, failed with or held
}

// returns is what the call that issued an op returns once forward ran
// inline: the error of a failure at once; the byte count of a success
// notified at once; WSA_IO_PENDING when the client hears of the result
// only through its notification (a failure, a warning, a held
// completion, or one a worker forwards).
func (out outcome) returns() (uint32, error) {
	switch {
	case out.won && out.now:
		return 0, out.r.status
	case !out.won || out.held || out.r.status != 0:
		return 0, spi.WSA_IO_PENDING
	}
	return out.r.n, nil
}

// forward completes the client's operation with result r, unless it is
// already ended: r is the layer below's, or the one Before gave an op it
// completed itself (self). OnRecv sees received data and After the
// result, whose verdict may change it, fail the call at once (when inline,
// the issuing call has not yet returned) or hold its notification for a
// delay. failsAtOnce says that r is a failure the call returns at once
// unless After decides otherwise. Then forward notifies (see notify) or
// ends the op silently (a failure at once). It drops no reference of the
// caller's, and reports what it did; won is false when it was not this
// call that ended the operation.
func (in *Instance) forward(e *env, o *op, r result, inline, failsAtOnce bool) outcome {
	if !o.casState(opLive, opDone) {
		return outcome{}
	}
	if o.self {
		r = o.res
	}
	s, h := o.sock, &in.p.cfg.Hooks
	now, delay := failsAtOnce, o.delay
	if h.OnRecv != nil && o.recv && !now && (r.status == 0 || r.status == spi.WSAEMSGSIZE) {
		h.OnRecv(s, o.bufs, r.n)
	}
	if h.After != nil {
		c := &o.call
		c.Bufs, c.N, c.Err = o.bufs, r.n, r.status
		if o.recv {
			c.Flags = r.flags
		}
		if o.from != nil {
			c.Addr = *o.from
		}
		v := h.After(c)
		if o.recv {
			r.flags = c.Flags
		}
		if o.from != nil && *o.from != c.Addr {
			*o.from = c.Addr
		}
		switch v.act {
		case actFail:
			r, now = result{status: v.err}, inline
		case actFailCompletion:
			r, now = result{status: v.err}, false
		case actComplete:
			r, now = result{n: c.complete(v.n), flags: r.flags}, false
		}
		delay += v.delay
	}
	switch {
	case now:
		o.endSilently(e, r.status)
		in.finish(e, o)
		return outcome{won: true, now: true, r: r}
	case delay > 0:
		in.hold(e, o, r, delay)
		return outcome{won: true, held: true, r: r}
	}
	in.notify(e, o, r, inline)
	return outcome{won: true, r: r}
}

// notify tells the client of the end of its operation with result r: it
// writes Offset = flags and OffsetHigh = the error into the client's
// overlapped (the convention WSPGetOverlappedResult reads), then either
// queues the client's completion routine with WPUQueueApc through a
// trampoline (after writing InternalHigh and Internal itself, which
// WPUQueueApc does not), or calls WPUCompleteOverlappedRequest, which
// posts to the port the client associated with the layer's handle and
// signals the event. It closes a thread the op opened and unlinks the op
// (closing the handle of a socket closed meanwhile once its last
// operation is forwarded). inline says that the issuing call has not
// returned yet.
func (in *Instance) notify(e *env, o *op, r result, inline bool) {
	s, p := o.sock, in.p
	c := o.client
	c.StoreOffset(r.flags)
	c.StoreOffsetHigh(uint32(r.status))
	if o.routine == nil {
		err := s.complete(e, c, r.status, r.n)
		p.count(&p.completed, err, inline)
		in.closeThread(e, o)
		in.finish(e, o)
		return
	}
	c.StoreInternalHigh(uintptr(r.n))
	c.StoreInternal(uintptr(spi.WinsockErrorToNtStatus(r.status)))
	o.addRefs(1) // the trampoline's
	err := e.upcalls.WPUQueueApc(&o.thread, runRoutine, o)
	if err != nil {
		o.release()
	}
	p.count(&p.apcs, err, inline)
	in.closeThread(e, o)
	in.finish(e, o)
}

// closeThread closes the thread handle an op opened.
func (in *Instance) closeThread(e *env, o *op) {
	if o.opened {
		_ = e.upcalls.WPUCloseThread(&o.thread)
	}
}

// runRoutine is the trampoline WPUQueueApc runs on the client's thread: it
// calls the client's completion routine with the results forward wrote
// into the client's overlapped, as the sample's CallUserApcProc does.
func runRoutine(ctx any) {
	o := ctx.(*op)
	routine, ov := o.routine, o.client
	o.release()
	routine(spi.Errno(ov.LoadOffsetHigh()), uint32(ov.LoadInternalHigh()), ov, ov.LoadOffset())
}

// finish unlinks an ended op from its socket, wakes WSPGetOverlappedResult
// waiters, and closes the handle of a socket whose lower socket closesocket
// closed, if this was its last operation. (A close the layer below fails
// leaves the socket open, so the handle must not close before the lower
// socket has.)
func (in *Instance) finish(e *env, o *op) {
	s := o.sock
	s.mu.Lock()
	s.ops.remove(o)
	left := s.pending.Add(-1)
	now := left == 0 && s.refs == 0 && s.lowerClosed && !s.handleClosed
	s.handleClosed = s.handleClosed || now
	ch := s.waitCh
	s.waitCh = nil
	s.mu.Unlock()
	in.p.outstanding.Add(-1)
	if ch != nil {
		close(ch)
	}
	if now {
		in.closeHandle(e, s)
	}
}

// serve is a worker: a simulated thread of the process that takes the
// completions of the layer's lower sockets off the private port and
// forwards them, as the sample's OverlappedManagerThread does. It ends on
// the stop packet the last WSPCleanup posts (whose Overlapped is the
// instance's own, which nobody else can name), or when the port is closed
// under it. It looks each packet's op up by its Overlapped: a packet of no
// op of the instance is foreign, counted and dropped. During the last
// WSPCleanup it forwards nothing: the cleanup ends the operations without
// notification.
func (in *Instance) serve(start *env, id spi.ThreadID) {
	defer func() {
		_ = start.imports.ExitThread(id)
		in.p.workers.Add(-1)
		in.workers.Done()
	}()
	for {
		pkt, err := start.imports.GetQueuedCompletionStatus(id, start.port, spi.Infinite)
		switch {
		case pkt.Overlapped == &in.stop:
			return
		case pkt.Overlapped == nil && err != nil:
			in.portGone.Store(true) // closed by someone else: nothing more will come
			return
		}
		o := in.take(start, pkt.CompletionKey, pkt.Overlapped)
		if o == nil {
			in.p.foreign.Add(1)
			continue
		}
		issuer := o.sock.in // this instance, or another process's copy (see op)
		e := issuer.env.Load()
		if e == nil {
			continue // the issuer's last WSPCleanup abandons the op
		}
		issuer.forward(e, o, result{status: spi.NtStatusToWinsockError(spi.NTStatus(pkt.Internal)), n: pkt.NumberOfBytesTransferred, flags: o.ov.LoadOffset()}, false, false)
		o.release() // the packet's reference
	}
}

// getOverlappedResult serves WSPGetOverlappedResult from the client's
// overlapped, as the sample does (docs/facts.md §2.4): while Internal is
// WSS_OPERATION_IN_PROGRESS the operation is pending (WSA_IO_INCOMPLETE
// without wait; with wait it blocks until the operation is forwarded, or
// fails with WSAEINVAL if the socket has no such operation); then
// InternalHigh is the byte count, Offset the flags and OffsetHigh the
// error (Internal when OffsetHigh is 0). A nil overlapped is WSAEFAULT.
func (in *Instance) getOverlappedResult(h spi.Socket, ov *spi.Overlapped, wait bool) (uint32, uint32, error) {
	_, s, err := in.resolve(h)
	if err != nil {
		return 0, 0, err
	}
	if ov == nil {
		return 0, 0, spi.WSAEFAULT
	}
	for ov.InProgress() {
		if !wait {
			return 0, 0, spi.WSA_IO_INCOMPLETE
		}
		s.mu.Lock()
		if !ov.InProgress() {
			s.mu.Unlock()
			break
		}
		if !s.ops.has(ov) {
			s.mu.Unlock()
			return 0, 0, spi.WSAEINVAL
		}
		if s.waitCh == nil {
			s.waitCh = make(chan struct{})
		}
		ch := s.waitCh
		s.mu.Unlock()
		<-ch
	}
	bytes, flags := uint32(ov.LoadInternalHigh()), ov.LoadOffset()
	code := spi.Errno(ov.LoadOffsetHigh())
	if code == 0 {
		code = spi.NtStatusToWinsockError(spi.NTStatus(ov.LoadInternal()))
	}
	if code != 0 {
		return bytes, flags, code
	}
	return bytes, flags, nil
}

// opList is a socket's outstanding operations in issue order, an
// intrusive list so that linking and unlinking allocate nothing.
type opList struct{ head, tail *op }

func (l *opList) push(o *op) {
	o.prev, o.next, o.linked = l.tail, nil, true
	if l.tail != nil {
		l.tail.next = o
	} else {
		l.head = o
	}
	l.tail = o
}

func (l *opList) remove(o *op) {
	if !o.linked {
		return
	}
	if o.prev != nil {
		o.prev.next = o.next
	} else {
		l.head = o.next
	}
	if o.next != nil {
		o.next.prev = o.prev
	} else {
		l.tail = o.prev
	}
	o.prev, o.next, o.linked = nil, nil, false
}

// has reports whether an outstanding op completes the client's ov.
func (l *opList) has(ov *spi.Overlapped) bool {
	for o := l.head; o != nil; o = o.next {
		if o.client == ov {
			return true
		}
	}
	return false
}

// takeAll unlinks and returns every op.
func (l *opList) takeAll() []*op {
	var all []*op
	for o := l.head; o != nil; {
		next := o.next
		o.prev, o.next, o.linked = nil, nil, false
		all = append(all, o)
		o = next
	}
	l.head, l.tail = nil, nil
	return all
}

// errNotOverlapped is the error of an overlapped call on a socket made
// without WSA_FLAG_OVERLAPPED, as the base provider gives it.
var errNotOverlapped = spi.Because(spi.WSAEINVAL, "the socket was not created with WSA_FLAG_OVERLAPPED")
