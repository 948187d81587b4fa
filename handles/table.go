package handles

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wsspi/wsspi/spi"
)

// DefaultCapacity is the number of live handles a table holds when
// [Options.Capacity] is 0: 1<<24, about the per-process handle limit of
// Windows.
const DefaultCapacity = 1 << 24

// maxCapacity bounds [Options.Capacity] so that slot indices fit in a uint32
// and the page directory of a table stays small.
const maxCapacity = 1 << 28

// A table's slots live in pages of pageSize, allocated as values are first
// handed out; the directory of page pointers is sized once, by New.
const (
	pageBits = 12
	pageSize = 1 << pageBits
	pageMask = pageSize - 1
)

// staleQuarantine is how many freed values a table with DetectStale holds
// back before it hands out the oldest of them again.
const staleQuarantine = 1024

// Options configures a [Table]. The zero value gives the documented defaults:
// [DefaultCapacity], no injected faults, values reused most recently freed
// first.
type Options struct {
	// Capacity is the most handles the table holds at once; 0 means
	// DefaultCapacity. A value closed while a [Ref] holds it counts until its
	// last release. Allocations beyond it fail with WSAENOBUFS. New panics if
	// Capacity is negative or above 1<<28.
	Capacity int

	// FailAlloc, when set, is called before every allocation of a handle
	// value (by CreateSocketHandle and Insert, full table or not) with the
	// allocation's 1-based sequence number in this table; returning true
	// makes that allocation fail with WSAENOBUFS, as a full table would. It
	// is called without the table's lock held, so it may use the table.
	FailAlloc func(seq uint64) bool

	// DetectStale is a debugging aid, in the spirit of Application
	// Verifier's handle checks. Freed values wait in a first-in, first-out
	// quarantine and are handed out again only once 1024 of them wait, or
	// when every other value is taken, so a stale value tends to stay dead;
	// the use of a closed value is reported as a [*StaleError] inside the
	// operation's usual error; and [Table.Check] tells a closed value from
	// one reused by another handle.
	DetectStale bool
}

// Table is the handle table of one simulated process: it hands out handle
// values, records the kernel object (and, for WPUCreateSocketHandle
// sockets, the owner and context) behind each, and resolves values back.
//
// A Table is safe for concurrent use. Lookup, Acquire and the success path of
// Check take no lock and do not allocate; the operations that change the
// table serialize on one mutex.
type Table struct {
	capacity    uint64
	failAlloc   func(seq uint64) bool
	detectStale bool

	// pages is the directory: page k holds the slots of values
	// (k*pageSize+1)*4 onwards. Its length is fixed by New; a page is stored
	// once, under mu, before any of its values is handed out, and never
	// removed, so readers load it without a lock.
	pages []atomic.Pointer[page]

	// allocs counts allocation attempts, for FailAlloc.
	allocs atomic.Uint64

	// mu guards the writer side of the table: storing pages and slot
	// pointers, every slotInfo, and the fields below. Readers never take it
	// on their success path.
	mu sync.Mutex
	// next is the lowest slot index never handed out.
	next uint32
	// free holds freed slot indices: a stack (the last freed is reused
	// first), or with detectStale a queue whose oldest element is
	// free[freeHead].
	free     []uint32
	freeHead int
	// live counts the resolvable handles.
	live int
	// closing holds the slot indices closed while references were held:
	// unresolvable, not yet free. Made on first use.
	closing map[uint32]struct{}
}

// page is one page of slots. slots[j] is nil when the value is not live.
type page struct {
	slots []atomic.Pointer[entry]
	info  []slotInfo // guarded by Table.mu
}

// slotInfo is what a slot remembers across handouts.
type slotInfo struct {
	gen       uint32             // generation of the latest handout; 0 if never handed out
	lastOwner spi.CatalogEntryId // owner of the handle that last closed here
	lastKind  Kind               // kind of the handle that last closed here
}

// entry is one handed-out handle. Its fields are set before the entry is
// published with an atomic store and never change after, except refs and
// owner, which are read and written atomically.
type entry struct {
	refs    int32  // one for the table while live, one per Ref
	gen     uint32 // generation
	owner   uint32 // spi.CatalogEntryId; ModifyIFSHandle changes it
	kind    Kind
	context any
	object  any
}

// Entry is a snapshot of one live handle: what a kernel debugger's !handle
// shows about it, plus what ws2_32 records for a socket.
type Entry struct {
	// Handle is the handle value.
	Handle spi.Handle
	// Kind is the type of object behind the handle.
	Kind Kind
	// Owner is the catalog entry that owns a socket: the one that called
	// WPUCreateSocketHandle, or the last to call WPUModifyIFSHandle on an
	// IFS socket. It is 0 for other kinds and for an unregistered IFS socket.
	Owner spi.CatalogEntryId
	// Context is the WPUCreateSocketHandle context of a KindSocket handle;
	// nil for other kinds.
	Context any
	// Object is the kernel object behind the handle: the socket object of a
	// socket, the event of an event, and so on.
	Object any
	// Generation counts the times the value has been handed out, from 1, so
	// that an old holder of the value can tell it from a later handle with
	// the same value ([Table.Check]).
	Generation uint32
}

// New returns an empty table configured by opts. It panics if
// opts.Capacity is out of range.
func New(opts Options) *Table {
	c := opts.Capacity
	if c == 0 {
		c = DefaultCapacity
	}
	if c < 0 || c > maxCapacity {
		panic(fmt.Sprintf("handles: Options.Capacity %d out of range [0, %d]", opts.Capacity, maxCapacity))
	}
	return &Table{
		capacity:    uint64(c),
		failAlloc:   opts.FailAlloc,
		detectStale: opts.DetectStale,
		pages:       make([]atomic.Pointer[page], (c+pageSize-1)/pageSize),
	}
}

// handleOf returns the value of slot i.
func handleOf(i uint32) spi.Handle { return spi.Handle(i+1) << 2 }

// index returns the slot index of h, and false for a value no slot of t
// has: 0, a value that is not a multiple of 4, or one beyond the capacity.
func (t *Table) index(h spi.Handle) (uint32, bool) {
	if h == 0 || h&3 != 0 {
		return 0, false
	}
	i := uint64(h>>2) - 1
	return uint32(i), i < t.capacity
}

// locate returns the page and the index within it of h's slot, or nil if
// h has no slot or its page was never allocated.
func (t *Table) locate(h spi.Handle) (*page, uint32) {
	i, ok := t.index(h)
	if !ok {
		return nil, 0
	}
	return t.pages[i>>pageBits].Load(), i & pageMask
}

// load returns the live entry behind h, or nil. It takes no lock.
func (t *Table) load(h spi.Handle) *entry {
	p, j := t.locate(h)
	if p == nil {
		return nil
	}
	return p.slots[j].Load()
}

// export returns the snapshot of e, which has value h.
func (e *entry) export(h spi.Handle) Entry {
	return Entry{
		Handle:     h,
		Kind:       e.kind,
		Owner:      spi.CatalogEntryId(atomic.LoadUint32(&e.owner)),
		Context:    e.context,
		Object:     e.object,
		Generation: e.gen,
	}
}

// add hands out a value for a new entry; op names the calling operation in
// errors.
func (t *Table) add(op string, kind Kind, owner spi.CatalogEntryId, context, object any) (spi.Handle, error) {
	if t.failAlloc != nil && t.failAlloc(t.allocs.Add(1)) {
		return 0, &spi.OpError{Op: op, Err: spi.WSAENOBUFS}
	}
	// Not yet published: plain writes are enough.
	e := &entry{refs: 1, owner: uint32(owner), kind: kind, context: context, object: object}
	t.mu.Lock()
	i, ok := t.allocLocked()
	if !ok {
		t.mu.Unlock()
		return 0, &spi.OpError{Op: op, Err: spi.WSAENOBUFS}
	}
	p, j := t.pages[i>>pageBits].Load(), i&pageMask
	info := &p.info[j]
	info.gen++
	if info.gen == 0 { // wrapped: 0 means never handed out
		info.gen = 1
	}
	e.gen = info.gen
	p.slots[j].Store(e)
	t.live++
	t.mu.Unlock()
	return handleOf(i), nil
}

// allocLocked takes a slot index for a new handle: a freed one (the most
// recently freed, or with detectStale the oldest once enough are held
// back), else a fresh one, allocating its page if need be. It reports false
// when the table is full.
func (t *Table) allocLocked() (uint32, bool) {
	if t.detectStale {
		if q := len(t.free) - t.freeHead; q > 0 && (q >= staleQuarantine || uint64(t.next) == t.capacity) {
			i := t.free[t.freeHead]
			t.freeHead++
			if t.freeHead >= 64 && 2*t.freeHead >= len(t.free) {
				t.free = t.free[:copy(t.free, t.free[t.freeHead:])]
				t.freeHead = 0
			}
			return i, true
		}
	} else if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		return i, true
	}
	if uint64(t.next) == t.capacity {
		return 0, false
	}
	i := t.next
	t.next++
	if i&pageMask == 0 {
		n := min(uint64(pageSize), t.capacity-uint64(i))
		t.pages[i>>pageBits].Store(&page{
			slots: make([]atomic.Pointer[entry], n),
			info:  make([]slotInfo, n),
		})
	}
	return i, true
}

// remove closes the live handle h for op. With socketOnly it closes only a
// KindSocket handle. It fails with code when there is nothing to close.
func (t *Table) remove(op string, h spi.Handle, socketOnly bool, code spi.Errno) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, j := t.locate(h)
	var e *entry
	if p != nil {
		e = p.slots[j].Load()
	}
	if e == nil || socketOnly && e.kind != KindSocket {
		return t.errorLocked(op, h, code)
	}
	p.slots[j].Store(nil)
	t.live--
	p.info[j].lastKind = e.kind
	p.info[j].lastOwner = spi.CatalogEntryId(atomic.LoadUint32(&e.owner))
	i, _ := t.index(h)
	switch n := atomic.AddInt32(&e.refs, -1); {
	case n == 0:
		t.free = append(t.free, i)
	case n > 0:
		if t.closing == nil {
			t.closing = make(map[uint32]struct{})
		}
		t.closing[i] = struct{}{}
	default:
		panic("handles: reference count below zero: a Ref was released more often than acquired")
	}
	return nil
}

// fail returns the error of op failing on h with code, taking the lock
// only when the table looks for stale uses.
func (t *Table) fail(op string, h spi.Handle, code spi.Errno) error {
	if !t.detectStale {
		return &spi.OpError{Op: op, Socket: h, Err: code}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.errorLocked(op, h, code)
}

// errorLocked returns the error of op failing on h with code: code itself,
// or with detectStale a *StaleError carrying it when h was handed out
// before and is closed now.
func (t *Table) errorLocked(op string, h spi.Handle, code spi.Errno) error {
	err := error(code)
	if p, j := t.locate(h); t.detectStale && p != nil && p.info[j].gen != 0 && p.slots[j].Load() == nil {
		info := p.info[j]
		err = &StaleError{Handle: h, Generation: info.gen, Kind: info.lastKind, Owner: info.lastOwner, Err: code}
	}
	return &spi.OpError{Op: op, Socket: h, Err: err}
}

// Close closes any handle, as CloseHandle does: the value stops resolving
// at once and is freed for reuse, or, while [Ref] values hold it, at the
// last [Ref.Release]. It fails with ERROR_INVALID_HANDLE if h is not live.
//
// Close does not check the kind; closing a WPUCreateSocketHandle socket
// this way is what CloseHandle on a socket handle does, and skips the
// provider as it does on Windows.
func (t *Table) Close(h spi.Handle) error {
	return t.remove("CloseHandle", h, false, spi.ERROR_INVALID_HANDLE)
}

// Insert puts a kernel object of any kind but [KindSocket] in the table and
// returns its new handle, as the kernel's ObInsertObject does for every
// object a Create call makes (an IFS socket's file object, an event, a
// completion port, a thread). A [KindIFSSocket] handle has no owner until
// [Table.ModifyIFSHandle].
//
// Insert fails with WSAENOBUFS, and returns 0, when the table is full or
// [Options.FailAlloc] says so. It panics for KindSocket, whose handles
// [Table.CreateSocketHandle] makes with an owner and context, and for a
// kind outside the list.
func (t *Table) Insert(kind Kind, object any) (spi.Handle, error) {
	if kind == KindSocket {
		panic("handles: Insert(KindSocket): use CreateSocketHandle, which records the owner and context")
	}
	if !kind.valid() {
		panic(fmt.Sprintf("handles: Insert of unknown %v", kind))
	}
	return t.add("ObInsertObject", kind, 0, nil, object)
}

// Lookup returns the entry of the live handle h, and false for any value
// that is not live: 0, INVALID_SOCKET, a value that is not a multiple of 4
// or is beyond the capacity, or a closed handle. It is the read the
// simulated ws2_32 does on every call that names a handle, and it takes no
// lock and does not allocate.
func (t *Table) Lookup(h spi.Handle) (Entry, bool) {
	if e := t.load(h); e != nil {
		return e.export(h), true
	}
	return Entry{}, false
}

// Len returns the number of live handles.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}
