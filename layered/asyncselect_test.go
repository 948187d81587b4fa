package layered_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// The client's window and message in these tests.
const (
	clientWnd spi.HWND = 0x100
	clientMsg uint32   = 0x8001
)

var (
	fdRead  = spi.WSAMAKESELECTREPLY(spi.FD_READ, 0)
	fdWrite = spi.WSAMAKESELECTREPLY(spi.FD_WRITE, 0)
	fdClose = spi.WSAMAKESELECTREPLY(spi.FD_CLOSE, spi.WSAECONNRESET)
)

func msg(s spi.Socket, lParam uintptr) wsspi.PostedMessage {
	return wsspi.PostedMessage{HWnd: clientWnd, Msg: clientMsg, WParam: uintptr(s), LParam: lParam}
}

func TestAsyncSelectMessagesNameTheLayersHandle(t *testing.T) {
	for _, depth := range []int{1, 2} {
		t.Run(string(rune('0'+depth))+" layers", func(t *testing.T) {
			k := newStack(t, depth, true)
			c, _ := k.conn(t)
			if err := k.top(t).WSPAsyncSelect(c, clientWnd, clientMsg, spi.FD_READ|spi.FD_CLOSE); err != nil {
				t.Fatal(err)
			}
			lower, reg := k.fake.registered(t)
			if lower == c || reg.HWnd == clientWnd || reg.HWnd == 0 || reg.Events != spi.FD_READ|spi.FD_CLOSE {
				t.Errorf("the base socket %v is registered as %+v; want the kit's own window for FD_READ|FD_CLOSE", lower, reg)
			}
			if !k.fake.post(lower, fdRead) || !k.fake.post(lower, fdClose) {
				t.Fatal("WPUPostMessage to the kit's window failed")
			}
			want := []wsspi.PostedMessage{msg(c, fdRead), msg(c, fdClose)}
			if diff := cmp.Diff(want, k.p.PostedMessages()); diff != "" {
				t.Errorf("the client's messages (-want +got):\n%s", diff)
			}
			got := must(k.p.GetMessage(clientWnd, time.Second))(t)
			if diff := cmp.Diff(want[0], got); diff != "" {
				t.Errorf("GetMessage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAsyncSelectRefusesBadEventsAndNoWindow(t *testing.T) {
	k := newStack(t, 1, true)
	c, _ := k.conn(t)
	top := k.top(t)
	for _, tc := range []struct {
		name   string
		s      spi.Socket
		hWnd   spi.HWND
		events int32
		want   error
	}{
		{"an event outside FD_ALL_EVENTS", c, clientWnd, spi.FD_READ | 0x400, spi.WSAEINVAL},
		{"no window", c, 0, spi.FD_READ, spi.WSAEINVAL},
		{"a handle not the layer's", k.baseSocket(t), clientWnd, spi.FD_READ, spi.WSAENOTSOCK},
		{"a cancel with no window", c, 0, 0, nil},
		{"every event", c, clientWnd, spi.FD_ALL_EVENTS, nil},
	} {
		if err := top.WSPAsyncSelect(tc.s, tc.hWnd, clientMsg, tc.events); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	var events []int32
	for _, call := range k.fake.seen() {
		if call.Func == "WSPAsyncSelect" {
			events = append(events, call.Events)
		}
	}
	if diff := cmp.Diff([]int32{0, spi.FD_ALL_EVENTS}, events); diff != "" {
		t.Errorf("the events that went down (-want +got):\n%s", diff)
	}
}

func TestAsyncSelectCancelledOrClosedPostsNothing(t *testing.T) {
	k := newStack(t, 1, true)
	a, _ := k.conn(t)
	b, _ := k.conn(t)
	top := k.top(t)
	for _, s := range []spi.Socket{a, b} {
		if err := top.WSPAsyncSelect(s, clientWnd, clientMsg, spi.FD_READ); err != nil {
			t.Fatal(err)
		}
	}
	calls := k.fake.seen()
	la, lb := calls[0].Socket, calls[1].Socket
	win := fakeReg{calls[0].HWnd, calls[0].Msg, calls[0].Events}
	// a cancels; b closes.
	if err := top.WSPAsyncSelect(a, clientWnd, clientMsg, 0); err != nil {
		t.Fatal(err)
	}
	if err := k.th.Closesocket(b); err != nil {
		t.Fatal(err)
	}
	var down []fakeCall
	for _, c := range k.fake.seen()[2:] {
		if c.Func == "WSPAsyncSelect" && (c.HWnd != win.HWnd || c.Msg != win.Msg) {
			t.Errorf("%+v: not the kit's window %+v", c, win)
		}
		c.HWnd, c.Msg = 0, 0
		down = append(down, c)
	}
	want := []fakeCall{
		{Func: "WSPAsyncSelect", Socket: la},
		{Func: "WSPAsyncSelect", Socket: lb}, // the close cancels below first
		{Func: "WSPCloseSocket", Socket: lb},
	}
	if diff := cmp.Diff(want, down); diff != "" {
		t.Errorf("calls below (-want +got):\n%s", diff)
	}
	// A base provider that posts anyway (a message already under way).
	k.fake.postTo(win, la, fdRead)
	k.fake.postTo(win, lb, fdRead)
	if got := k.p.PostedMessages(); len(got) != 0 {
		t.Errorf("the client got %v, want nothing", got)
	}
	// a selects again and hears again.
	if err := top.WSPAsyncSelect(a, clientWnd, clientMsg, spi.FD_READ); err != nil {
		t.Fatal(err)
	}
	k.fake.post(la, fdRead)
	if diff := cmp.Diff([]wsspi.PostedMessage{msg(a, fdRead)}, k.p.PostedMessages()); diff != "" {
		t.Errorf("after selecting again (-want +got):\n%s", diff)
	}
}

func TestAcceptedSocketsInheritTheListenersSelection(t *testing.T) {
	for _, depth := range []int{1, 2} {
		t.Run(string(rune('0'+depth))+" layers", func(t *testing.T) {
			k := newStack(t, depth, true)
			l := must(k.th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			addr := k.addr
			addr = netip.AddrPortFrom(addr.Addr(), addr.Port()+1000)
			if err := errors.Join(k.th.Bind(l, addr), k.th.Listen(l, 4)); err != nil {
				t.Fatal(err)
			}
			if err := k.top(t).WSPAsyncSelect(l, clientWnd, clientMsg, spi.FD_ACCEPT|spi.FD_WRITE|spi.FD_READ); err != nil {
				t.Fatal(err)
			}
			peer := k.baseOf(t, k.sth)
			if err := k.sth.Connect(peer, addr); err != nil {
				t.Fatal(err)
			}
			// The fake posts FD_WRITE for the accepted socket before its
			// WSPAccept returns: the kit keeps it until the socket is paired.
			ns, _ := must2(k.th.Accept(l))(t)
			var lower spi.Socket
			for _, c := range k.fake.seen() {
				if c.Func == "WSPAsyncSelect" {
					lower = c.Socket
				}
			}
			k.fake.mu.Lock()
			var accepted spi.Socket
			for s := range k.fake.regs {
				if s != lower {
					accepted = s
				}
			}
			k.fake.mu.Unlock()
			k.fake.post(accepted, fdRead)
			want := []wsspi.PostedMessage{msg(ns, fdWrite), msg(ns, fdRead)}
			if diff := cmp.Diff(want, k.p.PostedMessages()); diff != "" {
				t.Errorf("the client's messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAsyncSelectMessageHooks(t *testing.T) {
	type seenMsg struct {
		Op     layered.Op
		Func   string
		Socket spi.Socket
		HWnd   spi.HWND
		Msg    uint32
		LParam uintptr
	}
	var seen []seenMsg
	k := newStack(t, 1, true, layered.Config{Hooks: layered.Hooks{
		Before: func(c *layered.Call) layered.Verdict {
			if c.Op != layered.OpAsyncSelectMessage {
				return layered.Pass()
			}
			seen = append(seen, seenMsg{c.Op, c.Func, c.Socket.Handle(), c.HWnd, c.Msg, c.LParam})
			switch spi.WSAGETSELECTEVENT(c.LParam) {
			case spi.FD_READ:
				return layered.Fail(spi.WSAECONNRESET) // dropped
			case spi.FD_CLOSE:
				c.LParam = spi.WSAMAKESELECTREPLY(spi.FD_CLOSE, 0) // a graceful close
			case spi.FD_WRITE:
				return layered.Delay(10 * time.Millisecond)
			}
			return layered.Pass()
		},
	}})
	c, _ := k.conn(t)
	if err := k.top(t).WSPAsyncSelect(c, clientWnd, clientMsg, spi.FD_READ|spi.FD_WRITE|spi.FD_CLOSE); err != nil {
		t.Fatal(err)
	}
	lower, _ := k.fake.registered(t)
	for _, lp := range []uintptr{fdRead, fdWrite, fdClose} {
		k.fake.post(lower, lp)
	}
	if diff := cmp.Diff([]wsspi.PostedMessage{msg(c, spi.WSAMAKESELECTREPLY(spi.FD_CLOSE, 0))}, k.p.PostedMessages()); diff != "" {
		t.Errorf("before the delay (-want +got):\n%s", diff)
	}
	must(k.p.GetMessage(clientWnd, time.Second))(t)
	if got := must(k.p.GetMessage(clientWnd, time.Second))(t); got != msg(c, fdWrite) {
		t.Errorf("the delayed message: %+v, want %+v", got, msg(c, fdWrite))
	}
	var want []seenMsg
	for _, lp := range []uintptr{fdRead, fdWrite, fdClose} {
		want = append(want, seenMsg{layered.OpAsyncSelectMessage, "WPUPostMessage", c, clientWnd, clientMsg, lp})
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("Before saw (-want +got):\n%s", diff)
	}
}

func TestTheLastCleanupDestroysTheHiddenWindow(t *testing.T) {
	k := newStack(t, 1, true)
	c, _ := k.conn(t)
	if err := k.top(t).WSPAsyncSelect(c, clientWnd, clientMsg, spi.FD_READ); err != nil {
		t.Fatal(err)
	}
	lower, reg := k.fake.registered(t)
	if err := k.p.WSACleanup(); err != nil {
		t.Fatal(err)
	}
	if k.fake.postTo(reg, lower, fdRead) {
		t.Error("WPUPostMessage to the kit's window after the last WSPCleanup succeeded")
	}
	if got := k.p.PostedMessages(); len(got) != 0 {
		t.Errorf("the client got %v", got)
	}
	if s := k.provs[0].Stats(); s != (layered.Stats{}) {
		t.Errorf("after cleanup: %+v", s)
	}
}

func TestEventSelectGoesDownWithTheClientsEvent(t *testing.T) {
	const event spi.Handle = 0x1234
	k := newStack(t, 2, true, layered.Config{}, layered.Config{Hooks: layered.Hooks{
		After: func(c *layered.Call) layered.Verdict {
			if c.Op == layered.OpEnumNetworkEvents {
				if c.Event != event {
					t.Errorf("After sees event %v, want %v", c.Event, event)
				}
				c.NetworkEvents.NetworkEvents |= spi.FD_CLOSE
				c.NetworkEvents.ErrorCode[spi.FD_CLOSE_BIT] = spi.WSAECONNABORTED
			}
			return layered.Pass()
		},
	}})
	k.fake.events = spi.WSANetworkEvents{NetworkEvents: spi.FD_READ}
	c, _ := k.conn(t)
	top := k.top(t)
	if err := top.WSPEventSelect(c, event, spi.FD_READ|spi.FD_CLOSE); err != nil {
		t.Fatal(err)
	}
	got := must(top.WSPEnumNetworkEvents(c, event))(t)
	want := spi.WSANetworkEvents{NetworkEvents: spi.FD_READ | spi.FD_CLOSE}
	want.ErrorCode[spi.FD_CLOSE_BIT] = spi.WSAECONNABORTED
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WSPEnumNetworkEvents (-want +got):\n%s", diff)
	}
	calls := k.fake.seen()
	for i := range calls {
		if calls[i].Socket == c || calls[i].Socket == 0 {
			t.Errorf("%+v: the client's handle went down", calls[i])
		}
		calls[i].Socket = 0
	}
	wantCalls := []fakeCall{
		{Func: "WSPEventSelect", Event: event, Events: spi.FD_READ | spi.FD_CLOSE},
		{Func: "WSPEnumNetworkEvents", Event: event},
	}
	if diff := cmp.Diff(wantCalls, calls); diff != "" {
		t.Errorf("calls below (-want +got):\n%s", diff)
	}
	if _, err := top.WSPEnumNetworkEvents(k.baseSocket(t), event); !errors.Is(err, spi.WSAENOTSOCK) {
		t.Errorf("WSPEnumNetworkEvents on a handle not the layer's: %v, want WSAENOTSOCK", err)
	}
}

func TestEnumNetworkEventsBeforeFailsOrAnswers(t *testing.T) {
	k := newStack(t, 1, true, layered.Config{Hooks: layered.Hooks{
		Before: func(c *layered.Call) layered.Verdict {
			switch {
			case c.Op != layered.OpEnumNetworkEvents:
				return layered.Pass()
			case c.Event == 1:
				return layered.Fail(spi.WSAENETDOWN)
			}
			c.NetworkEvents.NetworkEvents = spi.FD_OOB
			return layered.Complete(0)
		},
	}})
	c, _ := k.conn(t)
	top := k.top(t)
	if _, err := top.WSPEnumNetworkEvents(c, 1); !errors.Is(err, spi.WSAENETDOWN) {
		t.Errorf("Before fails: %v, want WSAENETDOWN", err)
	}
	if got := must(top.WSPEnumNetworkEvents(c, 2))(t); got != (spi.WSANetworkEvents{NetworkEvents: spi.FD_OOB}) {
		t.Errorf("Before answers: %+v", got)
	}
	if n := len(k.fake.seen()); n != 0 {
		t.Errorf("%d calls went down, want none", n)
	}
}

func TestAsyncSelectMessagesRaceWithClosesAndCleanup(t *testing.T) {
	k := newStack(t, 2, true)
	var clients []spi.Socket
	for range 4 {
		c, _ := k.conn(t)
		if err := k.top(t).WSPAsyncSelect(c, clientWnd, clientMsg, spi.FD_READ); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	var win fakeReg
	var lowers []spi.Socket
	for _, c := range k.fake.seen() {
		if c.Func == "WSPAsyncSelect" {
			win = fakeReg{c.HWnd, c.Msg, c.Events}
			lowers = append(lowers, c.Socket)
		}
	}
	done := make(chan struct{})
	for _, l := range lowers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				k.fake.postTo(win, l, fdRead)
			}
		}()
	}
	th := k.p.NewThread()
	for _, c := range clients[:2] {
		if err := th.Closesocket(c); err != nil {
			t.Error(err)
		}
	}
	if err := k.p.WSACleanup(); err != nil {
		t.Error(err)
	}
	for range lowers {
		<-done
	}
	ours := map[uintptr]bool{}
	for _, c := range clients {
		ours[uintptr(c)] = true
	}
	for _, m := range k.p.PostedMessages() {
		if !ours[m.WParam] || m.HWnd != clientWnd || m.LParam != fdRead {
			t.Fatalf("the client got %+v, not a message for one of its sockets %v", m, clients)
		}
	}
	if !quietAll(k.provs...) {
		t.Errorf("after cleanup the kits hold: %+v, %+v", k.provs[0].Stats(), k.provs[1].Stats())
	}
}

func quietAll(provs ...*layered.Provider) bool {
	for _, p := range provs {
		if p.Stats().Instances+p.Stats().Sockets+p.Stats().Outstanding+p.Stats().Workers != 0 {
			return false
		}
	}
	return true
}
