package handles

import (
	"sync/atomic"

	"github.com/wsspi/wsspi/spi"
)

// Acquire resolves h and takes a reference to its entry, as the kernel's
// ObReferenceObjectByHandle does; an operation holds the reference while it
// works on the object and drops it with [Ref.Release]. It reports false for
// any value [Table.Lookup] reports false for. It takes no lock and does not
// allocate.
//
// While a reference is held a close still succeeds and the value stops
// resolving at once, but the value is not handed out again before the last
// reference is released.
func (t *Table) Acquire(h spi.Handle) (Ref, bool) {
	p, j, e := t.slot(h)
	if e == nil {
		return Ref{}, false
	}
	atomic.AddInt32(&p.refs[j], 1)
	// The handle may have been closed, and its value even handed out again,
	// between the load and the increment. If the slot still holds the same
	// generation, a close from now on sees the reference; if not, the
	// reference is given back like any other.
	cur := p.slots[j].Load()
	if cur == nil || cur.Generation != e.Generation {
		Ref{t: t, e: e}.Release()
		return Ref{}, false
	}
	return Ref{t: t, e: cur}, true
}

// Ref is a reference to a handle's entry, taken by [Table.Acquire]. Release
// it exactly once. The zero Ref refers to nothing.
type Ref struct {
	t *Table
	e *Entry
}

// Entry returns the entry as it was when the reference was taken. It stays
// readable after the handle is closed, until Release. The zero Ref gives the
// zero Entry.
func (r Ref) Entry() Entry {
	if r.e == nil {
		return Entry{}
	}
	return *r.e
}

// Release drops the reference, as ObDereferenceObject does. If the handle
// was closed while referenced and this is the last reference, the value is
// freed for reuse. Release of the zero Ref does nothing; releasing a
// reference more often than it was taken panics when the table can tell.
func (r Ref) Release() {
	if r.e == nil {
		return
	}
	h := r.e.Handle
	t := r.t
	p, j := t.locate(h)
	n := atomic.AddInt32(&p.refs[j], -1)
	if n < 0 {
		panic("handles: Ref.Release called more often than Acquire for handle " + h.String())
	}
	// A live slot is not closing: its close will see the count. (A closing
	// value is not free, so its slot cannot be live again.)
	if n > 0 || p.slots[j].Load() != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// The close that left the value to the last release put it in closing;
	// only one release finds it there.
	if i, _ := t.index(h); t.closing != nil {
		if _, ok := t.closing[i]; ok {
			delete(t.closing, i)
			t.free = append(t.free, i)
		}
	}
}
