package redirect_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"pgregory.net/rapid"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/redirect"
	"github.com/wsspi/wsspi/spi"
)

const lspID spi.CatalogEntryId = 1005

// fakeDriver is a base provider's driver that completes every request at
// once with a fixed result.
type fakeDriver struct {
	mu       sync.Mutex
	reads    int
	writes   int
	cancels  int
	cleanups int
	result   error
}

func (d *fakeDriver) ReadFile(buf []byte, req spi.IORequest) (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reads++
	return uint32(len(buf)), d.result
}

func (d *fakeDriver) WriteFile(buf []byte, req spi.IORequest) (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes++
	return uint32(len(buf)), d.result
}

func (d *fakeDriver) Cleanup() { d.cleanups++ }

func (d *fakeDriver) CancelIo(spi.ThreadID, bool, *spi.Overlapped) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cancels++
	return d.cancels - 1 // the first call finds nothing
}

// fakeLSP is the proc table of a non-IFS owner; it records what the
// redirector hands it.
type fakeLSP struct {
	mu      sync.Mutex
	recvs   []spi.Socket
	sends   []spi.Socket
	threads []*spi.ThreadID
	result  error
	procs   spi.WSPProcTable
}

func newFakeLSP() *fakeLSP {
	f := &fakeLSP{}
	f.procs.WSPRecv = func(s spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.recvs = append(f.recvs, s)
		f.threads = append(f.threads, th)
		return uint32(len(bufs[0])), f.result
	}
	f.procs.WSPSend = func(s spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.sends = append(f.sends, s)
		f.threads = append(f.threads, th)
		return uint32(len(bufs[0])), f.result
	}
	f.procs.FillNotSupported()
	return f
}

type fixture struct {
	table  *handles.Table
	kernel *iocp.Kernel
	layer  *redirect.Layer
	lsp    *fakeLSP
	thread *iocp.Thread
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{table: handles.New(handles.Options{}), lsp: newFakeLSP()}
	f.kernel = iocp.NewKernel(f.table, iocp.Options{})
	f.layer = redirect.New(f.table, f.kernel, func(op string, s spi.Socket) (*spi.WSPProcTable, error) {
		return &f.lsp.procs, nil
	}, redirect.Options{})
	th, err := f.kernel.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	f.thread = th
	return f
}

// ifsSocket makes an IFS file object owned by the base entry 1001.
func (f *fixture) ifsSocket(t *testing.T, d spi.FileDriver) spi.Socket {
	t.Helper()
	fo, err := f.layer.CreateFileObject(d, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.table.ModifyIFSHandle(1001, fo.Handle()); err != nil {
		t.Fatal(err)
	}
	return fo.Handle()
}

func (f *fixture) nonIFSSocket(t *testing.T) spi.Socket {
	t.Helper()
	s, err := f.layer.CreateSocketHandle(lspID, "ctx")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) transitions(t *testing.T, h spi.Handle) redirect.Transitions {
	t.Helper()
	tr, err := f.layer.HandleTransitions(h)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestReadFileOnAnIFSHandleGoesStraightToTheDriver(t *testing.T) {
	f := newFixture(t)
	d := &fakeDriver{}
	s := f.ifsSocket(t, d)
	n, err := f.layer.ReadFile(f.thread.ID(), s, make([]byte, 8), nil)
	if n != 8 || err != nil {
		t.Fatalf("ReadFile = %d, %v", n, err)
	}
	if _, err := f.layer.WriteFile(f.thread.ID(), s, make([]byte, 3), nil); err != nil {
		t.Fatal(err)
	}
	if d.reads != 1 || d.writes != 1 || len(f.lsp.recvs)+len(f.lsp.sends) != 0 {
		t.Errorf("driver saw %d reads, %d writes; the owner's table saw %d calls", d.reads, d.writes, len(f.lsp.recvs)+len(f.lsp.sends))
	}
	want := redirect.Transitions{UserToKernel: 2, KernelToUser: 2}
	if diff := cmp.Diff(want, f.transitions(t, s)); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
}

func TestReadFileOnANonIFSHandleIsRedirectedToTheOwner(t *testing.T) {
	f := newFixture(t)
	s := f.nonIFSSocket(t)
	var ov spi.Overlapped
	if _, err := f.layer.ReadFile(f.thread.ID(), s, make([]byte, 8), &ov); err != nil {
		t.Fatal(err)
	}
	if _, err := f.layer.WriteFile(f.thread.ID(), s, make([]byte, 8), &ov); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]spi.Socket{s}, f.lsp.recvs); diff != "" {
		t.Errorf("WSPRecv calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]spi.Socket{s}, f.lsp.sends); diff != "" {
		t.Errorf("WSPSend calls (-want +got):\n%s", diff)
	}
	for _, th := range f.lsp.threads {
		if th != nil {
			t.Errorf("redirected request carries a thread id %v; it runs on the helper thread", *th)
		}
	}
}

func TestRedirectedReadFileCostsFourMoreTransitionsThanADirectOne(t *testing.T) {
	f := newFixture(t)
	ifs, nonIFS := f.ifsSocket(t, &fakeDriver{}), f.nonIFSSocket(t)
	for _, s := range []spi.Socket{ifs, nonIFS} {
		if _, err := f.layer.ReadFile(f.thread.ID(), s, make([]byte, 1), nil); err != nil {
			t.Fatal(err)
		}
	}
	direct, redirected := f.transitions(t, ifs), f.transitions(t, nonIFS)
	if got := redirected.Total() - direct.Total(); got != 4 {
		t.Errorf("redirected %+v, direct %+v: %d more, want 4", redirected, direct, got)
	}
	if diff := cmp.Diff(redirect.Transitions{UserToKernel: 4, KernelToUser: 4}, f.layer.Transitions()); diff != "" {
		t.Errorf("process transitions (-want +got):\n%s", diff)
	}
}

func TestFileCallsMapWinsockErrorsToFileErrors(t *testing.T) {
	cases := []struct {
		from, to spi.Errno
	}{
		{spi.WSAECONNRESET, spi.ERROR_NETNAME_DELETED},
		{spi.WSAECONNABORTED, spi.ERROR_CONNECTION_ABORTED}, // STATUS_CONNECTION_ABORTED
		{spi.WSAEMSGSIZE, spi.ERROR_MORE_DATA},
		{spi.WSAENOTSOCK, spi.ERROR_INVALID_HANDLE},
		{spi.WSA_IO_PENDING, spi.ERROR_IO_PENDING},
		{spi.WSAEWOULDBLOCK, spi.ERROR_NOT_READY}, // STATUS_DEVICE_NOT_READY
		{spi.WSAEFAULT, spi.WSAEFAULT},            // no status of its own: unchanged
	}
	for _, c := range cases {
		f := newFixture(t)
		d := &fakeDriver{result: c.from}
		f.lsp.result = c.from
		for _, s := range []spi.Socket{f.ifsSocket(t, d), f.nonIFSSocket(t)} {
			_, err := f.layer.ReadFile(f.thread.ID(), s, nil, nil)
			if diff := cmp.Diff(error(c.to), err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("ReadFile failing with %v (-want +got):\n%s", c.from, diff)
			}
			var oe *spi.OpError
			if !errors.As(err, &oe) || oe.Op != "ReadFile" || oe.Handle != s {
				t.Errorf("error %v is not an OpError for ReadFile on %v", err, s)
			}
		}
	}
}

func TestFileCallsOnBadHandlesFailWithInvalidHandle(t *testing.T) {
	f := newFixture(t)
	ev, err := f.kernel.WSACreateEvent()
	if err != nil {
		t.Fatal(err)
	}
	closed := f.nonIFSSocket(t)
	if err := f.table.CloseSocketHandle(closed); err != nil {
		t.Fatal(err)
	}
	for _, h := range []spi.Handle{0, 3, spi.INVALID_SOCKET, ev, closed, 0x7ff0} {
		calls := map[string]error{}
		_, calls["ReadFile"] = f.layer.ReadFile(f.thread.ID(), h, nil, nil)
		_, calls["WriteFile"] = f.layer.WriteFile(f.thread.ID(), h, nil, nil)
		calls["CancelIo"] = f.layer.CancelIo(f.thread.ID(), h)
		calls["CancelIoEx"] = f.layer.CancelIoEx(f.thread.ID(), h, nil)
		_, calls["HandleTransitions"] = f.layer.HandleTransitions(h)
		for op, err := range calls {
			if !errors.Is(err, spi.ERROR_INVALID_HANDLE) {
				t.Errorf("%s(%v) = %v, want ERROR_INVALID_HANDLE", op, h, err)
			}
		}
	}
	if got := f.layer.Transitions(); got.Total() != 0 {
		t.Errorf("failed calls were charged: %+v", got)
	}
}

func TestCancelIoReachesOnlyTheDriver(t *testing.T) {
	f := newFixture(t)
	d := &fakeDriver{}
	ifs, nonIFS := f.ifsSocket(t, d), f.nonIFSSocket(t)
	if err := f.layer.CancelIo(f.thread.ID(), ifs); err != nil || d.cancels != 1 {
		t.Errorf("CancelIo on IFS = %v, driver cancels %d", err, d.cancels)
	}
	if err := f.layer.CancelIoEx(f.thread.ID(), ifs, nil); err != nil || d.cancels != 2 {
		t.Errorf("CancelIoEx on IFS = %v, driver cancels %d", err, d.cancels)
	}
	if err := f.layer.CancelIo(f.thread.ID(), nonIFS); err != nil {
		t.Errorf("CancelIo on non-IFS = %v", err)
	}
	if err := f.layer.CancelIoEx(f.thread.ID(), nonIFS, nil); !errors.Is(err, spi.ERROR_NOT_FOUND) {
		t.Errorf("CancelIoEx on non-IFS = %v, want ERROR_NOT_FOUND", err)
	}
}

func TestCompleteOverlappedRequestNotifiesTheClientsChoice(t *testing.T) {
	cases := []struct {
		name       string
		port, ev   bool
		lowBit     bool
		skipMode   bool
		wantPacket bool
		wantEvent  bool
	}{
		{name: "port", port: true, wantPacket: true},
		{name: "event", ev: true, wantEvent: true},
		{name: "port and event", port: true, ev: true, wantPacket: true, wantEvent: true},
		{name: "low bit", port: true, ev: true, lowBit: true, wantEvent: true},
		{name: "skip on success does not apply", port: true, skipMode: true, wantPacket: true},
		{name: "nothing", wantPacket: false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			s := f.nonIFSSocket(t)
			var port, ev spi.Handle
			var err error
			if c.port {
				if port, err = f.kernel.CreateIoCompletionPort(s, 0, 42, 0); err != nil {
					t.Fatal(err)
				}
			}
			if c.skipMode {
				if err := f.kernel.SetFileCompletionNotificationModes(s, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS); err != nil {
					t.Fatal(err)
				}
			}
			if c.ev {
				if ev, err = f.kernel.WSACreateEvent(); err != nil {
					t.Fatal(err)
				}
			}
			ov := spi.Overlapped{HEvent: ev}
			if c.lowBit {
				ov.HEvent |= 1
			}
			ov.SetInProgress()
			if err := f.layer.CompleteOverlappedRequest(s, &ov, spi.WSAECONNRESET, 5); err != nil {
				t.Fatal(err)
			}
			if ov.Internal != uintptr(spi.STATUS_CONNECTION_RESET) || ov.InternalHigh != 5 {
				t.Errorf("overlapped = %+v", ov)
			}
			if c.port {
				e, err := f.kernel.GetQueuedCompletionStatus(f.thread, port, 0)
				gotPacket := e.Overlapped != nil
				if gotPacket != c.wantPacket {
					t.Fatalf("packet = %v (%v), want %v", gotPacket, err, c.wantPacket)
				}
				if gotPacket {
					want := spi.OverlappedEntry{CompletionKey: 42, Overlapped: &ov, Internal: uintptr(spi.STATUS_CONNECTION_RESET), NumberOfBytesTransferred: 5}
					if diff := cmp.Diff(want, e); diff != "" {
						t.Errorf("packet (-want +got):\n%s", diff)
					}
					if !errors.Is(err, spi.ERROR_NETNAME_DELETED) {
						t.Errorf("failed I/O dequeued with %v", err)
					}
				}
			}
			if c.ev {
				r, _ := f.kernel.WSAWaitForMultipleEvents(f.thread, []spi.Handle{ev}, false, 0, false)
				if got := r == spi.WSA_WAIT_EVENT_0; got != c.wantEvent {
					t.Errorf("event signalled = %v, want %v", got, c.wantEvent)
				}
			}
			if got := f.transitions(t, s); got.Total() != 2 {
				t.Errorf("transitions = %+v, want one round trip", got)
			}
		})
	}
}

func TestCompleteOverlappedRequestRejectsOtherHandles(t *testing.T) {
	f := newFixture(t)
	ifs := f.ifsSocket(t, &fakeDriver{})
	closed := f.nonIFSSocket(t)
	if err := f.table.CloseSocketHandle(closed); err != nil {
		t.Fatal(err)
	}
	other := newFixture(t).nonIFSSocket(t) // a handle of another process's table
	other += 0x1000
	ev, _ := f.kernel.WSACreateEvent()
	var ov spi.Overlapped
	for _, h := range []spi.Socket{ifs, closed, other, ev, 0, spi.INVALID_SOCKET} {
		err := f.layer.CompleteOverlappedRequest(h, &ov, 0, 1)
		if diff := cmp.Diff(error(spi.WSAEINVAL), err, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("CompleteOverlappedRequest(%v) (-want +got):\n%s", h, diff)
		}
	}
	live := f.nonIFSSocket(t)
	if err := f.layer.CompleteOverlappedRequest(live, nil, 0, 1); !errors.Is(err, spi.WSAEFAULT) {
		t.Errorf("nil overlapped: %v", err)
	}
	if ov.Internal != 0 || ov.InternalHigh != 0 {
		t.Errorf("a rejected completion wrote the overlapped: %+v", ov)
	}
}

// TestTransitionCountsFollowTheModel drives random file calls and
// completions over IFS and non-IFS handles and checks the per-handle and
// per-process counts against the documented model.
func TestTransitionCountsFollowTheModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		table := handles.New(handles.Options{})
		kernel := iocp.NewKernel(table, iocp.Options{})
		lsp := newFakeLSP()
		layer := redirect.New(table, kernel, func(string, spi.Socket) (*spi.WSPProcTable, error) { return &lsp.procs, nil }, redirect.Options{})
		th, _ := kernel.NewThread()
		var socks []spi.Socket
		ifs := map[spi.Socket]bool{}
		want := map[spi.Socket]uint64{}
		var total uint64
		for i := range 3 {
			fo, _ := layer.CreateFileObject(&fakeDriver{}, true)
			_, _ = table.ModifyIFSHandle(1001, fo.Handle())
			s, _ := layer.CreateSocketHandle(lspID, i)
			socks = append(socks, fo.Handle(), s)
			ifs[fo.Handle()] = true
		}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for range steps {
			s := rapid.SampledFrom(socks).Draw(rt, "socket")
			var cost uint64
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0:
				_, _ = layer.ReadFile(th.ID(), s, make([]byte, 4), nil)
				cost = 1
				if !ifs[s] {
					cost = 3
				}
			case 1:
				_, _ = layer.WriteFile(th.ID(), s, make([]byte, 4), nil)
				cost = 1
				if !ifs[s] {
					cost = 3
				}
			case 2:
				_ = layer.CancelIo(th.ID(), s)
				cost = 1
			case 3:
				var ov spi.Overlapped
				ov.SetInProgress()
				err := layer.CompleteOverlappedRequest(s, &ov, 0, 1)
				if ifs[s] != (err != nil) {
					rt.Fatalf("CompleteOverlappedRequest(%v) = %v, IFS %v", s, err, ifs[s])
				}
				if !ifs[s] {
					cost = 1
				}
			}
			want[s] += cost
			total += cost
		}
		for _, s := range socks {
			got, err := layer.HandleTransitions(s)
			if err != nil {
				rt.Fatal(err)
			}
			if got.UserToKernel != want[s] || got.KernelToUser != want[s] {
				rt.Fatalf("handle %v: %+v, want %d round trips", s, got, want[s])
			}
		}
		if got := layer.Transitions(); got.UserToKernel != total || got.KernelToUser != total {
			rt.Fatalf("process: %+v, want %d round trips", got, total)
		}
	})
}

func TestFileCallsAreSafeForConcurrentUse(t *testing.T) {
	f := newFixture(t)
	socks := []spi.Socket{f.ifsSocket(t, &fakeDriver{}), f.nonIFSSocket(t)}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				s := socks[(g+i)%2]
				_, _ = f.layer.ReadFile(f.thread.ID(), s, make([]byte, 1), nil)
				_, _ = f.layer.WriteFile(f.thread.ID(), s, make([]byte, 1), nil)
			}
		}()
	}
	wg.Wait()
	if got, want := f.layer.Transitions().Total(), uint64(4*200*2*(2+6)/2); got != want {
		t.Errorf("transitions = %d, want %d", got, want)
	}
}

// A ReadFile or WriteFile without an OVERLAPPED on a synchronous non-IFS
// handle waits until the owner completes the redirector's OVERLAPPED with
// WPUCompleteOverlappedRequest, at once or later from another goroutine,
// and returns that completion's byte count.
func TestSynchronousFileCallWaitsForTheOwnersCompletion(t *testing.T) {
	for _, later := range []bool{false, true} {
		f := newFixture(t)
		s := f.nonIFSSocket(t)
		f.layer.MarkSynchronous(s)
		complete := func(ov *spi.Overlapped, n uint32) (uint32, error) {
			ov.SetInProgress() // as a provider starts an overlapped call
			done := func() {
				if err := f.layer.CompleteOverlappedRequest(s, ov, 0, n); err != nil {
					t.Error(err)
				}
			}
			if later {
				go done()
				return 0, spi.WSA_IO_PENDING
			}
			done()
			return n, nil
		}
		f.lsp.procs.WSPRecv = func(_ spi.Socket, _ [][]byte, _ *uint32, ov *spi.Overlapped, _ spi.CompletionRoutine, _ *spi.ThreadID) (uint32, error) {
			return complete(ov, 3)
		}
		f.lsp.procs.WSPSend = func(_ spi.Socket, _ [][]byte, _ uint32, ov *spi.Overlapped, _ spi.CompletionRoutine, _ *spi.ThreadID) (uint32, error) {
			return complete(ov, 5)
		}
		if n, err := f.layer.ReadFile(f.thread.ID(), s, make([]byte, 8), nil); n != 3 || err != nil {
			t.Errorf("later %v: ReadFile = %d, %v; want 3, nil", later, n, err)
		}
		if n, err := f.layer.WriteFile(f.thread.ID(), s, make([]byte, 8), nil); n != 5 || err != nil {
			t.Errorf("later %v: WriteFile = %d, %v; want 5, nil", later, n, err)
		}
	}
}
