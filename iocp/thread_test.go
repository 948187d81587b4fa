package iocp_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

func TestAPCsRunOnlyInAlertableWaits(t *testing.T) {
	p := newProc(t, iocp.Options{})
	th := p.thread()
	port := p.port(0)
	e := p.event(true, false)
	var ran []string
	th.QueueAPC(func(ctx any) { ran = append(ran, ctx.(string)) }, "first")
	th.QueueAPC(func(ctx any) { ran = append(ran, ctx.(string)) }, "second")

	th.SleepEx(0, false)
	th.WaitForEvents([]*iocp.Event{e}, false, 0, false)
	port.Get(th, 0)
	port.GetMany(th, make([]spi.OverlappedEntry, 1), 0, false)
	if len(ran) != 0 {
		t.Fatalf("non-alertable waits ran APCs: %v", ran)
	}
	r, err := th.SleepEx(0, true)
	if r != spi.WAIT_IO_COMPLETION || err != nil {
		t.Errorf("SleepEx(0, true) = %#x, %v; want WAIT_IO_COMPLETION", r, err)
	}
	if diff := cmp.Diff([]string{"first", "second"}, ran); diff != "" {
		t.Errorf("APCs run (-want +got):\n%s", diff)
	}
	if r, _ := th.SleepEx(0, true); r != 0 {
		t.Errorf("an alertable sleep with no APCs returned %#x, want 0", r)
	}
}

func TestAPCQueuedByAnAPCRunsInTheSameWait(t *testing.T) {
	p := newProc(t, iocp.Options{})
	th := p.thread()
	var ran []int
	th.QueueAPC(func(any) {
		ran = append(ran, 1)
		th.QueueAPC(func(any) { ran = append(ran, 3) }, nil)
	}, nil)
	th.QueueAPC(func(any) {
		ran = append(ran, 2)
		th.SleepEx(0, true) // a nested alertable wait runs the rest
	}, nil)
	th.SleepEx(0, true)
	if diff := cmp.Diff([]int{1, 2, 3}, ran); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := th.Snapshot().QueuedAPCs; got != 0 {
		t.Errorf("QueuedAPCs = %d, want 0", got)
	}
}

func TestSleepExTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProc(t, iocp.Options{})
		th := p.thread()
		tests := []struct {
			name      string
			d         time.Duration
			alertable bool
			apcAfter  time.Duration // 0: no APC
			want      uint32
			wantSlept time.Duration
		}{
			{name: "sleeps for d", d: 2 * time.Second, wantSlept: 2 * time.Second},
			{name: "an APC does not end a non-alertable sleep", d: 2 * time.Second, apcAfter: time.Second, wantSlept: 2 * time.Second},
			{name: "an APC ends an alertable sleep", d: time.Hour, alertable: true, apcAfter: time.Second, want: spi.WAIT_IO_COMPLETION, wantSlept: time.Second},
			{name: "an infinite alertable sleep", d: spi.Infinite, alertable: true, apcAfter: time.Minute, want: spi.WAIT_IO_COMPLETION, wantSlept: time.Minute},
			{name: "a huge timeout is infinite", d: 100 * 24 * time.Hour, alertable: true, apcAfter: time.Minute, want: spi.WAIT_IO_COMPLETION, wantSlept: time.Minute},
		}
		for _, tt := range tests {
			start := time.Now()
			if tt.apcAfter != 0 {
				time.AfterFunc(tt.apcAfter, func() { th.QueueAPC(func(any) {}, nil) })
			}
			r, err := th.SleepEx(tt.d, tt.alertable)
			if r != tt.want || err != nil || time.Since(start) != tt.wantSlept {
				t.Errorf("%s: SleepEx = %#x, %v after %v; want %#x after %v", tt.name, r, err, time.Since(start), tt.want, tt.wantSlept)
			}
			th.SleepEx(0, true) // run an APC left by a non-alertable case
			time.Sleep(time.Hour)
		}
		_, err := th.SleepEx(-1, true)
		if diff := cmp.Diff(spi.ERROR_INVALID_PARAMETER, err, equateErrors); diff != "" {
			t.Errorf("negative timeout (-want +got):\n%s", diff)
		}
	})
}

func TestMilliseconds(t *testing.T) {
	got := []time.Duration{iocp.Milliseconds(0), iocp.Milliseconds(1500), iocp.Milliseconds(spi.INFINITE - 1), iocp.Milliseconds(spi.INFINITE)}
	want := []time.Duration{0, 1500 * time.Millisecond, (spi.INFINITE - 1) * time.Millisecond, spi.Infinite}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestWPUQueueApcRefusesBadThreadIDs(t *testing.T) {
	p := newProc(t, iocp.Options{})
	live := p.thread()
	exited := p.thread()
	exitedID := exited.ID()
	exited.Exit()
	reused := p.thread() // may take the exited thread's handle value
	e := p.event(true, false)
	other := newProc(t, iocp.Options{}).thread()

	tests := []struct {
		name string
		id   *spi.ThreadID
		apc  spi.UserAPC
		want error
	}{
		{name: "live thread", id: new(live.ID()), apc: func(any) {}},
		{name: "nil id", id: nil, apc: func(any) {}, want: spi.WSAEFAULT},
		{name: "zero id", id: &spi.ThreadID{}, apc: func(any) {}, want: spi.WSAEFAULT},
		{name: "exited thread", id: &exitedID, apc: func(any) {}, want: spi.WSAEFAULT},
		{name: "wrong Reserved", id: &spi.ThreadID{ThreadHandle: reused.Handle(), Reserved: exitedID.Reserved}, apc: func(any) {}, want: spi.WSAEFAULT},
		{name: "an event handle", id: &spi.ThreadID{ThreadHandle: e.Handle()}, apc: func(any) {}, want: spi.WSAEFAULT},
		{name: "a thread of another process", id: new(other.ID()), apc: func(any) {}, want: spi.WSAEFAULT},
		{name: "nil APC", id: new(live.ID()), want: spi.WSAEFAULT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.k.WPUQueueApc(tt.id, tt.apc, nil)
			if diff := cmp.Diff(tt.want, err, equateErrors); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err != nil && opOf(err) != "WPUQueueApc" {
				t.Errorf("Op = %q", opOf(err))
			}
		})
	}
	if got := live.Snapshot().QueuedAPCs; got != 1 {
		t.Errorf("live thread has %d APCs, want 1", got)
	}
}

func TestWPUOpenCurrentThreadNeedsAMatchingClose(t *testing.T) {
	p := newProc(t, iocp.Options{})
	th := p.thread()
	id1, err := p.k.WPUOpenCurrentThread(th)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := p.k.WPUOpenCurrentThread(th)
	if err != nil {
		t.Fatal(err)
	}
	if id1 == id2 || id1.ThreadHandle == th.Handle() {
		t.Errorf("ids %v and %v: each open should get its own handle", id1, id2)
	}
	if got := th.Snapshot().OpenIDs; got != 2 {
		t.Errorf("OpenIDs = %d, want 2", got)
	}
	ran := false
	if err := p.k.WPUQueueApc(&id1, func(any) { ran = true }, nil); err != nil {
		t.Fatal(err)
	}
	th.SleepEx(0, true)
	if !ran {
		t.Error("an APC queued through an opened id did not run")
	}

	got := []error{
		p.k.WPUCloseThread(&id1),
		p.k.WPUCloseThread(&id1),                 // closed already
		p.k.WPUCloseThread(new(th.ID())),         // not from WPUOpenCurrentThread
		p.k.WPUCloseThread(nil),                  // nil
		p.k.CloseHandle(th.Handle()),             // the thread's own handle
		p.k.WPUQueueApc(&id1, func(any) {}, nil), // through the closed id
	}
	want := []error{nil, spi.WSAEFAULT, spi.WSAEFAULT, spi.WSAEFAULT, spi.ERROR_INVALID_HANDLE, spi.WSAEFAULT}
	if diff := cmp.Diff(want, got, equateErrors); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	th.Exit()
	if err := p.k.WPUQueueApc(&id2, func(any) {}, nil); err == nil {
		t.Error("an APC to an exited thread was queued")
	}
	if err := p.k.CloseHandle(id2.ThreadHandle); err != nil {
		t.Errorf("closing an opened id after the thread exited: %v", err)
	}
	if got := th.Snapshot().OpenIDs; got != 0 {
		t.Errorf("OpenIDs = %d, want 0", got)
	}
	if got := p.table.Len(); got != 0 {
		t.Errorf("%d handles left in the table, want 0", got)
	}
}

func TestThreadExitDropsAPCsAndClosesItsHandle(t *testing.T) {
	p := newProc(t, iocp.Options{})
	th := p.thread()
	h := th.Handle()
	ran := false
	th.QueueAPC(func(any) { ran = true }, nil)
	th.Exit()
	th.Exit() // a second Exit does nothing
	if ran {
		t.Error("a queued APC ran at exit")
	}
	if diff := cmp.Diff(iocp.ThreadSnapshot{Exited: true}, th.Snapshot()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, ok := p.table.Lookup(h); ok {
		t.Error("the exited thread's handle is still live")
	}
	if diff := cmp.Diff(spi.WSAEFAULT, th.QueueAPC(func(any) {}, nil), equateErrors); diff != "" {
		t.Errorf("QueueAPC after Exit (-want +got):\n%s", diff)
	}
}

func TestThreadMisusePanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newProc(t, iocp.Options{})
		th := p.thread()
		go th.SleepEx(time.Second, false)
		synctest.Wait()
		if msg := panicOf(func() { th.SleepEx(0, false) }); msg != "iocp: Thread used by two goroutines at once" {
			t.Errorf("second goroutine: panic %q", msg)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		th.Exit()
		if msg := panicOf(func() { p.port(0).Get(th, 0) }); msg != "iocp: call on a Thread after its Exit" {
			t.Errorf("after Exit: panic %q", msg)
		}
	})
}

func panicOf(f func()) (msg any) {
	defer func() { msg = recover() }()
	f()
	return nil
}
