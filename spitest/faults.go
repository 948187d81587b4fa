package spitest

import (
	"sync"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

// Faults injects the failures Windows allows into a simulated machine, as a
// test chooses them: handle allocations that fail with WSAENOBUFS (what a
// full handle table gives WPUCreateSocketHandle), a WSPStartup of the base
// provider that fails, and transfers on the base provider's stream sockets
// that fail at once, come back short, or find the connection reset. It
// implements [loopback.Faults]; give it to a machine with
//
//	f := new(spitest.Faults)
//	m := wsspi.NewMachineWith(wsspi.MachineOptions{
//		Faults:  f,
//		Handles: handles.Options{FailAlloc: f.FailAlloc},
//	})
//
// and arm faults at any moment; each armed fault fires once. The zero value
// injects nothing. A Faults is safe for concurrent use.
type Faults struct {
	mu       sync.Mutex // guards the fields below
	allocs   []int      // countdowns: the allocation at which each armed alloc fault fires
	startups []error    // errors for the next WSPStartup calls of the base provider
	xfers    []xferFault
	fired    []string // what fired, in order, for reports
}

// xferFault is an armed transfer fault: the countdown of matching
// transfers before it fires, and what it does.
type xferFault struct {
	on    spi.Socket
	after int
	kind  TransferKind
	fault loopback.Fault
}

// TransferKind selects which transfers a transfer fault applies to.
type TransferKind uint8

// Transfer kinds.
const (
	// AnyTransfer is a send or a receive.
	AnyTransfer TransferKind = iota
	// SendTransfer is a send (WSPSend or WriteFile).
	SendTransfer
	// RecvTransfer is a receive (WSPRecv or ReadFile).
	RecvTransfer
)

// FailAllocAfter arms a fault: the handle allocation after the next skip
// ones (0: the next one) fails with WSAENOBUFS. Handle allocations are
// WPUCreateSocketHandle and every object insert (a base provider's socket,
// an event, a port, a thread).
func (f *Faults) FailAllocAfter(skip int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.allocs = append(f.allocs, skip)
}

// FailAlloc is the [handles.Options] FailAlloc hook: it reports whether
// the allocation now being made fails, counting down every armed alloc
// fault.
func (f *Faults) FailAlloc(uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := false
	kept := f.allocs[:0]
	for _, n := range f.allocs {
		if n == 0 {
			if !fail {
				fail = true
				f.fired = append(f.fired, "handle allocation fails with WSAENOBUFS")
				continue
			}
			kept = append(kept, 0)
			continue
		}
		kept = append(kept, n-1)
	}
	f.allocs = kept
	return fail
}

// FailStartup arms a fault: the next WSPStartup of the base provider fails
// with err (WSASYSNOTREADY when err is 0).
func (f *Faults) FailStartup(err spi.Errno) {
	if err == 0 {
		err = spi.WSASYSNOTREADY
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.startups = append(f.startups, err)
}

// StartupFault implements [loopback.Faults].
func (f *Faults) StartupFault() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.startups) == 0 {
		return nil
	}
	err := f.startups[0]
	f.startups = f.startups[1:]
	f.fired = append(f.fired, "WSPStartup of the base provider fails with "+err.Error())
	return err
}

// The transfer faults below apply to the transfers of kind on the base
// provider's socket on (any of its sockets when on is 0): the one after
// the next skip matching ones.

// FailTransfer arms a fault: the transfer fails at once with err, nothing
// started and nothing notified.
func (f *Faults) FailTransfer(on spi.Socket, kind TransferKind, skip int, err spi.Errno) {
	f.arm(on, kind, skip, loopback.Fault{Fail: err})
}

// ResetTransfer arms a fault: the connection is reset as the transfer
// starts.
func (f *Faults) ResetTransfer(on spi.Socket, kind TransferKind, skip int) {
	f.arm(on, kind, skip, loopback.Fault{Reset: true})
}

// ShortTransfer arms a fault: the transfer moves at most n bytes (n > 0).
func (f *Faults) ShortTransfer(on spi.Socket, kind TransferKind, skip, n int) {
	f.arm(on, kind, skip, loopback.Fault{Short: max(n, 1)})
}

func (f *Faults) arm(on spi.Socket, kind TransferKind, skip int, fault loopback.Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.xfers = append(f.xfers, xferFault{on: on, after: skip, kind: kind, fault: fault})
}

// TransferFault implements [loopback.Faults]: the first armed fault that
// matches the transfer and whose countdown ran out fires; every matching
// armed fault counts the transfer.
func (f *Faults) TransferFault(s spi.Socket, send bool, size int) loopback.Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out loopback.Fault
	fired := false
	kept := f.xfers[:0]
	for _, x := range f.xfers {
		match := (x.on == 0 || x.on == s) && (x.kind == AnyTransfer || (x.kind == SendTransfer) == send)
		switch {
		case !match:
			kept = append(kept, x)
		case x.after > 0:
			x.after--
			kept = append(kept, x)
		case fired:
			kept = append(kept, x)
		default:
			fired, out = true, x.fault
			f.fired = append(f.fired, describeFault(s, send, size, x.fault))
		}
	}
	f.xfers = kept
	return out
}

// disarm drops the armed transfer faults of socket on, whose handle value
// is about to be closed and may be reused.
func (f *Faults) disarm(on spi.Socket) {
	f.mu.Lock()
	defer f.mu.Unlock()
	kept := f.xfers[:0]
	for _, x := range f.xfers {
		if x.on != on {
			kept = append(kept, x)
		}
	}
	f.xfers = kept
}

// Fired returns what the armed faults did, in the order they fired.
func (f *Faults) Fired() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.fired...)
}

func describeFault(s spi.Socket, send bool, size int, x loopback.Fault) string {
	op := "receive"
	if send {
		op = "send"
	}
	what := ""
	switch {
	case x.Fail != 0:
		what = "fails at once with " + x.Fail.Error()
	case x.Reset:
		what = "finds its connection reset"
	default:
		what = "is cut short to " + itoa(x.Short) + " bytes"
	}
	return "base " + op + " of " + itoa(size) + " bytes on " + s.String() + " " + what
}
