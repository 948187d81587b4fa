package wsspi_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// This file drives a client whose sockets go through one or two kit
// layers: overlapped sends and receives (WSASend, WSARecv, WriteFile,
// ReadFile) notified through a port, an event or a completion routine,
// the server's sends and receives, and closes with receives pending. It
// checks that every operation is notified exactly once, with the bytes
// its call or the stream says, that the bytes arrive in order both ways,
// and that nothing is left after WSACleanup.

// lop is one client operation as the model sees it.
type lop struct {
	id      int
	send    bool
	file    bool   // ReadFile or WriteFile
	mech    string // "port", "event" or "routine"
	ov      *spi.Overlapped
	buf     []byte // the bytes sent, or the receive buffer
	conn    int    // the connection it was issued on
	heard   int    // notifications seen
	got     completed
	aborted bool // issued on a connection closed since
}

type layeredModel struct {
	depth   int
	provs   []*layered.Provider
	m       *wsspi.Machine
	client  *wsspi.Process
	server  *wsspi.Process
	cth     *wsspi.Thread
	sth     *wsspi.Thread
	l       spi.Socket
	port    spi.Handle
	conn    int // connections made so far; the current one is conn-1
	c, s    spi.Socket
	ops     []*lop
	byOv    map[*spi.Overlapped]*lop
	sent    []byte // what the client sent on the current connection
	srvGot  []byte // what the server read of it
	srvSent []byte // what the server sent on the current connection
}

func newLayeredModel(t *rapid.T, depth int, opts wsspi.MachineOptions) *layeredModel {
	m := &layeredModel{depth: depth, m: wsspi.NewMachineWith(opts), byOv: map[*spi.Overlapped]*lop{}}
	m.provs, _ = installKits(t, m.m, depth)
	m.client, m.server = m.m.NewProcess(), m.m.NewProcess()
	m.cth, m.sth = m.client.NewThread(), m.server.NewThread()
	m.l = must(m.sth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, baseTCP(t, m.m), 0, spi.WSA_FLAG_OVERLAPPED))(t)
	check(t, m.sth.Bind(m.l, m.addr()))
	check(t, m.sth.Listen(m.l, 8))
	m.port = must(m.client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
	m.connect(t)
	return m
}

func (m *layeredModel) addr() netip.AddrPort { return netip.MustParseAddrPort("127.0.0.1:7100") }

// connect makes a new connection: the client's socket through the chain,
// associated with the client's port.
func (m *layeredModel) connect(t *rapid.T) {
	m.c = must(m.cth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, nil, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	check(t, m.cth.Connect(m.c, m.addr()))
	m.s, _ = must2(m.sth.Accept(m.l))(t)
	must(m.client.CreateIoCompletionPort(m.c, m.port, uintptr(m.conn), 0))(t)
	m.conn++
	m.sent, m.srvGot, m.srvSent = nil, nil, nil
}

func (m *layeredModel) close() {
	_ = m.client.Close()
	_ = m.server.Close()
}

// issue starts an operation and records it.
func (m *layeredModel) issue(t *rapid.T, send bool) {
	o := &lop{id: len(m.ops), send: send, conn: m.conn - 1, ov: new(spi.Overlapped)}
	o.file = rapid.Bool().Draw(t, "file")
	mechs := []string{"port", "event", "routine"}
	if o.file {
		mechs = mechs[:2] // ReadFile and WriteFile take no routine
	}
	o.mech = rapid.SampledFrom(mechs).Draw(t, "mech")
	var cr spi.CompletionRoutine
	switch o.mech {
	case "event":
		o.ov.HEvent = must(m.client.WSACreateEvent())(t) | 1 // the event only, not the port
	case "routine":
		cr = m.routine
	}
	var n uint32
	var err error
	if send {
		o.buf = bytes.Repeat([]byte{byte(len(m.sent))}, rapid.IntRange(1, 32).Draw(t, "size"))
		for i := range o.buf {
			o.buf[i] += byte(i)
		}
		m.sent = append(m.sent, o.buf...)
		if o.file {
			n, err = m.cth.WriteFile(m.c, o.buf, o.ov)
		} else {
			n, err = m.cth.WSASend(m.c, [][]byte{o.buf}, 0, o.ov, cr)
		}
	} else {
		o.buf = make([]byte, rapid.IntRange(1, 32).Draw(t, "size"))
		if o.file {
			n, err = m.cth.ReadFile(m.c, o.buf, o.ov)
		} else {
			n, err = m.cth.WSARecv(m.c, [][]byte{o.buf}, nil, o.ov, cr)
		}
	}
	switch {
	case err == nil && send && int(n) != len(o.buf):
		t.Fatalf("op %d: immediate send of %d bytes reported %d", o.id, len(o.buf), n)
	case err != nil && !errors.Is(err, spi.WSA_IO_PENDING):
		t.Fatalf("op %d: %v", o.id, err)
	}
	m.ops = append(m.ops, o)
	m.byOv[o.ov] = o
}

func (m *layeredModel) routine(status spi.Errno, n uint32, ov *spi.Overlapped, _ uint32) {
	o := m.byOv[ov]
	o.heard++
	o.got = completed{status, n}
}

// poll collects what the client has heard so far.
func (m *layeredModel) poll(t *rapid.T) {
	for {
		e, err := m.cth.GetQueuedCompletionStatus(m.port, 0)
		if e.Overlapped == nil {
			if !errors.Is(err, spi.WAIT_TIMEOUT) {
				t.Fatal(err)
			}
			break
		}
		o := m.byOv[e.Overlapped]
		if o == nil || o.mech != "port" || e.CompletionKey != uintptr(o.conn) {
			t.Fatalf("unexpected packet %+v", e)
		}
		o.heard++
		o.got = completed{spi.NtStatusToWinsockError(spi.NTStatus(e.Internal)), e.NumberOfBytesTransferred}
	}
	_, _ = m.cth.SleepEx(0, true)
	for _, o := range m.ops {
		if o.mech == "event" && o.heard == 0 {
			if r, _ := m.cth.WSAWaitForMultipleEvents([]spi.Handle{o.ov.EventHandle()}, false, 0, false); r == spi.WSA_WAIT_EVENT_0 {
				o.heard = 1
				o.got = completed{spi.NtStatusToWinsockError(spi.NTStatus(o.ov.LoadInternal())), uint32(o.ov.LoadInternalHigh())}
			}
		}
	}
}

// settled reports whether everything that must complete has: every send,
// every operation of a closed connection, and receives while the server
// has sent bytes no completed receive holds.
func (m *layeredModel) settled() bool {
	consumed := 0
	pendingRecv := false
	for _, o := range m.ops {
		switch {
		case o.heard > 0:
			if !o.send && o.conn == m.conn-1 {
				consumed += int(o.got.Bytes)
			}
		case o.send, o.aborted:
			return false
		default:
			pendingRecv = true
		}
	}
	return !pendingRecv || consumed == len(m.srvSent)
}

// settle waits until the model is settled, then checks it.
func (m *layeredModel) settle(t *rapid.T) {
	deadline := time.Now().Add(long)
	for m.poll(t); !m.settled(); m.poll(t) {
		if time.Now().After(deadline) {
			t.Fatalf("not settled after %v", long)
		}
		time.Sleep(50 * time.Microsecond)
	}
	m.check(t, true)
}

// check verifies what was heard: once each, sends whole, aborted
// operations aborted, and the receives of the current connection, in
// issue order, a prefix of what the server sent; settled, with no gap
// (between settlements, a later operation may be heard of first, since
// the mechanisms are polled one after the other).
func (m *layeredModel) check(t *rapid.T, settled bool) {
	var stream []byte
	gap := false // an earlier receive of the connection is unheard, or aborted
	for _, o := range m.ops {
		current := !o.send && o.conn == m.conn-1
		switch {
		case o.heard > 1:
			t.Fatalf("op %d (%s) notified %d times", o.id, o.mech, o.heard)
		case o.heard == 0:
			gap = gap || current
		case o.got.Status != 0:
			if !o.aborted || o.got != (completed{spi.WSAECONNABORTED, 0}) { // closesocket aborts a connection's I/O
				t.Fatalf("op %d: %+v", o.id, o.got)
			}
			gap = gap || current
		case o.send:
			if o.got.Bytes != uint32(len(o.buf)) {
				t.Fatalf("send %d: %+v, want all %d bytes", o.id, o.got, len(o.buf))
			}
		case current && gap && settled:
			t.Fatalf("receive %d completed after an earlier one that has not", o.id)
		case current && !gap:
			stream = append(stream, o.buf[:o.got.Bytes]...)
		}
	}
	if !bytes.HasPrefix(m.srvSent, stream) {
		t.Fatalf("client received %q, not a prefix of what the server sent, %q", stream, m.srvSent)
	}
	if !bytes.HasPrefix(m.sent, m.srvGot) {
		t.Fatalf("server received %q, not a prefix of what the client sent, %q", m.srvGot, m.sent)
	}
}

func (m *layeredModel) run(t *rapid.T) {
	t.Repeat(map[string]func(*rapid.T){
		"send": func(t *rapid.T) { m.issue(t, true) },
		"recv": func(t *rapid.T) { m.issue(t, false) },
		"server send": func(t *rapid.T) {
			b := bytes.Repeat([]byte{byte(len(m.srvSent) + 100)}, rapid.IntRange(1, 40).Draw(t, "size"))
			must(m.sth.WSASend(m.s, [][]byte{b}, 0, nil, nil))(t)
			m.srvSent = append(m.srvSent, b...)
		},
		"server recv": func(t *rapid.T) {
			if n := fionread(t, m.sth, m.s); n > 0 {
				m.srvGot = append(m.srvGot, recvAll(t, m.sth, m.s, int(n))...)
			}
		},
		"settle": m.settle,
		"close": func(t *rapid.T) {
			for _, o := range m.ops {
				if o.conn == m.conn-1 && o.heard == 0 {
					o.aborted = true
				}
			}
			check(t, m.cth.Closesocket(m.c))
			_ = m.sth.Closesocket(m.s)
			m.settle(t)
			m.connect(t)
		},
		"": func(t *rapid.T) {
			m.poll(t)
			m.check(t, false)
		},
	})
	// The end: once settled, WSACleanup with receives still pending
	// notifies nothing and leaves nothing.
	m.settle(t)
	var silent []*lop // pending at WSACleanup: never to be heard of
	for _, o := range m.ops {
		if o.heard == 0 {
			silent = append(silent, o)
		}
	}
	check(t, m.client.WSACleanup())
	m.poll(t)
	for _, o := range silent {
		if o.heard != 0 || o.ov.LoadInternal() != uintptr(spi.STATUS_CANCELLED) {
			t.Fatalf("op %d pending at WSACleanup: notified %d times (%+v), Internal %#x", o.id, o.heard, o.got, o.ov.LoadInternal())
		}
	}
	m.check(t, true)
	// Under a scheduler the base provider may finish closing its sockets
	// after closesocket returned.
	eventually(t, "no socket handle left after WSACleanup", func() bool { return len(socketHandles(m.client)) == 0 })
	if !quiet(m.provs...) {
		t.Fatalf("the layers hold %+v after WSACleanup", m.provs[m.depth-1].Stats())
	}
}

func TestLayeredChainsCompleteEachOperationOnceAndLeaveNothing(t *testing.T) {
	for depth := 1; depth <= 2; depth++ {
		t.Run(fmt.Sprintf("%d layers", depth), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				m := newLayeredModel(t, depth, wsspi.MachineOptions{})
				defer m.close()
				m.run(t)
			})
		})
	}
}

// With a scheduler, the base provider delivers completions late (after
// the call that completed at once returns, too), turns immediate results
// into pending ones, and finishes closes after closesocket returns; the
// layers must still complete each operation once.
func TestLayeredChainsUnderAScheduler(t *testing.T) {
	for depth := 1; depth <= 2; depth++ {
		t.Run(fmt.Sprintf("%d layers", depth), func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				sched := newAsyncScheduler(rapid.Uint64().Draw(t, "seed"))
				m := newLayeredModel(t, depth, wsspi.MachineOptions{Scheduler: sched})
				defer m.close()
				m.run(t)
			})
		})
	}
}

// asyncScheduler is an spi.Scheduler that runs deferred work later, on a
// goroutine per key that lives while the key has work queued (so work
// under one key runs in order), and pends one operation in three.
type asyncScheduler struct {
	mu     sync.Mutex // guards rng and queues
	rng    *rand.Rand
	queues map[any][]func() // work not yet run, by key; a key present has a goroutine
}

func newAsyncScheduler(seed uint64) *asyncScheduler {
	return &asyncScheduler{rng: rand.New(rand.NewPCG(seed, seed)), queues: map[any][]func(){}}
}

func (s *asyncScheduler) Defer(key any, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q, running := s.queues[key]
	s.queues[key] = append(q, fn)
	if !running {
		go s.drain(key)
	}
}

// drain runs the work of key until none is left.
func (s *asyncScheduler) drain(key any) {
	for {
		s.mu.Lock()
		q := s.queues[key]
		if len(q) == 0 {
			delete(s.queues, key)
			s.mu.Unlock()
			return
		}
		fn := q[0]
		s.queues[key] = q[1:]
		s.mu.Unlock()
		fn()
	}
}

func (s *asyncScheduler) Pend() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(3) == 0
}
