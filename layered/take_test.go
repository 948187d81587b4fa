package layered

import (
	"sync"
	"testing"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// newAwaitingOp returns an op of in's provider on socket s, awaiting its
// packet.
func newAwaitingOp(in *Instance, s *Socket) *op {
	o := in.p.ops.Get().(*op)
	o.sock = s
	in.expect(o)
	return o
}

// A packet takes its op only by the op's own Overlapped, once: a copy of
// the Overlapped (a layer below that posts a copy), a second packet for
// it, another provider's registry and a nil Overlapped find nothing.
func TestPacketTakesItsOpOnlyByTheOpsOwnOverlappedOnce(t *testing.T) {
	p, other := New(1, Config{}), New(2, Config{})
	in := &Instance{p: p}
	s := &Socket{in: in}
	o := newAwaitingOp(in, s)
	copied := o.ov
	for name, ov := range map[string]*spi.Overlapped{"a copy": &copied, "another": {}} {
		if got := s.takeAwaiting(ov, awaitSlotCount); got != nil {
			t.Errorf("%s was taken as an op", name)
		}
	}
	if got := other.awaiting.take(&o.ov); got != nil {
		t.Errorf("another provider's registry had the op")
	}
	if got := s.takeAwaiting(&o.ov, awaitSlotCount); got != o {
		t.Fatalf("the op's own packet took %p, want %p", got, o)
	}
	if got := s.takeAwaiting(&o.ov, awaitSlotCount); got != nil {
		t.Errorf("a second packet took the op again")
	}
	if got := p.awaiting.take(&o.ov); got != nil {
		t.Errorf("the op was in the registry too")
	}
}

// An op awaits in its socket's slots while there is room, and in the
// provider's registry when they are full, when its socket shares its lower
// socket, and once its socket's handle is about to close.
func TestAnOpAwaitsInItsSocketOrInTheRegistry(t *testing.T) {
	in := &Instance{p: New(1, Config{})}
	s := &Socket{in: in}
	var ops []*op
	for range awaitSlotCount + 1 {
		ops = append(ops, newAwaitingOp(in, s))
	}
	last := ops[len(ops)-1]
	if got := in.p.awaiting.take(&last.ov); got != last {
		t.Errorf("the op past the slots is not in the registry")
	}
	in.moveAwaiting(s)
	for i, o := range ops[:len(ops)-1] {
		if got := s.takeAwaiting(&o.ov, awaitSlotCount); got != nil {
			t.Errorf("op %d is still in a slot after the move", i)
		}
		if got := in.p.awaiting.take(&o.ov); got != o {
			t.Errorf("op %d was not moved to the registry", i)
		}
	}
	shared := &Socket{in: in, shared: true}
	o := newAwaitingOp(in, shared)
	if got := in.p.awaiting.take(&o.ov); got != o {
		t.Errorf("an op of a shared socket is not in the registry")
	}
}

// An op whose completion source learns no packet will come (noPacket)
// leaves its slot, or the registry, before it is recycled.
func TestAnOpWithoutAPacketStopsAwaiting(t *testing.T) {
	in := &Instance{p: New(1, Config{})}
	for _, s := range []*Socket{{in: in}, {in: in, shared: true}} {
		o := newAwaitingOp(in, s)
		ov := &o.ov
		o.refs = 1 // the completion source's, which noPacket drops
		in.noPacket(o)
		if got := s.takeAwaiting(ov, awaitSlotCount); got != nil {
			t.Errorf("shared %v: the op is still in a slot", s.shared)
		}
		if got := in.p.awaiting.take(ov); got != nil {
			t.Errorf("shared %v: the op is still in the registry", s.shared)
		}
	}
}

// Every op of a socket is found by its packet, once, whatever order the
// packets come in and however far behind the worker runs: with the slots
// full, ops past them await in the registry, and a packet whose op is
// neither near the last one found nor in the registry (an op that
// completed out of order) is looked for in every slot.
func TestEveryAwaitingOpIsFoundInAnyOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order func(n, k int) int // the k-th packet's op
	}{
		{"in order", func(n, k int) int { return k }},
		{"reversed", func(n, k int) int { return n - 1 - k }},
		{"strided", func(n, k int) int { return k * 37 % n }}, // 37 is prime to n
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &Instance{p: New(1, Config{})}
			s := &Socket{in: in}
			const n = awaitSlotCount + 45
			var ops []*op
			for range n {
				ops = append(ops, newAwaitingOp(in, s))
			}
			for k := range n {
				o := ops[tc.order(n, k)]
				if got := in.takeFrom(s, &o.ov); got != o {
					t.Fatalf("packet %d (op %d) took %p, want %p", k, tc.order(n, k), got, o)
				}
				if got := in.takeFrom(s, &o.ov); got != nil {
					t.Fatalf("a second packet for op %d took an op", tc.order(n, k))
				}
			}
		})
	}
}

// setHooks installs the test hooks for the rest of t.
func setHooks(t *testing.T, taking, moving func()) {
	testHookTaking, testHookMoving = taking, moving
	t.Cleanup(func() { testHookTaking, testHookMoving = nil, nil })
}

// pausedMove starts moveAwaiting(s) on its own goroutine and returns once
// it has claimed its first slot; the move goes on after resume is
// closed, and done is closed when it has finished.
func pausedMove(t *testing.T, in *Instance, s *Socket) (resume, done chan struct{}) {
	claimed := make(chan struct{})
	resume, done = make(chan struct{}), make(chan struct{})
	var once sync.Once
	setHooks(t, testHookTaking, func() {
		once.Do(func() {
			close(claimed)
			<-resume
		})
	})
	go func() {
		defer close(done)
		in.moveAwaiting(s)
	}()
	<-claimed
	return resume, done
}

// resumeSoon closes resume a while from now: long enough that a search
// that does not wait for the moved op has given up by then.
func resumeSoon(resume chan struct{}) {
	go func() {
		time.Sleep(2 * time.Millisecond)
		close(resume)
	}()
}

// An op whose slot moveAwaiting claims while its socket's handle closes is
// still found by whoever looks for it: a search that reaches the slot
// while the op is on its way to the registry waits for it, and a search
// that found the op just before the move claimed the slot takes it from
// the registry. noPacket, which looks in the slots once and in the
// registry once, then leaves nothing behind.
func TestAnOpBeingMovedIsFoundByItsSearch(t *testing.T) {
	// noPacketDuringMove runs noPacket on an op of a socket whose slots
	// are being moved, the move started by start, and checks that the op
	// awaits nowhere afterwards.
	noPacketDuringMove := func(t *testing.T, start func(in *Instance, s *Socket) (done chan struct{})) {
		in := &Instance{p: New(1, Config{})}
		s := &Socket{in: in}
		o := newAwaitingOp(in, s)
		ov := &o.ov
		o.refs = 1 // the completion source's, which noPacket drops
		done := start(in, s)
		in.noPacket(o)
		<-done
		if in.p.awaiting.take(ov) != nil || s.takeAwaiting(ov, awaitSlotCount) != nil {
			t.Errorf("noPacket left the op awaiting")
		}
	}
	t.Run("the slot claimed before the search reaches it", func(t *testing.T) {
		noPacketDuringMove(t, func(in *Instance, s *Socket) chan struct{} {
			resume, done := pausedMove(t, in, s)
			resumeSoon(resume)
			return done
		})
	})
	t.Run("the slot claimed between the find and the take", func(t *testing.T) {
		noPacketDuringMove(t, func(in *Instance, s *Socket) chan struct{} {
			done := make(chan struct{})
			var once sync.Once
			setHooks(t, func() {
				once.Do(func() {
					resume, moved := pausedMove(t, in, s)
					resumeSoon(resume)
					go func() { <-moved; close(done) }()
				})
			}, nil)
			return done
		})
	})
	t.Run("a packet's op outside the first look", func(t *testing.T) {
		in := &Instance{p: New(1, Config{})}
		s := &Socket{in: in}
		var ops []*op
		for range 2 * awaitProbes {
			ops = append(ops, newAwaitingOp(in, s))
		}
		last := ops[len(ops)-1]
		if in.takeFrom(s, &last.ov) != last {
			t.Fatal("the last op was not found")
		}
		resume, done := pausedMove(t, in, s) // the hint is past every op now
		resumeSoon(resume)
		if got := in.takeFrom(s, &ops[0].ov); got != ops[0] {
			t.Errorf("the packet of the op being moved took %p, want %p", got, ops[0])
		}
		<-done
	})
}

// A packet whose key's value went to another socket of the instance finds
// its op in the slots of the socket it was issued on.
func TestAPacketFindsItsOpInAnotherSocketOfTheInstance(t *testing.T) {
	in := &Instance{p: New(1, Config{}), socks: map[*Socket]struct{}{}}
	issued, now := &Socket{in: in}, &Socket{in: in}
	in.socks[issued], in.socks[now] = struct{}{}, struct{}{}
	o := newAwaitingOp(in, issued)
	newAwaitingOp(in, now)
	if got := in.takeFrom(now, &o.ov); got != o {
		t.Errorf("the packet took %p, want %p", got, o)
	}
}

// A packet whose key finds no socket, for an op in a socket's slot that
// moveAwaiting has claimed but not yet registered when the packet looks in
// the registry first, is found by the registry look that ends the search.
func TestAnUnattributedPacketFindsItsOpMovedDuringTheSearch(t *testing.T) {
	in := &Instance{p: New(1, Config{}), socks: map[*Socket]struct{}{}}
	s := &Socket{in: in}
	in.socks[s] = struct{}{}
	o := newAwaitingOp(in, s)
	resume, done := pausedMove(t, in, s)
	resumeSoon(resume)
	if got := in.takeFrom(nil, &o.ov); got != o {
		t.Errorf("the packet took %p, want %p", got, o)
	}
	<-done
}
