package handles

import (
	"fmt"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// DefaultCapacity is the number of live handles a table holds when
// [Options.Capacity] is 0: 1<<24, about the per-process handle limit of
// Windows.
const DefaultCapacity = 1 << 24

// maxCapacity bounds [Options.Capacity] so that slot indices fit in a uint32.
const maxCapacity = 1 << 28

// A table's slots live in pages of pageSize, allocated as values are first
// handed out, in the order of their values. Pages are small because most
// tables are: a simulated process holds a few dozen handles, and spitest
// makes processes by the thousand.
const (
	pageBits = 8
	pageSize = 1 << pageBits
	pageMask = pageSize - 1
)

// entryBlock is how many entries newEntryLocked allocates at once.
const entryBlock = 8

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

	// Trace, when set, receives an event for every handle created and
	// closed, while the table's lock is held, so that a close is reported
	// before the value can be handed out again. Nil means off, the
	// default, at the cost of one nil check.
	Trace trace.Sink
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
	trace       trace.Sink // nil: tracing is off

	// dir is the directory of the pages allocated so far, which readers
	// load without a lock. It is replaced, under mu, by one a page longer
	// before any value of the new page is handed out.
	dir atomic.Pointer[directory]

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
	// block holds the entries not yet handed out of the last block
	// allocated (see newEntryLocked).
	block []Entry
}

// directory lists a table's pages: page k holds the slots of values
// (k*pageSize+1)*4 onwards. A directory is immutable once published. The
// next one shares its array, in which it has written the new page beyond
// the length of every directory published before, so that growing the
// table by a page copies nothing until the array is full.
type directory struct{ pages []*page }

// noPages is the directory of a table that has handed out no value.
var noPages = &directory{}

// page is one page of slots. slots[j] points to the entry of the live
// handle, nil when the value is not live. An entry is immutable once
// published in a slot, so readers copy it without a lock;
// ModifyIFSHandle publishes a changed copy instead of writing to it.
type page struct {
	slots [pageSize]atomic.Pointer[Entry]
	// refs[j] counts the references held on slot j: one per Ref, plus one
	// for the moment an Acquire checks its find. It is changed atomically,
	// without the lock. A close that finds it 0 frees the value; otherwise
	// the value waits in Table.closing for the release that brings it to 0.
	refs [pageSize]int32
	info [pageSize]slotInfo // guarded by Table.mu
}

// slotInfo is what a slot remembers across handouts.
type slotInfo struct {
	gen       uint32             // generation of the latest handout; 0 if never handed out
	lastOwner spi.CatalogEntryId // owner of the handle that last closed here
	lastKind  Kind               // kind of the handle that last closed here
}

// Entry is a snapshot of one live handle: what a kernel debugger's !handle
// shows about it, plus what ws2_32 records for a socket. Entries compare
// with ==, and with cmp.Diff, when their Context and Object do. The
// unexported field is padding; write Entry literals with field names.
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

	// Pads Entry from 56 to 64 bytes. Go copies a struct of 56 bytes with
	// a last 16-byte move that overlaps the one before it, which the CPU
	// cannot serve from its store buffer; Lookup's result is copied twice
	// on its way to the caller's variable, so every lookup would pay the
	// stall (bench/README.md, "handles", has the measurement). Blank
	// fields are ignored by ==, and by cmp.
	_ [8]byte
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
	t := &Table{
		capacity:    uint64(c),
		failAlloc:   opts.FailAlloc,
		detectStale: opts.DetectStale,
		trace:       opts.Trace,
	}
	t.dir.Store(noPages)
	return t
}

// handleOf returns the value of slot i.
func handleOf(i uint32) spi.Handle { return spi.Handle(i+1) << 2 }

// slotIndex returns h/4-1, the slot index of a nonzero multiple of 4. For
// any other value it returns an index of at least 1<<62, beyond every
// table: subtracting 4 keeps the low two bits, and the rotation moves them
// to the top (0 becomes 1<<62-1).
func slotIndex(h spi.Handle) uint64 { return bits.RotateLeft64(uint64(h)-4, -2) }

// index returns the slot index of h, and false for a value no slot of t
// has: 0, a value that is not a multiple of 4, or one beyond the capacity.
func (t *Table) index(h spi.Handle) (uint32, bool) {
	i := slotIndex(h)
	return uint32(i), i < t.capacity
}

// locate returns the page and the index within it of h's slot, or nil if
// h has no slot or its page was never allocated.
func (t *Table) locate(h spi.Handle) (*page, uint32) {
	i, ok := t.index(h)
	if d := t.dir.Load(); ok && int(i>>pageBits) < len(d.pages) {
		return d.pages[i>>pageBits], i & pageMask
	}
	return nil, 0
}

// slot returns the page of h's slot, the index there, and the entry of the
// live handle at h, nil if there is none. The page is nil if h has no
// slot or its page was never allocated.
func (t *Table) slot(h spi.Handle) (*page, uint32, *Entry) {
	p, j := t.locate(h)
	if p == nil {
		return nil, 0, nil
	}
	return p, j, p.slots[j].Load()
}

// load returns the live entry behind h, or nil. It takes no lock, and is
// small enough to inline into Lookup and its callers. It tests h against
// the directory rather than the capacity: slots past the capacity in the
// last page are never filled.
func (t *Table) load(h spi.Handle) *Entry {
	i := slotIndex(h)
	if d := t.dir.Load(); i>>pageBits < uint64(len(d.pages)) {
		return d.pages[i>>pageBits].slots[i&pageMask].Load()
	}
	return nil
}

// add hands out a value for a new entry; op names the calling operation in
// errors.
func (t *Table) add(op string, kind Kind, owner spi.CatalogEntryId, context, object any) (spi.Handle, error) {
	if t.failAlloc != nil && t.failAlloc(t.allocs.Add(1)) {
		return 0, &spi.OpError{Op: op, Err: spi.WSAENOBUFS}
	}
	t.mu.Lock()
	i, ok := t.allocLocked()
	if !ok {
		t.mu.Unlock()
		return 0, &spi.OpError{Op: op, Err: spi.WSAENOBUFS}
	}
	p, j := t.dir.Load().pages[i>>pageBits], i&pageMask
	info := &p.info[j]
	info.gen++
	if info.gen == 0 { // wrapped: 0 means never handed out
		info.gen = 1
	}
	// e is not yet published: plain writes are enough. Field by field,
	// because copying a whole Entry in costs a bulk write barrier while the
	// garbage collector marks.
	e := t.newEntryLocked()
	e.Handle, e.Kind, e.Owner, e.Generation = handleOf(i), kind, owner, info.gen
	e.Context = context
	e.Object = object
	p.slots[j].Store(e)
	t.live++
	if t.trace != nil {
		t.traceLocked(trace.HandleCreated, e)
	}
	t.mu.Unlock()
	return handleOf(i), nil
}

// newEntryLocked returns a new, unpublished entry. Entries are allocated
// in blocks of entryBlock, because one allocation per handle made a create
// and close cost more than an insert and a delete in a mutex-guarded map,
// and blocks of 8 brought it level; larger blocks measured no better
// (BenchmarkHandleCreateCloseRatio; the figures are in bench/README.md,
// "handles"). The price of blocks: a block stays in memory while any of
// its entries is live or referenced, and with it the contexts and objects
// of its closed entries.
//
// What remains is the garbage itself, one entry per create, which the map
// does not make, so the comparison moves with GOGC. Entries are not
// recycled, because a lookup copies its entry without a lock and may still
// be copying one while it is rewritten. Recycling them soundly would make
// readers pay instead: a seqlock over the slot, read word by word with
// atomics, made a prototype's lookups several times slower than this
// table's, and a reference count per lookup makes readers write to shared
// memory. Lookups are the hot path (every call that names a socket makes
// one), so the table keeps immutable entries and pays at create.
func (t *Table) newEntryLocked() *Entry {
	if len(t.block) == 0 {
		t.block = make([]Entry, entryBlock)
	}
	e := &t.block[0]
	t.block = t.block[1:]
	return e
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
		t.addPageLocked()
	}
	return i, true
}

// addPageLocked publishes a directory with one more page. append writes
// the page past the old directory's length (no reader of it looks there)
// or into a copy of the array; either way before the Store that lets
// readers find it.
func (t *Table) addPageLocked() {
	old := t.dir.Load().pages
	t.dir.Store(&directory{pages: append(old, new(page))})
}

// remove closes the live handle h for op. With socketOnly it closes only a
// KindSocket handle. It fails with code when there is nothing to close.
func (t *Table) remove(op string, h spi.Handle, socketOnly bool, code spi.Errno) error {
	return t.removeIf(op, h, code, func(e *Entry) bool { return !socketOnly || e.Kind == KindSocket })
}

// CloseObject closes h, as [Table.Close] does, only if h still names
// object: an owner that closes its own handle late (after the client closed
// it with CloseHandle, say) must not close whatever object took the value
// since. It fails with ERROR_INVALID_HANDLE otherwise, closing nothing.
func (t *Table) CloseObject(h spi.Handle, object any) error {
	return t.removeIf("CloseHandle", h, spi.ERROR_INVALID_HANDLE, func(e *Entry) bool { return e.Object == object })
}

// removeIf closes the live handle h for op if ok accepts its entry, and
// fails with code when there is nothing to close.
func (t *Table) removeIf(op string, h spi.Handle, code spi.Errno, ok func(*Entry) bool) error {
	t.mu.Lock()
	defer t.mu.Unlock() // the trace sink runs under the lock, and may panic
	p, j, e := t.slot(h)
	if e == nil || !ok(e) {
		return t.errorLocked(op, h, code)
	}
	p.slots[j].Store(nil)
	t.live--
	if t.trace != nil {
		t.traceLocked(trace.HandleClosed, e)
	}
	p.info[j].lastKind, p.info[j].lastOwner = e.Kind, e.Owner
	i := uint32(slotIndex(h)) // h is live, so its index is in range
	if atomic.LoadInt32(&p.refs[j]) == 0 {
		t.free = append(t.free, i)
	} else {
		// A Ref holds the handle: the value is freed by the Release that
		// brings the count to 0 (see Ref.Release).
		if t.closing == nil {
			t.closing = make(map[uint32]struct{})
		}
		t.closing[i] = struct{}{}
	}
	return nil
}

// Error returns the error of operation op failing on h with code, as the
// table's own calls return it: code wrapped in an [*spi.OpError] naming op
// and h, with a [*StaleError] carrying code in between when the table has
// [Options.DetectStale] and h names a closed handle. Callers that resolve
// handles with [Table.Lookup] report their failures with it, so that every
// call on a stale value says so. It takes the lock only with DetectStale.
func (t *Table) Error(op string, h spi.Handle, code spi.Errno) error { return t.fail(op, h, code) }

// fail returns the error of op failing on h with code, taking the lock
// only when the table looks for stale uses.
func (t *Table) fail(op string, h spi.Handle, code spi.Errno) error {
	if !t.detectStale {
		return &spi.OpError{Op: op, Handle: h, Err: code}
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
	if p, j, e := t.slot(h); t.detectStale && p != nil && p.info[j].gen != 0 && e == nil {
		err = staleLocked(h, p, j, p.info[j].gen, code)
	}
	return &spi.OpError{Op: op, Handle: h, Err: err}
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
func (t *Table) Lookup(h spi.Handle) (e Entry, ok bool) {
	if p := t.load(h); p != nil {
		e, ok = *p, true
	}
	return e, ok
}

// Len returns the number of live handles.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.live
}
