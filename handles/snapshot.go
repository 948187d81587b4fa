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
	if t.live > 0 {
		s.Live = t.appendLiveLocked(make([]Entry, 0, t.live))
	}
	for i := range t.closing {
		s.Closing = append(s.Closing, handleOf(i))
	}
	slices.Sort(s.Closing)
	return s
}

// AppendLive appends the entries of the live handles, sorted by value, to
// dst and returns the extended slice: the Live list of [Table.Snapshot],
// taken under the table's lock, without allocating when dst has room. It
// is for callers that look at the whole table around every call, as
// spitest does, and can reuse one slice.
func (t *Table) AppendLive(dst []Entry) []Entry {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.appendLiveLocked(slices.Grow(dst, t.live))
}

// appendLiveLocked appends the live entries to dst, which has room for
// them (growing dst entry by entry was most of the cost of a snapshot).
func (t *Table) appendLiveLocked(dst []Entry) []Entry {
	// Only the slots below next were ever handed out.
	pages := t.dir.Load().pages
	for i := uint32(0); i < t.next; i++ {
		if e := pages[i>>pageBits].slots[i&pageMask].Load(); e != nil {
			dst = append(dst, *e)
		}
	}
	return dst
}
