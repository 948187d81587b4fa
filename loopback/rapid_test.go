package loopback_test

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

// This file drives random overlapped sends, receives, shutdowns, buffer
// changes, cancellations and closes over a connected TCP pair and checks
// every result and every Complete call against a small model of the
// documented stream rules (see the package doc): the byte stream, the
// order of completions within each socket and class, and that every
// operation completes exactly once.

// mop is one overlapped operation as the model sees it.
type mop struct {
	id      int
	side    int
	send    bool
	ov      *spi.Overlapped
	buf     []byte // the bytes sent, or the receive buffer
	waitall bool
	n       int    // bytes a receive holds so far
	want    []byte // the bytes a receive must hold
}

// mside is the model of one end of the connection.
type mside struct {
	h                  spi.Socket
	closed             bool
	err                spi.Errno
	shutSend, shutRecv bool
	hasPeer            bool
	rx                 []byte
	rxFin              bool
	finPending         bool
	sndbuf, rcvbuf     int
	sendq, recvq       []*mop
}

// mcomp is one expected or observed Complete call.
type mcomp struct {
	Op        int
	Status    spi.Errno
	Bytes     uint32
	Immediate bool
}

type pairModel struct {
	p      *proc
	side   [2]*mside
	ops    map[*spi.Overlapped]*mop
	nextID int
	seq    byte // next byte value to send
	expect map[string][]mcomp
	seen   map[*spi.Overlapped]int  // Complete calls observed per operation
	done   map[*spi.Overlapped]bool // completed in the model
	failed map[*spi.Overlapped]bool // failed when issued
}

// class names the queue a completion belongs to: its socket and whether it
// is a send or a receive. Order is checked within a class.
func (m *pairModel) class(o *mop) string {
	kind := "recv"
	if o.send {
		kind = "send"
	}
	return fmt.Sprintf("side %d %s", o.side, kind)
}

func (m *pairModel) complete(o *mop, status spi.Errno, bytes int, immediate bool) {
	c := m.class(o)
	m.expect[c] = append(m.expect[c], mcomp{o.id, status, uint32(bytes), immediate})
	m.done[o.ov] = true
}

func (m *pairModel) readerGone(y int) bool { return m.side[y].closed || m.side[y].shutRecv }

func (m *pairModel) canSend(x, size int) bool {
	y := 1 - x
	if m.readerGone(y) || size == 0 {
		return true
	}
	b := len(m.side[y].rx)
	return b == 0 || b < m.side[x].sndbuf+m.side[y].rcvbuf
}

// push moves data to the peer of x and reports whether the peer must then
// reset the connection.
func (m *pairModel) push(x int, data []byte) bool {
	y := 1 - x
	if m.readerGone(y) {
		return len(data) > 0
	}
	m.side[y].rx = append(m.side[y].rx, data...)
	return false
}

func (m *pairModel) reset(x int, err spi.Errno) {
	s := m.side[x]
	s.err, s.hasPeer, s.rx, s.rxFin, s.finPending = err, false, nil, false, false
	for _, o := range s.sendq {
		m.complete(o, err, 0, false)
	}
	for _, o := range s.recvq {
		m.complete(o, err, o.n, false)
	}
	s.sendq, s.recvq = nil, nil
}

// rstFrom makes side y reset the connection.
func (m *pairModel) rstFrom(y int) {
	x := 1 - y
	if m.side[y].hasPeer {
		if m.side[x].closed {
			m.side[x].hasPeer = false
		} else {
			m.reset(x, spi.WSAECONNRESET)
		}
	}
	if s := m.side[y]; s.closed {
		s.hasPeer, s.rx, s.rxFin = false, nil, false
		return
	}
	m.reset(y, spi.WSAECONNABORTED)
}

func (m *pairModel) pumpSends(x int) bool {
	s := m.side[x]
	progress := false
	for len(s.sendq) > 0 && s.hasPeer && m.canSend(x, len(s.sendq[0].buf)) {
		o := s.sendq[0]
		s.sendq = s.sendq[1:]
		rst := m.push(x, o.buf)
		m.complete(o, 0, len(o.buf), false)
		if rst {
			m.rstFrom(1 - x)
		}
		progress = true
	}
	if s.finPending && len(s.sendq) == 0 && s.hasPeer {
		s.finPending = false
		m.side[1-x].rxFin = true
		progress = true
	}
	return progress
}

func (m *pairModel) pumpRecvs(x int) bool {
	s := m.side[x]
	progress := false
	for len(s.recvq) > 0 {
		o := s.recvq[0]
		avail := len(s.rx)
		if avail == 0 && !s.rxFin {
			break
		}
		progress = true
		if len(o.buf) > 0 && avail > 0 {
			k := min(avail, len(o.buf)-o.n)
			o.want = append(o.want, s.rx[:k]...)
			s.rx = s.rx[k:]
			o.n += k
			if o.waitall && o.n < len(o.buf) && !s.rxFin {
				break
			}
		}
		s.recvq = s.recvq[1:]
		m.complete(o, 0, o.n, false)
	}
	return progress
}

func (m *pairModel) settle() {
	for {
		progress := false
		for x := range 2 {
			if m.pumpSends(x) {
				progress = true
			}
			if m.pumpRecvs(x) {
				progress = true
			}
		}
		if !progress {
			return
		}
	}
}

func (m *pairModel) newOp(x int, send bool, buf []byte) *mop {
	o := &mop{id: m.nextID, side: x, send: send, ov: new(spi.Overlapped), buf: buf}
	m.nextID++
	m.ops[o.ov] = o
	return o
}

// check compares what the provider did during one action with the model.
func (m *pairModel) check(t *rapid.T, what string, gotN uint32, gotErr error, wantN int, wantErr error, wantClosed []spi.Handle) {
	t.Helper()
	if gotN != uint32(wantN) || !sameErr(gotErr, wantErr) {
		t.Fatalf("%s = %d, %v; model says %d, %v", what, gotN, gotErr, wantN, wantErr)
	}
	got := map[string][]mcomp{}
	var closed []spi.Handle
	for _, e := range m.p.k.take() {
		if e.Complete == nil {
			closed = append(closed, e.Closed)
			continue
		}
		c := e.Complete
		o := m.ops[c.Ov]
		if o == nil {
			t.Fatalf("%s: Complete for an unknown overlapped", what)
		}
		if c.Handle != m.side[o.side].h {
			t.Fatalf("%s: op %d completed on %v, issued on %v", what, o.id, c.Handle, m.side[o.side].h)
		}
		m.seen[c.Ov]++
		cl := m.class(o)
		got[cl] = append(got[cl], mcomp{o.id, c.Status, c.Bytes, c.Immediate})
		if !o.send && c.Bytes > 0 && string(o.buf[:c.Bytes]) != string(o.want) {
			t.Fatalf("%s: op %d received %q, model says %q", what, o.id, o.buf[:c.Bytes], o.want)
		}
	}
	diff(t, what+": completions by class", m.expect, got)
	diff(t, what+": closed file objects", wantClosed, closed)
	m.expect = map[string][]mcomp{}
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return spi.ErrnoOf(a) == spi.ErrnoOf(b)
}

func TestConnectedPairMatchesTheStreamModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := newProc(t, loopback.NewNetwork())
		c, s := p.pair(ovFlag)
		m := &pairModel{
			p: p, ops: map[*spi.Overlapped]*mop{}, expect: map[string][]mcomp{},
			seen: map[*spi.Overlapped]int{}, done: map[*spi.Overlapped]bool{}, failed: map[*spi.Overlapped]bool{},
		}
		for x, h := range []spi.Socket{c, s} {
			m.side[x] = &mside{h: h, hasPeer: true, sndbuf: loopback.DefaultSendBuffer, rcvbuf: loopback.DefaultReceiveBuffer}
		}
		sideGen := rapid.IntRange(0, 1)
		setBuf := func(t *rapid.T, x int, snd bool, v int) {
			name := int32(spi.SO_RCVBUF)
			if snd {
				name = spi.SO_SNDBUF
			}
			b := []byte{byte(v), byte(v >> 8), 0, 0}
			err := p.tab.WSPSetSockOpt(m.side[x].h, spi.SOL_SOCKET, name, b)
			var want error
			if m.side[x].closed {
				want = spi.WSAENOTSOCK
			} else if snd {
				m.side[x].sndbuf = v
			} else {
				m.side[x].rcvbuf = v
			}
			m.settle()
			m.check(t, "setsockopt", 0, err, 0, want, nil)
		}
		for x := range 2 {
			setBuf(t, x, true, rapid.IntRange(0, 8).Draw(t, "sndbuf"))
			setBuf(t, x, false, rapid.IntRange(0, 8).Draw(t, "rcvbuf"))
		}

		t.Repeat(map[string]func(*rapid.T){
			"send": func(t *rapid.T) {
				x := sideGen.Draw(t, "side")
				size := rapid.IntRange(0, 12).Draw(t, "size")
				data := make([]byte, size)
				for i := range data {
					data[i] = m.seq
					m.seq++
				}
				o := m.newOp(x, true, data)
				n, err := p.tab.WSPSend(m.side[x].h, [][]byte{data}, 0, o.ov, nil, nil)
				sd := m.side[x]
				switch {
				case sd.closed:
					m.check(t, "send", n, err, 0, spi.WSAENOTSOCK, nil)
				case sd.shutSend:
					m.check(t, "send", n, err, 0, spi.WSAESHUTDOWN, nil)
				case sd.err != 0:
					m.check(t, "send", n, err, 0, sd.err, nil)
				case len(sd.sendq) == 0 && m.canSend(x, size):
					if m.push(x, data) {
						m.rstFrom(1 - x)
					}
					m.settle()
					m.complete(o, 0, size, true)
					m.check(t, "send", n, err, size, nil, nil)
				default:
					sd.sendq = append(sd.sendq, o)
					m.settle()
					m.check(t, "send", n, err, 0, spi.WSA_IO_PENDING, nil)
				}
				if err != nil && err != spi.WSA_IO_PENDING {
					m.failed[o.ov] = true // nothing to complete
				}
			},
			"recv": func(t *rapid.T) {
				x := sideGen.Draw(t, "side")
				size := rapid.IntRange(0, 12).Draw(t, "size")
				waitall := rapid.Bool().Draw(t, "waitall")
				o := m.newOp(x, false, make([]byte, size))
				o.waitall = waitall
				var flags uint32
				if waitall {
					flags = spi.MSG_WAITALL
				}
				n, err := p.tab.WSPRecv(m.side[x].h, [][]byte{o.buf}, &flags, o.ov, nil, nil)
				sd := m.side[x]
				avail := len(sd.rx)
				ready := avail > 0 || sd.rxFin
				if waitall && avail < size && !sd.rxFin {
					ready = false
				}
				switch {
				case sd.closed:
					m.check(t, "recv", n, err, 0, spi.WSAENOTSOCK, nil)
				case sd.shutRecv:
					m.check(t, "recv", n, err, 0, spi.WSAESHUTDOWN, nil)
				case sd.err != 0:
					m.check(t, "recv", n, err, 0, sd.err, nil)
				case len(sd.recvq) == 0 && ready:
					k := min(size, avail)
					o.want = append(o.want, sd.rx[:k]...)
					o.n = k
					sd.rx = sd.rx[k:]
					m.settle()
					m.complete(o, 0, k, true)
					m.check(t, "recv", n, err, k, nil, nil)
				default:
					sd.recvq = append(sd.recvq, o)
					m.settle()
					m.check(t, "recv", n, err, 0, spi.WSA_IO_PENDING, nil)
				}
				if err != nil && err != spi.WSA_IO_PENDING {
					m.failed[o.ov] = true
				}
			},
			"shutdown send": func(t *rapid.T) {
				x := sideGen.Draw(t, "side")
				err := p.tab.WSPShutdown(m.side[x].h, spi.SD_SEND)
				sd := m.side[x]
				if sd.closed {
					m.check(t, "shutdown", 0, err, 0, spi.WSAENOTSOCK, nil)
					return
				}
				if !sd.shutSend {
					sd.shutSend = true
					if sd.hasPeer {
						if len(sd.sendq) == 0 {
							m.side[1-x].rxFin = true
						} else {
							sd.finPending = true
						}
					}
				}
				m.settle()
				m.check(t, "shutdown(SD_SEND)", 0, err, 0, nil, nil)
			},
			"shutdown receive": func(t *rapid.T) {
				x := sideGen.Draw(t, "side")
				err := p.tab.WSPShutdown(m.side[x].h, spi.SD_RECEIVE)
				sd := m.side[x]
				if sd.closed {
					m.check(t, "shutdown", 0, err, 0, spi.WSAENOTSOCK, nil)
					return
				}
				sd.shutRecv = true
				if sd.hasPeer && len(sd.rx) > 0 {
					m.rstFrom(x)
				}
				m.settle()
				m.check(t, "shutdown(SD_RECEIVE)", 0, err, 0, nil, nil)
			},
			"set buffer": func(t *rapid.T) {
				setBuf(t, sideGen.Draw(t, "side"), rapid.Bool().Draw(t, "sndbuf"), rapid.IntRange(0, 16).Draw(t, "size"))
			},
			"cancel": func(t *rapid.T) {
				x := sideGen.Draw(t, "side")
				sd := m.side[x]
				pending := append(append([]*mop(nil), sd.sendq...), sd.recvq...)
				if len(pending) == 0 {
					t.Skip("nothing pending")
				}
				o := rapid.SampledFrom(pending).Draw(t, "op")
				got := p.k.driver(sd.h).CancelIo(spi.ThreadID{}, true, o.ov)
				if got != 1 {
					t.Fatalf("CancelIo = %d, want 1", got)
				}
				remove := func(q []*mop) []*mop {
					for i, e := range q {
						if e == o {
							return append(q[:i:i], q[i+1:]...)
						}
					}
					return q
				}
				sd.sendq, sd.recvq = remove(sd.sendq), remove(sd.recvq)
				m.complete(o, spi.ERROR_OPERATION_ABORTED, o.n, false)
				m.settle()
				m.check(t, "CancelIo", 0, nil, 0, nil, nil)
			},
			"close": func(t *rapid.T) {
				x := sideGen.Draw(t, "side")
				sd := m.side[x]
				abortive := rapid.Bool().Draw(t, "abortive")
				if sd.closed {
					m.check(t, "close", 0, p.tab.WSPCloseSocket(sd.h), 0, spi.WSAENOTSOCK, nil)
					return
				}
				if abortive {
					p.setLinger(sd.h, 1, 0)
				}
				err := p.tab.WSPCloseSocket(sd.h)
				sd.closed = true
				// Closing a connected stream socket aborts its I/O.
				for _, o := range sd.sendq {
					m.complete(o, spi.WSAECONNABORTED, 0, false)
				}
				for _, o := range sd.recvq {
					m.complete(o, spi.WSAECONNABORTED, o.n, false)
				}
				sd.sendq, sd.recvq = nil, nil
				if abortive || len(sd.rx) > 0 {
					m.rstFrom(x)
				} else if sd.hasPeer {
					m.side[1-x].rxFin = true
				}
				m.settle()
				m.check(t, "close", 0, err, 0, nil, []spi.Handle{sd.h})
			},
			"": func(t *rapid.T) {
				for ov, o := range m.ops {
					want := 0
					if m.done[ov] {
						want = 1
					}
					if m.seen[ov] != want {
						t.Fatalf("op %d completed %d times, want %d", o.id, m.seen[ov], want)
					}
					if pending := !m.done[ov] && !m.failed[ov]; pending != ov.InProgress() {
						t.Fatalf("op %d: pending in the model %v, Internal in progress %v", o.id, pending, ov.InProgress())
					}
				}
			},
		})
	})
}
