package handles_test

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

var (
	catalogIds = []spi.CatalogEntryId{0, 1001, 1006, 1007}
	insertable = []handles.Kind{handles.KindIFSSocket, handles.KindEvent, handles.KindPort, handles.KindThread}
)

// TestTableMatchesModel drives a table and the map model of model_test.go
// with random operations, on random values (live, closed, never issued,
// malformed), and compares the two after every step. Each run ends by
// releasing and closing everything and filling the table again, which
// fails if any value leaked.
//
// The package's TestMain makes it run 500 checks unless -rapid.checks says
// otherwise.
func TestTableMatchesModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		capacity := rapid.IntRange(1, 12).Draw(t, "capacity")
		h := newHarness(t, capacity, rapid.Bool().Draw(t, "detectStale"))

		// value draws a handle value: a live one, any ever handed out,
		// an edge value, or any 64-bit value at all.
		value := func(t *rapid.T) spi.Handle {
			if vs := h.sortedValues(true); len(vs) > 0 && rapid.Bool().Draw(t, "pickLive") {
				return rapid.SampledFrom(vs).Draw(t, "live")
			}
			switch rapid.IntRange(0, 2).Draw(t, "source") {
			case 0:
				if vs := h.sortedValues(false); len(vs) > 0 {
					return rapid.SampledFrom(vs).Draw(t, "issued")
				}
				fallthrough
			case 1:
				return rapid.SampledFrom(specialValues(capacity)).Draw(t, "special")
			}
			return spi.Handle(rapid.Uint64().Draw(t, "any"))
		}

		t.Repeat(map[string]func(*rapid.T){
			"": func(*rapid.T) { h.invariant() },
			"create": func(t *rapid.T) {
				h.create(rapid.SampledFrom(catalogIds).Draw(t, "id"), rapid.IntRange(0, 1000).Draw(t, "context"))
			},
			"insert": func(t *rapid.T) {
				h.insert(rapid.SampledFrom(insertable).Draw(t, "kind"))
			},
			"query":       func(t *rapid.T) { h.query(value(t)) },
			"closeSocket": func(t *rapid.T) { h.close(value(t), true) },
			"closeHandle": func(t *rapid.T) { h.close(value(t), false) },
			"modifyIFS": func(t *rapid.T) {
				h.modify(rapid.SampledFrom(catalogIds).Draw(t, "id"), value(t))
			},
			"acquire": func(t *rapid.T) { h.acquire(value(t)) },
			"release": func(t *rapid.T) {
				if len(h.refs) == 0 {
					t.Skip("no reference held")
				}
				h.release(rapid.IntRange(0, len(h.refs)-1).Draw(t, "ref"))
			},
			"closeWhileAcquired": func(t *rapid.T) {
				if len(h.refs) == 0 {
					t.Skip("no reference held")
				}
				r := h.refs[rapid.IntRange(0, len(h.refs)-1).Draw(t, "ref")]
				h.close(r.entry.Handle, rapid.Bool().Draw(t, "socketOnly"))
			},
			"check": func(t *rapid.T) {
				h.check(value(t), uint32(rapid.IntRange(0, 4).Draw(t, "generation")))
			},
			"failNextAlloc": func(*rapid.T) { h.failNext = true },
			"exhaust":       func(*rapid.T) { h.exhaust() },
		})
		h.drain()
	})
}
