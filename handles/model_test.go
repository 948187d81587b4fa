package handles_test

import (
	"slices"
	"strconv"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// This file holds a model of the handle table and a harness that runs each
// operation on a real table and on the model and compares the two. The
// rapid state-machine test and the fuzz target drive the same harness, each
// choosing operations and handle values its own way.

// tb is what the harness needs from *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// quarantine is the number of freed values a DetectStale table holds back,
// as Options.DetectStale documents.
const quarantine = 1024

// modelValue is what the model knows about one value ever handed out.
type modelValue struct {
	gen       uint32
	live      bool
	entry     handles.Entry // while live
	lastKind  handles.Kind  // of the handle that last closed here
	lastOwner spi.CatalogEntryId
	refs      int  // references held
	closing   bool // closed while references were held
}

// heldRef is a reference the harness holds, with the entry it must show.
type heldRef struct {
	ref   handles.Ref
	entry handles.Entry
}

// harness runs operations on table and on the model side by side.
type harness struct {
	t        tb
	table    *handles.Table
	capacity int
	stale    bool

	values map[spi.Handle]*modelValue // every value ever handed out
	next   int                        // values handed out fresh so far
	free   []spi.Handle               // freed values: a stack, or with stale a queue
	refs   []heldRef

	attempts uint64   // allocation attempts, as FailAlloc numbers them
	seqs     []uint64 // sequence numbers FailAlloc saw
	failNext bool     // make the next allocation fail
	objects  int      // counter for distinct objects
}

func newHarness(t tb, capacity int, stale bool) *harness {
	h := &harness{t: t, capacity: capacity, stale: stale, values: map[spi.Handle]*modelValue{}}
	h.table = handles.New(handles.Options{
		Capacity:    capacity,
		DetectStale: stale,
		FailAlloc: func(seq uint64) bool {
			h.seqs = append(h.seqs, seq)
			fail := h.failNext
			h.failNext = false
			return fail
		},
	})
	return h
}

// opError is the error an operation returns: code, or a *StaleError around
// it when the table looks for stale uses and v was handed out and is closed.
func (h *harness) opError(op string, v spi.Handle, code spi.Errno) error {
	err := error(code)
	if mv := h.values[v]; h.stale && mv != nil && !mv.live {
		err = &handles.StaleError{Handle: v, Generation: mv.gen, Kind: mv.lastKind, Owner: mv.lastOwner, Err: code}
	}
	return &spi.OpError{Op: op, Handle: v, Err: err}
}

// wantErr fails the test unless got is exactly want (nil included).
func (h *harness) wantErr(what string, want, got error) {
	h.t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		h.t.Fatalf("%s: error (-want +got):\n%s", what, diff)
	}
}

// allocate models one allocation attempt, after the table made it:
// FailAlloc must have seen its sequence number, and fail is what it said.
// Then comes the reuse policy. It returns the value the table must hand
// out, or false.
func (h *harness) allocate(fail bool) (spi.Handle, bool) {
	h.t.Helper()
	h.attempts++
	if n := len(h.seqs); n == 0 || h.seqs[n-1] != h.attempts {
		h.t.Fatalf("FailAlloc saw sequence numbers %v, want the last to be %d", h.seqs, h.attempts)
	}
	if fail {
		return 0, false
	}
	if h.stale {
		if q := len(h.free); q > 0 && (q >= quarantine || h.next == h.capacity) {
			v := h.free[0]
			h.free = h.free[1:]
			return v, true
		}
	} else if n := len(h.free); n > 0 {
		v := h.free[n-1]
		h.free = h.free[:n-1]
		return v, true
	}
	if h.next == h.capacity {
		return 0, false
	}
	h.next++
	return spi.Handle(h.next * 4), true
}

// handOut records v as live with entry e, and returns the entry with its
// handle and generation filled in.
func (h *harness) handOut(v spi.Handle, e handles.Entry) handles.Entry {
	mv := h.values[v]
	if mv == nil {
		mv = &modelValue{}
		h.values[v] = mv
	}
	mv.gen++
	e.Handle, e.Generation = v, mv.gen
	mv.live, mv.entry = true, e
	return e
}

func (h *harness) newObject() string {
	h.objects++
	return "object-" + strconv.Itoa(h.objects)
}

// create runs CreateSocketHandle and reports whether it made a handle.
func (h *harness) create(id spi.CatalogEntryId, context any) bool {
	h.t.Helper()
	object, fail := h.newObject(), h.failNext
	got, err := h.table.CreateSocketHandle(id, context, object)
	const op = "WPUCreateSocketHandle"
	if id == 0 {
		h.wantErr(op, &spi.OpError{Op: op, Err: spi.WSAEINVAL}, err)
		h.wantValue(op, spi.INVALID_SOCKET, got)
		return false
	}
	v, ok := h.allocate(fail)
	if !ok {
		h.wantErr(op, &spi.OpError{Op: op, Err: spi.WSAENOBUFS}, err)
		h.wantValue(op, spi.INVALID_SOCKET, got)
		return false
	}
	h.wantErr(op, nil, err)
	h.wantValue(op, v, got)
	h.handOut(v, handles.Entry{Kind: handles.KindSocket, Owner: id, Context: context, Object: object})
	return true
}

// insert runs Insert.
func (h *harness) insert(kind handles.Kind) {
	h.t.Helper()
	object, fail := h.newObject(), h.failNext
	got, err := h.table.Insert(kind, object)
	const op = "ObInsertObject"
	v, ok := h.allocate(fail)
	if !ok {
		h.wantErr(op, &spi.OpError{Op: op, Err: spi.WSAENOBUFS}, err)
		h.wantValue(op, 0, got)
		return
	}
	h.wantErr(op, nil, err)
	h.wantValue(op, v, got)
	h.handOut(v, handles.Entry{Kind: kind, Object: object})
}

func (h *harness) wantValue(op string, want, got spi.Handle) {
	h.t.Helper()
	if got != want {
		h.t.Fatalf("%s returned %v, want %v", op, got, want)
	}
}

// live returns the model of v if v is live, else nil.
func (h *harness) live(v spi.Handle) *modelValue {
	if mv := h.values[v]; mv != nil && mv.live {
		return mv
	}
	return nil
}

// query runs QuerySocketHandleContext.
func (h *harness) query(v spi.Handle) {
	h.t.Helper()
	got, err := h.table.QuerySocketHandleContext(v)
	const op = "WPUQuerySocketHandleContext"
	if mv := h.live(v); mv != nil && mv.entry.Kind == handles.KindSocket {
		h.wantErr(op, nil, err)
		if diff := cmp.Diff(mv.entry.Context, got); diff != "" {
			h.t.Fatalf("%s %v: context (-want +got):\n%s", op, v, diff)
		}
		return
	}
	h.wantErr(op, h.opError(op, v, spi.WSAENOTSOCK), err)
	if got != nil {
		h.t.Fatalf("%s %v failed but returned context %v", op, v, got)
	}
}

// close runs CloseSocketHandle (socketOnly) or Close.
func (h *harness) close(v spi.Handle, socketOnly bool) {
	h.t.Helper()
	op, code := "CloseHandle", spi.ERROR_INVALID_HANDLE
	var err error
	if socketOnly {
		op, code = "WPUCloseSocketHandle", spi.WSAENOTSOCK
		err = h.table.CloseSocketHandle(v)
	} else {
		err = h.table.Close(v)
	}
	mv := h.live(v)
	if mv == nil || socketOnly && mv.entry.Kind != handles.KindSocket {
		h.wantErr(op, h.opError(op, v, code), err)
		return
	}
	h.wantErr(op, nil, err)
	mv.live = false
	mv.lastKind, mv.lastOwner = mv.entry.Kind, mv.entry.Owner
	mv.entry = handles.Entry{}
	if mv.refs > 0 {
		mv.closing = true
	} else {
		h.free = append(h.free, v)
	}
}

// modify runs ModifyIFSHandle.
func (h *harness) modify(id spi.CatalogEntryId, v spi.Handle) {
	h.t.Helper()
	got, err := h.table.ModifyIFSHandle(id, v)
	const op = "WPUModifyIFSHandle"
	mv := h.live(v)
	if mv == nil || mv.entry.Kind != handles.KindIFSSocket || id == 0 {
		h.wantErr(op, h.opError(op, v, spi.WSAEINVAL), err)
		h.wantValue(op, spi.INVALID_SOCKET, got)
		return
	}
	h.wantErr(op, nil, err)
	h.wantValue(op, v, got)
	mv.entry.Owner = id // references already held keep showing the old owner
}

// acquire runs Acquire and keeps the reference it gives.
func (h *harness) acquire(v spi.Handle) {
	h.t.Helper()
	ref, ok := h.table.Acquire(v)
	mv := h.live(v)
	if ok != (mv != nil) {
		h.t.Fatalf("Acquire(%v) = %v, want %v", v, ok, mv != nil)
	}
	if !ok {
		if diff := cmp.Diff(handles.Entry{}, ref.Entry()); diff != "" {
			h.t.Fatalf("failed Acquire(%v) gave a Ref with an entry:\n%s", v, diff)
		}
		return
	}
	mv.refs++
	h.refs = append(h.refs, heldRef{ref: ref, entry: mv.entry})
}

// release releases the i-th held reference.
func (h *harness) release(i int) {
	h.t.Helper()
	r := h.refs[i]
	if diff := cmp.Diff(r.entry, r.ref.Entry()); diff != "" {
		h.t.Fatalf("Ref.Entry of %v before Release (-want +got):\n%s", r.entry.Handle, diff)
	}
	r.ref.Release()
	h.refs = slices.Delete(h.refs, i, i+1)
	mv := h.values[r.entry.Handle]
	mv.refs--
	if mv.refs == 0 && mv.closing {
		mv.closing = false
		h.free = append(h.free, r.entry.Handle)
	}
}

// check runs Check.
func (h *harness) check(v spi.Handle, gen uint32) {
	h.t.Helper()
	err := h.table.Check(v, gen)
	mv := h.values[v]
	if mv != nil && mv.live && mv.gen == gen {
		h.wantErr("Check", nil, err)
		return
	}
	want := error(spi.WSAENOTSOCK)
	if h.stale && mv != nil && gen != 0 && gen <= mv.gen {
		se := &handles.StaleError{Handle: v, Generation: gen, Err: spi.WSAENOTSOCK}
		if mv.live {
			cur := mv.entry
			se.Current = &cur
		}
		if mv.live && gen+1 == mv.gen || !mv.live && gen == mv.gen {
			se.Kind, se.Owner = mv.lastKind, mv.lastOwner
		}
		want = se
	}
	h.wantErr("Check", &spi.OpError{Op: "Check", Handle: v, Err: want}, err)
}

// exhaust creates sockets until one fails, as one must once the table is
// full. It returns how many it made.
func (h *harness) exhaust() int {
	h.t.Helper()
	for n := 0; n <= h.capacity; n++ {
		if !h.create(1001, "filler") {
			return n
		}
	}
	h.t.Fatalf("a table of capacity %d made more than %d handles", h.capacity, h.capacity)
	return 0
}

// invariant compares the table with the model: Snapshot, Len, and Lookup of
// every value ever handed out.
func (h *harness) invariant() {
	h.t.Helper()
	want := handles.Snapshot{Capacity: h.capacity}
	for _, v := range h.sortedValues(false) {
		mv := h.values[v]
		if mv.live {
			want.Live = append(want.Live, mv.entry)
		}
		if mv.closing {
			want.Closing = append(want.Closing, v)
		}
	}
	// The harness stores only comparable contexts and objects, so == on
	// entries is exact; cmp.Diff explains a difference.
	if got := h.table.Snapshot(); got.Capacity != want.Capacity || !slices.Equal(got.Live, want.Live) ||
		!slices.Equal(got.Closing, want.Closing) {
		h.t.Fatalf("Snapshot (-model +table):\n%s", cmp.Diff(want, got))
	}
	if got := h.table.Len(); got != len(want.Live) {
		h.t.Fatalf("Len() = %d, want %d", got, len(want.Live))
	}
	for v, mv := range h.values {
		got, ok := h.table.Lookup(v)
		if ok != mv.live || ok && mv.entry != got {
			h.t.Fatalf("Lookup(%v) = %+v, %v; want %+v, %v", v, got, ok, mv.entry, mv.live)
		}
	}
}

// drain releases every reference and closes every live handle, then checks
// that the whole capacity can be handed out again: nothing leaked.
func (h *harness) drain() {
	h.t.Helper()
	for len(h.refs) > 0 {
		h.release(len(h.refs) - 1)
	}
	for _, v := range h.sortedValues(true) {
		h.close(v, false)
	}
	h.invariant()
	h.failNext = false
	if n := h.exhaust(); n != h.capacity {
		h.t.Fatalf("an emptied table of capacity %d made %d handles", h.capacity, n)
	}
	h.invariant()
}

// sortedValues returns the values ever handed out (only the live ones with
// liveOnly), in increasing order, so that draws from them are reproducible.
func (h *harness) sortedValues(liveOnly bool) []spi.Handle {
	vs := make([]spi.Handle, 0, len(h.values))
	for v, mv := range h.values {
		if mv.live || !liveOnly {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	return vs
}

// specialValues are the handle values no table ever hands out, plus the
// edges of a table of the given capacity.
func specialValues(capacity int) []spi.Handle {
	return []spi.Handle{0, spi.INVALID_SOCKET, spi.INVALID_SOCKET - 3, 1, 2, 3, 5, 6, 7,
		spi.Handle(capacity * 4), spi.Handle(capacity*4 + 4), ^spi.Handle(0) >> 1 &^ 3} // the last: the largest positive multiple of 4, on any word size
}
