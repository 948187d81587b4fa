package loopback

import (
	"net/netip"
	"sync"

	"github.com/wsspi/wsspi/spi"
)

// op is one send or receive that could not finish at once: an overlapped
// operation that pends, a blocking call that waits, or an immediate result
// queued behind earlier completions of its socket. Records are pooled, so a
// steady stream of pending operations does not allocate. The network lock
// guards every field while the op is queued.
type op struct {
	next *op
	s    *socket
	req  spi.IORequest // Overlapped nil: a blocking call waits on done
	bufs [][]byte      // the caller's buffers (the slice headers are copied)
	size int           // total length of bufs
	recv bool          // a receive; otherwise a send

	flags  uint32          // request flags in; result flags once finished
	from   *netip.AddrPort // where a receive reports its source, or nil
	n      uint32          // bytes transferred so far
	status spi.Errno       // result, a Winsock code (0 = success)
	addr   netip.AddrPort  // source of the datagram received

	acc  *socket  // the accept socket of an AcceptEx (see acceptEx)
	poll *afdPoll // the AFD poll this op completes (see afdpoll.go)

	immediate bool // the Complete call reports a result returned at once
	wait      bool // a goroutine waits for done instead of the pool taking it back
	done      bool // the result is final (and, for overlapped ops, delivered)
}

var opPool = sync.Pool{New: func() any { return new(op) }}

// getOp returns a cleared op record holding a copy of bufs (the slice
// headers, not the bytes).
func getOp(s *socket, req spi.IORequest, bufs [][]byte, size int, recv bool) *op {
	o := opPool.Get().(*op)
	o.s, o.req, o.size, o.recv = s, req, size, recv
	o.bufs = append(o.bufs[:0], bufs...)
	return o
}

// putOp clears o and returns it to the pool.
func putOp(o *op) {
	clear(o.bufs)
	*o = op{bufs: o.bufs[:0]}
	opPool.Put(o)
}

// opQueue is an intrusive FIFO of ops.
type opQueue struct{ head, tail *op }

func (q *opQueue) empty() bool { return q.head == nil }

func (q *opQueue) push(o *op) {
	o.next = nil
	if q.tail == nil {
		q.head = o
	} else {
		q.tail.next = o
	}
	q.tail = o
}

func (q *opQueue) pop() *op {
	o := q.head
	if o == nil {
		return nil
	}
	q.head = o.next
	if q.head == nil {
		q.tail = nil
	}
	o.next = nil
	return o
}

// remove unlinks o, which follows prev (nil when o is the head).
func (q *opQueue) remove(prev, o *op) {
	if prev == nil {
		q.head = o.next
	} else {
		prev.next = o.next
	}
	if q.tail == o {
		q.tail = prev
	}
	o.next = nil
}

// has reports whether an op of the queue uses ov.
func (q *opQueue) has(ov *spi.Overlapped) bool {
	for o := q.head; o != nil; o = o.next {
		if o.req.Overlapped == ov {
			return true
		}
	}
	return false
}

// flushList collects, under the network lock, the sockets whose completion
// queues received results, so that they can be delivered once the lock is
// released.
type flushList struct {
	socks [4]*socket
	n     int
	more  []*socket
	notes []netNote // network event notifications, in the order recorded
}

// note queues a network event notification, made by flush after the
// completions.
func (f *flushList) note(nt netNote) { f.notes = append(f.notes, nt) }

func (f *flushList) add(s *socket) {
	for _, t := range f.socks[:f.n] {
		if t == s {
			return
		}
	}
	if f.n < len(f.socks) {
		f.socks[f.n] = s
		f.n++
		return
	}
	for _, t := range f.more {
		if t == s {
			return
		}
	}
	f.more = append(f.more, s)
}

// flush delivers the queued completions of every collected socket. The
// network lock must not be held.
func (f *flushList) flush() {
	for _, s := range f.socks[:f.n] {
		s.flush()
	}
	for _, s := range f.more {
		s.flush()
	}
	for _, nt := range f.notes {
		nt.emit()
	}
	*f = flushList{}
}
