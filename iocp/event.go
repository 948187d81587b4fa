package iocp

import (
	"sync/atomic"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// Event is an event object (WSAEVENT): manual-reset, which stays signalled
// until reset and releases every waiter, or auto-reset, which releases one
// waiter and resets itself. Make one with [Kernel.NewEvent] or
// [Kernel.CreateEvent]; it has a handle of kind KindEvent, the value an
// Overlapped's HEvent names.
//
// An Event is safe for concurrent use.
type Event struct {
	k      *Kernel
	handle spi.Handle // 0 for a file object's own event, which has none
	manual bool

	// The fields below are written under k.dispatch. signaled and closed
	// are atomic so that set can skip the lock for a manual-reset event
	// already signalled (see set).
	signaled atomic.Bool
	closed   atomic.Bool
	waiters  []*eventWaiter // threads parked on the event, oldest first
}

// eventWaiter is a thread parked in WaitForEvents. A thread that signals
// one of its events acquires them for it, sets state and index under the
// dispatcher lock, and wakes the owner.
type eventWaiter struct {
	th     *Thread
	events []*Event
	all    bool
	state  waitState
	index  int // the event that satisfied a wait-any
}

// EventSnapshot is the observable state of an [Event].
// It is a copy, taken under the object's lock.
type EventSnapshot struct {
	Handle      spi.Handle
	ManualReset bool
	Signaled    bool
	Closed      bool
	Waiting     int // threads parked on the event
}

// Handle returns the event's handle; 0 for the event of a [File].
func (e *Event) Handle() spi.Handle { return e.handle }

// Snapshot returns the event's observable state.
func (e *Event) Snapshot() EventSnapshot {
	e.k.dispatch.Lock()
	defer e.k.dispatch.Unlock()
	return EventSnapshot{
		Handle:      e.handle,
		ManualReset: e.manual,
		Signaled:    e.signaled.Load(),
		Closed:      e.closed.Load(),
		Waiting:     len(e.waiters),
	}
}

// Set signals the event, as SetEvent, WSASetEvent and WPUSetEvent do,
// releasing the waiters it satisfies: all of them for a manual-reset
// event, the oldest one for an auto-reset event, which is then reset again.
// It fails with ERROR_INVALID_HANDLE once the event is closed.
func (e *Event) Set() error {
	if !e.set() {
		return spi.NewOpError("SetEvent", e.handle, spi.ERROR_INVALID_HANDLE)
	}
	return nil
}

// set signals e and reports false if it is closed.
func (e *Event) set() bool {
	// Setting a manual-reset event that is signalled already changes
	// nothing: every waiter its being signalled can release was tried
	// when it became so, and only Reset, under the lock, clears it. Most
	// sets are of a file object's own event, manual-reset and reset by
	// nothing, so this spares nearly every completion the kernel-wide
	// dispatcher lock. Not so for an auto-reset event: the locked path
	// below signals it and a waiter takes it back within one critical
	// section, and a set that saw it signalled in between, without the
	// lock, would be lost.
	if e.manual && e.signaled.Load() && !e.closed.Load() {
		return true
	}
	e.k.dispatch.Lock()
	defer e.k.dispatch.Unlock()
	if e.closed.Load() {
		return false
	}
	e.signaled.Store(true)
	for i := 0; i < len(e.waiters) && e.signaled.Load(); {
		if !e.waiters[i].trySatisfyLocked() {
			i++
		} // else the waiter left e.waiters, and i names the next one
	}
	return true
}

// Reset makes the event non-signalled, as ResetEvent, WSAResetEvent and
// WPUResetEvent do. It fails with ERROR_INVALID_HANDLE once the event is
// closed.
func (e *Event) Reset() error {
	e.k.dispatch.Lock()
	defer e.k.dispatch.Unlock()
	if e.closed.Load() {
		return spi.NewOpError("ResetEvent", e.handle, spi.ERROR_INVALID_HANDLE)
	}
	e.signaled.Store(false)
	return nil
}

// Close closes the event and its handle, as CloseHandle, WSACloseEvent and
// WPUCloseEvent do. Later calls fail with ERROR_INVALID_HANDLE. Threads
// already waiting on it keep waiting, as on Windows, where a wait holds a
// reference to the object: nothing can signal it any more, so only their
// timeout ends the wait. Close fails with ERROR_INVALID_HANDLE if the event
// is already closed or is the event of a [File].
func (e *Event) Close() error {
	e.k.dispatch.Lock()
	if e.closed.Load() || e.handle == 0 {
		e.k.dispatch.Unlock()
		return spi.NewOpError("CloseHandle", e.handle, spi.ERROR_INVALID_HANDLE)
	}
	e.closed.Store(true)
	e.k.dispatch.Unlock()
	e.k.table.Close(e.handle) // only the Close that set closed gets here
	return nil
}

// WaitForEvents waits until one event (waitAll false) or all of them
// (waitAll true) are signalled, as WSAWaitForMultipleEvents and
// WaitForMultipleObjects do, for up to timeout. It returns:
//
//   - WSA_WAIT_EVENT_0+i: for wait-any, events[i] is signalled (the lowest
//     such index when several already are); for wait-all, every event is.
//     Auto-reset events the wait acquires are reset.
//   - WSA_WAIT_TIMEOUT (258): the timeout passed.
//   - WSA_WAIT_IO_COMPLETION: the wait was alertable and APCs ran.
//   - WSA_WAIT_FAILED with an error: WSA_INVALID_PARAMETER for no events,
//     more than WSA_MAXIMUM_WAIT_EVENTS, a duplicate in a wait-all, or a
//     negative timeout; WSA_INVALID_HANDLE for a nil or closed event.
//
// Errors are [*spi.OpError] values with Op "WSAWaitForMultipleEvents".
// Events must belong to the thread's kernel; others make it panic. A thread
// that blocks here stops counting as running on its port until the wait
// ends.
func (th *Thread) WaitForEvents(events []*Event, waitAll bool, timeout time.Duration, alertable bool) (uint32, error) {
	const op = "WSAWaitForMultipleEvents"
	if len(events) == 0 || len(events) > spi.WSA_MAXIMUM_WAIT_EVENTS {
		return spi.WSA_WAIT_FAILED, spi.NewOpError(op, 0, spi.WSA_INVALID_PARAMETER)
	}
	for i, e := range events {
		if e == nil {
			return spi.WSA_WAIT_FAILED, spi.NewOpError(op, 0, spi.WSA_INVALID_HANDLE)
		}
		if e.k != th.k {
			panic("iocp: WaitForEvents with an event of another Kernel")
		}
		if waitAll {
			for _, d := range events[:i] {
				if d == e {
					return spi.WSA_WAIT_FAILED, spi.NewOpError(op, e.handle, spi.WSA_INVALID_PARAMETER)
				}
			}
		}
	}
	if e := timeoutError(timeout); e != 0 {
		return spi.WSA_WAIT_FAILED, spi.NewOpError(op, 0, e)
	}
	th.enter()
	r, bad := th.waitEvents(events, waitAll, timeout, alertable)
	th.leave()
	if r == waitKilled {
		return spi.WSA_WAIT_FAILED, errTerminated(op, 0)
	}
	if r == spi.WSA_WAIT_IO_COMPLETION {
		th.runAPCs()
	}
	if bad != nil {
		return spi.WSA_WAIT_FAILED, spi.NewOpError(op, bad.handle, spi.WSA_INVALID_HANDLE)
	}
	return r, nil
}

// waitEvents is WaitForEvents on a thread inside a call; a closed event
// comes back as bad.
func (th *Thread) waitEvents(events []*Event, all bool, timeout time.Duration, alertable bool) (r uint32, bad *Event) {
	if th.isKilled() {
		return waitKilled, nil
	}
	pending := false
	if alertable {
		if pending = th.armAlert(); !pending {
			defer th.disarmAlert()
		}
	}
	d := &th.k.dispatch
	d.Lock()
	for _, e := range events {
		if e.closed.Load() {
			d.Unlock()
			return spi.WSA_WAIT_FAILED, e
		}
	}
	if i, ok := acquireLocked(events, all); ok {
		d.Unlock()
		return spi.WSA_WAIT_EVENT_0 + uint32(i), nil
	}
	switch {
	case pending:
		d.Unlock()
		return spi.WSA_WAIT_IO_COMPLETION, nil
	case timeout == 0:
		d.Unlock()
		return uint32(spi.WSA_WAIT_TIMEOUT), nil
	}
	w := &th.ew
	w.events, w.all, w.state = events, all, waiting
	for _, e := range events {
		e.waiters = append(e.waiters, w)
	}
	d.Unlock()

	suspended := th.suspend()
	c, t := startTimer(timeout)
	for {
		woke := th.park(c)
		d.Lock()
		switch {
		case w.state == satisfied:
			r = spi.WSA_WAIT_EVENT_0 + uint32(w.index)
		case !woke:
			w.leaveLocked()
			r = uint32(spi.WSA_WAIT_TIMEOUT)
		case th.isKilled():
			w.leaveLocked()
			r = waitKilled
		case alertable && th.apcPending():
			w.leaveLocked()
			r = spi.WSA_WAIT_IO_COMPLETION
		default: // a token with nothing behind it
			d.Unlock()
			continue
		}
		d.Unlock()
		break
	}
	stopTimer(t)
	w.events = nil
	if suspended {
		th.resume()
	}
	return r, nil
}

// trySatisfyLocked acquires w's events if its wait is satisfied, and then
// takes w off every event's list and wakes its thread.
func (w *eventWaiter) trySatisfyLocked() bool {
	i, ok := acquireLocked(w.events, w.all)
	if !ok {
		return false
	}
	w.index, w.state = i, satisfied
	w.leaveLocked()
	w.th.signal()
	return true
}

// leaveLocked takes w off the waiter lists of its events.
func (w *eventWaiter) leaveLocked() {
	for _, e := range w.events {
		ws := e.waiters[:0]
		for _, x := range e.waiters {
			if x != w {
				ws = append(ws, x)
			}
		}
		clear(e.waiters[len(ws):])
		e.waiters = ws
	}
}

// acquireLocked reports whether a wait on events is satisfied (the lowest
// signalled index for wait-any, 0 for wait-all) and resets the auto-reset
// events the wait takes.
func acquireLocked(events []*Event, all bool) (int, bool) {
	if all {
		for _, e := range events {
			if !e.signaled.Load() {
				return 0, false
			}
		}
		for _, e := range events {
			e.signaled.Store(e.manual)
		}
		return 0, true
	}
	for i, e := range events {
		if e.signaled.Load() {
			e.signaled.Store(e.manual)
			return i, true
		}
	}
	return 0, false
}
