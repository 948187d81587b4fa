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
	p, j := t.locate(h)
	if p == nil {
		return Ref{}, false
	}
	e := p.slots[j].Load()
	if e == nil || !e.tryRef() {
		return Ref{}, false
	}
	r := Ref{t: t, e: e, h: h}
	// A close may have come between the load and the increment. The slot
	// cannot have been reused since (the entry was not free), so it holds
	// e or nil.
	if p.slots[j].Load() != e {
		r.Release()
		return Ref{}, false
	}
	return r, true
}

// tryRef adds a reference unless the count has reached zero, which means
// the entry is closed and its value freed.
func (e *entry) tryRef() bool {
	for {
		n := atomic.LoadInt32(&e.refs)
		if n <= 0 {
			return false
		}
		if atomic.CompareAndSwapInt32(&e.refs, n, n+1) {
			return true
		}
	}
}

// Ref is a reference to a handle's entry, taken by [Table.Acquire]. Release
// it exactly once. The zero Ref refers to nothing.
type Ref struct {
	t *Table
	e *entry
	h spi.Handle
}

// Entry returns the entry the reference holds, as it was when acquired but
// for the owner, which reads the current one. It stays readable after the
// handle is closed, until Release. The zero Ref gives the zero Entry.
func (r Ref) Entry() Entry {
	if r.e == nil {
		return Entry{}
	}
	return r.e.export(r.h)
}

// Release drops the reference, as ObDereferenceObject does. If the handle
// was closed while referenced and this is the last reference, the value is
// freed for reuse. Release of the zero Ref does nothing; releasing a
// reference twice panics when the table can tell.
func (r Ref) Release() {
	if r.e == nil {
		return
	}
	n := atomic.AddInt32(&r.e.refs, -1)
	if n > 0 {
		return
	}
	t := r.t
	t.mu.Lock()
	defer t.mu.Unlock()
	i, _ := t.index(r.h)
	p, j := t.locate(r.h)
	if n < 0 || p.slots[j].Load() == r.e {
		panic("handles: Ref.Release called more often than Acquire for handle " + r.h.String())
	}
	delete(t.closing, i)
	t.free = append(t.free, i)
}
