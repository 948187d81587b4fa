package handles

import (
	"slices"

	"github.com/wsspi/wsspi/spi"
)

// Snapshot is the state of a [Table] at one moment, as exported data, so
// tests can compare tables with cmp.Diff instead of reaching inside. Empty
// lists are nil.
type Snapshot struct {
	// Capacity is the table's capacity.
	Capacity int
	// Live lists the live handles, sorted by value.
	Live []Entry
	// Closing lists, sorted, the values closed while references were held:
	// no longer resolvable, not yet free for reuse.
	Closing []spi.Handle
}

// Snapshot returns the table's current state, taken under its lock. It is
// meant for tests and debugging, in the way WahEnumerateHandleContexts walks
// the ws2_32 table; it costs time and memory in proportion to the table.
func (t *Table) Snapshot() Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := Snapshot{Capacity: int(t.capacity)}
	for k := range t.pages {
		p := t.pages[k].Load()
		if p == &noPage {
			break
		}
		for j := range p.info {
			if e := p.slots[j].Load(); e != nil {
				s.Live = append(s.Live, *e)
			}
		}
	}
	for i := range t.closing {
		s.Closing = append(s.Closing, handleOf(i))
	}
	slices.Sort(s.Closing)
	return s
}
