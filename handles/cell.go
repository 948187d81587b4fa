package handles

import (
	"sync/atomic"
	"unsafe"

	"github.com/wsspi/wsspi/spi"
)

// cell is the state of one slot, reused by every handle its value names:
// a small seqlock whose every word is read and written atomically. Writers
// hold Table.mu; readers take no lock. A reader loads state, then the other
// words, then state again: equal states mean that no close (which changes
// state first) and no create (which writes the other words while the slot
// is not live, then state, with a new generation) came in between, so the
// words belong together. Otherwise it reads again.
//
// The words are atomics, not plain fields, because a reader may be
// reading them while a writer rewrites them: that is a data race however
// the reader checks afterwards. An earlier table published an immutable
// entry per handle instead, so that readers could copy it plainly; that
// cost one allocation per create, and collecting those entries was half
// the cost of a create and close (bench/README.md, "handles").
type cell struct {
	// state is generation<<32 | kind<<8 | liveBit for the latest handout,
	// 0 if the value was never handed out. A close clears liveBit only.
	state atomic.Uint64
	// owner is Entry.Owner of the latest handout; WPUModifyIFSHandle
	// changes it while the handle is live.
	owner atomic.Uint32
	// refs counts the references held: one per Ref, plus one for the
	// moment an Acquire checks its find. It is changed without the lock.
	// A close that finds it 0 frees the value; otherwise the value waits
	// in Table.closing for the release that brings it to 0.
	refs atomic.Int32
	// context and object are Entry.Context and Entry.Object of the latest
	// handout. They are kept after a close, until the value is handed out
	// again: clearing them would cost two more atomic stores per close.
	context, object anyWords

	// Guarded by Table.mu: what the table remembers of the handle that
	// closed here last, for StaleError.
	lastOwner spi.CatalogEntryId
	lastKind  Kind
}

// liveBit is the bit of cell.state that is set while the handle is live.
const liveBit = 1

// cellBlock is how many cells allocLocked allocates at once, as values are
// first handed out: fewer allocations when a table fills, and little waste
// for a small table.
const cellBlock = 64

// stateOf returns the cell state of a live handle of kind with generation
// gen.
func stateOf(gen uint32, kind Kind) uint64 {
	return uint64(gen)<<32 | uint64(kind)<<8 | liveBit
}

// genOf returns the generation of a cell state.
func genOf(s uint64) uint32 { return uint32(s >> 32) }

// entry returns the entry of the live handle h, whose cell c is, and
// false if h is not live.
//
//go:noinline
func (c *cell) entry(h spi.Handle) (Entry, bool) {
	for {
		s := c.state.Load()
		if s&liveBit == 0 {
			return Entry{}, false
		}
		owner := c.owner.Load()
		context, object := c.context.load(), c.object.load()
		if c.state.Load() == s {
			return Entry{
				Handle:     h,
				Kind:       Kind(s >> 8),
				Owner:      spi.CatalogEntryId(owner),
				Context:    context,
				Object:     object,
				Generation: genOf(s),
			}, true
		}
	}
}

// anyWords holds an interface value as its two words, the type and the
// data pointer, so that each can be loaded and stored atomically: Go has
// no atomic operation on a whole interface value. A value loaded while it
// is being stored may pair the type of one value with the data of
// another; cell.entry throws such a pair away unused.
type anyWords struct {
	typ, data unsafe.Pointer
}

// words returns a pointer to the two words of *a: the layout of every
// interface value in Go, type (or itab) first.
func words(a *any) *[2]unsafe.Pointer { return (*[2]unsafe.Pointer)(unsafe.Pointer(a)) }

// load returns the value held.
func (w *anyWords) load() (a any) {
	p := words(&a)
	p[0] = atomic.LoadPointer(&w.typ)
	p[1] = atomic.LoadPointer(&w.data)
	return a
}

// storeLocked makes a the value held. Each atomic store is a locked
// instruction on amd64, so a word that does not change is not stored:
// the type of a provider's contexts rarely does. The caller holds
// Table.mu, so nothing else stores here meanwhile.
func (w *anyWords) storeLocked(a any) {
	p := words(&a)
	if atomic.LoadPointer(&w.typ) != p[0] {
		atomic.StorePointer(&w.typ, p[0])
	}
	if atomic.LoadPointer(&w.data) != p[1] {
		atomic.StorePointer(&w.data, p[1])
	}
}
