package loopback

import "net/netip"

// ring is a FIFO of bytes in a circular buffer that grows by doubling and
// never shrinks, so a connection that keeps moving data allocates only while
// its high-water mark rises. It is not safe for concurrent use; its owner's
// lock guards it.
type ring struct {
	buf  []byte
	head int // index of the first byte held
	n    int // bytes held
}

// Len returns the number of bytes held.
func (r *ring) Len() int { return r.n }

// grow makes room for at least need bytes, keeping the contents in order.
func (r *ring) grow(need int) {
	c := max(len(r.buf), 512)
	for c < need {
		c *= 2
	}
	nb := make([]byte, c)
	r.peek(nb[:r.n], 0)
	r.buf, r.head = nb, 0
}

// write appends bufs in order.
func (r *ring) write(bufs [][]byte) {
	size := totalLen(bufs)
	if size == 0 {
		return
	}
	if r.n+size > len(r.buf) {
		r.grow(r.n + size)
	}
	for _, p := range bufs {
		tail := (r.head + r.n) % len(r.buf)
		k := copy(r.buf[tail:], p)
		copy(r.buf, p[k:])
		r.n += len(p)
	}
}

// peek copies the bytes starting off bytes after the head into p, without
// removing them, and returns how many it copied.
func (r *ring) peek(p []byte, off int) int {
	if off >= r.n || len(p) == 0 {
		return 0
	}
	m := min(len(p), r.n-off)
	start := (r.head + off) % len(r.buf)
	k := copy(p[:m], r.buf[start:])
	copy(p[k:m], r.buf)
	return m
}

// peekInto scatters up to limit bytes from the head into bufs, in order,
// starting skip bytes into bufs, without removing them. It returns how many
// bytes it copied.
func (r *ring) peekInto(bufs [][]byte, skip, limit int) int {
	copied := 0
	for _, p := range bufs {
		if copied >= limit {
			break
		}
		if skip >= len(p) {
			skip -= len(p)
			continue
		}
		p = p[skip:]
		skip = 0
		if len(p) > limit-copied {
			p = p[:limit-copied]
		}
		k := r.peek(p, copied)
		copied += k
		if k < len(p) {
			break
		}
	}
	return copied
}

// discard removes m bytes from the head.
func (r *ring) discard(m int) {
	if m == 0 {
		return
	}
	r.head = (r.head + m) % len(r.buf)
	r.n -= m
	if r.n == 0 {
		r.head = 0
	}
}

// reset drops everything held.
func (r *ring) reset() { r.head, r.n = 0, 0 }

// dgramHeader describes one datagram held in a [dgramQueue].
type dgramHeader struct {
	size int
	from netip.AddrPort
}

// dgramQueue is a FIFO of datagrams: their bytes back to back in a ring and
// their headers in a circular slice, so queueing a datagram allocates only
// while the queue's high-water mark rises. Its owner's lock guards it.
type dgramQueue struct {
	data ring
	hdr  []dgramHeader
	hh   int // index of the first header
	hn   int // headers held
}

// Len returns the number of datagrams held.
func (q *dgramQueue) Len() int { return q.hn }

// Bytes returns the payload bytes held, the amount FIONREAD reports.
func (q *dgramQueue) Bytes() int { return q.data.Len() }

// push appends the datagram made of bufs, sent from from.
func (q *dgramQueue) push(bufs [][]byte, size int, from netip.AddrPort) {
	if q.hn == len(q.hdr) {
		nh := make([]dgramHeader, max(2*len(q.hdr), 8))
		for i := range q.hn {
			nh[i] = q.hdr[(q.hh+i)%len(q.hdr)]
		}
		q.hdr, q.hh = nh, 0
	}
	q.hdr[(q.hh+q.hn)%len(q.hdr)] = dgramHeader{size: size, from: from}
	q.hn++
	q.data.write(bufs)
}

// front returns the header of the first datagram; the queue must not be
// empty.
func (q *dgramQueue) front() dgramHeader { return q.hdr[q.hh] }

// pop removes the first datagram, whose bytes the caller has already copied
// with [ring.peekInto] on q.data.
func (q *dgramQueue) pop() {
	h := q.hdr[q.hh]
	q.hdr[q.hh] = dgramHeader{}
	q.hh = (q.hh + 1) % len(q.hdr)
	q.hn--
	q.data.discard(h.size)
}

// reset drops every datagram.
func (q *dgramQueue) reset() {
	clear(q.hdr)
	q.hh, q.hn = 0, 0
	q.data.reset()
}

// totalLen returns the combined length of bufs.
func totalLen(bufs [][]byte) int {
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	return n
}
