package layered

import (
	"testing"

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
