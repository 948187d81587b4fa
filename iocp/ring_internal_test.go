package iocp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wsspi/wsspi/spi"
	"pgregory.net/rapid"
)

// TestRingIsAFIFOThatKeepsNothingOnceEmpty pushes and pops packets at
// random, against a slice as the model, and checks after every step that
// the ring returns the model's packets in order, that every slot outside
// the queue that still holds a packet lies in the dirty run just before
// the head (so that clearing that run clears them all), and that an empty
// ring holds nothing at all.
func TestRingIsAFIFOThatKeepsNothingOnceEmpty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var r ring
		var model []uintptr
		next := uintptr(1)
		rt.Repeat(map[string]func(*rapid.T){
			"push": func(rt *rapid.T) {
				for range rapid.IntRange(1, 40).Draw(rt, "n") {
					r.push(spi.OverlappedEntry{CompletionKey: next, Overlapped: new(spi.Overlapped)})
					model = append(model, next)
					next++
				}
			},
			"pop": func(rt *rapid.T) {
				dst := make([]spi.OverlappedEntry, rapid.IntRange(1, 70).Draw(rt, "room"))
				n := r.popInto(dst)
				want := model[:min(len(dst), len(model))]
				var got []uintptr
				for _, e := range dst[:n] {
					got = append(got, e.CompletionKey)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					rt.Fatalf("popInto (-want +got):\n%s", diff)
				}
				model = model[len(want):]
			},
			"": func(rt *rapid.T) { checkRing(rt, &r, model) },
		})
	})
}

// checkRing checks r against the queue model holds.
func checkRing(t *rapid.T, r *ring, model []uintptr) {
	if r.len() != len(model) {
		t.Fatalf("len %d, model %d", r.len(), len(model))
	}
	size := uint32(len(r.buf))
	for i := range size {
		e := r.buf[i]
		pos := (i - r.head) & r.mask() // distance from the head
		switch {
		case pos < r.n:
			if e.CompletionKey != model[pos] {
				t.Fatalf("slot %d holds key %d, want %d", i, e.CompletionKey, model[pos])
			}
		case e != (spi.OverlappedEntry{}) && pos < size-r.dirty:
			t.Fatalf("slot %d outside the queue and the dirty run (head %d, n %d, dirty %d) holds key %d",
				i, r.head, r.n, r.dirty, e.CompletionKey)
		case e != (spi.OverlappedEntry{}) && r.n == 0:
			t.Fatalf("empty ring keeps key %d in slot %d", e.CompletionKey, i)
		}
	}
}
