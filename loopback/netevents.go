package loopback

import (
	"slices"

	"github.com/wsspi/wsspi/spi"
)

// Network events: WSPEventSelect, WSPAsyncSelect and WSPEnumNetworkEvents
// (docs/facts.md §12.3, §12.4, §12.6). A socket with a selection records
// each selected event once, with its error, and notifies (WPUSetEvent on
// the selected event, or WPUPostMessage to the selected window); the event
// is then disarmed until its re-enabling call (armed). Every state change
// that can make an event's condition hold ends in readinessLocked, which
// evaluates the selection; notifications are collected in the flushList
// and made once the network lock is released.

// eventOrder is the order in which one evaluation records events: a
// connect's outcome before the writability it brings, data before the
// close that follows it.
var eventOrder = [...]int32{spi.FD_CONNECT, spi.FD_ACCEPT, spi.FD_READ, spi.FD_OOB, spi.FD_WRITE, spi.FD_CLOSE}

// rearmedBySelect are the events a selection arms again: the
// level-triggered ones, which a selection reports at once when their
// condition holds, and FD_WRITE, which a selection reports when the socket
// is already writable.
const rearmedBySelect = spi.FD_READ | spi.FD_OOB | spi.FD_ACCEPT | spi.FD_WRITE

// armedAtStart are the events a new socket may record: all but
// FD_ADDRESS_LIST_CHANGE, which only SIO_ADDRESS_LIST_CHANGE arms, and the
// events the provider never records.
const armedAtStart = rearmedBySelect | spi.FD_CONNECT | spi.FD_CLOSE

// netSelect is the selection of a socket, guarded by the network lock.
type netSelect struct {
	mask  int32      // the selected FD_* events, never 0
	p     *Provider  // the process that selected: its upcalls notify
	h     spi.Socket // the handle it selected on: a message's wParam
	event spi.Handle // WSPEventSelect: the event to set
	hwnd  spi.HWND   // WSPAsyncSelect: the window to post to
	msg   uint32     // WSPAsyncSelect: the message
	async bool       // WSPAsyncSelect rather than WSPEventSelect

	// WSPEventSelect only: the events recorded since the last
	// WSPEnumNetworkEvents, and their errors by FD_*_BIT.
	recorded int32
	errs     [spi.FD_MAX_EVENTS]spi.Errno
}

// netNote is one notification of a network event, made outside the
// network lock: WPUSetEvent(event), or WPUPostMessage(hwnd, msg, wParam,
// lParam) when post is set.
type netNote struct {
	p      *Provider
	post   bool
	event  spi.Handle
	hwnd   spi.HWND
	msg    uint32
	wParam uintptr
	lParam uintptr
}

// emit makes the notification through the upcalls of the process that
// selected. A failing upcall (a closed event, a destroyed window) is
// ignored, as AFD ignores an event it cannot set.
func (nt netNote) emit() {
	up, _, err := nt.p.services()
	if err != nil {
		return
	}
	if nt.post {
		if up.WPUPostMessage != nil {
			up.WPUPostMessage(nt.hwnd, nt.msg, nt.wParam, nt.lParam)
		}
		return
	}
	if up.WPUSetEvent != nil {
		up.WPUSetEvent(nt.event)
	}
}

// bitOf returns the FD_*_BIT of a single FD_* event.
func bitOf(ev int32) int {
	for i := range spi.FD_MAX_EVENTS {
		if ev == 1<<i {
			return i
		}
	}
	panic("loopback: not a single FD_* event")
}

// readinessLocked re-evaluates what watches s, after a change that may
// have made one of its events or poll conditions hold: its selection and
// the pending AFD polls that list it. It costs two nil checks on a socket
// nobody watches.
func (n *Network) readinessLocked(s *socket, fl *flushList) {
	if s == nil {
		return
	}
	if s.sel != nil {
		n.netEventsLocked(s, fl)
	}
	if len(s.polls) > 0 {
		n.repollLocked(s, fl)
	}
}

// netConditionLocked reports whether the condition of event ev holds on s,
// and the error it is recorded with.
func (s *socket) netConditionLocked(ev int32) (bool, spi.Errno) {
	switch ev {
	case spi.FD_READ:
		if !s.stream {
			return s.dq.Len() > 0, 0
		}
		return s.state == stateConnected && s.rx.Len() > 0, 0
	case spi.FD_WRITE:
		return s.readyLocked(1), 0
	case spi.FD_ACCEPT:
		return s.state == stateListening && len(s.acceptq) > 0, 0
	case spi.FD_CONNECT:
		return s.connectDone, s.connectErr
	case spi.FD_CLOSE:
		if !s.stream || s.state != stateConnected {
			return false, 0
		}
		if s.err != 0 {
			return true, s.err
		}
		// A graceful close counts once the data before the FIN is read.
		return s.rxFin && s.rx.Len() == 0, 0
	}
	return false, 0 // FD_OOB: loopback has no out-of-band data
}

// netEventsLocked records, and notifies, every selected and armed event of
// s whose condition holds.
func (n *Network) netEventsLocked(s *socket, fl *flushList) {
	sel := s.sel
	signal := false
	for _, ev := range eventOrder {
		if sel.mask&s.armed&ev == 0 {
			continue
		}
		ok, err := s.netConditionLocked(ev)
		if !ok {
			continue
		}
		s.armed &^= ev
		if n.recordLocked(s, ev, err, fl) {
			signal = true
		}
	}
	if signal {
		fl.note(netNote{p: sel.p, event: sel.event})
	}
}

// recordLocked records event ev with err in the selection of s: a message
// for WSPAsyncSelect, or the record for WSPEventSelect, in which case it
// reports that the event must be set.
func (n *Network) recordLocked(s *socket, ev int32, err spi.Errno, fl *flushList) bool {
	sel := s.sel
	if sel.async {
		fl.note(netNote{p: sel.p, post: true, hwnd: sel.hwnd, msg: sel.msg,
			wParam: uintptr(sel.h), lParam: spi.WSAMAKESELECTREPLY(uint16(ev), err)})
		return false
	}
	sel.recorded |= ev
	sel.errs[bitOf(ev)] = err
	return true
}

// reenable is a re-enabling call on s (docs/facts.md §12.3): it arms
// events again and records at once those whose condition still holds, the
// level-triggered rule. It costs one atomic load on a socket with no
// selection.
func (s *socket) reenable(events int32) {
	if !s.selected.Load() {
		return
	}
	n := s.n
	var fl flushList
	n.mu.Lock()
	if !s.closed {
		s.armed |= events
		n.readinessLocked(s, &fl)
	}
	n.mu.Unlock()
	fl.flush()
}

// setSelectionLocked replaces the selection of s (nil cancels it) and
// keeps the list of selected sockets and the lock-free flag in step.
func (n *Network) setSelectionLocked(s *socket, sel *netSelect) {
	was := s.sel != nil
	s.sel = sel
	s.selected.Store(sel != nil)
	switch {
	case sel != nil && !was:
		n.selected = append(n.selected, s)
	case sel == nil && was:
		if i := slices.Index(n.selected, s); i >= 0 {
			n.selected = slices.Delete(n.selected, i, i+1)
		}
	}
}

// selectLocked installs sel (nil to cancel) on s per the rules shared by
// WSPEventSelect and WSPAsyncSelect: a selection replaces the earlier one,
// forces non-blocking mode, arms the level-triggered events and FD_WRITE
// again and evaluates at once. Events recorded for WSPEventSelect and not
// yet enumerated are kept when they are still selected: a new
// WSPEventSelect signals its event for them, a WSPAsyncSelect posts one
// message for each; either way they stay disarmed, so that the
// level-triggered rule does not report them twice.
func (n *Network) selectLocked(s *socket, sel *netSelect, fl *flushList) {
	prior := s.sel
	if sel == nil {
		n.setSelectionLocked(s, nil)
		return
	}
	s.nonblocking = true
	n.setSelectionLocked(s, sel)
	var kept int32
	if prior != nil && !prior.async {
		kept = prior.recorded & sel.mask
		if sel.async {
			for _, ev := range eventOrder {
				if kept&ev != 0 {
					n.recordLocked(s, ev, prior.errs[bitOf(ev)], fl)
				}
			}
			if kept&spi.FD_ADDRESS_LIST_CHANGE != 0 {
				n.recordLocked(s, spi.FD_ADDRESS_LIST_CHANGE, 0, fl)
			}
		} else if kept != 0 {
			sel.recorded, sel.errs = kept, prior.errs
			fl.note(netNote{p: sel.p, event: sel.event})
		}
	}
	s.armed |= rearmedBySelect &^ kept // a kept event is reported already
	n.netEventsLocked(s, fl)
}

// eventSelect serves WSPEventSelect for p on handle h.
func (s *socket) eventSelect(p *Provider, h spi.Socket, event spi.Handle, events int32) error {
	if events&^spi.FD_ALL_EVENTS != 0 || (events != 0 && event == 0) {
		return spi.WSAEINVAL
	}
	var sel *netSelect
	if events != 0 {
		sel = &netSelect{mask: events, p: p, h: h, event: event}
	}
	return s.installSelection(sel)
}

// asyncSelect serves WSPAsyncSelect for p on handle h.
func (s *socket) asyncSelect(p *Provider, h spi.Socket, hwnd spi.HWND, msg uint32, events int32) error {
	if events&^spi.FD_ALL_EVENTS != 0 || (events != 0 && hwnd == 0) {
		return spi.WSAEINVAL
	}
	var sel *netSelect
	if events != 0 {
		sel = &netSelect{mask: events, p: p, h: h, hwnd: hwnd, msg: msg, async: true}
	}
	return s.installSelection(sel)
}

func (s *socket) installSelection(sel *netSelect) error {
	n := s.n
	var fl flushList
	n.mu.Lock()
	if s.closed {
		n.mu.Unlock()
		return spi.WSAENOTSOCK
	}
	n.selectLocked(s, sel, &fl)
	n.mu.Unlock()
	fl.flush()
	return nil
}

// enumNetworkEvents serves WSPEnumNetworkEvents: it resets event first
// (when not 0; the event is reset before the record is read, so that an
// event recorded meanwhile leaves it signalled rather than unsignalled),
// then returns the recorded events with their errors and clears the
// record. A socket selected with WSPAsyncSelect, or not selected, has no
// record.
func (s *socket) enumNetworkEvents(p *Provider, event spi.Handle) (spi.WSANetworkEvents, error) {
	var out spi.WSANetworkEvents
	n := s.n
	n.mu.Lock()
	closed := s.closed
	n.mu.Unlock()
	if closed {
		return out, spi.WSAENOTSOCK
	}
	if event != 0 {
		up, _, err := p.services()
		if err != nil {
			return out, err
		}
		if up.WPUResetEvent != nil {
			if err := up.WPUResetEvent(event); err != nil {
				return out, spi.WSA_INVALID_HANDLE
			}
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if s.closed {
		return out, spi.WSAENOTSOCK
	}
	if sel := s.sel; sel != nil && !sel.async {
		out.NetworkEvents = sel.recorded
		for i := range spi.FD_MAX_EVENTS {
			if sel.recorded&(1<<i) != 0 {
				out.ErrorCode[i] = sel.errs[i]
			}
		}
		sel.recorded, sel.errs = 0, [spi.FD_MAX_EVENTS]spi.Errno{}
	}
	return out, nil
}

// inheritSelectionLocked gives c, a connection just accepted from l with
// handle h, the selection of its listener, as accept documents (D-AS),
// and evaluates it: an accepted connection is writable, so FD_WRITE is
// recorded at once when selected.
func (n *Network) inheritSelectionLocked(l, c *socket, h spi.Socket, fl *flushList) {
	if l.sel == nil || c.closed {
		return
	}
	sel := *l.sel
	sel.h, sel.recorded, sel.errs = h, 0, [spi.FD_MAX_EVENTS]spi.Errno{}
	c.nonblocking = true
	n.setSelectionLocked(c, &sel)
	n.netEventsLocked(c, fl)
}

// addressListEventsLocked records FD_ADDRESS_LIST_CHANGE on the selected
// sockets of family v6 that SIO_ADDRESS_LIST_CHANGE armed, in the order
// they were selected.
func (n *Network) addressListEventsLocked(v6 bool, fl *flushList) {
	for _, s := range n.selected {
		const ev = spi.FD_ADDRESS_LIST_CHANGE
		if s.v6 != v6 || s.sel.mask&s.armed&ev == 0 {
			continue
		}
		s.armed &^= ev
		if n.recordLocked(s, ev, 0, fl) {
			fl.note(netNote{p: s.sel.p, event: s.sel.event})
		}
	}
}

// closeHandleEventLocked is what CloseHandle on s, rather than
// closesocket, adds to a WSPAsyncSelect selection: one FD_CLOSE message
// with no error, as Windows posts one (docs/facts.md §10.1, §12.4), if
// FD_CLOSE is selected and was not posted before.
func (n *Network) closeHandleEventLocked(s *socket, fl *flushList) {
	if sel := s.sel; sel != nil && sel.async && sel.mask&s.armed&spi.FD_CLOSE != 0 {
		s.armed &^= spi.FD_CLOSE
		n.recordLocked(s, spi.FD_CLOSE, 0, fl)
	}
}
