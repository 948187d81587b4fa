package spitest

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// snapshot returns the live handles of the process, sorted by value.
func (e *env) snapshot() []handles.Entry { return e.p.Handles().Snapshot().Live }

// snapshotInto is snapshot into *buf, reusing its storage: the socket
// action looks at the table before and after every WSASocket, and two
// fresh lists each time showed in the workload's speed (bench/README.md).
func (e *env) snapshotInto(buf *[]handles.Entry) []handles.Entry {
	*buf = e.p.Handles().AppendLive((*buf)[:0])
	return *buf
}

// added returns the entries of after that are not in before (both sorted
// by value): the handles made in between.
func added(before, after []handles.Entry) []handles.Entry {
	return appendAdded(nil, before, after)
}

// appendAdded is added, appending to out.
func appendAdded(out, before, after []handles.Entry) []handles.Entry {
	i := 0
	for _, a := range after {
		for i < len(before) && before[i].Handle < a.Handle {
			i++
		}
		if i < len(before) && before[i].Handle == a.Handle && before[i].Generation == a.Generation {
			continue
		}
		out = append(out, a)
	}
	return out
}

// socket makes a client socket through the target entry, checks what
// kind of handle it is, connects it to a new peer and sets up its
// notifications. It returns nil when WSASocket failed, which the log
// records (the workload's faults make it fail; a case that needs the
// socket returns early).
func (e *env) socket(th *wsspi.Thread, m mech) *sock {
	before := e.snapshotInto(&e.lists.before)
	e.clientOp++
	h, err := th.WSASocket(e.entry.AddressFamily, e.entry.SocketType, e.entry.Protocol, &e.entry, 0, spi.WSA_FLAG_OVERLAPPED)
	if err != nil {
		e.logf("WSASocket: %v", err)
		return nil
	}
	s := &sock{name: e.name(len(e.socks), "s"), h: h, th: th, mech: m}
	q := make([]*op, 0, 2*sockQueue)
	s.sends, s.recvs = q[:0:sockQueue], q[sockQueue:sockQueue:2*sockQueue]
	e.socks = append(e.socks, s)
	e.open = append(e.open, s)
	after := e.snapshotInto(&e.lists.after)
	e.logf("%s = WSASocket(entry %d) = %v, notified by %v", s, e.entry.CatalogEntryId, h, m)
	e.checkNewSocket(s, before, after)
	e.clientOp++
	if err := th.Connect(h, e.addr); err != nil {
		e.logf("connect %s: %v", s, err)
		return s
	}
	peer, _, err := e.peerTh.Accept(e.listener)
	if err != nil {
		e.fail(ruleConnect, "%s: connect returned success but the peer's listener has no connection to accept: %v", s.name, err)
		return s
	}
	s.peer = peer
	if m == viaPort {
		if e.port == 0 {
			port, err := e.p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)
			if err != nil {
				panic("spitest: CreateIoCompletionPort: " + err.Error())
			}
			e.port = port
		}
		e.nextKey += 0x10
		s.key = 0x5000 + e.nextKey
		e.clientOp++
		if _, err := e.p.CreateIoCompletionPort(h, e.port, s.key, 0); err != nil {
			e.fail(ruleMechanism, "%s: CreateIoCompletionPort(%v) on the client's socket failed: %v", s.name, h, err)
		}
	}
	return s
}

// sockQueue is the room a socket's lists of sends and receives start
// with, in one allocation: transfer lets 8 operations of a socket await
// their notification.
const sockQueue = 8

// payload returns the next n bytes of the run's byte pattern
// (fillPattern): no four bytes a run sends repeat, so a duplicate or a
// reordering shows as bytes from elsewhere in the stream, and a change as
// bytes never sent.
func (e *env) payload(n int) []byte {
	b := e.bytes(n)
	fillPattern(&e.lfsr, b)
	return b
}

// bytes returns n zero bytes of their own: cut from a block the run
// allocates now and then, since the buffers of its operations are kept
// to the end of the run as records, and one allocation each showed in the
// workload's speed (bench/README.md). The slice's capacity is its length,
// so nothing appended to one reaches the next.
func (e *env) bytes(n int) []byte {
	if len(e.arena) < n {
		e.arena = make([]byte, max(n, arenaBlock))
	}
	b := e.arena[:n:n]
	e.arena = e.arena[n:]
	return b
}

const arenaBlock = 4096

// newOp returns an operation on s, notified by s's mechanism, with its
// overlapped.
func newOp(s *sock) *op {
	o := &op{s: s, mech: s.mech}
	o.ov, o.notes = &o.overlapped, o.firstNote[:0]
	return o
}

// name returns the concatenation of parts and n in decimal, as
// "s0.WSASend#12". The names of the run's sockets and operations are cut
// from blocks, as their buffers are (bytes): a name of its own for each
// operation showed in the workload's allocations (bench/README.md). The
// strings a strings.Builder returns are never written again.
func (e *env) name(n int, parts ...string) string {
	var room [64]byte
	b := room[:0]
	for _, p := range parts {
		b = append(b, p...)
	}
	b = strconv.AppendInt(b, int64(n), 10)
	if e.names.Cap()-e.names.Len() < len(b) {
		e.names = strings.Builder{}
		e.names.Grow(max(len(b), namesBlock))
	}
	start := e.names.Len()
	e.names.Write(b)
	return e.names.String()[start:]
}

const namesBlock = 2048

// transferCall names the call issue makes.
func transferCall(send, file bool) string {
	switch {
	case send && file:
		return "WriteFile"
	case file:
		return "ReadFile"
	case send:
		return "WSASend"
	}
	return "WSARecv"
}

// issue starts an overlapped send or receive on s: through WSASend or
// WSARecv, or through WriteFile or ReadFile when file is set.
func (e *env) issue(s *sock, send, file bool, size int) *op {
	o := newOp(s)
	o.send = send
	if file && o.mech == viaRoutine {
		o.mech = viaEvent // ReadFile and WriteFile take no routine
	}
	cr := e.arm(o)
	o.name = e.name(len(e.allOps), s.name, ".", transferCall(send, file), "#")
	s.fileIO = s.fileIO || file
	if send {
		o.buf = e.payload(size)
	} else {
		o.buf = e.bytes(size)
	}
	e.ops[o.ov] = o
	e.allOps = append(e.allOps, o)
	if send {
		s.sends = append(s.sends, o)
	} else {
		s.recvs = append(s.recvs, o)
	}
	e.clientOp++
	switch {
	case send && file:
		o.retBytes, o.ret = s.th.WriteFile(s.h, o.buf, o.ov)
	case file:
		o.retBytes, o.ret = s.th.ReadFile(s.h, o.buf, o.ov)
	case send:
		o.bufs[0] = o.buf
		o.retBytes, o.ret = s.th.WSASend(s.h, o.bufs[:], 0, o.ov, cr)
	default:
		o.bufs[0] = o.buf
		o.retBytes, o.ret = s.th.WSARecv(s.h, o.bufs[:], &o.flags, o.ov, cr)
	}
	e.classify(o)
	return o
}

// arm prepares o's notification mechanism: an event of its own in HEvent,
// or the completion routine to pass; nil for a port.
func (e *env) arm(o *op) spi.CompletionRoutine {
	switch o.mech {
	case viaEvent:
		ev, err := e.p.WSACreateEvent()
		if err != nil {
			panic("spitest: WSACreateEvent: " + err.Error())
		}
		obj, err := e.p.Kernel().Event(ev)
		if err != nil {
			panic("spitest: the event WSACreateEvent made: " + err.Error())
		}
		e.events = append(e.events, ev)
		e.evObjs = append(e.evObjs, obj)
		e.evOps = append(e.evOps, o)
		o.event, o.ov.HEvent = ev, ev
	case viaRoutine:
		return e.routine(o)
	}
	return nil
}

// ioctl issues an overlapped SIO_BASE_HANDLE on s, which completes at
// once and must be notified like any overlapped operation.
func (e *env) ioctl(s *sock) *op {
	o := newOp(s)
	o.ioctl, o.buf = true, e.bytes(8)
	cr := e.arm(o)
	o.name = e.name(len(e.allOps), s.name, ".WSAIoctl(SIO_BASE_HANDLE, overlapped)#")
	e.ops[o.ov] = o
	e.allOps = append(e.allOps, o)
	e.clientOp++
	o.retBytes, o.ret = s.th.WSAIoctl(s.h, spi.SIO_BASE_HANDLE, nil, o.buf, o.ov, cr)
	e.classify(o)
	if o.immediate {
		e.checkBaseHandle(s, o.buf, o.retBytes)
	}
	return o
}

// baseHandle asks s for SIO_BASE_HANDLE without an overlapped and checks
// the answer.
func (e *env) baseHandle(s *sock) {
	out := e.bytes(8)
	e.clientOp++
	n, err := s.th.WSAIoctl(s.h, spi.SIO_BASE_HANDLE, nil, out, nil, nil)
	e.logf("WSAIoctl(%s, SIO_BASE_HANDLE) = %d, %v", s, n, err)
	if err != nil {
		if !s.closed && !s.reset {
			e.fail(ruleBaseHandle, "%s: WSAIoctl(SIO_BASE_HANDLE) failed: %v; the base provider answers it", s.name, err)
		}
		return
	}
	e.checkBaseHandle(s, out, n)
}

// classify records what the call that started o returned.
func (e *env) classify(o *op) {
	switch {
	case o.ret == nil:
		o.immediate = true
	case errors.Is(o.ret, spi.WSA_IO_PENDING):
		o.pending = true
	}
	e.logOp(o, -1)
}

func errText(err error) string { return statusOf(err).String() }

// status is how the log shows the outcome of a call: "success", or the
// text of the Windows code. A status is a number, which the log keeps
// without formatting it (logf).
type status spi.Errno

func statusOf(err error) status { return status(spi.ErrnoOf(err)) }

func (st status) String() string {
	if st == 0 {
		return "success"
	}
	return spi.Errno(st).Error()
}

// peerSend sends n bytes from the peer of s (nonblocking). With a
// transform the peer sends their wire, which Wire makes of every send of
// the peer so far; the part the base provider does not take at once goes
// first at the peer's next send or receive.
func (e *env) peerSend(s *sock, n int) {
	if s.peer == 0 || s.gone {
		return
	}
	b := e.payload(n)
	if e.transform == nil {
		k, err := e.peerTh.WSASend(s.peer, [][]byte{b}, 0, nil, nil)
		e.logf("peer of %s sends %d bytes: %d, %v", s, n, k, statusOf(err))
		if err == nil {
			s.peerSent = append(s.peerSent, b[:k]...)
		}
		return
	}
	sends := append(slices.Clip(s.peerSends), b)
	wire := e.transform.Wire(sends)
	if !bytes.HasPrefix(wire, s.peerWire) {
		e.fail(ruleFactory, "%s: Target.Transform.Wire is not incremental: Wire of the peer's %d sends (%s) does not begin with Wire of the first %d (%s), which the peer already sent",
			s.name, len(sends), show(wire), len(s.peerSends), show(s.peerWire))
		return
	}
	e.logf("peer of %s sends %d bytes, %d bytes on the wire", s, n, len(wire)-len(s.peerWire))
	s.peerSends, s.peerWire = sends, wire
	s.peerSent = append(s.peerSent, b...)
	e.peerFlush(s)
}

// peerFlush hands the peer's wire that the base provider has not taken to
// it, until it takes no more.
func (e *env) peerFlush(s *sock) {
	for s.peerOut < len(s.peerWire) {
		k, err := e.peerTh.WSASend(s.peer, [][]byte{s.peerWire[s.peerOut:]}, 0, nil, nil)
		e.logf("peer of %s sends %d bytes of wire: %d, %v", s, len(s.peerWire)-s.peerOut, k, statusOf(err))
		if err != nil || k == 0 {
			return
		}
		s.peerOut += int(k)
	}
}

// peerRecv reads everything the peer of s has been sent.
func (e *env) peerRecv(s *sock) {
	if s.peer == 0 || s.gone {
		return
	}
	e.peerFlush(s)
	if e.peerBuf == nil {
		e.peerBuf = [][]byte{make([]byte, 4096)}
	}
	for {
		k, err := e.peerTh.WSARecv(s.peer, e.peerBuf, nil, nil, nil)
		if err != nil || k == 0 {
			break
		}
		s.peerGot = append(s.peerGot, e.peerBuf[0][:k]...)
	}
	e.checkPeerGot(s, false)
}

// peerClose closes the peer of s gracefully.
func (e *env) peerClose(s *sock) {
	if s.peer == 0 || s.gone {
		return
	}
	e.peerRecv(s)
	s.gone = true
	e.logf("peer of %s closes", s)
	_ = e.peerTh.Closesocket(s.peer)
}

// close closes client socket s.
func (e *env) close(s *sock) {
	if s.closed {
		return
	}
	for _, o := range e.allOps {
		if o.s == s && len(o.notes) == 0 && o.expectsNote() {
			o.closedAt = true
		}
	}
	if s.base != 0 {
		e.faults.disarm(s.base)
	}
	e.clientOp++
	err := s.th.Closesocket(s.h)
	e.logf("closesocket(%s) = %v", s, statusOf(err))
	s.closed = true
	e.open = slices.DeleteFunc(e.open, func(o *sock) bool { return o == s })
	if err != nil {
		e.fail(ruleCloseAborts, "closesocket(%s) failed: %v", s.name, err)
	}
}
