package iocp

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// Thread is a simulated thread: the caller of every wait, the owner of an
// APC queue, and a member of at most one completion port's pool. Make one
// with [Kernel.NewThread]; it has a handle of kind KindThread in the handle
// table, and [Thread.ID] is the WSATHREADID a provider keeps to queue APCs
// to it.
//
// A Thread is played by one goroutine at a time: its waits and
// [Thread.Exit] must not run concurrently, and doing so panics, as does any
// call after Exit. [Thread.QueueAPC], [Thread.Handle], [Thread.ID],
// [Thread.Snapshot] and [Kernel.WPUOpenCurrentThread] are safe from any
// goroutine.
type Thread struct {
	k      *Kernel
	id     uint64     // unique in the program, never reused: ThreadID.Reserved
	handle spi.Handle // the thread's own handle, closed by Exit

	// wake carries one token to the parked thread: a port handed it packets
	// or was closed, an event satisfied its wait, or an APC arrived during an
	// alertable wait. Each sender records what happened under the lock of
	// the object it speaks for before sending, so the woken thread rechecks
	// that state and treats a token with nothing behind it as spurious.
	wake chan struct{}

	inCall atomic.Bool // a goroutine is inside one of the thread's calls
	exited atomic.Bool // set by Exit while holding mu
	killed atomic.Bool // set by Kernel.Terminate while holding mu: every wait ends

	// The fields below belong to the goroutine playing the thread; no lock.
	port    *Port                               // the port the thread is associated with, or nil
	running bool                                // the thread is counted in port.running
	pw      portWaiter                          // this thread's record in a port's waiter stack
	ew      eventWaiter                         // this thread's record in events' waiter lists
	one     [1]spi.OverlappedEntry              // GetQueuedCompletionStatus's destination
	evs     [spi.WSA_MAXIMUM_WAIT_EVENTS]*Event // WSAWaitForMultipleEvents's resolved handles

	mu           sync.Mutex              // guards the fields below
	apcs         []apc                   // queued APCs; apcs[apcHead:] are still to run
	apcHead      int                     // index of the next APC to run
	alertable    bool                    // parked in an alertable wait: QueueAPC wakes it
	opened       map[spi.Handle]struct{} // WPUOpenCurrentThread handles not yet closed
	handleClosed bool                    // the thread's own handle is closed (by Exit or Terminate)
}

// apc is one queued asynchronous procedure call.
type apc struct {
	fn  spi.UserAPC
	ctx any
}

// ThreadSnapshot is the observable state of a [Thread].
// It is a copy, taken under the object's lock.
type ThreadSnapshot struct {
	// Handle is the thread's own handle; 0 after Exit.
	Handle spi.Handle
	// Exited is set by [Thread.Exit].
	Exited bool
	// QueuedAPCs counts APCs waiting for an alertable wait.
	QueuedAPCs int
	// OpenIDs counts the handles from [Kernel.WPUOpenCurrentThread] not yet
	// closed with [Kernel.WPUCloseThread].
	OpenIDs int
}

// Handle returns the thread's own handle (the value GetCurrentThread would
// duplicate), valid until [Thread.Exit].
func (th *Thread) Handle() spi.Handle { return th.handle }

// ID returns the WSATHREADID of the thread, the value a provider stores to
// queue the completion routine of an operation to its issuer with
// WPUQueueApc. ThreadHandle is the thread's own handle; Reserved holds a
// number no other thread ever gets, so an id outliving its thread is refused
// even after the handle value is reused.
func (th *Thread) ID() spi.ThreadID {
	return spi.ThreadID{ThreadHandle: th.handle, Reserved: uintptr(th.id)}
}

// Snapshot returns the thread's observable state.
func (th *Thread) Snapshot() ThreadSnapshot {
	th.mu.Lock()
	defer th.mu.Unlock()
	s := ThreadSnapshot{
		Exited:     th.exited.Load(),
		QueuedAPCs: len(th.apcs) - th.apcHead,
		OpenIDs:    len(th.opened),
	}
	if !s.Exited {
		s.Handle = th.handle
	}
	return s
}

// QueueAPC queues fn(ctx) to the thread, as QueueUserAPC and WPUQueueApc
// do. It runs on the thread's goroutine during its next alertable wait
// ([Thread.SleepEx], [Thread.WaitForEvents] or [Port.GetMany] with
// alertable set), which then returns WAIT_IO_COMPLETION; non-alertable waits
// never run it. QueueAPC fails with WSAEFAULT if the thread has exited or fn
// is nil.
func (th *Thread) QueueAPC(fn spi.UserAPC, ctx any) error {
	if fn == nil {
		return spi.NewOpError("WPUQueueApc", th.handle, spi.WSAEFAULT)
	}
	th.mu.Lock()
	if th.exited.Load() {
		th.mu.Unlock()
		return spi.NewOpError("WPUQueueApc", th.handle, spi.WSAEFAULT)
	}
	th.apcs = append(th.apcs, apc{fn, ctx})
	wake := th.alertable
	th.mu.Unlock()
	if wake {
		th.signal()
	}
	return nil
}

// SleepEx models SleepEx: it waits for d. An alertable sleep returns
// WAIT_IO_COMPLETION as soon as APCs are queued, after running them on the
// calling goroutine (at once, if some were already queued); otherwise it
// returns 0 when d has passed. A negative d fails with
// ERROR_INVALID_PARAMETER. A thread that sleeps stops counting as running
// on its port for the duration.
func (th *Thread) SleepEx(d time.Duration, alertable bool) (uint32, error) {
	if e := timeoutError(d); e != 0 {
		return 0, spi.NewOpError("SleepEx", 0, e)
	}
	th.enter()
	r := th.sleep(d, alertable)
	th.leave()
	if r == waitKilled {
		return 0, errTerminated("SleepEx", 0)
	}
	if r == spi.WAIT_IO_COMPLETION {
		th.runAPCs()
	}
	return r, nil
}

// waitKilled is what a wait of a killed thread returns inside the package
// (not a value Windows returns).
const waitKilled = ^uint32(0)

func (th *Thread) sleep(d time.Duration, alertable bool) uint32 {
	if th.isKilled() {
		return waitKilled
	}
	if alertable {
		if th.armAlert() {
			return spi.WAIT_IO_COMPLETION
		}
		defer th.disarmAlert()
	}
	if d == 0 {
		return 0
	}
	suspended := th.suspend()
	c, t := startTimer(d)
	r := uint32(0)
	for th.park(c) {
		if th.isKilled() {
			r = waitKilled
			break
		}
		if alertable && th.apcPending() {
			r = spi.WAIT_IO_COMPLETION
			break
		}
	}
	stopTimer(t)
	if suspended {
		th.resume()
	}
	return r
}

// Exit ends the thread, as ExitThread does: it leaves its port's pool,
// discards the APCs still queued, and closes its own handle, so WPUQueueApc
// with its [Thread.ID] fails with WSAEFAULT from then on. Handles from
// [Kernel.WPUOpenCurrentThread] stay open until [Kernel.WPUCloseThread].
// Exit on an exited thread does nothing.
func (th *Thread) Exit() {
	if th.exited.Load() {
		return
	}
	th.enter()
	if th.port != nil {
		th.suspend()
		th.port = nil
	}
	th.mu.Lock()
	th.exited.Store(true)
	clear(th.apcs)
	th.apcs, th.apcHead = nil, 0
	closeHandle := !th.handleClosed
	th.handleClosed = true
	th.mu.Unlock()
	threadsByID.Delete(th.id)
	if closeHandle { // the handle is live until now: only Exit and Terminate close it
		th.k.table.Close(th.handle)
	}
	th.leave()
}

// enter marks the start of a call on the thread and drops a stale wake
// token. It panics if the thread has exited or is already in a call.
func (th *Thread) enter() {
	if th.exited.Load() {
		panic("iocp: call on a Thread after its Exit")
	}
	if !th.inCall.CompareAndSwap(false, true) {
		panic("iocp: Thread used by two goroutines at once")
	}
	if len(th.wake) > 0 { // only the thread receives, so this cannot block
		<-th.wake
	}
}

// leave marks the end of a call on the thread.
func (th *Thread) leave() { th.inCall.Store(false) }

// signal wakes the thread if it is parked; a token already waiting is
// enough.
func (th *Thread) signal() {
	select {
	case th.wake <- struct{}{}:
	default:
	}
}

// park blocks until a token arrives (true) or timeout fires (false).
func (th *Thread) park(timeout <-chan time.Time) bool {
	select {
	case <-th.wake:
		return true
	case <-timeout:
		return false
	}
}

// armAlert prepares an alertable wait: it reports whether APCs are already
// queued, and if none are, marks the thread so that QueueAPC wakes it.
func (th *Thread) armAlert() (pending bool) {
	th.mu.Lock()
	defer th.mu.Unlock()
	if len(th.apcs) > th.apcHead {
		return true
	}
	th.alertable = true
	return false
}

// disarmAlert ends an alertable wait.
func (th *Thread) disarmAlert() {
	th.mu.Lock()
	th.alertable = false
	th.mu.Unlock()
}

// apcPending reports whether APCs are queued.
func (th *Thread) apcPending() bool {
	th.mu.Lock()
	defer th.mu.Unlock()
	return len(th.apcs) > th.apcHead
}

// runAPCs runs queued APCs, oldest first, until none is left, including
// those queued meanwhile. It takes one at a time, so an APC may itself wait
// alertably and run the rest.
func (th *Thread) runAPCs() {
	for {
		th.mu.Lock()
		if th.apcHead == len(th.apcs) {
			th.apcs, th.apcHead = th.apcs[:0], 0
			th.mu.Unlock()
			return
		}
		a := th.apcs[th.apcHead]
		th.apcs[th.apcHead] = apc{}
		th.apcHead++
		th.mu.Unlock()
		if th.k.trace != nil {
			th.k.traceAPC(th, a.ctx)
		}
		a.fn(a.ctx)
	}
}

// suspend is called before the thread blocks on anything but its port: it
// stops counting as running there, which may release a waiter, as the
// kernel does when a pool thread blocks. It reports whether it did, in
// which case the caller calls resume when the wait ends (the port may then
// briefly run more threads than its concurrency).
func (th *Thread) suspend() bool {
	if !th.running {
		return false
	}
	p := th.port
	p.mu.Lock()
	p.running--
	p.releaseLocked()
	p.mu.Unlock()
	th.running = false
	return true
}

// resume counts the thread as running on its port again.
func (th *Thread) resume() {
	p := th.port
	p.mu.Lock()
	p.running++
	p.mu.Unlock()
	th.running = true
}
