package wsspi

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

// RegisteredWait is a wait that [Process.RegisterWaitForSingleObject]
// registered: a wait thread of the process's thread pool that calls a
// callback each time the event is signalled or the timeout passes. It is
// safe for concurrent use.
type RegisteredWait struct {
	th       *iocp.Thread
	event    *iocp.Event
	callback func(timedOut bool)
	timeout  time.Duration
	once     bool

	stopped atomic.Bool
	done    chan struct{} // closed when the wait thread has exited
	unreg   sync.Once
}

// RegisterWaitForSingleObject has a wait thread of the process's thread
// pool call callback when the event object is signalled, with timedOut
// false, or when timeout passes first, with timedOut true
// (RegisterWaitForSingleObject; timeout [spi.Infinite] for none). The wait
// goes on after each callback, waiting again, unless flags has
// WT_EXECUTEONLYONCE; an auto-reset event is reset by the wait that sees
// it signalled, so each signal gives one callback. Callbacks run on the
// wait thread, one at a time, as with WT_EXECUTEINWAITTHREAD; with
// WT_EXECUTEDEFAULT Windows hands them to a worker thread of the pool,
// where two callbacks of one wait may overlap, and this simulator runs
// them on the wait thread all the same (a client that copes with overlap
// copes with none). A callback that blocks delays the waits after it. End
// the wait with [RegisteredWait.Unregister].
//
// It fails with ERROR_INVALID_HANDLE if object is not an open event of the
// process, and with ERROR_INVALID_PARAMETER for a nil callback, a negative
// timeout or an unknown flag. Closing the event while the wait is
// registered, which Windows leaves undefined, ends the wait here with no
// further callback. [Process.Close] ends it too.
func (p *Process) RegisterWaitForSingleObject(object spi.Handle, callback func(timedOut bool), timeout time.Duration, flags uint32) (*RegisteredWait, error) {
	const op = "RegisterWaitForSingleObject"
	if callback == nil || timeout < 0 && timeout != spi.Infinite || flags&^(spi.WT_EXECUTEINWAITTHREAD|spi.WT_EXECUTEONLYONCE) != 0 {
		return nil, spi.NewOpError(op, object, spi.ERROR_INVALID_PARAMETER)
	}
	ev, err := p.kernel.Event(object)
	if err != nil {
		return nil, spi.NewOpError(op, object, spi.ERROR_INVALID_HANDLE)
	}
	th, err := p.kernel.NewThread()
	if err != nil {
		return nil, spi.NewOpError(op, object, spi.ErrnoOf(err))
	}
	w := &RegisteredWait{th: th, event: ev, callback: callback, timeout: timeout,
		once: flags&spi.WT_EXECUTEONLYONCE != 0, done: make(chan struct{})}
	go w.run()
	return w, nil
}

// run is the wait thread: wait, call back, and again, until the wait is
// unregistered (an APC wakes the alertable wait) or its event or process
// goes.
func (w *RegisteredWait) run() {
	defer close(w.done)
	defer w.th.Exit()
	events := []*iocp.Event{w.event}
	for !w.stopped.Load() {
		r, err := w.th.WaitForEvents(events, false, w.timeout, true)
		if err != nil || w.stopped.Load() {
			return
		}
		switch r {
		case spi.WSA_WAIT_IO_COMPLETION:
			continue
		case uint32(spi.WSA_WAIT_TIMEOUT):
			w.callback(true)
		default:
			w.callback(false)
		}
		if w.once {
			return
		}
	}
}

// Unregister ends the wait (UnregisterWaitEx): no callback starts after it
// returns. With waitForCallbacks, as UnregisterWaitEx with
// INVALID_HANDLE_VALUE, it first waits for a callback that is running to
// return; a callback must not unregister its own wait so. Without, as
// UnregisterWait, it returns at once. A second call does nothing.
func (w *RegisteredWait) Unregister(waitForCallbacks bool) error {
	w.unreg.Do(func() {
		w.stopped.Store(true)
		_ = w.th.QueueAPC(func(any) {}, nil)
	})
	if waitForCallbacks {
		<-w.done
	}
	return nil
}
