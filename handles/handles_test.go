package handles_test

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// fixture is a table of capacity 8 holding one handle of each sort, plus a
// closed one. Values are handed out from 0x4 up, so they are known.
type fixture struct {
	table  *handles.Table
	socket spi.Socket // KindSocket of 1001, context "ctx-1001"
	ifs    spi.Socket // KindIFSSocket, no owner yet
	event  spi.Handle // KindEvent
	closed spi.Socket // a KindSocket, closed
}

const (
	fixSocket = spi.Handle(0x4)
	fixIFS    = spi.Handle(0x8)
	fixEvent  = spi.Handle(0xc)
	fixClosed = spi.Handle(0x10)
	fixNever  = spi.Handle(0x18) // within the capacity, never handed out
	fixBeyond = spi.Handle(0x24) // one past the capacity
)

func newFixture(t *testing.T, opts handles.Options) fixture {
	t.Helper()
	if opts.Capacity == 0 {
		opts.Capacity = 8
	}
	f := fixture{table: handles.New(opts)}
	var err error
	must := func(h spi.Handle, e error) spi.Handle {
		t.Helper()
		if e != nil {
			t.Fatal(e)
		}
		return h
	}
	f.socket = must(f.table.CreateSocketHandle(1001, "ctx-1001", "sockobj"))
	f.ifs = must(f.table.Insert(handles.KindIFSSocket, "baseobj"))
	f.event = must(f.table.Insert(handles.KindEvent, "eventobj"))
	f.closed = must(f.table.CreateSocketHandle(1006, "ctx-1006", nil))
	must(f.table.Insert(handles.KindPort, "portobj")) // 0x14
	if err = f.table.CloseSocketHandle(f.closed); err != nil {
		t.Fatal(err)
	}
	if got := []spi.Handle{f.socket, f.ifs, f.event, f.closed}; !cmp.Equal(got, []spi.Handle{fixSocket, fixIFS, fixEvent, fixClosed}) {
		t.Fatalf("fixture values %v", got)
	}
	return f
}

// checkError compares err with the OpError want, exactly, and checks that
// errors.Is(err, code) holds, as every error of the package promises.
func checkError(t *testing.T, want *spi.OpError, err error) {
	t.Helper()
	if diff := cmp.Diff(error(want), err); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
	code := spi.ErrnoOf(want)
	if diff := cmp.Diff(error(code), err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("errors.Is(err, %d) fails (-want +got):\n%s", code, diff)
	}
	var op *spi.OpError
	if !errors.As(err, &op) {
		t.Errorf("%v is not an *spi.OpError", err)
	}
}

// badValue is a handle value an operation must refuse, and its name.
type badValue struct {
	name  string
	value spi.Handle
}

// badValues are values no fixture table has live: what every operation
// that names a handle must refuse.
var badValues = []badValue{
	{"zero", 0},
	{"INVALID_SOCKET", spi.INVALID_SOCKET},
	{"odd", 0x5},
	{"not a multiple of 4", 0x6},
	{"never handed out", fixNever},
	{"beyond the capacity", fixBeyond},
	{"huge multiple of 4", ^spi.Handle(0)>>1 + 1}, // the top bit alone, on any word size
	{"closed", fixClosed},
}

// badValuesAnd returns badValues and more, live handles of the wrong kind
// for the operation under test.
func badValuesAnd(more ...badValue) []badValue {
	return append(slices.Clone(badValues), more...)
}

func TestQueryOfAnythingButALiveCreatedSocketFailsWithWSAENOTSOCK(t *testing.T) {
	f := newFixture(t, handles.Options{})
	for _, c := range badValuesAnd(badValue{"IFS socket", fixIFS}, badValue{"event", fixEvent}) {
		t.Run(c.name, func(t *testing.T) {
			ctx, err := f.table.QuerySocketHandleContext(c.value)
			checkError(t, &spi.OpError{Op: "WPUQuerySocketHandleContext", Handle: c.value, Err: spi.WSAENOTSOCK}, err)
			if ctx != nil {
				t.Errorf("context %v returned with the error", ctx)
			}
		})
	}
}

func TestQueryReturnsTheContextGivenAtCreation(t *testing.T) {
	f := newFixture(t, handles.Options{})
	ctx, err := f.table.QuerySocketHandleContext(f.socket)
	if err != nil || ctx != "ctx-1001" {
		t.Errorf("QuerySocketHandleContext(%v) = %v, %v; want ctx-1001, nil", f.socket, ctx, err)
	}
}

func TestCloseSocketHandleOfAnythingButALiveCreatedSocketFailsWithWSAENOTSOCK(t *testing.T) {
	for _, c := range badValuesAnd(badValue{"IFS socket", fixIFS}, badValue{"event", fixEvent}) {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, handles.Options{})
			before := f.table.Snapshot()
			err := f.table.CloseSocketHandle(c.value)
			checkError(t, &spi.OpError{Op: "WPUCloseSocketHandle", Handle: c.value, Err: spi.WSAENOTSOCK}, err)
			if diff := cmp.Diff(before, f.table.Snapshot()); diff != "" {
				t.Errorf("a failed close changed the table (-before +after):\n%s", diff)
			}
		})
	}
}

func TestSecondCloseSocketHandleFailsWithWSAENOTSOCK(t *testing.T) {
	f := newFixture(t, handles.Options{})
	if err := f.table.CloseSocketHandle(f.socket); err != nil {
		t.Fatalf("first close: %v", err)
	}
	err := f.table.CloseSocketHandle(f.socket)
	checkError(t, &spi.OpError{Op: "WPUCloseSocketHandle", Handle: f.socket, Err: spi.WSAENOTSOCK}, err)
	if _, ok := f.table.Lookup(f.socket); ok {
		t.Errorf("closed socket %v still resolves", f.socket)
	}
}

func TestCloseHandleOfADeadValueFailsWithERROR_INVALID_HANDLE(t *testing.T) {
	for _, c := range badValues {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, handles.Options{})
			err := f.table.Close(c.value)
			checkError(t, &spi.OpError{Op: "CloseHandle", Handle: c.value, Err: spi.ERROR_INVALID_HANDLE}, err)
		})
	}
}

func TestCloseHandleClosesEveryKind(t *testing.T) {
	f := newFixture(t, handles.Options{})
	for _, h := range []spi.Handle{f.socket, f.ifs, f.event} {
		if err := f.table.Close(h); err != nil {
			t.Errorf("Close(%v): %v", h, err)
		}
		err := f.table.Close(h)
		checkError(t, &spi.OpError{Op: "CloseHandle", Handle: h, Err: spi.ERROR_INVALID_HANDLE}, err)
	}
}

func TestModifyIFSHandleOfAnythingButALiveIFSSocketFailsWithWSAEINVAL(t *testing.T) {
	for _, c := range badValuesAnd(badValue{"non-IFS socket", fixSocket}, badValue{"event", fixEvent}) {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, handles.Options{})
			got, err := f.table.ModifyIFSHandle(1001, c.value)
			checkError(t, &spi.OpError{Op: "WPUModifyIFSHandle", Handle: c.value, Err: spi.WSAEINVAL}, err)
			if got != spi.INVALID_SOCKET {
				t.Errorf("returned %v, want INVALID_SOCKET", got)
			}
		})
	}
}

func TestModifyIFSHandleWithCatalogIdZeroFailsWithWSAEINVAL(t *testing.T) {
	f := newFixture(t, handles.Options{})
	_, err := f.table.ModifyIFSHandle(0, f.ifs)
	checkError(t, &spi.OpError{Op: "WPUModifyIFSHandle", Handle: f.ifs, Err: spi.WSAEINVAL}, err)
}

func TestModifyIFSHandleReturnsTheProposedValueAndRecordsTheOwner(t *testing.T) {
	f := newFixture(t, handles.Options{})
	got, err := f.table.ModifyIFSHandle(1001, f.ifs)
	if err != nil || got != f.ifs {
		t.Fatalf("ModifyIFSHandle(1001, %v) = %v, %v; want %v, nil", f.ifs, got, err, f.ifs)
	}
	// A layered IFS provider registers the same handle as its own.
	if got, err = f.table.ModifyIFSHandle(1006, f.ifs); err != nil || got != f.ifs {
		t.Fatalf("ModifyIFSHandle(1006, %v) = %v, %v; want %v, nil", f.ifs, got, err, f.ifs)
	}
	e, _ := f.table.Lookup(f.ifs)
	want := handles.Entry{Handle: f.ifs, Kind: handles.KindIFSSocket, Owner: 1006, Object: "baseobj", Generation: 1}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
}

func TestCreateSocketHandleOnAFullTableFailsWithWSAENOBUFS(t *testing.T) {
	table := handles.New(handles.Options{Capacity: 1})
	s, err := table.CreateSocketHandle(1001, "first", nil)
	if err != nil || s != 0x4 {
		t.Fatalf("first CreateSocketHandle = %v, %v; want 0x4, nil", s, err)
	}
	s, err = table.CreateSocketHandle(1001, "second", nil)
	checkError(t, &spi.OpError{Op: "WPUCreateSocketHandle", Err: spi.WSAENOBUFS}, err)
	if s != spi.INVALID_SOCKET {
		t.Errorf("returned %v, want INVALID_SOCKET", s)
	}
	h, err := table.Insert(handles.KindEvent, nil)
	checkError(t, &spi.OpError{Op: "ObInsertObject", Err: spi.WSAENOBUFS}, err)
	if h != 0 {
		t.Errorf("Insert returned %v, want 0", h)
	}
	// Closing the one handle makes room again, for the same value.
	if err := table.CloseSocketHandle(0x4); err != nil {
		t.Fatal(err)
	}
	if s, err = table.CreateSocketHandle(1006, "third", nil); err != nil || s != 0x4 {
		t.Errorf("CreateSocketHandle after close = %v, %v; want 0x4, nil", s, err)
	}
}

func TestCreateSocketHandleWithCatalogIdZeroFailsWithWSAEINVAL(t *testing.T) {
	table := handles.New(handles.Options{})
	s, err := table.CreateSocketHandle(0, "ctx", nil)
	checkError(t, &spi.OpError{Op: "WPUCreateSocketHandle", Err: spi.WSAEINVAL}, err)
	if s != spi.INVALID_SOCKET || table.Len() != 0 {
		t.Errorf("returned %v with %d live handles, want INVALID_SOCKET and none", s, table.Len())
	}
}

func TestFailAllocFailsTheChosenAllocationsWithWSAENOBUFS(t *testing.T) {
	var seen []uint64
	table := handles.New(handles.Options{FailAlloc: func(seq uint64) bool {
		seen = append(seen, seq)
		return seq == 2 || seq == 3
	}})
	var got []error
	for _, make := range []func() (spi.Handle, error){
		func() (spi.Handle, error) { return table.CreateSocketHandle(1001, nil, nil) },
		func() (spi.Handle, error) { return table.CreateSocketHandle(1001, nil, nil) },
		func() (spi.Handle, error) { return table.Insert(handles.KindPort, nil) },
		func() (spi.Handle, error) { return table.Insert(handles.KindPort, nil) },
	} {
		_, err := make()
		got = append(got, err)
	}
	want := []error{
		nil,
		&spi.OpError{Op: "WPUCreateSocketHandle", Err: spi.WSAENOBUFS},
		&spi.OpError{Op: "ObInsertObject", Err: spi.WSAENOBUFS},
		nil,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]uint64{1, 2, 3, 4}, seen); diff != "" {
		t.Errorf("sequence numbers (-want +got):\n%s", diff)
	}
	// The failed allocations took no value.
	want2 := []spi.Handle{0x4, 0x8}
	var live []spi.Handle
	for _, e := range table.Snapshot().Live {
		live = append(live, e.Handle)
	}
	if diff := cmp.Diff(want2, live); diff != "" {
		t.Errorf("live values (-want +got):\n%s", diff)
	}
}

func TestValuesAreMultiplesOfFourFromFourAndReusedMostRecentlyFreedFirst(t *testing.T) {
	table := handles.New(handles.Options{})
	var got []spi.Handle
	create := func() spi.Handle {
		s, err := table.CreateSocketHandle(1001, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
		return s
	}
	for range 4 {
		create()
	}
	for _, s := range []spi.Handle{0x8, 0xc} {
		if err := table.CloseSocketHandle(s); err != nil {
			t.Fatal(err)
		}
	}
	create() // 0xc, the last freed
	create() // 0x8
	create() // 0x14, fresh
	want := []spi.Handle{0x4, 0x8, 0xc, 0x10, 0xc, 0x8, 0x14}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
}

func TestReusedValueHasTheNextGeneration(t *testing.T) {
	table := handles.New(handles.Options{})
	var gens []uint32
	for range 3 {
		s, err := table.CreateSocketHandle(1001, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		e, _ := table.Lookup(s)
		gens = append(gens, e.Generation)
		if err := table.Check(s, e.Generation); err != nil {
			t.Errorf("Check of the live generation: %v", err)
		}
		if err := table.Close(s); err != nil {
			t.Fatal(err)
		}
		checkError(t, &spi.OpError{Op: "Check", Handle: s, Err: spi.WSAENOTSOCK}, table.Check(s, e.Generation))
	}
	if diff := cmp.Diff([]uint32{1, 2, 3}, gens); diff != "" {
		t.Errorf("generations of 0x4 (-want +got):\n%s", diff)
	}
}

func TestLookupReportsEveryLiveHandleAndNothingElse(t *testing.T) {
	f := newFixture(t, handles.Options{})
	want := handles.Snapshot{Capacity: 8, Live: []handles.Entry{
		{Handle: 0x4, Kind: handles.KindSocket, Owner: 1001, Context: "ctx-1001", Object: "sockobj", Generation: 1},
		{Handle: 0x8, Kind: handles.KindIFSSocket, Object: "baseobj", Generation: 1},
		{Handle: 0xc, Kind: handles.KindEvent, Object: "eventobj", Generation: 1},
		{Handle: 0x14, Kind: handles.KindPort, Object: "portobj", Generation: 1},
	}}
	if diff := cmp.Diff(want, f.table.Snapshot()); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
	for _, e := range want.Live {
		if got, ok := f.table.Lookup(e.Handle); !ok || !cmp.Equal(e, got) {
			t.Errorf("Lookup(%v) = %+v, %v; want %+v, true", e.Handle, got, ok, e)
		}
	}
	for _, c := range badValues {
		if got, ok := f.table.Lookup(c.value); ok || got != (handles.Entry{}) {
			t.Errorf("Lookup(%s %v) = %+v, %v; want zero, false", c.name, c.value, got, ok)
		}
		if _, ok := f.table.Acquire(c.value); ok {
			t.Errorf("Acquire(%s %v) succeeded", c.name, c.value)
		}
	}
	if n := f.table.Len(); n != 4 {
		t.Errorf("Len() = %d, want 4", n)
	}
}

func TestCloseWhileAcquiredFreesTheValueAtTheLastRelease(t *testing.T) {
	table := handles.New(handles.Options{Capacity: 1})
	s, _ := table.CreateSocketHandle(1001, "ctx", "obj")
	r1, ok1 := table.Acquire(s)
	r2, ok2 := table.Acquire(s)
	if !ok1 || !ok2 {
		t.Fatal("Acquire of a live socket failed")
	}
	if err := table.CloseSocketHandle(s); err != nil {
		t.Fatalf("close while acquired: %v", err)
	}
	// Unresolvable at once...
	if _, ok := table.Acquire(s); ok {
		t.Error("Acquire after close succeeded")
	}
	if _, err := table.QuerySocketHandleContext(s); !errors.Is(err, spi.WSAENOTSOCK) {
		t.Errorf("query after close: %v, want WSAENOTSOCK", err)
	}
	// ...but the holders still see their entry, and the value is not free.
	want := handles.Entry{Handle: s, Kind: handles.KindSocket, Owner: 1001, Context: "ctx", Object: "obj", Generation: 1}
	if diff := cmp.Diff(want, r1.Entry()); diff != "" {
		t.Errorf("Ref.Entry after close (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(handles.Snapshot{Capacity: 1, Closing: []spi.Handle{s}}, table.Snapshot()); diff != "" {
		t.Errorf("Snapshot while closing (-want +got):\n%s", diff)
	}
	_, err := table.CreateSocketHandle(1001, nil, nil)
	checkError(t, &spi.OpError{Op: "WPUCreateSocketHandle", Err: spi.WSAENOBUFS}, err)

	r1.Release()
	if _, err := table.CreateSocketHandle(1001, nil, nil); err == nil {
		t.Error("value reused while a reference was still held")
	}
	r2.Release()
	s2, err := table.CreateSocketHandle(1006, nil, nil)
	if err != nil || s2 != s {
		t.Errorf("after the last release CreateSocketHandle = %v, %v; want %v, nil", s2, err, s)
	}
}

func TestReleaseOfALiveHandleKeepsItLive(t *testing.T) {
	table := handles.New(handles.Options{})
	h, _ := table.Insert(handles.KindEvent, "ev")
	r, ok := table.Acquire(h)
	if !ok {
		t.Fatal("Acquire failed")
	}
	r.Release()
	if _, ok := table.Lookup(h); !ok {
		t.Error("handle not live after Release")
	}
	if err := table.Close(h); err != nil {
		t.Errorf("Close after Release: %v", err)
	}
	if diff := cmp.Diff(handles.Snapshot{Capacity: handles.DefaultCapacity}, table.Snapshot()); diff != "" {
		t.Errorf("Snapshot (-want +got):\n%s", diff)
	}
}

func TestZeroRefIsHarmless(t *testing.T) {
	var r handles.Ref
	r.Release()
	if diff := cmp.Diff(handles.Entry{}, r.Entry()); diff != "" {
		t.Errorf("zero Ref entry:\n%s", diff)
	}
}

func TestProgrammerMisusePanicsWithAClearMessage(t *testing.T) {
	cases := []struct {
		name string
		do   func()
		want string
	}{
		{"Insert KindSocket", func() { handles.New(handles.Options{}).Insert(handles.KindSocket, nil) }, "use CreateSocketHandle"},
		{"Insert unknown kind", func() { handles.New(handles.Options{}).Insert(99, nil) }, "unknown Kind(99)"},
		{"negative capacity", func() { handles.New(handles.Options{Capacity: -1}) }, "Capacity -1 out of range"},
		{"huge capacity", func() { handles.New(handles.Options{Capacity: 1 << 30}) }, "out of range"},
		{"release twice", func() {
			table := handles.New(handles.Options{})
			h, _ := table.Insert(handles.KindEvent, nil)
			r, _ := table.Acquire(h)
			r.Release()
			r.Release()
		}, "Release called more often than Acquire"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, c.want) {
					t.Errorf("panic %q, want one containing %q", msg, c.want)
				}
			}()
			c.do()
		})
	}
}

func TestDetectStaleReportsAUseOfAClosedValue(t *testing.T) {
	f := newFixture(t, handles.Options{DetectStale: true})
	stale := &handles.StaleError{Handle: fixClosed, Generation: 1, Kind: handles.KindSocket, Owner: 1006}
	with := func(code spi.Errno) *handles.StaleError { s := *stale; s.Err = code; return &s }

	_, err := f.table.QuerySocketHandleContext(fixClosed)
	checkError(t, &spi.OpError{Op: "WPUQuerySocketHandleContext", Handle: fixClosed, Err: with(spi.WSAENOTSOCK)}, err)
	err = f.table.CloseSocketHandle(fixClosed)
	checkError(t, &spi.OpError{Op: "WPUCloseSocketHandle", Handle: fixClosed, Err: with(spi.WSAENOTSOCK)}, err)
	err = f.table.Close(fixClosed)
	checkError(t, &spi.OpError{Op: "CloseHandle", Handle: fixClosed, Err: with(spi.ERROR_INVALID_HANDLE)}, err)
	_, err = f.table.ModifyIFSHandle(1001, fixClosed)
	checkError(t, &spi.OpError{Op: "WPUModifyIFSHandle", Handle: fixClosed, Err: with(spi.WSAEINVAL)}, err)

	var se *handles.StaleError
	if !errors.As(err, &se) || !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("%v: want a *StaleError that unwraps to WSAEINVAL", err)
	}
	// A value never handed out is not stale, just wrong.
	_, err = f.table.QuerySocketHandleContext(fixNever)
	checkError(t, &spi.OpError{Op: "WPUQuerySocketHandleContext", Handle: fixNever, Err: spi.WSAENOTSOCK}, err)
}

func TestDetectStaleHoldsFreedValuesBack(t *testing.T) {
	table := handles.New(handles.Options{DetectStale: true})
	s, _ := table.CreateSocketHandle(1001, nil, nil)
	if err := table.CloseSocketHandle(s); err != nil {
		t.Fatal(err)
	}
	// Create and close handles until s comes back: only once 1024 freed
	// values wait in quarantine.
	reusedAt := 0
	for i := 1; i <= 2000 && reusedAt == 0; i++ {
		h, err := table.CreateSocketHandle(1001, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h == s {
			reusedAt = i
		}
		if err := table.CloseSocketHandle(h); err != nil {
			t.Fatal(err)
		}
	}
	if reusedAt != 1024 {
		t.Errorf("freed value came back at allocation %d, want 1024 (after 1023 other frees)", reusedAt)
	}
}

func TestCheckTellsAClosedValueFromAReusedOne(t *testing.T) {
	table := handles.New(handles.Options{DetectStale: true, Capacity: 1})
	s, _ := table.CreateSocketHandle(1001, "old", nil)
	if err := table.CloseSocketHandle(s); err != nil {
		t.Fatal(err)
	}
	closed := &handles.StaleError{Handle: s, Generation: 1, Kind: handles.KindSocket, Owner: 1001, Err: spi.WSAENOTSOCK}
	checkError(t, &spi.OpError{Op: "Check", Handle: s, Err: closed}, table.Check(s, 1))

	ev, _ := table.Insert(handles.KindEvent, "new") // capacity 1: the same value
	if ev != s {
		t.Fatalf("Insert = %v, want the reused %v", ev, s)
	}
	reused := *closed
	reused.Current = &handles.Entry{Handle: s, Kind: handles.KindEvent, Object: "new", Generation: 2}
	err := table.Check(s, 1)
	checkError(t, &spi.OpError{Op: "Check", Handle: s, Err: &reused}, err)
	wantText := "Check 0x4: stale handle: generation 1 (socket of catalog entry 1001) was closed and the value reused by event (generation 2): not a socket (10038)"
	if err.Error() != wantText {
		t.Errorf("error text\n got %q\nwant %q", err.Error(), wantText)
	}
	if err := table.Check(s, 2); err != nil {
		t.Errorf("Check of the live generation: %v", err)
	}
	// Generations never handed out are not stale, just wrong.
	for _, gen := range []uint32{0, 3} {
		checkError(t, &spi.OpError{Op: "Check", Handle: s, Err: spi.WSAENOTSOCK}, table.Check(s, gen))
	}
}

func TestStaleErrorTextForAClosedValue(t *testing.T) {
	err := &handles.StaleError{Handle: 0x10, Generation: 3, Kind: handles.KindIFSSocket, Err: spi.ERROR_INVALID_HANDLE}
	want := "stale handle: generation 3 (IFS socket) was closed: invalid handle (6)"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestKindNames(t *testing.T) {
	got := []string{}
	for k := handles.Kind(0); k <= handles.KindThread+1; k++ {
		got = append(got, k.String())
	}
	want := []string{"Kind(0)", "socket", "IFS socket", "event", "completion port", "thread", "Kind(6)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
}

func TestLookupAcquireAndCheckDoNotAllocate(t *testing.T) {
	table := handles.New(handles.Options{})
	s, _ := table.CreateSocketHandle(1001, "ctx", nil)
	allocs := testing.AllocsPerRun(1000, func() {
		e, ok := table.Lookup(s)
		if !ok {
			panic("lookup failed")
		}
		r, _ := table.Acquire(s)
		r.Release()
		if table.Check(s, e.Generation) != nil {
			panic("check failed")
		}
		if _, err := table.QuerySocketHandleContext(s); err != nil {
			panic(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per lookup, acquire, check and query; want 0", allocs)
	}
}

func TestCreateAndCloseAllocateAtMostOnce(t *testing.T) {
	table := handles.New(handles.Options{})
	ctx := new(int)
	allocs := testing.AllocsPerRun(1000, func() {
		s, err := table.CreateSocketHandle(1001, ctx, nil)
		if err != nil {
			panic(err)
		}
		if err := table.CloseSocketHandle(s); err != nil {
			panic(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per create and close; want at most 1", allocs)
	}
}

func TestAppendLiveListsWhatSnapshotListsWithoutAllocating(t *testing.T) {
	table := handles.New(handles.Options{})
	var made []spi.Handle
	for i := range 10 {
		h, err := table.CreateSocketHandle(1001, i, nil)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, h)
	}
	if err := table.CloseSocketHandle(made[3]); err != nil {
		t.Fatal(err)
	}
	buf := make([]handles.Entry, 1, 16) // appended to, not overwritten
	got := table.AppendLive(buf)
	if diff := cmp.Diff(table.Snapshot().Live, got[1:]); diff != "" {
		t.Errorf("AppendLive differs from Snapshot().Live (-snapshot +append):\n%s", diff)
	}
	if allocs := testing.AllocsPerRun(10, func() { buf = table.AppendLive(buf[:0]) }); allocs != 0 {
		t.Errorf("AppendLive into a slice with room allocated %v times", allocs)
	}
	if got := handles.New(handles.Options{}).AppendLive(nil); got != nil {
		t.Errorf("AppendLive(nil) of an empty table = %v, want nil", got)
	}
}
