package layered

import (
	"testing"

	"github.com/wsspi/wsspi/spi"
)

// A worker takes a packet's op only from the op's own Overlapped, once, and
// only for the provider that made the op: a copy of the Overlapped (a layer
// below that posts a copy), a second packet for it, another provider's op
// and an Overlapped with no record are foreign.
func TestPacketTakesItsOpOnlyFromTheOpsOwnOverlappedOnce(t *testing.T) {
	p, other := New(1, Config{}), New(2, Config{})
	in, theirs := &Instance{p: p}, &Instance{p: other}
	o := p.ops.Get().(*op)
	copied := o.ov
	var bare spi.Overlapped
	bare.SetRecord("not an op")

	if got := in.take(&o.ov); got != nil {
		t.Errorf("an op that awaits no packet was taken")
	}
	in.expect(o)
	for name, ov := range map[string]*spi.Overlapped{"a copy": &copied, "a record of another type": &bare, "no overlapped": nil, "no record": {}} {
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
	o.ov.StoreInternal(7)
	o.ov.Reset()
	if got, _ := o.ov.Record().(*op); got != o || o.ov.LoadInternal() != 0 {
		t.Errorf("Reset lost the record (%p) or kept Internal (%#x)", got, o.ov.LoadInternal())
	}
}
