package iocp_test

import (
	"sync"
	"testing"
	"time"

	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// slowSink records events in order, and is slow to take a completion: a
// thread that could see the completion before the kernel has reported it
// would record its own event first.
type slowSink struct {
	mu     sync.Mutex
	events []trace.Event
}

func (s *slowSink) record(e trace.Event) {
	if e.Kind == trace.Completion {
		time.Sleep(20 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *slowSink) kinds() []trace.Kind {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ks []trace.Kind
	for _, e := range s.events {
		ks = append(ks, e.Kind)
	}
	return ks
}

// The trace reports a completion before any thread can take it: dequeue
// the packet, wake on the event, run the routine.
func TestTheTraceReportsACompletionBeforeItIsSeen(t *testing.T) {
	taken := trace.Event{Kind: trace.ClientReturn, Func: "taken"} // what the waiting thread records
	setup := func(t *testing.T) (*slowSink, *proc, *iocp.Thread) {
		s := new(slowSink)
		p := newProc(t, iocp.Options{Trace: s.record})
		return s, p, p.thread()
	}
	wait := func(t *testing.T, s *slowSink, done chan struct{}) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the waiting thread never woke")
		}
		if got := s.kinds(); len(got) != 2 || got[0] != trace.Completion {
			t.Errorf("events %v: the completion should come first", got)
		}
	}
	waiting := func(n func() int) {
		for n() == 0 {
			time.Sleep(100 * time.Microsecond)
		}
	}

	t.Run("port", func(t *testing.T) {
		s, p, th := setup(t)
		port, f := p.associated(7)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := port.Get(th, 5*time.Second); err == nil {
				s.record(taken)
			}
		}()
		waiting(func() int { return port.Snapshot().Waiting })
		if err := p.k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: new(spi.Overlapped)}}); err != nil {
			t.Fatal(err)
		}
		wait(t, s, done)
	})
	t.Run("event", func(t *testing.T) {
		s, p, th := setup(t)
		ev := p.event(true, false)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := th.WaitForEvents([]*iocp.Event{ev}, false, 5*time.Second, false); err == nil {
				s.record(taken)
			}
		}()
		waiting(func() int { return ev.Snapshot().Waiting })
		if err := p.k.Complete(iocp.Completion{Request: spi.IORequest{Overlapped: &spi.Overlapped{HEvent: ev.Handle()}}}); err != nil {
			t.Fatal(err)
		}
		wait(t, s, done)
	})
	t.Run("routine", func(t *testing.T) {
		s, p, th := setup(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = th.SleepEx(5*time.Second, true) // records the APC run
		}()
		routine := func(spi.Errno, uint32, *spi.Overlapped, uint32) {}
		if err := p.k.Complete(iocp.Completion{Request: spi.IORequest{Overlapped: new(spi.Overlapped), Routine: routine, Thread: th.ID()}}); err != nil {
			t.Fatal(err)
		}
		wait(t, s, done)
	})
}
