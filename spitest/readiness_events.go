package spitest

import (
	"errors"
	"strings"

	"github.com/wsspi/wsspi/spi"
)

// The cases Readiness/EventSelect and Readiness/AsyncSelect: the network
// events of client sockets, read with WSAEnumNetworkEvents or from the
// messages posted to the client's window.

// wmUser is WM_USER, the first message number an application may use.
const wmUser = 0x0400

// netWatch is a client socket with a selection, and what the case has
// read of it.
type netWatch struct {
	s     *sock
	async bool       // WSAAsyncSelect, not WSAEventSelect
	event spi.Handle // WSAEventSelect's event object
	hWnd  spi.HWND   // WSAAsyncSelect's window, one per socket
	msg   uint32     // and its message
	seen  int        // the process's posted messages already read
}

// netSeen is what the case read of a selection while it waited for one
// step's events.
type netSeen struct {
	events int32
	errs   [spi.FD_MAX_EVENTS]spi.Errno
	twice  int32 // events reported more than once
}

func (n *netSeen) add(ev int32, err spi.Errno) {
	for i := range spi.FD_MAX_EVENTS {
		if ev&(1<<i) == 0 {
			continue
		}
		if n.events&(1<<i) != 0 {
			n.twice |= 1 << i
		}
		n.events |= 1 << i
		n.errs[i] = err
	}
}

func eventSelect(e *env) { netEvents(e, false) }
func asyncSelect(e *env) { netEvents(e, true) }

// netEvents: FD_WRITE at the selection of a connected socket, once; one
// FD_READ for data however much more comes, until a receive re-enables
// it, and again after a receive that leaves data; FD_CLOSE once after the
// peer's graceful close, with no error, and after its reset, with
// WSAECONNRESET; FD_WRITE again for a new selection; nothing for the
// socket's own closesocket.
func netEvents(e *env, async bool) {
	const all = spi.FD_READ | spi.FD_WRITE | spi.FD_CLOSE
	if w := e.selectOn(async, all); w != nil {
		e.expect(w, spi.FD_WRITE, 0, "right after the selection of a connected socket")
		e.expect(w, 0, 0, "with no send since FD_WRITE was reported")
		e.peerSend(w.s, 8)
		e.expect(w, spi.FD_READ, 0, "after the peer sent 8 bytes")
		e.peerSend(w.s, 8)
		e.expect(w, 0, 0, "after the peer sent 8 bytes more, with no receive since FD_READ was reported")
		e.recvNow(w.s, 4)
		e.expect(w, spi.FD_READ, 0, "after a receive that left data to read (FD_READ is level-triggered)")
		e.drain(w.s)
		e.expect(w, 0, 0, "after receives that took all the data")
		e.peerClose(w.s)
		e.expect(w, spi.FD_CLOSE, 0, "after the peer's graceful close")
		e.expect(w, 0, 0, "after FD_CLOSE was reported")
	}
	if w := e.selectOn(async, spi.FD_READ|spi.FD_CLOSE); w != nil {
		e.peerReset(w.s)
		e.expect(w, spi.FD_CLOSE, spi.WSAECONNRESET, "after the peer reset the connection")
		e.expect(w, 0, 0, "after FD_CLOSE was reported")
	}
	if w := e.selectOn(async, all); w != nil {
		e.expect(w, spi.FD_WRITE, 0, "right after the selection of a connected socket")
		e.selectAgain(w, 0)
		e.selectAgain(w, all)
		e.expect(w, spi.FD_WRITE, 0, "right after a new selection, the first cancelled")
		e.close(w.s)
		e.settle()
		e.ownClose(w)
	}
}

// selectOn makes a connected client socket and selects events on it.
func (e *env) selectOn(async bool, events int32) *netWatch {
	s := e.socket(e.threads[0], viaEvent)
	if s == nil || s.peer == 0 {
		return nil
	}
	w := &netWatch{s: s, async: async}
	if async {
		w.hWnd, w.msg = spi.HWND(0x100+2*len(e.socks)), wmUser+1
		w.seen = len(e.p.PostedMessages())
	} else {
		w.event = e.newEvent()
	}
	if !e.selectAgain(w, events) {
		return nil
	}
	return w
}

// selectAgain selects events on w's socket, 0 cancelling the selection,
// and checks the blocking mode the selection forces: FIONBIO cannot clear
// non-blocking mode while a selection is on, and can once it is
// cancelled. It leaves the socket non-blocking either way, so the case's
// receives return at once, and reports whether the selection succeeded.
func (e *env) selectAgain(w *netWatch, events int32) bool {
	s := w.s
	var err error
	e.clientOp++
	if w.async {
		err = s.th.WSAAsyncSelect(s.h, w.hWnd, w.msg, events)
		e.logf("WSAAsyncSelect(%s, hWnd %#x, message %#x, %s) = %v", s.name, w.hWnd, w.msg, fdNames(events), errText(err))
	} else {
		err = s.th.WSAEventSelect(s.h, w.event, events)
		e.logf("WSAEventSelect(%s, event %v, %s) = %v", s.name, w.event, fdNames(events), errText(err))
	}
	if err != nil {
		e.fail(ruleNetworkEventOnce, "%s: the selection of %s failed: %v", s.name, fdNames(events), err)
		return false
	}
	off := uint32(0)
	e.clientOp++
	err = s.th.Ioctlsocket(s.h, spi.FIONBIO, &off)
	e.logf("ioctlsocket(%s, FIONBIO, 0) = %v", s.name, errText(err))
	switch {
	case events != 0 && !errors.Is(err, spi.WSAEINVAL):
		e.fail(ruleSelectNonBlocking, "%s: with %s selected, ioctlsocket(FIONBIO, 0) returned %v; want WSAEINVAL", s.name, fdNames(events), errText(err))
	case events == 0 && err != nil:
		e.fail(ruleSelectNonBlocking, "%s: with the selection cancelled, ioctlsocket(FIONBIO, 0) failed: %v", s.name, err)
	}
	e.nonblocking(s)
	return true
}

// expect waits until w reports the events of want (one look when want is
// 0) and checks that it reported them, each once, with their errors
// (closeErr for FD_CLOSE, none for the others), and nothing else; after
// says what the step did.
func (e *env) expect(w *netWatch, want int32, closeErr spi.Errno, after string) {
	var got netSeen
	ok := e.until(func() bool {
		e.look(w, &got, want != 0)
		return got.events&want == want
	})
	if !ok && !w.async {
		// Recorded, perhaps, without the event object being set.
		before := got.events
		e.look(w, &got, false)
		if quiet := got.events &^ before; quiet != 0 {
			e.fail(ruleNetworkEventOnce, "%s: %s, WSAEnumNetworkEvents reported %s, but the event object was never set", w.s.name, after, fdNames(quiet))
		}
	}
	e.judgeEvents(w, want, closeErr, after, &got)
}

// look reads what w reported since the last look into got: the messages
// posted to its window, checking what names them, or what
// WSAEnumNetworkEvents reports, only once the event object is set when
// needSignal is set.
func (e *env) look(w *netWatch, got *netSeen, needSignal bool) {
	s := w.s
	if w.async {
		msgs := e.p.PostedMessages()
		for _, m := range msgs[w.seen:] {
			if m.HWnd != w.hWnd {
				continue
			}
			ev, err := int32(spi.WSAGETSELECTEVENT(m.LParam)), spi.WSAGETSELECTERROR(m.LParam)
			e.logf("message to %s's window: wParam %#x, lParam %#x (%s, %v)", s.name, m.WParam, m.LParam, fdNames(ev), errText(errOrNil(err)))
			e.checkMessage(w, m.Msg, spi.Socket(m.WParam), ev)
			got.add(ev, err)
		}
		w.seen = len(msgs)
		return
	}
	set := e.signalled(w.event)
	if needSignal && !set {
		return
	}
	e.clientOp++
	ne, err := s.th.WSAEnumNetworkEvents(s.h, w.event)
	e.logf("WSAEnumNetworkEvents(%s) = %s %v, %v", s.name, fdNames(ne.NetworkEvents), ne.ErrorCode, errText(err))
	if err != nil {
		e.fail(ruleNetworkEventOnce, "%s: WSAEnumNetworkEvents failed: %v", s.name, err)
		return
	}
	for i := range spi.FD_MAX_EVENTS {
		got.add(ne.NetworkEvents&(1<<i), ne.ErrorCode[i])
	}
}

// checkMessage checks what names a WSAAsyncSelect message: the client's
// message number, and its socket in wParam.
func (e *env) checkMessage(w *netWatch, msg uint32, h spi.Socket, ev int32) {
	s := w.s
	if msg != w.msg {
		e.fail(ruleAsyncSelectHandle, "%s: the %s message posted to its window is message %#x, not the %#x the client asked for", s.name, fdNames(ev), msg, w.msg)
	}
	if h == s.h {
		return
	}
	what := "a handle the client never saw"
	if h == s.base {
		what = "the base provider's socket under it"
	}
	e.fail(ruleAsyncSelectHandle, "%s: the %s message posted to its window names socket %v in wParam, %s, not the client's socket %v", s.name, fdNames(ev), h, what, s.h)
}

// judgeEvents checks what one step of w reported against want.
func (e *env) judgeEvents(w *netWatch, want int32, closeErr spi.Errno, after string, got *netSeen) {
	s := w.s
	api := "WSAEnumNetworkEvents"
	if w.async {
		api = "the messages to its window"
	}
	missing, extra := want&^got.events, got.events&^want
	report := func(r Rule, group int32) {
		miss, more, dup := missing&group, extra&group, got.twice&group
		if miss|more|dup == 0 {
			return
		}
		var what []string
		if miss != 0 {
			what = append(what, "without "+fdNames(miss))
		}
		if more != 0 {
			what = append(what, "with "+fdNames(more)+" unasked for")
		}
		if dup != 0 {
			what = append(what, "with "+fdNames(dup)+" twice")
		}
		e.fail(r, "%s: %s, %s reported %s (%s); want %s", s.name, after, api, fdNames(got.events), strings.Join(what, ", "), fdNames(want))
	}
	report(ruleCloseEventOnce, spi.FD_CLOSE)
	report(ruleNetworkEventOnce, ^spi.FD_CLOSE)
	for i, err := range got.errs {
		ev := int32(1) << i
		switch {
		case got.events&want&ev == 0: // an event unasked for is reported above
		case ev == spi.FD_CLOSE && err != closeErr:
			e.fail(ruleCloseEventOnce, "%s: %s, FD_CLOSE came with error %v; want %v", s.name, after, errText(errOrNil(err)), errText(errOrNil(closeErr)))
		case ev != spi.FD_CLOSE && err != 0:
			e.fail(ruleNetworkEventOnce, "%s: %s, %s came with error %v; want none", s.name, after, fdNames(ev), err)
		}
	}
}

// ownClose checks that the closesocket of w's socket reported nothing: no
// message to its window, and its event object left unset.
func (e *env) ownClose(w *netWatch) {
	s := w.s
	if !w.async {
		if e.signalled(w.event) {
			e.fail(ruleCloseEventOnce, "%s: its own closesocket set the event object of its WSAEventSelect", s.name)
		}
		return
	}
	for _, m := range e.p.PostedMessages()[w.seen:] {
		if m.HWnd == w.hWnd {
			e.fail(ruleCloseEventOnce, "%s: its own closesocket posted %s (lParam %#x) to its window", s.name,
				fdNames(int32(spi.WSAGETSELECTEVENT(m.LParam))), m.LParam)
		}
	}
}
