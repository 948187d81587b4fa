package iocp

import "github.com/wsspi/wsspi/spi"

// ring is the FIFO of completion packets of a port. Its size is a power of
// two; it grows by doubling and never shrinks, so a port in steady state
// queues and dequeues without allocating. It is not safe for concurrent
// use; Port.mu guards it.
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
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = e
	r.n++
}

// popInto moves the oldest packets into dst, as many as fit, and returns
// how many. The slots it empties are cleared, so the ring keeps no
// Overlapped alive.
func (r *ring) popInto(dst []spi.OverlappedEntry) int {
	n := min(len(dst), r.n)
	switch n {
	case 0:
		return 0
	case 1: // the common case, without the cost of copy and clear
		dst[0] = r.buf[r.head]
		r.buf[r.head] = spi.OverlappedEntry{}
		r.head = (r.head + 1) & (len(r.buf) - 1)
		r.n--
		return 1
	}
	first := min(n, len(r.buf)-r.head) // up to the end of buf, then from 0
	copy(dst, r.buf[r.head:r.head+first])
	clear(r.buf[r.head : r.head+first])
	copy(dst[first:n], r.buf[:n-first])
	clear(r.buf[:n-first])
	r.head = (r.head + n) & (len(r.buf) - 1)
	r.n -= n
	return n
}

// clear drops every packet and returns how many there were.
func (r *ring) clear() int {
	n := r.n
	clear(r.buf)
	r.head, r.n = 0, 0
	return n
}

func (r *ring) grow() {
	size := max(2*len(r.buf), 16)
	buf := make([]spi.OverlappedEntry, size)
	r.popInto(buf)
	r.buf, r.head, r.n = buf, 0, len(r.buf)
}
