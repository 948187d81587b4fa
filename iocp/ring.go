package iocp

import "github.com/wsspi/wsspi/spi"

// ring is the FIFO of completion packets of a port. Its size is a power of
// two; it grows by doubling and never shrinks, so a port in steady state
// queues and dequeues without allocating. It is not safe for concurrent
// use; Port.mu guards it.
//
// A dequeue leaves its slot as it was, and the ring clears the slots
// dequeued since it was last empty when it empties again: clearing each
// slot as it is read made the reading core take the line for writing,
// and the next core to post or dequeue there take it back, which cost
// two consumers of one port a tenth of their throughput (bench/README.md,
// "iocp"). So a dequeued packet's Overlapped stays reachable from the ring
// until its slot is reused or the queue next empties, never longer.
type ring struct {
	buf   []spi.OverlappedEntry
	head  uint32 // index of the oldest packet
	n     uint32 // number of packets
	dirty uint32 // dequeued slots not yet cleared: the dirty ones just before head
}

// len returns the number of packets queued.
func (r *ring) len() int { return int(r.n) }

// push appends e at the tail.
func (r *ring) push(e spi.OverlappedEntry) {
	if int(r.n) == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&r.mask()] = e
	r.n++
	// The tail has come round to the oldest dirty slots, if any: the
	// push overwrote one of them.
	if free := uint32(len(r.buf)) - r.n; r.dirty > free {
		r.dirty = free
	}
}

// mask is the index mask of buf, whose length is a power of two.
func (r *ring) mask() uint32 { return uint32(len(r.buf) - 1) }

// popInto moves the oldest packets into dst, as many as fit, and returns
// how many.
func (r *ring) popInto(dst []spi.OverlappedEntry) int {
	n := uint32(min(len(dst), int(r.n)))
	switch n {
	case 0:
		return 0
	case 1: // the common case, without the cost of copy
		dst[0] = r.buf[r.head]
	default:
		first := min(n, uint32(len(r.buf))-r.head) // up to the end of buf, then from 0
		copy(dst, r.buf[r.head:r.head+first])
		copy(dst[first:n], r.buf[:n-first])
	}
	r.head = (r.head + n) & r.mask()
	r.n -= n
	r.dirty += n
	if r.n == 0 {
		r.clearDirty()
	}
	return int(n)
}

// clearDirty clears the dirty slots, so that the ring keeps no Overlapped
// alive while it is empty.
func (r *ring) clearDirty() {
	if r.dirty >= r.head { // the dirty run wraps round the end of buf
		clear(r.buf[:r.head])
		clear(r.buf[uint32(len(r.buf))-(r.dirty-r.head):])
	} else {
		clear(r.buf[r.head-r.dirty : r.head])
	}
	r.dirty = 0
}

// clear drops every packet and returns how many there were.
func (r *ring) clear() int {
	n := r.n
	clear(r.buf)
	r.head, r.n, r.dirty = 0, 0, 0
	return int(n)
}

func (r *ring) grow() {
	size := max(2*len(r.buf), 16)
	buf := make([]spi.OverlappedEntry, size)
	n := r.popInto(buf) // empties the ring, which clears it
	r.buf, r.head, r.n = buf, 0, uint32(n)
}
