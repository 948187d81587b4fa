package iocp_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

// getResult is what one GetQueuedCompletionStatus returns.
type getResult struct {
	Entry spi.OverlappedEntry
	Err   error
}

func TestCreateIoCompletionPortModes(t *testing.T) {
	p := newProc(t, iocp.Options{Processors: 3})
	existing := p.port(7)
	ev := p.event(true, false)
	overlapped := func() spi.Handle { h, _ := p.file(true); return h }
	associated, _ := p.file(true)
	if _, err := p.k.CreateIoCompletionPort(associated, existing.Handle(), 1, 0); err != nil {
		t.Fatal(err)
	}
	sync, _ := p.file(false)

	tests := []struct {
		name            string
		file, existing  spi.Handle
		concurrency     uint32
		wantExisting    bool // returns existing
		wantConcurrency int
		wantErr         error
	}{
		{name: "create only", file: spi.INVALID_HANDLE_VALUE, concurrency: 2, wantConcurrency: 2},
		{name: "create only with concurrency 0 uses the processors", file: spi.INVALID_HANDLE_VALUE, wantConcurrency: 3},
		{name: "create and associate", file: overlapped(), concurrency: 5, wantConcurrency: 5},
		{name: "associate ignores concurrency", file: overlapped(), existing: existing.Handle(), concurrency: 1, wantExisting: true, wantConcurrency: 7},
		{name: "associate twice", file: associated, existing: existing.Handle(), wantErr: spi.ERROR_INVALID_PARAMETER},
		{name: "associate twice with a new port", file: associated, wantErr: spi.ERROR_INVALID_PARAMETER},
		{name: "associate a non-overlapped handle", file: sync, existing: existing.Handle(), wantErr: spi.ERROR_INVALID_PARAMETER},
		{name: "create and associate a non-overlapped handle", file: sync, wantErr: spi.ERROR_INVALID_PARAMETER},
		{name: "INVALID_HANDLE_VALUE with an existing port", file: spi.INVALID_HANDLE_VALUE, existing: existing.Handle(), wantErr: spi.ERROR_INVALID_PARAMETER},
		{name: "file handle not live", file: 0x4000, existing: existing.Handle(), wantErr: spi.ERROR_INVALID_HANDLE},
		{name: "file handle is an event", file: ev.Handle(), existing: existing.Handle(), wantErr: spi.ERROR_INVALID_HANDLE},
		{name: "existing is an event", file: overlapped(), existing: ev.Handle(), wantErr: spi.ERROR_INVALID_HANDLE},
		{name: "existing is not live", file: overlapped(), existing: 0x4000, wantErr: spi.ERROR_INVALID_HANDLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live := p.table.Len()
			h, err := p.k.CreateIoCompletionPort(tt.file, tt.existing, 42, tt.concurrency)
			if diff := cmp.Diff(tt.wantErr, err, equateErrors); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if err != nil {
				if got := opOf(err); got != "CreateIoCompletionPort" {
					t.Errorf("Op = %q, want CreateIoCompletionPort", got)
				}
				if h != 0 || p.table.Len() != live {
					t.Errorf("failed call returned %v and left %d handles, want 0 and %d", h, p.table.Len(), live)
				}
				return
			}
			if tt.wantExisting && h != tt.existing {
				t.Errorf("returned %v, want the existing port %v", h, tt.existing)
			}
			port, err := p.k.Port(h)
			if err != nil {
				t.Fatal(err)
			}
			if got := port.Concurrency(); got != tt.wantConcurrency {
				t.Errorf("concurrency = %d, want %d", got, tt.wantConcurrency)
			}
			if tt.file != spi.INVALID_HANDLE_VALUE {
				f, err := p.k.File(tt.file)
				if err != nil {
					t.Fatal(err)
				}
				if got, key := f.Port(); got != port || key != 42 {
					t.Errorf("file associated with %v key %d, want %v key 42", got, key, port)
				}
			}
		})
	}
}

func TestAssociationOutlivesThePortHandle(t *testing.T) {
	p := newProc(t, iocp.Options{})
	port := p.port(1)
	_, f := p.file(true)
	if err := f.Associate(port, 1); err != nil {
		t.Fatal(err)
	}
	if err := port.Close(); err != nil {
		t.Fatal(err)
	}
	other := p.port(1)
	if diff := cmp.Diff(spi.ERROR_INVALID_PARAMETER, f.Associate(other, 2), equateErrors); diff != "" {
		t.Errorf("re-association after the port closed (-want +got):\n%s", diff)
	}
	var ov spi.Overlapped
	if err := p.k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: &ov}}); err != nil {
		t.Fatal(err)
	}
	if got := other.Snapshot().Queued; got != 0 {
		t.Errorf("packet reached another port: %d queued", got)
	}
}

func TestGetQueuedCompletionStatusOutcomes(t *testing.T) {
	p := newProc(t, iocp.Options{})
	th := p.thread()
	port, f := p.associated(77)
	var ovOK, ovFail, ovPosted spi.Overlapped
	closed := p.port(0)
	closedHandle := closed.Handle()
	closed.Close()
	ev := p.event(true, false)

	tests := []struct {
		name    string
		setup   func()
		port    spi.Handle
		timeout time.Duration
		want    getResult
	}{
		{
			name: "successful I/O",
			setup: func() {
				p.k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: &ovOK}, Bytes: 10})
			},
			port: port.Handle(),
			want: getResult{Entry: spi.OverlappedEntry{CompletionKey: 77, Overlapped: &ovOK, NumberOfBytesTransferred: 10}},
		},
		{
			name: "failed I/O fills key, bytes and overlapped and returns the error",
			setup: func() {
				p.k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: &ovFail}, Status: spi.WSAECONNRESET, Bytes: 3})
			},
			port: port.Handle(),
			want: getResult{
				Entry: spi.OverlappedEntry{CompletionKey: 77, Overlapped: &ovFail, Internal: uintptr(spi.STATUS_CONNECTION_RESET), NumberOfBytesTransferred: 3},
				Err:   spi.ERROR_NETNAME_DELETED, // the Win32 code of STATUS_CONNECTION_RESET
			},
		},
		{
			name:  "posted packet comes back unchanged",
			setup: func() { p.k.PostQueuedCompletionStatus(port.Handle(), 5, 9, &ovPosted) },
			port:  port.Handle(),
			want:  getResult{Entry: spi.OverlappedEntry{CompletionKey: 9, Overlapped: &ovPosted, NumberOfBytesTransferred: 5}},
		},
		{
			name:  "posted packet with a nil overlapped",
			setup: func() { p.k.PostQueuedCompletionStatus(port.Handle(), 1, 2, nil) },
			port:  port.Handle(),
			want:  getResult{Entry: spi.OverlappedEntry{CompletionKey: 2, NumberOfBytesTransferred: 1}},
		},
		{name: "zero timeout on an empty port", port: port.Handle(), want: getResult{Err: spi.WAIT_TIMEOUT}},
		{name: "negative timeout", port: port.Handle(), timeout: -time.Millisecond, want: getResult{Err: spi.ERROR_INVALID_PARAMETER}},
		{name: "closed port", port: closedHandle, want: getResult{Err: spi.ERROR_INVALID_HANDLE}},
		{name: "an event handle", port: ev.Handle(), want: getResult{Err: spi.ERROR_INVALID_HANDLE}},
		{name: "zero handle", port: 0, want: getResult{Err: spi.ERROR_INVALID_HANDLE}},
		{name: "INVALID_HANDLE_VALUE", port: spi.INVALID_HANDLE_VALUE, want: getResult{Err: spi.ERROR_INVALID_HANDLE}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			e, err := p.k.GetQueuedCompletionStatus(th, tt.port, tt.timeout)
			if diff := cmp.Diff(tt.want, getResult{e, err}, equateErrors); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err != nil && opOf(err) != "GetQueuedCompletionStatus" {
				t.Errorf("Op = %q", opOf(err))
			}
		})
	}
}

func TestGetQueuedCompletionStatusFromAnotherProcess(t *testing.T) {
	a, b := newProc(t, iocp.Options{}), newProc(t, iocp.Options{})
	port := a.port(0)
	b.event(true, false) // b's first handle has the value of a's port
	if err := port.Post(1, 1, nil); err != nil {
		t.Fatal(err)
	}
	_, err := b.k.GetQueuedCompletionStatus(b.thread(), port.Handle(), 0)
	if diff := cmp.Diff(spi.ERROR_INVALID_HANDLE, err, equateErrors); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := port.Snapshot().Queued; got != 1 {
		t.Errorf("the packet was lost: %d queued, want 1", got)
	}
}

func TestPacketsAreDequeuedFIFO(t *testing.T) {
	p := newProc(t, iocp.Options{})
	th, port := p.thread(), p.port(1)
	for key := range uintptr(100) {
		port.Post(0, key, nil)
	}
	for key := range uintptr(100) {
		e, err := port.Get(th, 0)
		if err != nil || e.CompletionKey != key {
			t.Fatalf("dequeue %d: key %d, %v", key, e.CompletionKey, err)
		}
	}
}

func TestGetWaitsForAPost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProc(t, iocp.Options{})
		th, port := p.thread(), p.port(0)
		done := make(chan getResult)
		go func() {
			e, err := port.Get(th, spi.Infinite)
			done <- getResult{e, err}
		}()
		synctest.Wait()
		if got := port.Snapshot().Waiting; got != 1 {
			t.Fatalf("Waiting = %d, want 1", got)
		}
		time.Sleep(time.Hour)
		port.Post(1, 2, nil)
		want := getResult{Entry: spi.OverlappedEntry{CompletionKey: 2, NumberOfBytesTransferred: 1}}
		if diff := cmp.Diff(want, <-done, equateErrors); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestClosingThePortAbandonsWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProc(t, iocp.Options{})
		port := p.port(1)
		port.Post(0, 1, nil)
		port.Post(0, 2, nil)
		// Concurrency 1 and a running thread keep the packets queued while
		// the others wait.
		runner := p.thread()
		if _, err := port.Get(runner, 0); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 3)
		go func() {
			_, err := p.k.GetQueuedCompletionStatus(p.thread(), port.Handle(), spi.Infinite)
			done <- err
		}()
		go func() {
			_, err := port.GetMany(p.thread(), make([]spi.OverlappedEntry, 4), time.Minute, true)
			done <- err
		}()
		synctest.Wait()
		if err := p.k.CloseHandle(port.Handle()); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if diff := cmp.Diff(spi.ERROR_ABANDONED_WAIT_0, <-done, equateErrors); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		}
		want := iocp.PortSnapshot{Handle: port.Handle(), Concurrency: 1, Running: 1, Closed: true, Posted: 2, Dequeued: 1, Dropped: 1}
		if diff := cmp.Diff(want, port.Snapshot()); diff != "" {
			t.Errorf("snapshot (-want +got):\n%s", diff)
		}
		_, err := port.Get(runner, 0)
		if diff := cmp.Diff(spi.ERROR_INVALID_HANDLE, err, equateErrors); diff != "" {
			t.Errorf("Get after close (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(spi.ERROR_INVALID_HANDLE, port.Post(0, 0, nil), equateErrors); diff != "" {
			t.Errorf("Post after close (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(spi.ERROR_INVALID_HANDLE, p.k.CloseHandle(port.Handle()), equateErrors); diff != "" {
			t.Errorf("second close (-want +got):\n%s", diff)
		}
	})
}

// startGet starts port.Get on a new thread and returns its result channel,
// once the thread is parked.
func startGet(p *proc, port *iocp.Port, timeout time.Duration) (*iocp.Thread, chan getResult) {
	th := p.thread()
	done := make(chan getResult, 1)
	go func() {
		e, err := port.Get(th, timeout)
		done <- getResult{e, err}
	}()
	synctest.Wait()
	return th, done
}

func keyOf(r getResult) uintptr { return r.Entry.CompletionKey }

func TestWaitersAreReleasedLIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProc(t, iocp.Options{})
		port := p.port(3)
		_, a := startGet(p, port, spi.Infinite)
		_, b := startGet(p, port, spi.Infinite)
		_, c := startGet(p, port, spi.Infinite)
		for key := range uintptr(3) {
			port.Post(0, key+1, nil)
		}
		got := []uintptr{keyOf(<-a), keyOf(<-b), keyOf(<-c)}
		if diff := cmp.Diff([]uintptr{3, 2, 1}, got); diff != "" {
			t.Errorf("keys of the first, second and third waiter (-want +got):\n%s", diff)
		}
	})
}

// busyPort makes a port of concurrency 1 where thread b runs with the
// packet of key 1, thread a waits (its result comes on aDone), and the
// packet of key 2 is queued.
func busyPort(t *testing.T, p *proc) (port *iocp.Port, aDone chan getResult, b *iocp.Thread) {
	t.Helper()
	port = p.port(1)
	_, aDone = startGet(p, port, spi.Infinite)
	b, bDone := startGet(p, port, spi.Infinite)
	port.Post(0, 1, nil)
	port.Post(0, 2, nil)
	if got := keyOf(<-bDone); got != 1 {
		t.Fatalf("the last waiter got key %d, want 1", got)
	}
	synctest.Wait()
	return port, aDone, b
}

func TestConcurrencyLimitsReleasedWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProc(t, iocp.Options{})
		port, a, b := busyPort(t, p)
		select {
		case r := <-a:
			t.Fatalf("a second thread ran past concurrency 1: %+v", r)
		default:
		}
		want := iocp.PortSnapshot{Handle: port.Handle(), Concurrency: 1, Queued: 1, Waiting: 1, Running: 1, Posted: 2, Dequeued: 1}
		if diff := cmp.Diff(want, port.Snapshot()); diff != "" {
			t.Errorf("snapshot (-want +got):\n%s", diff)
		}
		// The running thread asks again: it takes the next packet at once.
		e, err := port.Get(b, 0)
		if err != nil || e.CompletionKey != 2 {
			t.Fatalf("running thread's second Get = %+v, %v; want key 2 at once", e, err)
		}
		port.Close()
		<-a
	})
}

// A thread stops running on its port when it blocks on anything else,
// exits or turns to another port, and a waiter there is released; a thread
// that comes back from blocking elsewhere counts again, even past the
// concurrency.
func TestAThreadThatStopsRunningReleasesAWaiter(t *testing.T) {
	tests := []struct {
		name string
		// stop makes b stop running and returns what ends its blocking.
		stop        func(p *proc, b *iocp.Thread) (resume func())
		wantRunning int
	}{
		{
			name: "sleep",
			stop: func(p *proc, b *iocp.Thread) func() {
				slept := make(chan struct{})
				go func() {
					b.SleepEx(time.Second, false)
					close(slept)
				}()
				return func() { <-slept }
			},
			wantRunning: 2,
		},
		{
			name: "event wait",
			stop: func(p *proc, b *iocp.Thread) func() {
				e := p.event(true, false)
				done := startWait(b, []*iocp.Event{e}, false, spi.Infinite)
				return func() { e.Set(); <-done }
			},
			wantRunning: 2,
		},
		{
			name:        "exit",
			stop:        func(p *proc, b *iocp.Thread) func() { b.Exit(); return func() {} },
			wantRunning: 1,
		},
		{
			name: "Get on another port",
			stop: func(p *proc, b *iocp.Thread) func() {
				p.port(1).Get(b, 0)
				return func() {}
			},
			wantRunning: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newProc(t, iocp.Options{})
				port, a, b := busyPort(t, p)
				resume := tt.stop(p, b)
				if got := keyOf(<-a); got != 2 {
					t.Fatalf("a got key %d, want 2", got)
				}
				resume()
				if got := port.Snapshot().Running; got != tt.wantRunning {
					t.Errorf("Running = %d, want %d", got, tt.wantRunning)
				}
			})
		})
	}
}

func TestGetQueuedCompletionStatusExOutcomes(t *testing.T) {
	p := newProc(t, iocp.Options{})
	th := p.thread()
	port, f := p.associated(5)
	var ov1, ov2, ov3 spi.Overlapped
	closed := p.port(0)
	closed.Close()

	type result struct {
		N       int
		Entries []spi.OverlappedEntry
		Err     error
		APCs    int
	}
	apcs := 0
	tests := []struct {
		name      string
		setup     func()
		port      spi.Handle
		size      int
		timeout   time.Duration
		alertable bool
		want      result
	}{
		{
			name: "several packets with per-entry status",
			setup: func() {
				p.k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: &ov1}, Bytes: 1})
				p.k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: &ov2}, Status: spi.WSA_OPERATION_ABORTED})
				p.k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: &ov3}, Bytes: 3})
			},
			port: port.Handle(), size: 2,
			want: result{N: 2, Entries: []spi.OverlappedEntry{
				{CompletionKey: 5, Overlapped: &ov1, NumberOfBytesTransferred: 1},
				{CompletionKey: 5, Overlapped: &ov2, Internal: uintptr(spi.STATUS_CANCELLED)},
			}},
		},
		{
			name: "the rest next time", port: port.Handle(), size: 2,
			want: result{N: 1, Entries: []spi.OverlappedEntry{{CompletionKey: 5, Overlapped: &ov3, NumberOfBytesTransferred: 3}, {}}},
		},
		{name: "zero-length array", port: port.Handle(), size: 0, want: result{Entries: []spi.OverlappedEntry{}, Err: spi.ERROR_INVALID_PARAMETER}},
		{name: "timeout: a count of 1, no entry written", port: port.Handle(), size: 1, want: result{N: 1, Entries: make([]spi.OverlappedEntry, 1), Err: spi.WAIT_TIMEOUT}},
		{name: "negative timeout", port: port.Handle(), size: 1, timeout: -1, want: result{Entries: make([]spi.OverlappedEntry, 1), Err: spi.ERROR_INVALID_PARAMETER}},
		{name: "closed port", port: closed.Handle(), size: 1, want: result{Entries: make([]spi.OverlappedEntry, 1), Err: spi.ERROR_INVALID_HANDLE}},
		{
			name:  "queued APC, not alertable",
			setup: func() { th.QueueAPC(func(any) { apcs++ }, nil) },
			port:  port.Handle(), size: 1,
			want: result{N: 1, Entries: make([]spi.OverlappedEntry, 1), Err: spi.WAIT_TIMEOUT},
		},
		{
			name: "queued APC, alertable", port: port.Handle(), size: 1, alertable: true,
			want: result{Entries: make([]spi.OverlappedEntry, 1), Err: spi.Errno(spi.WAIT_IO_COMPLETION), APCs: 1},
		},
		{
			name: "a packet wins over a queued APC",
			setup: func() {
				th.QueueAPC(func(any) { apcs++ }, nil)
				port.Post(0, 8, nil)
			},
			port: port.Handle(), size: 1, alertable: true,
			want: result{N: 1, Entries: []spi.OverlappedEntry{{CompletionKey: 8}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			apcs = 0
			entries := make([]spi.OverlappedEntry, tt.size)
			n, err := p.k.GetQueuedCompletionStatusEx(th, tt.port, entries, tt.timeout, tt.alertable)
			if diff := cmp.Diff(tt.want, result{n, entries, err, apcs}, equateErrors); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err != nil && opOf(err) != "GetQueuedCompletionStatusEx" {
				t.Errorf("Op = %q", opOf(err))
			}
		})
	}
	th.SleepEx(0, true) // the APC left by the last case
}

func TestAlertableGetManyWakesForAnAPC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProc(t, iocp.Options{})
		th, port := p.thread(), p.port(0)
		done := make(chan error)
		ran := false
		go func() {
			_, err := port.GetMany(th, make([]spi.OverlappedEntry, 8), spi.Infinite, true)
			done <- err
		}()
		synctest.Wait()
		start := time.Now()
		time.Sleep(time.Second)
		if err := p.k.WPUQueueApc(new(th.ID()), func(any) { ran = true }, nil); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(spi.Errno(spi.WAIT_IO_COMPLETION), <-done, equateErrors); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if !ran || time.Since(start) != time.Second {
			t.Errorf("APC ran: %v after %v; want true after 1s", ran, time.Since(start))
		}
		if got := port.Snapshot().Waiting; got != 0 {
			t.Errorf("Waiting = %d after the APC, want 0", got)
		}
	})
}

func TestGetManyTakesWhatQueuedWhileWaking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProc(t, iocp.Options{})
		th, port := p.thread(), p.port(0)
		done := make(chan int)
		go func() {
			n, _ := port.GetMany(th, make([]spi.OverlappedEntry, 8), spi.Infinite, false)
			done <- n
		}()
		synctest.Wait()
		for key := range uintptr(3) { // no goroutine runs in between
			port.Post(0, key, nil)
		}
		if got := <-done; got != 3 {
			t.Errorf("GetMany removed %d packets, want 3", got)
		}
	})
}

func TestFullHandleTable(t *testing.T) {
	table := handles.New(handles.Options{Capacity: 2})
	k := iocp.NewKernel(table, iocp.Options{})
	f := k.NewFile(true)
	fh, err := table.Insert(handles.KindIFSSocket, f)
	if err != nil {
		t.Fatal(err)
	}
	th, err := k.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	got := []error{}
	for _, call := range []func() error{
		func() error { _, err := k.CreateIoCompletionPort(fh, 0, 1, 0); return err },
		func() error { _, err := k.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0); return err },
		func() error { _, err := k.CreateEvent(true, false); return err },
		func() error { _, err := k.NewThread(); return err },
		func() error { _, err := k.WPUOpenCurrentThread(th); return err },
	} {
		got = append(got, call())
	}
	want := []error{spi.WSAENOBUFS, spi.WSAENOBUFS, spi.WSAENOBUFS, spi.WSAENOBUFS, spi.WSAENOBUFS}
	if diff := cmp.Diff(want, got, equateErrors); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if port, _ := f.Port(); port != nil {
		t.Error("a failed CreateIoCompletionPort associated the handle")
	}
}

func TestPortWaitsTimeOutAfterExactlyTheTimeout(t *testing.T) {
	waits := map[string]func(*iocp.Port, *iocp.Thread, time.Duration) error{
		"GetQueuedCompletionStatus": func(port *iocp.Port, th *iocp.Thread, d time.Duration) error {
			e, err := port.Get(th, d)
			if e != (spi.OverlappedEntry{}) {
				t.Errorf("a timed-out Get returned %+v", e)
			}
			return err
		},
		"GetQueuedCompletionStatusEx": func(port *iocp.Port, th *iocp.Thread, d time.Duration) error {
			_, err := port.GetMany(th, make([]spi.OverlappedEntry, 4), d, true)
			return err
		},
	}
	for name, wait := range waits {
		for _, d := range []time.Duration{time.Millisecond, 1500 * time.Millisecond, iocp.Milliseconds(spi.INFINITE - 1)} {
			t.Run(fmt.Sprintf("%s/%v", name, d), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					p := newProc(t, iocp.Options{})
					port := p.port(0)
					start := time.Now()
					err := wait(port, p.thread(), d)
					if diff := cmp.Diff(spi.WAIT_TIMEOUT, err, equateErrors); diff != "" {
						t.Errorf("(-want +got):\n%s", diff)
					}
					if got := time.Since(start); got != d {
						t.Errorf("timed out after %v, want %v", got, d)
					}
					if got := port.Snapshot().Waiting; got != 0 {
						t.Errorf("Waiting = %d after the timeout", got)
					}
				})
			})
		}
	}
}
