package iocp

import "github.com/wsspi/wsspi/spi"

// ring is the FIFO of completion packets of a port. It grows by doubling and
// never shrinks, so a port in steady state queues and dequeues without
// allocating. It is not safe for concurrent use; Port.mu guards it.
type ring struct {
	buf  []spi.OverlappedEntry
	head int // index of the oldest packet
	n    int // number of packets
}

// push appends e at the tail.
func (r *ring) push(e spi.OverlappedEntry) {
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
}

// pop removes and returns the oldest packet; the ring must not be empty.
func (r *ring) pop() spi.OverlappedEntry {
	e := r.buf[r.head]
	r.buf[r.head] = spi.OverlappedEntry{} // drop the Overlapped pointer
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return e
}

// clear drops every packet and returns how many there were.
func (r *ring) clear() int {
	n := r.n
	for r.n > 0 {
		r.pop()
	}
	r.head = 0
	return n
}

func (r *ring) grow() {
	size := 2 * len(r.buf)
	if size == 0 {
		size = 16
	}
	buf := make([]spi.OverlappedEntry, size)
	for i := range r.n {
		buf[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	r.buf, r.head = buf, 0
}
