package layered

import (
	"time"

	"github.com/wsspi/wsspi/spi"
)

// WSAAsyncSelect through a non-IFS layer. The layer below posts its
// messages with its own socket in wParam, the lower socket, which the
// client has never seen; so the kit registers the lower socket with a
// hidden window of its own and reposts each message to the client's
// window with the layer's handle, as Microsoft's sample does (S:spi
// WSPAsyncSelect, S:asyncselect AsyncWndProc; docs/facts.md §12.5).

// wmSocket is the message the layer below posts to the kit's hidden
// window: WM_USER + 1, a message of the kit's own (the window serves
// nothing else).
const wmSocket = 0x0400 + 1

// asyncSel is a socket's WSAAsyncSelect as the client made it: the
// client's window and message, and the FD_* events (0: none, or
// cancelled).
type asyncSel struct {
	hWnd   spi.HWND
	msg    uint32
	events int32
}

// maxEarly bounds the messages kept for one lower socket that an accept
// has not yet paired with a socket of the layer.
const maxEarly = 16

// asyncSelect serves WSPAsyncSelect. It checks lEvent ⊆ FD_ALL_EVENTS and
// that a selection names a window (hWnd 0 with events is WSAEINVAL: the
// sample's IsWindow check; the simulator has no window manager, so any
// other value is a window), maps the handle, makes the hidden window on
// the first call, stores the client's window and message in the socket,
// and registers the lower socket with the hidden window and wmSocket for
// the same events. events 0 cancels, down too. The client's window is
// stored before the lower call, since the layer below may post (FD_WRITE
// on a connected socket) before it returns; a lower call that fails
// restores the previous selection.
func (in *Instance) asyncSelect(h spi.Socket, hWnd spi.HWND, msg uint32, events int32) error {
	e, err := in.current()
	if err != nil {
		return err
	}
	if events&^spi.FD_ALL_EVENTS != 0 || (hWnd == 0 && events != 0) {
		return spi.WSAEINVAL
	}
	s, err := in.lookup(e, h)
	if err != nil {
		return err
	}
	win, err := in.window(e)
	if err != nil {
		return err
	}
	s.selMu.Lock()
	defer s.selMu.Unlock()
	if s.closing.Load() {
		return spi.WSAENOTSOCK
	}
	s.mu.Lock()
	prev := s.async
	s.async = asyncSel{hWnd: hWnd, msg: msg, events: events}
	s.mu.Unlock()
	if err := e.next.ProcTable.WSPAsyncSelect(s.lower, win, wmSocket, events); err != nil {
		s.mu.Lock()
		s.async = prev
		s.mu.Unlock()
		return err
	}
	return nil
}

// window returns the instance's hidden window, making it on first use
// (the sample's GetWorkerWindow): WSAEINVAL when it cannot be made, as in
// the sample, and WSANOTINITIALISED once the last WSPCleanup has begun.
func (in *Instance) window(e *env) (spi.HWND, error) {
	in.winMu.Lock()
	defer in.winMu.Unlock()
	if in.env.Load() != e {
		return 0, spi.WSANOTINITIALISED // the cleanup, which takes winMu after, destroys nothing of this load
	}
	if in.win != 0 && in.winEpoch == e.epoch {
		return in.win, nil
	}
	if e.imports.CreateWindow == nil {
		return 0, spi.WSAEINVAL
	}
	w, err := e.imports.CreateWindow(in.windowProc)
	if err != nil {
		return 0, spi.WSAEINVAL
	}
	in.win, in.winEpoch = w, e.epoch
	return w, nil
}

// destroyWindow destroys the hidden window, for the last WSPCleanup.
func (in *Instance) destroyWindow(e *env) {
	in.winMu.Lock()
	w := in.win
	in.win = 0
	in.winMu.Unlock()
	if w != 0 && e.imports.DestroyWindow != nil {
		_ = e.imports.DestroyWindow(w)
	}
}

// currentWindow returns the hidden window, or 0.
func (in *Instance) currentWindow() spi.HWND {
	in.winMu.Lock()
	defer in.winMu.Unlock()
	return in.win
}

// windowProc is the hidden window's procedure (the sample's AsyncWndProc).
// It runs in the layer below's WPUPostMessage call: it maps wParam, the
// lower socket, to the layer's socket and reposts the message to the
// client (see post), outside every lock of the kit. A message for a lower
// socket the layer does not know is dropped (its socket closed), unless
// an accept is under way: the layer below may post for an accepted socket
// before its WSPAccept returns, so the message waits (up to maxEarly per
// socket) until the accept pairs the socket, as the sample waits for the
// context to be inserted. Messages after the last WSPCleanup are dropped.
func (in *Instance) windowProc(msg uint32, wParam, lParam uintptr) {
	if msg != wmSocket {
		return
	}
	in.deliverMu.RLock()
	defer in.deliverMu.RUnlock()
	e := in.env.Load()
	if e == nil {
		return
	}
	lower := spi.Socket(wParam)
	in.smu.Lock()
	s := in.lowers[lower]
	if s == nil {
		if in.accepting > 0 && len(in.early[lower]) < maxEarly {
			if in.early == nil {
				in.early = map[spi.Socket][]uintptr{}
			}
			in.early[lower] = append(in.early[lower], lParam)
		}
		in.smu.Unlock()
		return
	}
	in.smu.Unlock()
	in.post(e, s, lParam)
}

// post reposts a message of the layer below for s to the client's window:
// WPUPostMessage(the client's hWnd, its message, the layer's handle,
// lParam), through Before ([OpAsyncSelectMessage]), which may change
// lParam, drop the message (Fail, FailCompletion) or delay it. A socket
// that is closing, or whose selection the client cancelled, gets nothing.
func (in *Instance) post(e *env, s *Socket, lParam uintptr) {
	s.mu.Lock()
	sel := s.async
	s.mu.Unlock()
	if sel.events == 0 || s.closing.Load() {
		return
	}
	if before := in.p.cfg.Hooks.Before; before != nil {
		c := &Call{Op: OpAsyncSelectMessage, Func: fnPostMessage, Socket: s, HWnd: sel.hWnd, Msg: sel.msg, LParam: lParam}
		v := before(c)
		switch v.act {
		case actFail, actFailCompletion:
			return
		}
		lParam = c.LParam
		if v.delay > 0 {
			in.postLater(e, s, sel, lParam, v.delay)
			return
		}
	}
	_ = e.upcalls.WPUPostMessage(sel.hWnd, sel.msg, uintptr(s.handle), lParam)
}

// postLater posts a message a hook delays: d later, or when the
// scheduler runs it (keyed by the socket, so a socket's delayed messages
// keep their order). It is dropped if the socket closed or the instance
// was cleaned up meanwhile.
func (in *Instance) postLater(e *env, s *Socket, sel asyncSel, lParam uintptr, d time.Duration) {
	send := func() {
		in.deliverMu.RLock()
		defer in.deliverMu.RUnlock()
		cur := in.env.Load()
		if cur == nil || cur.epoch != e.epoch || s.closing.Load() {
			return
		}
		_ = cur.upcalls.WPUPostMessage(sel.hWnd, sel.msg, uintptr(s.handle), lParam)
	}
	if sched := in.p.cfg.Scheduler; sched != nil {
		sched.Defer(s, send)
		return
	}
	in.smu.Lock()
	defer in.smu.Unlock()
	if in.env.Load() != e {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		in.smu.Lock()
		delete(in.msgTimers, t)
		in.smu.Unlock()
		send()
	})
	if in.msgTimers == nil {
		in.msgTimers = map[*time.Timer]struct{}{}
	}
	in.msgTimers[t] = struct{}{}
}

// postEarly posts the messages that came for s's lower socket before an
// accept paired it (see windowProc).
func (in *Instance) postEarly(s *Socket, lParams []uintptr) {
	if len(lParams) == 0 {
		return
	}
	in.deliverMu.RLock()
	defer in.deliverMu.RUnlock()
	e := in.env.Load()
	if e == nil {
		return
	}
	for _, lp := range lParams {
		in.post(e, s, lp)
	}
}

// beginPairing and endPairing bracket a call that makes a lower socket
// the layer will pair with a socket of its own (WSPAccept, WSPJoinLeaf):
// meanwhile the hidden window keeps messages for lower sockets it does
// not know (see windowProc).
func (in *Instance) beginPairing() {
	in.smu.Lock()
	in.accepting++
	in.smu.Unlock()
}

func (in *Instance) endPairing() {
	in.smu.Lock()
	in.accepting--
	if in.accepting == 0 {
		in.early = nil
	}
	in.smu.Unlock()
}

// inherit gives ns, a socket accepted on (or joined from) s, s's
// selection, as an accepted socket has the listener's WSAAsyncSelect
// events (the sample's CreateSockInfo copies hWnd and uMsg); the layer
// below registered the lower socket with the hidden window likewise.
func (ns *Socket) inherit(s *Socket) {
	s.mu.Lock()
	sel := s.async
	s.mu.Unlock()
	ns.mu.Lock()
	ns.async = sel
	ns.mu.Unlock()
}

// cancelAsyncSelect cancels s's WSAAsyncSelect below before s closes
// (WSPAsyncSelect with lEvent 0 on the lower socket), so the layer below
// posts nothing for it, and returns what puts it back should the close
// fail. The caller holds s.selMu.
func (in *Instance) cancelAsyncSelect(e *env, s *Socket) (restore func()) {
	s.mu.Lock()
	sel := s.async
	s.mu.Unlock()
	win := in.currentWindow()
	if sel.events == 0 || win == 0 {
		return func() {}
	}
	_ = e.next.ProcTable.WSPAsyncSelect(s.lower, win, wmSocket, 0)
	return func() { _ = e.next.ProcTable.WSPAsyncSelect(s.lower, win, wmSocket, sel.events) }
}

// forgetLower removes s from the map of lower sockets once its lower
// socket is closed, whose value the layer below may give to a new socket.
func (in *Instance) forgetLower(s *Socket) {
	in.smu.Lock()
	if in.lowers[s.lower] == s {
		delete(in.lowers, s.lower)
	}
	in.smu.Unlock()
}
