package iocp_test

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
	"pgregory.net/rapid"
)

// routineCall is one run of a completion routine.
type routineCall struct {
	Err        spi.Errno
	Bytes      uint32
	Overlapped *spi.Overlapped
	Flags      uint32
}

// outcome is everything a completion can be observed to do.
type outcome struct {
	Err          error
	Internal     uintptr
	InternalHigh uintptr
	Packet       *spi.OverlappedEntry // what the port got, if anything
	EventSet     bool                 // the event HEvent names
	FileEventSet bool                 // the file object's own event
	Routine      *routineCall         // the routine, run in the issuer's alertable wait
}

// completionCase is one combination of the completion rule's inputs.
type completionCase struct {
	NoFile     bool // Completion.File is nil
	Overlapped bool
	Port       bool
	SkipPort   bool // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
	SkipEvent  bool // FILE_SKIP_SET_EVENT_ON_HANDLE
	Event      int  // 0: HEvent names no event, 1: a live event, 2: a closed one
	LowBit     bool
	Routine    bool
	DeadThread bool // the routine's issuing thread has exited
	Status     spi.Errno
	Bytes      uint32
	Flags      uint32
	Immediate  bool
}

// run sets the case up in a fresh process, completes one I/O and observes
// the outcome.
func (c completionCase) run(t rapid.TB) (outcome, *spi.Overlapped) {
	p := newProc(t, iocp.Options{})
	issuer := p.thread()
	port := p.port(0)
	var f *iocp.File
	if !c.NoFile {
		f = p.k.NewFile(c.Overlapped)
		if c.Port {
			if err := f.Associate(port, 0x5EED); err != nil {
				t.Fatal(err)
			}
		}
		var modes uint8
		if c.SkipPort {
			modes |= spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
		}
		if c.SkipEvent {
			modes |= spi.FILE_SKIP_SET_EVENT_ON_HANDLE
		}
		if err := f.SetCompletionNotificationModes(modes); err != nil {
			t.Fatal(err)
		}
	}
	ev := p.event(true, false)
	ov := &spi.Overlapped{}
	ov.SetInProgress()
	switch c.Event {
	case 1:
		ov.HEvent = ev.Handle()
	case 2:
		dead := p.event(true, false)
		ov.HEvent = dead.Handle()
		dead.Close()
	}
	if c.LowBit {
		ov.HEvent |= 1
	}
	var got outcome
	req := spi.IORequest{Overlapped: ov, Thread: issuer.ID()}
	if c.Routine {
		req.Routine = func(err spi.Errno, n uint32, ov *spi.Overlapped, flags uint32) {
			got.Routine = &routineCall{err, n, ov, flags}
		}
	}
	if c.DeadThread {
		issuer.Exit()
	}

	got.Err = p.k.Complete(iocp.Completion{File: f, Request: req, Status: c.Status, Bytes: c.Bytes, Flags: c.Flags, Immediate: c.Immediate})

	got.Internal, got.InternalHigh = ov.LoadInternal(), ov.LoadInternalHigh()
	if e, err := port.Get(p.thread(), 0); e.Overlapped != nil {
		got.Packet = &e
	} else if !cmp.Equal(err, spi.WAIT_TIMEOUT, equateErrors) {
		t.Fatalf("Get: %v", err)
	}
	if n := port.Snapshot().Posted; n > 1 {
		t.Errorf("%d packets posted for one completion", n)
	}
	got.EventSet = ev.Snapshot().Signaled
	if f != nil {
		got.FileEventSet = f.Event().Snapshot().Signaled
		if f.Snapshot().Signaled != got.FileEventSet {
			t.Errorf("the file's snapshot and its Event disagree on the file event")
		}
	}
	if !c.DeadThread {
		issuer.SleepEx(0, true)
	}
	return got, ov
}

// want states the completion rule for c, independently of the code.
func (c completionCase) want(ov *spi.Overlapped) outcome {
	status := uintptr(spi.WinsockErrorToNtStatus(c.Status)) // Internal holds the NTSTATUS
	w := outcome{Internal: status, InternalHigh: uintptr(c.Bytes)}
	hasFile := !c.NoFile
	if c.Routine {
		if c.DeadThread {
			w.Err = spi.WSAEFAULT
		} else {
			w.Routine = &routineCall{c.Status, c.Bytes, ov, c.Flags}
		}
		w.FileEventSet = hasFile && !c.SkipEvent
		return w
	}
	// STATUS_BUFFER_OVERFLOW (WSAEMSGSIZE) is a warning:
	// returned at once, it is handled inline like a success.
	warning := c.Status == spi.WSAEMSGSIZE // ERROR_MORE_DATA from a provider is no status of its own: an NTWIN32 error
	skippedOnSuccess := c.SkipPort && c.Immediate && (c.Status == 0 || warning)
	if hasFile && c.Port && !c.LowBit && !skippedOnSuccess {
		w.Packet = &spi.OverlappedEntry{CompletionKey: 0x5EED, Overlapped: ov, Internal: status, NumberOfBytesTransferred: c.Bytes}
	}
	switch c.Event {
	case 0:
		w.FileEventSet = hasFile && !c.SkipEvent
	case 1:
		w.EventSet = true
	case 2:
		w.Err = spi.WSA_INVALID_HANDLE
	}
	return w
}

func TestCompletionRule(t *testing.T) {
	tests := []struct {
		name string
		c    completionCase
	}{
		{"port: a packet with the key", completionCase{Overlapped: true, Port: true, Bytes: 10}},
		{"port: a failed I/O posts its status", completionCase{Overlapped: true, Port: true, Status: spi.WSAECONNRESET}},
		{"port and event: both", completionCase{Overlapped: true, Port: true, Event: 1, Bytes: 1}},
		{"port and event with the low bit: event only", completionCase{Overlapped: true, Port: true, Event: 1, LowBit: true}},
		{"low bit alone: no packet, the file's event", completionCase{Overlapped: true, Port: true, LowBit: true}},
		{"no port, event", completionCase{Overlapped: true, Event: 1}},
		{"no port, no event: the file's event", completionCase{Overlapped: true}},
		{"skip set event: the file's event stays", completionCase{Overlapped: true, SkipEvent: true}},
		{"skip set event: HEvent is still set", completionCase{Overlapped: true, SkipEvent: true, Event: 1}},
		{"skip on success, immediate success: no packet", completionCase{Overlapped: true, Port: true, SkipPort: true, Immediate: true}},
		{"skip on success, pending success: a packet", completionCase{Overlapped: true, Port: true, SkipPort: true}},
		{"skip on success, immediate failure: a packet", completionCase{Overlapped: true, Port: true, SkipPort: true, Immediate: true, Status: spi.WSAEWOULDBLOCK}},
		{"skip on success, immediate truncation (a warning): no packet", completionCase{Overlapped: true, Port: true, SkipPort: true, Immediate: true, Status: spi.WSAEMSGSIZE, Bytes: 4}},
		{"skip on success, pending truncation: a packet", completionCase{Overlapped: true, Port: true, SkipPort: true, Status: spi.WSAEMSGSIZE, Bytes: 4}},
		{"routine: an APC to the issuer, nothing else", completionCase{Overlapped: true, Port: true, Event: 1, Routine: true, Bytes: 4, Flags: spi.MSG_PARTIAL, Status: spi.WSAEMSGSIZE}},
		{"routine, issuer exited", completionCase{Overlapped: true, Routine: true, DeadThread: true}},
		{"closed HEvent: the packet all the same", completionCase{Overlapped: true, Port: true, Event: 2}},
		{"no File: the event only", completionCase{NoFile: true, Event: 1}},
		{"non-overlapped handle", completionCase{Event: 1, Bytes: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ov := tt.c.run(t)
			if diff := cmp.Diff(tt.c.want(ov), got, equateErrors); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompletionRuleAllCombinations(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var c completionCase
		c.NoFile = rapid.Bool().Draw(rt, "noFile")
		if !c.NoFile {
			c.Overlapped = rapid.Bool().Draw(rt, "overlapped")
			c.SkipEvent = rapid.Bool().Draw(rt, "skipEvent")
			if c.Overlapped { // the only handles that take a port and skip-on-success
				c.Port = rapid.Bool().Draw(rt, "port")
				c.SkipPort = rapid.Bool().Draw(rt, "skipPort")
			}
		}
		c.Event = rapid.IntRange(0, 2).Draw(rt, "event")
		c.LowBit = rapid.Bool().Draw(rt, "lowBit")
		c.Routine = rapid.Bool().Draw(rt, "routine")
		if c.Routine {
			c.DeadThread = rapid.Bool().Draw(rt, "deadThread")
		}
		c.Status = rapid.SampledFrom([]spi.Errno{0, spi.WSAECONNRESET, spi.WSA_OPERATION_ABORTED, spi.WSAEMSGSIZE, spi.ERROR_MORE_DATA}).Draw(rt, "status")
		c.Bytes = rapid.Uint32().Draw(rt, "bytes")
		c.Flags = rapid.Uint32().Draw(rt, "flags")
		c.Immediate = rapid.Bool().Draw(rt, "immediate")
		got, ov := c.run(rt)
		if diff := cmp.Diff(c.want(ov), got, equateErrors); diff != "" {
			rt.Fatalf("(-want +got):\n%s", diff)
		}
	})
}

func TestCompleteWithoutAnOverlappedDoesNothing(t *testing.T) {
	p := newProc(t, iocp.Options{})
	port := p.port(0)
	f := p.k.NewFile(true)
	f.Associate(port, 1)
	err := p.k.Complete(iocp.Completion{File: f})
	if diff := cmp.Diff(spi.WSAEFAULT, err, equateErrors); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := port.Snapshot().Posted; got != 0 || f.Snapshot().Signaled {
		t.Errorf("posted %d packets, file event %v; want nothing", got, f.Snapshot().Signaled)
	}
}

func TestCompletionToAClosedPortIsDropped(t *testing.T) {
	p := newProc(t, iocp.Options{})
	port := p.port(0)
	f := p.k.NewFile(true)
	f.Associate(port, 1)
	port.Close()
	ev := p.event(true, false)
	ov := &spi.Overlapped{HEvent: ev.Handle()}
	if err := p.k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: ov}}); err != nil {
		t.Fatal(err)
	}
	if !ev.Snapshot().Signaled {
		t.Error("the event was not set")
	}
	if s := port.Snapshot(); s.Posted != 0 || s.Queued != 0 {
		t.Errorf("a closed port took a packet: %+v", s)
	}
}

// A client polling Internal must see the byte count once Internal says the
// operation is done.
func TestCompleteWritesInternalHighBeforeInternal(t *testing.T) {
	p := newProc(t, iocp.Options{})
	for i := range 200 {
		ov := &spi.Overlapped{}
		ov.SetInProgress()
		var wg sync.WaitGroup
		wg.Go(func() {
			for ov.InProgress() {
			}
			if got := ov.LoadInternalHigh(); got != uintptr(i+1) {
				t.Errorf("InternalHigh = %d when Internal changed, want %d", got, i+1)
			}
		})
		p.k.Complete(iocp.Completion{Request: spi.IORequest{Overlapped: ov}, Bytes: uint32(i + 1)})
		wg.Wait()
	}
}
