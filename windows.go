package wsspi

import (
	"time"

	"github.com/wsspi/wsspi/spi"
)

// Windows. The simulator has no window manager: a message posted with
// WPUPostMessage to a client's window is queued for the process (see
// [Process.PostedMessages] and [Process.GetMessage]), and one posted to a
// provider's hidden window ([spi.Imports.CreateWindow]) runs the window's
// procedure in the posting call.

// firstProviderWindow is the first HWND value given to a provider's hidden
// window; they go up in steps of 2, far above the small values tests give
// their own windows.
const firstProviderWindow spi.HWND = 0x000C0000

// createWindow serves [spi.Imports.CreateWindow].
func (p *Process) createWindow(proc spi.WindowProc) (spi.HWND, error) {
	if proc == nil {
		panic("wsspi: CreateWindow with a nil window procedure")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, spi.NewOpError("CreateWindow", 0, spi.ERROR_PROCESS_ABORTED)
	}
	if p.windows == nil {
		p.windows = map[spi.HWND]spi.WindowProc{}
		p.nextWindow = firstProviderWindow
	}
	h := p.nextWindow
	p.nextWindow += 2
	p.windows[h] = proc
	return h, nil
}

// destroyWindow serves [spi.Imports.DestroyWindow]: ERROR_INVALID_WINDOW_HANDLE
// for a window that is not a live provider window.
func (p *Process) destroyWindow(h spi.HWND) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.windows[h]; !ok {
		return spi.NewOpError("DestroyWindow", spi.Handle(h), spi.ERROR_INVALID_WINDOW_HANDLE)
	}
	delete(p.windows, h)
	return nil
}

// wpuPostMessage is WPUPostMessage: a provider window's procedure runs now;
// any other window's message is queued for the client and recorded. Posting
// to a destroyed provider window fails (false), as PostMessage to a window
// that no longer exists does.
func (p *Process) wpuPostMessage(hWnd spi.HWND, msg uint32, wParam, lParam uintptr) bool {
	p.mu.Lock()
	if proc, ok := p.windows[hWnd]; ok {
		p.mu.Unlock()
		proc(msg, wParam, lParam)
		return true
	}
	if hWnd >= firstProviderWindow && hWnd < p.nextWindow && hWnd&1 == 0 {
		p.mu.Unlock()
		return false // a provider window that was destroyed
	}
	p.messages = append(p.messages, PostedMessage{HWnd: hWnd, Msg: msg, WParam: wParam, LParam: lParam})
	if p.posted != nil {
		close(p.posted)
		p.posted = nil
	}
	p.mu.Unlock()
	return true
}

// PostedMessage is one message a provider posted to a client's window with
// WPUPostMessage (a WSAAsyncSelect notification).
type PostedMessage struct {
	HWnd           spi.HWND
	Msg            uint32
	WParam, LParam uintptr
}

// PostedMessages returns every message posted to the client's windows so
// far, in order, whether or not [Process.GetMessage] took it.
func (p *Process) PostedMessages() []PostedMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]PostedMessage(nil), p.messages...)
}

// GetMessage removes and returns the oldest message posted to hWnd (to any
// of the client's windows when hWnd is 0) that no GetMessage call took yet,
// waiting for one up to timeout ([spi.Infinite] waits for ever), as a
// message loop's GetMessage does; each message is taken once. It fails with
// WAIT_TIMEOUT when none came, and with ERROR_PROCESS_ABORTED once the
// process is closed.
func (p *Process) GetMessage(hWnd spi.HWND, timeout time.Duration) (PostedMessage, error) {
	const op = "GetMessage"
	var expired <-chan time.Time
	if timeout != spi.Infinite {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	for {
		p.mu.Lock()
		for i, m := range p.messages {
			if i < len(p.taken) && p.taken[i] {
				continue
			}
			if hWnd == 0 || m.HWnd == hWnd {
				for len(p.taken) <= i {
					p.taken = append(p.taken, false)
				}
				p.taken[i] = true
				p.mu.Unlock()
				return m, nil
			}
		}
		if p.closed {
			p.mu.Unlock()
			return PostedMessage{}, spi.NewOpError(op, spi.Handle(hWnd), spi.ERROR_PROCESS_ABORTED)
		}
		if p.posted == nil {
			p.posted = make(chan struct{})
		}
		posted := p.posted
		p.mu.Unlock()
		select {
		case <-posted:
		case <-expired:
			return PostedMessage{}, spi.NewOpError(op, spi.Handle(hWnd), spi.WAIT_TIMEOUT)
		}
	}
}
