package iocp

import (
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// Terminate ends the kernel's process, as process exit does, and is what
// [Kernel] does when its process closes. Windows ends the threads of an
// exiting process where they stand and closes every handle; a simulated
// thread is a goroutine that must return, so:
//
//   - every port closes: threads parked on one wake with
//     ERROR_ABANDONED_WAIT_0, as for any port closed during a wait, and its
//     queued packets are dropped;
//   - every event closes, and a thread parked in WSAWaitForMultipleEvents
//     wakes with WSA_WAIT_FAILED and ERROR_PROCESS_ABORTED; an alertable or
//     plain SleepEx returns ERROR_PROCESS_ABORTED too, without running APCs;
//   - every other handle of the table closes (thread handles, and whatever
//     file or socket handles the process's providers left open);
//   - from then on every wait, and every call that would create an object,
//     fails at once with ERROR_PROCESS_ABORTED ("the process terminated
//     unexpectedly"), the simulator's choice of code for "this process has
//     exited"; [Thread.Exit] still works.
//
// Terminate is idempotent and safe for concurrent use; it does not wait
// for woken threads to return.
func (k *Kernel) Terminate() {
	if !k.dead.CompareAndSwap(false, true) {
		return
	}
	live := k.table.AppendLive(nil)
	// Ports first, so that a thread parked on one reports the port's end.
	for _, e := range live {
		if p, ok := e.Object.(*Port); ok && e.Kind == handles.KindPort && p.k == k {
			_ = p.Close()
		}
	}
	for _, e := range live {
		switch o := e.Object.(type) {
		case *Port:
			continue
		case *Event:
			if e.Kind == handles.KindEvent && o.k == k {
				_ = o.Close()
				continue
			}
		case *Thread:
			if e.Kind == handles.KindThread && o.k == k {
				o.kill(e.Handle)
				continue
			}
		}
		_ = k.table.Close(e.Handle)
	}
}

// Terminated reports whether [Kernel.Terminate] has run.
func (k *Kernel) Terminated() bool { return k.dead.Load() }

// errTerminated is the error of a call on a terminated kernel.
func errTerminated(op string, h spi.Handle) error {
	return spi.NewOpError(op, h, spi.ERROR_PROCESS_ABORTED)
}

// kill ends the thread's waits for Terminate: it marks the thread killed,
// discards its APCs, wakes it, and closes h if h is still one of its
// handles (its own, or one WPUOpenCurrentThread opened); a value the thread
// closed meanwhile is left alone, since it may name another object now.
func (th *Thread) kill(h spi.Handle) {
	th.mu.Lock()
	th.killed.Store(true)
	clear(th.apcs)
	th.apcs, th.apcHead = nil, 0
	_, opened := th.opened[h]
	delete(th.opened, h)
	own := h == th.handle && !th.handleClosed
	th.handleClosed = th.handleClosed || own
	th.mu.Unlock()
	threadsByID.Delete(th.id)
	if opened || own {
		_ = th.k.table.Close(h)
	}
	th.signal()
}

// isKilled reports whether Terminate has killed the thread.
func (th *Thread) isKilled() bool { return th.killed.Load() }
