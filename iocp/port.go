package iocp

import (
	"sync"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// Port is an I/O completion port. Make one with [Kernel.NewPort] or
// [Kernel.CreateIoCompletionPort]; it has a handle of kind KindPort.
//
// Its discipline is that of Windows: packets are queued FIFO; parked threads
// are released LIFO, the most recent waiter taking the oldest packet; a
// waiter is released only while fewer than the port's concurrency of its
// threads are running. A thread runs from a successful dequeue until it
// calls [Port.Get] or [Port.GetMany] on the port again (which takes the next
// packet at once if there is one), blocks on anything else (it counts again
// when that wait ends), turns to another port, or exits.
//
// A Port is safe for concurrent use.
type Port struct {
	k           *Kernel
	handle      spi.Handle
	concurrency int

	mu      sync.Mutex // guards the fields below
	q       ring
	running int32 // threads counted as running
	closed  bool
	posted  uint64        // Dequeued is Posted - Dropped - Queued
	waiters []*portWaiter // parked threads, oldest first; released from the end
	dropped uint64
}

// portWaiter is a thread parked on a port. A releasing thread fills dst and
// sets state under Port.mu, then wakes the owner.
type portWaiter struct {
	th    *Thread
	dst   []spi.OverlappedEntry
	n     int // packets delivered into dst
	state waitState
}

// waitState is how a parked wait ended, as far as the object it waits on
// knows.
type waitState uint8

const (
	waiting   waitState = iota
	satisfied           // packets delivered, or the event(s) acquired
	abandoned           // the port was closed
)

// errIOCompletion is WAIT_IO_COMPLETION as a last error: what an alertable
// GetQueuedCompletionStatusEx that ran APCs fails with.
const errIOCompletion = spi.Errno(spi.WAIT_IO_COMPLETION)

// PortSnapshot is the observable state of a [Port]. Every packet posted is
// dequeued, dropped by Close, or still queued:
// Posted == Dequeued + Dropped + Queued.
// It is a copy, taken under the object's lock.
type PortSnapshot struct {
	Handle      spi.Handle
	Concurrency int
	Queued      int // packets waiting to be dequeued
	Waiting     int // threads parked in Get or GetMany
	Running     int // threads counted as running (see [Port])
	Closed      bool
	Posted      uint64 // packets queued since creation
	Dequeued    uint64 // packets handed to threads
	Dropped     uint64 // packets discarded by Close
}

// Handle returns the port's handle.
func (p *Port) Handle() spi.Handle { return p.handle }

// Concurrency returns the most threads the port lets run at once.
func (p *Port) Concurrency() int { return p.concurrency }

// Snapshot returns the port's observable state.
func (p *Port) Snapshot() PortSnapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PortSnapshot{
		Handle:      p.handle,
		Concurrency: p.concurrency,
		Queued:      p.q.len(),
		Waiting:     len(p.waiters),
		Running:     int(p.running),
		Closed:      p.closed,
		Posted:      p.posted,
		Dequeued:    p.posted - p.dropped - uint64(p.q.len()),
		Dropped:     p.dropped,
	}
}

// Post queues a packet, as PostQueuedCompletionStatus does: bytes, key and
// ov come back unchanged from Get, with success status; ov need not be an
// OVERLAPPED in use, and may be nil. It fails with ERROR_INVALID_HANDLE once
// the port is closed.
func (p *Port) Post(bytes uint32, key uintptr, ov *spi.Overlapped) error {
	if !p.post(spi.OverlappedEntry{CompletionKey: key, Overlapped: ov, NumberOfBytesTransferred: bytes}, nil) {
		return spi.NewOpError("PostQueuedCompletionStatus", p.handle, spi.ERROR_INVALID_HANDLE)
	}
	return nil
}

// post queues e and reports false if the port is closed. before, if not
// nil, is told which under the port's lock, before any waiter can dequeue
// e (the trace's report of the completion).
func (p *Port) post(e spi.OverlappedEntry, before func(posted bool)) bool {
	p.mu.Lock()
	if before != nil {
		before(!p.closed)
	}
	if p.closed {
		p.mu.Unlock()
		return false
	}
	p.posted++
	p.q.push(e)
	if len(p.waiters) > 0 {
		p.releaseLocked()
	}
	p.mu.Unlock()
	return true
}

// Get dequeues one packet for th, as GetQueuedCompletionStatus does,
// waiting up to timeout (0 polls, [spi.Infinite] waits for ever). Its results
// follow the Win32 out-parameters:
//
//   - a packet of a successful I/O (or a posted one): the entry, nil error;
//     successful as NT_SUCCESS says, so an AFD poll that ended with
//     STATUS_TIMEOUT is one;
//   - a packet of a failed I/O (an error or warning status): the entry (key, bytes, Overlapped filled,
//     Internal holding the NTSTATUS) and the status's Win32 code as the
//     error ([spi.RtlNtStatusToDosError]: ERROR_NETNAME_DELETED for
//     STATUS_CONNECTION_RESET, ERROR_CONNECTION_ABORTED for
//     STATUS_CONNECTION_ABORTED, ERROR_OPERATION_ABORTED for
//     STATUS_CANCELLED, ERROR_MORE_DATA for STATUS_BUFFER_OVERFLOW);
//   - no packet: a zero entry (nil Overlapped) and WAIT_TIMEOUT when the
//     timeout passed, ERROR_ABANDONED_WAIT_0 when the port was closed during
//     the wait, ERROR_INVALID_HANDLE when it was closed before,
//     ERROR_INVALID_PARAMETER for a negative timeout.
//
// Errors are [*spi.OpError] values with Op "GetQueuedCompletionStatus".
// The wait is not alertable. A thread of another Kernel makes it panic.
func (p *Port) Get(th *Thread, timeout time.Duration) (spi.OverlappedEntry, error) {
	const op = "GetQueuedCompletionStatus"
	if e := timeoutError(timeout); e != 0 {
		return spi.OverlappedEntry{}, spi.NewOpError(op, p.handle, e)
	}
	th.enter()
	n, e := p.remove(th, th.one[:], timeout, false)
	r := th.one[0]
	th.one[0] = spi.OverlappedEntry{}
	th.leave()
	if n == 0 {
		return spi.OverlappedEntry{}, spi.NewOpError(op, p.handle, e)
	}
	if st := spi.NTStatus(r.Internal); !st.IsSuccess() { // NT_SUCCESS: STATUS_TIMEOUT of an AFD poll is a success
		return r, spi.NewOpError(op, p.handle, spi.RtlNtStatusToDosError(st))
	}
	return r, nil
}

// GetMany dequeues up to len(entries) packets for th, as
// GetQueuedCompletionStatusEx does, and returns how many it stored. Each
// entry's Internal holds that I/O's NTSTATUS (STATUS_SUCCESS for success);
// the call itself succeeds even when some of the I/Os failed. It waits up
// to timeout for the first packet. When nothing was dequeued it fails with
// WAIT_TIMEOUT, with a count of 1 although no entry was written, as
// Windows reports *ulNumEntriesRemoved on a timeout (Wine's kernel32
// tests, written against Windows, check this quirk; a caller must look at
// the error before the count); or with 0 and ERROR_ABANDONED_WAIT_0 (closed during the wait),
// ERROR_INVALID_HANDLE (closed before), ERROR_INVALID_PARAMETER (empty
// entries or a negative timeout), or, for an alertable wait that ran APCs,
// WAIT_IO_COMPLETION. Errors are [*spi.OpError] values with Op
// "GetQueuedCompletionStatusEx".
func (p *Port) GetMany(th *Thread, entries []spi.OverlappedEntry, timeout time.Duration, alertable bool) (int, error) {
	const op = "GetQueuedCompletionStatusEx"
	if len(entries) == 0 {
		return 0, spi.NewOpError(op, p.handle, spi.ERROR_INVALID_PARAMETER)
	}
	if e := timeoutError(timeout); e != 0 {
		return 0, spi.NewOpError(op, p.handle, e)
	}
	th.enter()
	n, e := p.remove(th, entries, timeout, alertable)
	th.leave()
	if e == errIOCompletion {
		th.runAPCs()
	}
	if n == 0 {
		if e == spi.WAIT_TIMEOUT {
			n = 1
		}
		return n, spi.NewOpError(op, p.handle, e)
	}
	return n, nil
}

// remove dequeues up to len(dst) packets for th, which is inside a call,
// and returns how many, or the reason for none.
func (p *Port) remove(th *Thread, dst []spi.OverlappedEntry, timeout time.Duration, alertable bool) (int, spi.Errno) {
	if th.k != p.k {
		panic("iocp: a Thread waits on a port of another Kernel")
	}
	if th.isKilled() {
		return 0, spi.ERROR_PROCESS_ABORTED
	}
	if th.port != p {
		if p.isClosed() {
			return 0, spi.ERROR_INVALID_HANDLE
		}
		if th.port != nil { // a thread belongs to one port: leave the old one
			th.suspend()
		}
		th.port = p
	}
	pending := false
	if alertable {
		if pending = th.armAlert(); !pending {
			defer th.disarmAlert()
		}
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return 0, spi.ERROR_INVALID_HANDLE
	}
	if th.running { // waiting again ends the running spell
		p.running--
		th.running = false
	}
	if p.q.len() > 0 && int(p.running) < p.concurrency {
		n := p.takeLocked(dst)
		p.running++
		p.mu.Unlock()
		th.running = true
		return n, 0
	}
	switch {
	case pending:
		p.mu.Unlock()
		return 0, errIOCompletion
	case timeout == 0:
		p.mu.Unlock()
		return 0, spi.WAIT_TIMEOUT
	}
	w := &th.pw
	w.dst, w.n, w.state = dst, 0, waiting
	p.waiters = append(p.waiters, w)
	p.mu.Unlock()

	c, t := startTimer(timeout)
	defer stopTimer(t)
	for {
		woke := th.park(c)
		p.mu.Lock()
		var n int
		var e spi.Errno
		switch {
		case w.state == satisfied:
			n = w.n + p.takeLocked(dst[w.n:]) // and whatever queued since
			th.running = true
		case w.state == abandoned:
			e = spi.ERROR_ABANDONED_WAIT_0
		case !woke:
			p.unparkLocked(w)
			e = spi.WAIT_TIMEOUT
		case th.isKilled():
			p.unparkLocked(w)
			e = spi.ERROR_PROCESS_ABORTED
		case alertable && th.apcPending():
			p.unparkLocked(w)
			e = errIOCompletion
		default: // a token with nothing behind it
			p.mu.Unlock()
			continue
		}
		p.mu.Unlock()
		w.dst = nil
		return n, e
	}
}

// takeLocked moves up to len(dst) queued packets into dst.
func (p *Port) takeLocked(dst []spi.OverlappedEntry) int {
	return p.q.popInto(dst)
}

// releaseLocked hands queued packets to parked threads, newest waiter
// first, while the concurrency allows another thread to run.
func (p *Port) releaseLocked() {
	for p.q.len() > 0 && len(p.waiters) > 0 && int(p.running) < p.concurrency {
		last := len(p.waiters) - 1
		w := p.waiters[last]
		p.waiters[last] = nil
		p.waiters = p.waiters[:last]
		w.n = p.takeLocked(w.dst)
		w.state = satisfied
		p.running++
		w.th.signal()
	}
}

// unparkLocked removes w from the waiter stack.
func (p *Port) unparkLocked(w *portWaiter) {
	for i := len(p.waiters) - 1; i >= 0; i-- {
		if p.waiters[i] == w {
			copy(p.waiters[i:], p.waiters[i+1:])
			p.waiters[len(p.waiters)-1] = nil
			p.waiters = p.waiters[:len(p.waiters)-1]
			return
		}
	}
}

func (p *Port) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// Close closes the port and its handle, as CloseHandle does: threads parked
// in Get or GetMany wake with ERROR_ABANDONED_WAIT_0, queued packets are
// dropped, and later calls fail with ERROR_INVALID_HANDLE. I/O completing on
// a handle still associated with the port is dropped too. Close fails with
// ERROR_INVALID_HANDLE if the port is already closed.
func (p *Port) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return spi.NewOpError("CloseHandle", p.handle, spi.ERROR_INVALID_HANDLE)
	}
	p.closed = true
	p.dropped += uint64(p.q.clear())
	for i, w := range p.waiters {
		w.state = abandoned
		w.th.signal()
		p.waiters[i] = nil
	}
	p.waiters = p.waiters[:0]
	p.mu.Unlock()
	p.k.table.Close(p.handle) // only the Close that set closed gets here
	return nil
}
