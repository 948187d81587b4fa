package spitest

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// What the readiness cases share: waiting for a condition, receiving at
// once on a non-blocking socket, the peer's abortive close, and the names
// of network events.

// until settles the machine and calls cond until it holds. Inside a
// bubble one try is enough, since settling ran everything the provider had
// to do; outside one it tries again until the timeout, as awaitAll waits
// for late notifications. It reports whether cond held.
func (e *env) until(cond func() bool) bool {
	deadline := time.Now().Add(e.cfg.timeout)
	for {
		e.settle()
		if cond() {
			return true
		}
		if e.cfg.bubble || time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// blocking makes call, one that may wait for the provider's work (select
// and WSAPoll wait for the poll they issue), on a goroutine of its own
// under a seeded scheduler, while the kit runs the scheduler's queued work:
// the scheduler runs it only when the kit drains it. It reports whether
// call returned; a call still waiting when nothing is left to run (in a
// bubble) or at the timeout is left to end when the process closes.
func (e *env) blocking(call func()) bool {
	if e.sched == nil {
		call()
		return true
	}
	var raised any
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { raised = recover() }()
		call()
	}()
	deadline := time.Now().Add(e.cfg.timeout)
	for {
		e.settle()
		select {
		case <-done:
			if raised != nil {
				e.fail(ruleNoPanic, "the run panicked: %v", raised)
			}
			return raised == nil
		default:
		}
		if (e.cfg.bubble && e.sched.Len() == 0) || time.Now().After(deadline) {
			return false
		}
		if !e.cfg.bubble {
			time.Sleep(time.Millisecond)
		}
	}
}

// newEvent makes an event object that the end of the run closes.
func (e *env) newEvent() spi.Handle {
	ev, err := e.p.WSACreateEvent()
	if err != nil {
		panic("spitest: WSACreateEvent: " + err.Error())
	}
	e.events = append(e.events, ev)
	return ev
}

// signalled reports whether event ev is set.
func (e *env) signalled(ev spi.Handle) bool {
	k, err := e.p.Kernel().Event(ev)
	return err == nil && k.Snapshot().Signaled
}

// nonblocking puts s in non-blocking mode (FIONBIO), so that the case's
// receives return at once.
func (e *env) nonblocking(s *sock) {
	on := uint32(1)
	e.clientOp++
	if err := s.th.Ioctlsocket(s.h, spi.FIONBIO, &on); err != nil {
		e.logf("ioctlsocket(%s, FIONBIO, 1): %v", s.name, err)
	}
}

// recvNow makes one receive of up to n bytes on s, which is non-blocking,
// adds what it got to what the client received and checks the stream.
func (e *env) recvNow(s *sock, n int) (uint32, error) {
	buf := make([]byte, n)
	var flags uint32
	e.clientOp++
	k, err := s.th.WSARecv(s.h, [][]byte{buf}, &flags, nil, nil)
	e.logf("recv(%s, %d bytes) = %d, %v", s.name, n, k, errText(err))
	if err == nil {
		s.got = append(s.got, buf[:min(int(k), n)]...)
		e.checkGot(s, false)
	}
	return k, err
}

// drain receives on s until a receive fails (WSAEWOULDBLOCK: nothing is
// left) or returns 0 (the peer closed).
func (e *env) drain(s *sock) {
	for range 64 {
		if k, err := e.recvNow(s, 256); err != nil || k == 0 {
			return
		}
	}
}

// peerReset closes the peer of s abortively: SO_LINGER on with a zero
// timeout, then closesocket, so the client's side sees a reset.
func (e *env) peerReset(s *sock) {
	if s.peer == 0 || s.gone {
		return
	}
	e.peerRecv(s)
	lin := make([]byte, 4)
	binary.LittleEndian.PutUint16(lin, 1) // l_onoff 1, l_linger 0
	if err := e.peerTh.Setsockopt(s.peer, spi.SOL_SOCKET, spi.SO_LINGER, lin); err != nil {
		e.logf("setsockopt(peer of %s, SO_LINGER): %v", s.name, err)
	}
	s.gone, s.reset = true, true
	e.logf("peer of %s resets the connection", s.name)
	_ = e.peerTh.Closesocket(s.peer)
}

// askBSP asks s for a SIO_BSP_HANDLE_* code, as ws2_32 does before select
// and WSAPoll: the handle its provider names, or ok false when it fails the
// code (ws2_32 then uses s as it is).
func (e *env) askBSP(s *sock, code uint32) (h spi.Socket, ok bool) {
	out := make([]byte, 8)
	e.clientOp++
	n, err := s.th.WSAIoctl(s.h, code, nil, out, nil, nil)
	if err != nil || n < 8 {
		e.logf("WSAIoctl(%s, %#x) = %d, %v", s.name, code, n, errText(err))
		return 0, false
	}
	h = spi.Socket(binary.LittleEndian.Uint64(out))
	e.logf("WSAIoctl(%s, %#x) = %v", s.name, code, h)
	return h, true
}

// fdNames names the FD_* events of mask, as in "FD_READ|FD_CLOSE", or
// "nothing".
func fdNames(mask int32) string {
	names := [...]string{"FD_READ", "FD_WRITE", "FD_OOB", "FD_ACCEPT", "FD_CONNECT", "FD_CLOSE",
		"FD_QOS", "FD_GROUP_QOS", "FD_ROUTING_INTERFACE_CHANGE", "FD_ADDRESS_LIST_CHANGE"}
	var out []string
	for i, n := range names {
		if mask&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, "|")
}
