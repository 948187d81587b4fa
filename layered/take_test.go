package layered

import (
	"testing"

	"github.com/wsspi/wsspi/spi"
)

// A worker takes a packet's op only by the op's own Overlapped, once, and
// only for the provider that registered the op: a copy of the Overlapped
// (a layer below that posts a copy), a second packet for it, another
// provider's worker and a nil Overlapped find nothing.
func TestPacketTakesItsOpOnlyByTheOpsOwnOverlappedOnce(t *testing.T) {
	p, other := New(1, Config{}), New(2, Config{})
	in, theirs := &Instance{p: p}, &Instance{p: other}
	o := p.ops.Get().(*op)
	copied := o.ov

	if got := in.take(&o.ov); got != nil {
		t.Errorf("an op that awaits no packet was taken")
	}
	in.expect(o)
	for name, ov := range map[string]*spi.Overlapped{"a copy": &copied, "no overlapped": nil, "another": {}} {
		if got := in.take(ov); got != nil {
			t.Errorf("%s was taken as an op", name)
		}
	}
	if got := theirs.take(&o.ov); got != nil {
		t.Errorf("another provider's worker took the op")
	}
	if got := in.take(&o.ov); got != o {
		t.Fatalf("the op's own packet took %p, want %p", got, o)
	}
	if got := in.take(&o.ov); got != nil {
		t.Errorf("a second packet took the op again")
	}
}
