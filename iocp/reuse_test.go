package iocp_test

import (
	"testing"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

// A client may reuse an OVERLAPPED as soon as it dequeues its packet: the
// completion rule must have read everything it needs from it before
// posting. Under -race, a read after the post shows as a data race with
// the client's plain writes.
func TestCompleteDoesNotReadTheOverlappedAfterPosting(t *testing.T) {
	k := iocp.NewKernel(handles.New(handles.Options{}), iocp.Options{})
	port, err := k.NewPort(0)
	if err != nil {
		t.Fatal(err)
	}
	f := k.NewFile(true)
	if err := f.Associate(port, 1); err != nil {
		t.Fatal(err)
	}
	th, err := k.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	ov := new(spi.Overlapped)
	reused := make(chan struct{})
	go func() {
		defer close(reused)
		for range 100 {
			e, err := port.Get(th, spi.Infinite)
			if err != nil {
				t.Error(err)
				return
			}
			*e.Overlapped = spi.Overlapped{} // reused at once, with plain writes
			reused <- struct{}{}
		}
	}()
	for range 100 {
		if err := k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: ov}, Bytes: 1}); err != nil {
			t.Fatal(err)
		}
		<-reused
	}
}

// The simulated ws2_32 opens ids of its APC thread while that thread
// sleeps alertably, from other goroutines; an APC queued through such an
// id runs in the sleep.
func TestWPUOpenCurrentThreadWhileTheThreadWaits(t *testing.T) {
	k := iocp.NewKernel(handles.New(handles.Options{}), iocp.Options{})
	th, err := k.NewThread()
	if err != nil {
		t.Fatal(err)
	}
	slept := make(chan uint32)
	go func() {
		r, _ := th.SleepEx(spi.Infinite, true)
		slept <- r
	}()
	for range 10 {
		id, err := k.WPUOpenCurrentThread(th)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.WPUCloseThread(&id); err != nil {
			t.Fatal(err)
		}
	}
	id, err := k.WPUOpenCurrentThread(th)
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	if err := k.WPUQueueApc(&id, func(any) { ran = true }, nil); err != nil {
		t.Fatal(err)
	}
	if r := <-slept; r != spi.WAIT_IO_COMPLETION || !ran {
		t.Errorf("SleepEx = %d, APC ran %v; want WAIT_IO_COMPLETION and true", r, ran)
	}
	if err := k.WPUCloseThread(&id); err != nil {
		t.Fatal(err)
	}
}
