package spitest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// checkNewSocket checks the handle a WSASocket call returned against the
// handles the call made: its kind against XP1_IFS_HANDLES, its owner and
// context, and it finds the base provider's socket for SIO_BASE_HANDLE.
func (e *env) checkNewSocket(s *sock, before, after []handles.Entry) {
	var en handles.Entry
	var ifsNew []spi.Handle
	e.lists.added = appendAdded(e.lists.added[:0], before, after)
	for _, a := range e.lists.added {
		if a.Handle == s.h {
			en = a
		}
		if a.Kind == handles.KindIFSSocket {
			ifsNew = append(ifsNew, a.Handle)
		}
	}
	if en.Handle == 0 {
		e.fail(ruleIFSFlag, "%s: WSASocket returned %v, which is not a handle it made", s.name, s.h)
		return
	}
	if len(ifsNew) == 1 {
		s.base = ifsNew[0]
	}
	switch {
	case e.ifs && en.Kind != handles.KindIFSSocket:
		e.fail(ruleIFSFlag, "entry %d sets XP1_IFS_HANDLES, but the socket WSASocket returned (%v) is a %v handle (from WPUCreateSocketHandle), not an IFS handle",
			e.entry.CatalogEntryId, s.h, en.Kind)
	case !e.ifs && en.Kind != handles.KindSocket:
		e.fail(ruleIFSFlag, "entry %d does not set XP1_IFS_HANDLES, but the socket WSASocket returned (%v) is a %v handle, not one from WPUCreateSocketHandle",
			e.entry.CatalogEntryId, s.h, en.Kind)
	}
	if en.Kind != handles.KindSocket {
		return
	}
	chainTop := spi.CatalogEntryId(e.entry.ProtocolChain.ChainEntries[0])
	if en.Owner != e.entry.CatalogEntryId && en.Owner != chainTop {
		e.fail(ruleContext, "%s: the handle is owned by catalog entry %d, neither the chain %d nor its layer %d: ws2_32 routes calls on it elsewhere",
			s.name, en.Owner, e.entry.CatalogEntryId, chainTop)
	}
	ctx, err := e.p.Handles().QuerySocketHandleContext(s.h)
	if err != nil {
		e.fail(ruleContext, "%s: WPUQuerySocketHandleContext(%v) failed: %v", s.name, s.h, err)
	} else if !sameContext(ctx, en.Context) {
		e.fail(ruleContext, "%s: WPUQuerySocketHandleContext(%v) returned %T, not the context registered (%T)", s.name, s.h, ctx, en.Context)
	}
}

// sameContext compares two contexts by identity where it can.
func sameContext(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = true // not comparable: nothing to say
		}
	}()
	return a == b
}

func (e *env) checkBaseHandle(s *sock, out []byte, n uint32) {
	if n < 8 {
		e.fail(ruleBaseHandle, "%s: SIO_BASE_HANDLE returned %d bytes, not a SOCKET", s.name, n)
		return
	}
	got := spi.Handle(binary.LittleEndian.Uint64(out))
	if s.base != 0 && got != s.base {
		e.fail(ruleBaseHandle, "%s: SIO_BASE_HANDLE answered %v, but the base provider's socket under %v is %v", s.name, got, s.h, s.base)
	}
}

// checkResult compares the status block and WSAGetOverlappedResult with
// what a packet or an event reported.
func (e *env) checkResult(o *op, status spi.Errno, n uint32) {
	if o.ov.InProgress() {
		e.fail(ruleResult, "%s was notified while its overlapped still says WSS_OPERATION_IN_PROGRESS", o.name)
		return
	}
	if got := uint32(o.ov.LoadInternalHigh()); got != n {
		e.fail(ruleResult, "%s: InternalHigh is %d but the notification says %d bytes", o.name, got, n)
	}
	if o.s.closed || o.ioctl {
		return
	}
	e.clientOp++
	bytes, _, err := o.s.th.WSAGetOverlappedResult(o.s.h, o.ov, false)
	if errors.Is(err, spi.WSAENOTSOCK) && (o.s.closed || o.s.reset) {
		return
	}
	if got := spi.ErrnoOf(err); got != status || (err == nil && bytes != n) {
		e.fail(ruleResult, "%s: WSAGetOverlappedResult says %d bytes, %v; the notification said %d bytes, %v",
			o.name, bytes, errText(err), n, errText(errOrNil(status)))
	}
}

// advance feeds the finished operations of each socket, in issue order,
// to the stream checks.
func (e *env) advance() {
	for _, s := range e.socks {
		s.recvs = consumeDone(s.recvs, &s.got)
		e.checkGot(s, false)
		s.sends = consumeDone(s.sends, &s.sent)
		e.checkPeerGot(s, false)
	}
}

// consumeDone takes the finished operations at the head of ops, in issue
// order, adds the bytes each transferred to *record, and returns the
// operations left, in the same storage: the lists are queues that
// every transfer appends to, and cutting them from the front made each
// append allocate again (bench/README.md).
func consumeDone(ops []*op, record *[]byte) []*op {
	n := 0
	for n < len(ops) && ops[n].done() {
		o := ops[n]
		if status, k := o.result(); status == 0 && len(o.notes) > 0 {
			*record = append(*record, o.buf[:min(int(k), len(o.buf))]...)
		}
		n++
	}
	return slices.Delete(ops, 0, n)
}

// checkGot checks that the client received a prefix of what the peer
// sent, in order and once. The first wrong byte is reported once (see
// judge); the record of what the client received goes on as it was.
func (e *env) checkGot(s *sock, final bool) {
	if s.in == nil {
		if len(s.got) <= len(s.peerSent) && bytes.Equal(s.got, s.peerSent[:len(s.got)]) {
			return
		}
		s.in = &streamBreak{at: firstDiff(s.got, s.peerSent), want: slices.Clip(s.peerSent)}
	}
	e.judge(s, s.in, s.got, final, func(r Rule, why string) {
		wire := ""
		if e.transform != nil {
			wire = fmt.Sprintf(" (on the wire %s, made by Target.Transform.Wire)", show(s.peerWire[:s.peerOut]))
		}
		e.fail(r, "%s: the client received %s; the peer sent %s%s%s", s.name, show(s.got), show(s.peerSent), wire, why)
	})
}

// checkPeerGot checks that the peer received a prefix of what the client
// sent, in order and once: with a transform, that Unwire reads the wire
// the peer received as such a prefix. The first wrong byte is reported
// once (see judge); the record of what the peer received goes on as it
// was.
func (e *env) checkPeerGot(s *sock, final bool) {
	if s.out == nil {
		got, err := e.peerReceived(s)
		if err != nil {
			s.out = &streamBreak{judged: true}
			e.fail(ruleStreamData, "%s: the peer received %s, which Target.Transform.Unwire rejects (%v); the client sent %s",
				s.name, show(s.peerGot), err, show(s.sent))
			return
		}
		n := min(len(got), len(s.sent))
		possible := len(s.sent)
		for _, o := range s.sends {
			if o.expectsNote() {
				possible += len(o.buf)
			}
		}
		if bytes.Equal(got[:n], s.sent[:n]) && len(got) <= possible {
			return
		}
		// What the peer may have: the sends completed, then those that may
		// still complete.
		may := append([]byte{}, s.sent...)
		for _, o := range s.sends {
			if o.expectsNote() {
				may = append(may, o.buf...)
			}
		}
		s.out = &streamBreak{at: firstDiff(got, may), want: may}
	}
	if s.out.judged {
		return
	}
	got, err := e.peerReceived(s)
	if err != nil {
		got = s.peerPlain // the plain bytes of the wire up to the break: Unwire read them once
	}
	e.judge(s, s.out, got, final, func(r Rule, why string) {
		plain := ""
		if e.transform != nil {
			plain = ", read by Target.Transform.Unwire as " + show(got)
		}
		e.fail(r, "%s: the peer received %s%s; the client sent %s%s", s.name, show(s.peerGot), plain, show(s.sent), why)
	})
}

// streamBreak is the first wrong byte one end of a connection received.
type streamBreak struct {
	at     int    // its offset in the plain bytes the end received
	want   []byte // the plain bytes the end may have received, when it was found
	judged bool   // its finding was made
}

// judge makes the finding of break b in got, the plain bytes one end of
// the connection of s received, once it can tell the rules apart (four
// bytes from the break on, or the end of the run: final), by calling
// report with the rule and the end of the detail. The bytes of the run's
// payload never repeat four at a time, so four bytes from the break that
// are found elsewhere in what the end may have received are the stream's
// own, out of order or again (StreamOrder); four found nowhere were never
// sent (StreamData). Fewer, at the end of a run, cannot show a piece of
// the stream, and are taken for a change (StreamData), saying so.
func (e *env) judge(s *sock, b *streamBreak, got []byte, final bool, report func(Rule, string)) {
	if b.judged || (len(got)-b.at < 4 && !final) {
		return
	}
	b.judged = true
	w := got[b.at:min(b.at+4, len(got))]
	if j := bytes.Index(b.want, w); j >= 0 && len(w) == 4 {
		report(ruleStream, fmt.Sprintf(": from offset %d on it has the stream's bytes from offset %d, out of order or again", b.at, j))
		return
	}
	why := fmt.Sprintf(": at offset %d it has bytes never sent (%s, where the sender's are %s)", b.at, around(got, b.at), around(b.want, b.at))
	if len(w) < 4 {
		why = fmt.Sprintf(": at offset %d it has bytes the sender did not send there (%s, where the sender's are %s), %d at the end of the run, too few to tell a piece of the stream from bytes never sent",
			b.at, around(got, b.at), around(b.want, b.at), len(w))
	}
	switch {
	case e.transform == nil:
		why += "; a layer that changes the data it carries declares how in Target.Transform"
	case e.ifs && s.fileIO:
		why += "; ReadFile and WriteFile on an IFS handle go straight to the base provider, so no layer changes their data"
	}
	report(ruleStreamData, why)
}

// peerReceived returns the plain bytes the peer of s received: what it
// received, or with a transform what Unwire reads in it.
func (e *env) peerReceived(s *sock) ([]byte, error) {
	if e.transform == nil {
		return s.peerGot, nil
	}
	if s.peerUnwired != len(s.peerGot) || s.peerPlain == nil {
		p, err := e.transform.Unwire(s.peerGot)
		if err != nil {
			return nil, err
		}
		s.peerPlain, s.peerUnwired = append([]byte{}, p...), len(s.peerGot)
	}
	return s.peerPlain, nil
}

// show prints a byte stream briefly.
func show(b []byte) string {
	if len(b) <= 24 {
		return fmt.Sprintf("%d bytes %v", len(b), b)
	}
	return fmt.Sprintf("%d bytes %v…%v", len(b), b[:12], b[len(b)-12:])
}

// finish ends the run: it closes every socket, waits for every
// notification, checks each operation was notified once, checks that the
// provider closed its handles, then cleans the process up and checks that
// nothing of it is left.
func (e *env) finish() {
	if e.closed {
		return
	}
	e.closed = true
	for _, s := range e.socks {
		e.close(s)
	}
	e.awaitAll()
	for _, s := range e.socks {
		e.peerRecv(s)
	}
	e.advance()
	for _, s := range e.socks { // the breaks still awaiting four bytes
		e.checkGot(s, true)
		e.checkPeerGot(s, true)
	}
	for _, o := range e.allOps {
		if o.expectsNote() && len(o.notes) == 0 {
			r, how := ruleCompletesOnce, "pending"
			switch {
			case o.immediate:
				r, how = ruleImmediate, "successful at once"
			case o.closedAt:
				r, how = ruleCloseAborts, "pending, its socket was closed,"
			}
			e.fail(r, "%s returned %s but was never notified by %v", o.name, how, o.mech)
		}
		if o.closedAt && len(o.notes) > 0 {
			if st := o.notes[0].status; st != 0 && !abortStatus(st) && !resetStatus(st) {
				e.fail(ruleCloseAborts, "%s, pending when its socket was closed, completed with %v", o.name, st)
			}
		}
	}
	e.awaitHandles()
	leaked := map[spi.Handle]bool{}
	for _, en := range e.snapshotInto(&e.lists.before) {
		if en.Kind == handles.KindSocket {
			leaked[en.Handle] = true
			e.fail(ruleHandleClose, "handle %v from WPUCreateSocketHandle (entry %d) is still open after every socket was closed and every operation completed",
				en.Handle, en.Owner)
		}
	}
	if e.listener != 0 {
		_ = e.peerTh.Closesocket(e.listener)
	}
	for _, s := range e.socks {
		if s.peer != 0 && !s.gone {
			_ = e.peerTh.Closesocket(s.peer)
		}
	}
	e.settle()
	e.collect()
	e.checkOpenIDs()
	for _, ev := range e.events {
		_ = e.p.WSACloseEvent(ev)
	}
	if e.port != 0 {
		_ = e.p.CloseHandle(e.port)
	}
	for _, th := range append(e.threads, e.poller, e.peerTh) {
		th.Exit()
	}
	if err := e.p.Close(); err != nil {
		e.fail(ruleCleanup, "WSACleanup failed: %v", err)
	}
	e.settle()
	for _, en := range e.snapshotInto(&e.lists.before) {
		e.fail(ruleCleanup, "after WSACleanup the process still has handle %v: %v (owner %d)", en.Handle, en.Kind, en.Owner)
	}
	e.checkHandleTrace(leaked)
}

// awaitHandles waits, outside a bubble, up to the timeout for the
// provider's own goroutines to close the handles it made with
// WPUCreateSocketHandle: a layer closes a handle from the last forwarding
// of its operations, which may follow the client's notification.
func (e *env) awaitHandles() {
	if e.cfg.bubble {
		return
	}
	deadline := time.Now().Add(e.cfg.timeout)
	for time.Now().Before(deadline) {
		left := false
		for _, en := range e.snapshotInto(&e.lists.before) {
			left = left || en.Kind == handles.KindSocket
		}
		if !left {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// checkOpenIDs checks that no thread id from WPUOpenCurrentThread is left
// open on the client's threads once everything completed.
func (e *env) checkOpenIDs() {
	for _, th := range e.threads {
		if n := th.Kernel().Snapshot().OpenIDs; n > 0 {
			e.fail(ruleCleanup, "%d thread ids opened with WPUOpenCurrentThread on a client thread are still open after every operation completed", n)
		}
	}
}

// abortStatus reports whether st is how closesocket ends an operation
// pending on the socket: WSA_OPERATION_ABORTED, as WSPCloseSocket's
// documentation says, or WSAECONNABORTED (STATUS_CONNECTION_ABORTED), what
// Windows since Vista reports on a connected stream socket (Wine's tests of
// Windows, docs/facts.md §9.4), as the loopback provider does.
func abortStatus(st spi.Errno) bool {
	return st == spi.WSA_OPERATION_ABORTED || st == spi.WSAECONNABORTED
}

func resetStatus(st spi.Errno) bool {
	return st == spi.WSAECONNRESET || st == spi.WSAECONNABORTED || st == spi.ERROR_NETNAME_DELETED
}
