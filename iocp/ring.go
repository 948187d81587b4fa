package iocp

import "github.com/wsspi/wsspi/spi"

// ring is the array of a port's queued completion packets. A packet is
// known by its position, the number of packets posted to the port before
// it, and lives in slot position&(len-1); the length is a power of two. A
// port in steady state queues and dequeues without allocating: the ring
// grows by doubling and never shrinks. It knows nothing of which
// positions are queued: the port's head and tail say that, and their locks
// guard the slots (see [Port]).
type ring []spi.OverlappedEntry

// put stores e at position pos.
func (r ring) put(pos uint64, e spi.OverlappedEntry) {
	r[pos&uint64(len(r)-1)] = e
}

// takeInto moves the n packets from position pos on into dst, which holds
// at least n, and clears their slots, so the ring keeps no Overlapped
// alive.
func (r ring) takeInto(dst []spi.OverlappedEntry, pos uint64, n int) {
	i := int(pos & uint64(len(r)-1))
	if n == 1 { // the common case, without the cost of copy and clear
		dst[0] = r[i]
		r[i] = spi.OverlappedEntry{}
		return
	}
	first := min(n, len(r)-i) // up to the end of the array, then from 0
	copy(dst, r[i:i+first])
	clear(r[i : i+first])
	copy(dst[first:n], r[:n-first])
	clear(r[:n-first])
}

// grown returns a ring twice as long (16 slots for an empty one) holding
// the packets of positions head to tail, each in its slot of the new ring.
func (r ring) grown(head, tail uint64) ring {
	g := make(ring, max(2*len(r), 16))
	for pos := head; pos != tail; pos++ {
		g.put(pos, r[pos&uint64(len(r)-1)])
	}
	return g
}
