package spitest

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// The cases Readiness/Select and Readiness/Poll: select and WSAPoll on a
// client socket, routed as ws2_32 routes them (see the root package's
// Thread.Select and Thread.WSAPoll), and IOCTL_AFD_POLL on its
// SIO_BASE_HANDLE socket.

// errNeverReturned stands for the result of a call that never returned.
var errNeverReturned = errors.New("the call, with a zero timeout, never returned")

// selectReady: select reports the client's socket writable when
// connected, readable once the peer sent data and no longer once it is
// read, and readable after the peer's graceful close (a receive then
// returns 0 at once) and after its reset (a receive fails with
// WSAECONNRESET).
func selectReady(e *env) {
	s := e.socket(e.threads[0], viaEvent)
	if s == nil || s.peer == 0 {
		return
	}
	e.nonblocking(s)
	e.selectRoute(s)
	e.expectSelect(s, true, false, true, "on a connected socket with nothing to read")
	e.peerSend(s, 8)
	e.expectSelect(s, true, true, true, "after the peer sent 8 bytes")
	e.drain(s)
	e.expectSelect(s, true, false, true, "after receives that took all the data")
	e.peerClose(s)
	e.expectSelect(s, false, true, false, "after the peer's graceful close")
	e.expectRecvAfterClose(s, 0)
	if r := e.socket(e.threads[0], viaEvent); r != nil && r.peer != 0 {
		e.nonblocking(r)
		e.peerReset(r)
		e.expectSelect(r, false, true, false, "after the peer reset the connection")
		e.expectRecvAfterClose(r, spi.WSAECONNRESET)
	}
}

// selectRoute asks the client's socket for SIO_BSP_HANDLE_SELECT, as
// ws2_32 does to choose the provider that serves select, and checks that
// the answer names a socket of the process: the client's own (a non-IFS
// layer that serves select), the base provider's (the code went down every
// layer, and the base provider serves select: the layers never see it), or
// a lower layer's.
func (e *env) selectRoute(s *sock) {
	h, ok := e.askBSP(s, spi.SIO_BSP_HANDLE_SELECT)
	if !ok {
		return // ws2_32 passes s as it is
	}
	who := "a layer below the target's top layer"
	switch h {
	case s.h:
		who = "the target's provider"
	case s.base:
		who = "the base provider"
	}
	for _, en := range e.snapshot() {
		if en.Handle == h && (en.Kind == handles.KindSocket || en.Kind == handles.KindIFSSocket) {
			e.logf("%s: select is served by %s (SIO_BSP_HANDLE_SELECT = %v)", s.name, who, h)
			return
		}
	}
	e.fail(ruleSelectReady, "%s: SIO_BSP_HANDLE_SELECT answered %v, which is no socket of the process: ws2_32 hands select that handle, and select fails", s.name, h)
}

// expectSelect selects on s, with writefds when write is set, until it
// reports s readable as wantRead says (and writable when write is set),
// and checks the sets and the count.
func (e *env) expectSelect(s *sock, write, wantRead, wantWrite bool, after string) {
	var r, w spi.FDSet
	var n int
	var err error
	e.until(func() bool {
		// The call works on sets of its own: one that never returns may
		// still write them.
		var cr, cw spi.FDSet
		var cn int
		var cerr error
		cr.Set(s.h)
		wp := &cw
		if write {
			cw.Set(s.h)
		} else {
			wp = nil
		}
		zero := time.Duration(0)
		e.clientOp++
		if e.blocking(func() { cn, cerr = s.th.Select(&cr, wp, nil, &zero) }) {
			r, w, n, err = cr, cw, cn, cerr
		} else {
			r, w, n, err = spi.FDSet{}, spi.FDSet{}, 0, errNeverReturned
		}
		e.logf("select(%s) = %d, %v: readable %v, writable %v", s.name, n, errText(err), r.IsSet(s.h), w.IsSet(s.h))
		return err != nil || (r.IsSet(s.h) == wantRead && (!write || w.IsSet(s.h) == wantWrite))
	})
	if err != nil {
		e.fail(ruleSelectReady, "%s: %s, select failed: %v", s.name, after, err)
		return
	}
	var bad []string
	if r.IsSet(s.h) != wantRead {
		bad = append(bad, fmt.Sprintf("readfds %s it", keeps(r.IsSet(s.h))))
	}
	if write && w.IsSet(s.h) != wantWrite {
		bad = append(bad, fmt.Sprintf("writefds %s it", keeps(w.IsSet(s.h))))
	}
	for _, set := range []*spi.FDSet{&r, &w} {
		for _, h := range set.Array[:min(set.Count, spi.FD_SETSIZE)] {
			if h != s.h {
				bad = append(bad, fmt.Sprintf("a set names %v, not the client's socket", h))
			}
		}
	}
	if want := int(r.Count + w.Count); n != want {
		bad = append(bad, fmt.Sprintf("select returned %d for %d handles left in the sets", n, want))
	}
	for _, b := range bad {
		e.fail(ruleSelectReady, "%s: %s, %s (readable wanted %v, writable %v)", s.name, after, b, wantRead, wantWrite)
	}
}

func keeps(set bool) string {
	if set {
		return "keeps"
	}
	return "drops"
}

// expectRecvAfterClose checks what a receive on s returns once select
// reported the peer's close: 0 bytes at once (want 0), or the error want.
func (e *env) expectRecvAfterClose(s *sock, want spi.Errno) {
	k, err := e.recvNow(s, 8)
	switch {
	case want == 0 && (err != nil || k != 0):
		e.fail(ruleSelectReady, "%s: select reported the peer's graceful close, but a receive returned %d bytes, %v; want 0 bytes at once", s.name, k, errText(err))
	case want != 0 && !errors.Is(err, want):
		e.fail(ruleSelectReady, "%s: select reported the peer's reset, but a receive returned %d bytes, %v; want %v", s.name, k, errText(err), want)
	}
}

// pollReady: WSAPoll reports POLLWRNORM on a connected socket, POLLRDNORM
// once the peer sent data and no longer once it is read, POLLHUP (with
// POLLRDNORM, asked) after the peer's graceful close and POLLHUP after its
// reset; and IOCTL_AFD_POLL on the SIO_BASE_HANDLE socket reports the
// data as AFD_POLL_RECEIVE.
func pollReady(e *env) {
	const rw = spi.POLLRDNORM | spi.POLLWRNORM
	s := e.socket(e.threads[0], viaEvent)
	if s == nil || s.peer == 0 {
		return
	}
	e.nonblocking(s)
	if h, ok := e.askBSP(s, spi.SIO_BSP_HANDLE_POLL); ok && h != s.base && s.base != 0 {
		e.logf("%s: SIO_BSP_HANDLE_POLL answered %v, not the base provider's socket %v", s.name, h, s.base)
	}
	e.expectPoll(s, rw, spi.POLLWRNORM, true, "on a connected socket with nothing to read")
	e.peerSend(s, 8)
	e.expectPoll(s, rw, rw, true, "after the peer sent 8 bytes")
	e.afdPoll(s)
	e.drain(s)
	e.expectPoll(s, rw, spi.POLLWRNORM, true, "after receives that took all the data")
	e.peerClose(s)
	e.expectPoll(s, spi.POLLRDNORM, spi.POLLRDNORM|spi.POLLHUP, true, "after the peer's graceful close")
	if r := e.socket(e.threads[0], viaEvent); r != nil && r.peer != 0 {
		e.peerReset(r)
		e.expectPoll(r, spi.POLLRDNORM, spi.POLLHUP, false, "after the peer reset the connection")
	}
}

// expectPoll polls s for events until its revents is want (exact), or
// holds want (not exact), and checks it and the count.
func (e *env) expectPoll(s *sock, events, want int16, exact bool, after string) {
	fds := []spi.WSAPOLLFD{{Fd: s.h, Events: events}}
	var n int
	var err error
	match := func() bool {
		if exact {
			return fds[0].Revents == want
		}
		return fds[0].Revents&want == want && fds[0].Revents&spi.POLLNVAL == 0
	}
	e.until(func() bool {
		call := []spi.WSAPOLLFD{{Fd: s.h, Events: events}} // see expectSelect
		var cn int
		var cerr error
		e.clientOp++
		if e.blocking(func() { cn, cerr = s.th.WSAPoll(call, 0) }) {
			fds, n, err = call, cn, cerr
		} else {
			fds, n, err = []spi.WSAPOLLFD{{Fd: s.h, Events: events}}, 0, errNeverReturned
		}
		e.logf("WSAPoll(%s, events %#x) = %d, %v: revents %#x", s.name, events, n, errText(err), fds[0].Revents)
		return err != nil || match()
	})
	switch {
	case err != nil:
		e.fail(rulePollReady, "%s: %s, WSAPoll failed: %v", s.name, after, err)
	case !match():
		how := "revents %#x; want %#x"
		if !exact {
			how = "revents %#x; want %#x among them, and no POLLNVAL"
		}
		e.fail(rulePollReady, "%s: %s, WSAPoll of events %#x reported "+how, s.name, after, events, fds[0].Revents, want)
	case (n == 1) != (fds[0].Revents != 0):
		e.fail(rulePollReady, "%s: %s, WSAPoll returned %d with revents %#x", s.name, after, n, fds[0].Revents)
	}
}

// afdPoll issues IOCTL_AFD_POLL on the SIO_BASE_HANDLE socket of s, as
// libuv does (no completion packet), while data waits, and checks that it
// reports AFD_POLL_RECEIVE for that socket.
func (e *env) afdPoll(s *sock) {
	h, ok := e.askBSP(s, spi.SIO_BASE_HANDLE)
	if !ok {
		return // BaseHandle's case reports it
	}
	info := spi.AFDPollInfo{Handles: []spi.AFDPollHandleInfo{{Handle: h, Events: spi.AFD_POLL_RECEIVE | spi.AFD_POLL_LOCAL_CLOSE}}}
	buf := info.Marshal()
	iosb := new(spi.Overlapped)
	e.clientOp++
	err := s.th.NtDeviceIoControlFile(h, 0, nil, iosb, spi.IOCTL_AFD_POLL, buf, buf)
	e.logf("NtDeviceIoControlFile(%v, IOCTL_AFD_POLL, RECEIVE|LOCAL_CLOSE) = %v", h, err)
	if err != nil && !errors.Is(err, spi.STATUS_PENDING) {
		e.fail(ruleAFDPoll, "%s: IOCTL_AFD_POLL on its SIO_BASE_HANDLE socket %v failed: %v", s.name, h, err)
		return
	}
	e.until(func() bool { return !iosb.InProgress() })
	got, perr := spi.ParseAFDPollInfo(buf)
	st := spi.NTStatus(iosb.LoadInternal())
	switch {
	case iosb.InProgress():
		e.fail(ruleAFDPoll, "%s: IOCTL_AFD_POLL on %v, with data waiting, never completed", s.name, h)
	case st != spi.STATUS_SUCCESS || perr != nil:
		e.fail(ruleAFDPoll, "%s: IOCTL_AFD_POLL on %v, with data waiting, completed with %v (%v)", s.name, h, st, perr)
	case len(got.Handles) != 1 || got.Handles[0].Handle != h || got.Handles[0].Events&spi.AFD_POLL_RECEIVE == 0:
		e.fail(ruleAFDPoll, "%s: IOCTL_AFD_POLL on %v, with data waiting, reported %+v; want AFD_POLL_RECEIVE for %v", s.name, h, got.Handles, h)
	}
}
