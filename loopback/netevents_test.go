package loopback_test

import (
	"net/netip"
	"testing"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

// The event handle and window the network event tests select with.
const (
	evA  spi.Handle = 0x40
	evB  spi.Handle = 0x44
	wnd  spi.HWND   = 0x77
	wmsg uint32     = 0x0400
)

func setEvent(ev spi.Handle) signal   { return signal{Op: "SetEvent", Event: ev} }
func resetEvent(ev spi.Handle) signal { return signal{Op: "ResetEvent", Event: ev} }

// posted is the message WSPAsyncSelect posts for event ev with err on s.
func posted(s spi.Socket, ev uint16, err spi.Errno) signal {
	return signal{Op: "PostMessage", HWnd: wnd, Msg: wmsg, WParam: uintptr(s), LParam: spi.WSAMAKESELECTREPLY(ev, err)}
}

// recorded builds the WSANETWORKEVENTS of events with no error.
func recorded(events int32) spi.WSANetworkEvents { return spi.WSANetworkEvents{NetworkEvents: events} }

func (p *proc) eventSelect(s spi.Socket, ev spi.Handle, events int32) {
	p.t.Helper()
	p.must(p.tab.WSPEventSelect(s, ev, events))
}

func (p *proc) asyncSelect(s spi.Socket, events int32) {
	p.t.Helper()
	p.must(p.tab.WSPAsyncSelect(s, wnd, wmsg, events))
}

func (p *proc) enum(s spi.Socket) spi.WSANetworkEvents {
	p.t.Helper()
	ne, err := p.tab.WSPEnumNetworkEvents(s, 0)
	p.must(err)
	return ne
}

// pairOf returns a connected TCP pair (client, server end) of family af.
func (p *proc) pairOf(af int32) (spi.Socket, spi.Socket) {
	p.t.Helper()
	l, a := p.listener(af, ovFlag)
	c := p.socket(af, spi.SOCK_STREAM, ovFlag)
	p.must(p.tab.WSPConnect(c, a, nil, nil, nil, nil))
	s, _, err := p.tab.WSPAccept(l, nil, nil)
	p.must(err)
	p.must(p.tab.WSPCloseSocket(l))
	p.k.take()
	p.k.takeSignals()
	return c, s
}

var families = []struct {
	name string
	af   int32
	lo   string
}{{"IPv4", spi.AF_INET, "127.0.0.1:0"}, {"IPv6", spi.AF_INET6, "[::1]:0"}}

func TestEventSelectRecordsFDWriteAtOnceOnAConnectedSocket(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			p := newTestProc(t)
			c, _ := p.pairOf(f.af)
			p.eventSelect(c, evA, spi.FD_READ|spi.FD_WRITE)
			diff(t, "signals", []signal{setEvent(evA)}, p.k.takeSignals())
			diff(t, "first enumeration", recorded(spi.FD_WRITE), p.enum(c))
			diff(t, "second enumeration", recorded(0), p.enum(c))
		})
	}
}

func TestFDReadIsRecordedOnceUntilARecvAndAgainWhileDataRemains(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			p := newTestProc(t)
			c, s := p.pairOf(f.af)
			p.eventSelect(c, evA, spi.FD_READ)
			diff(t, "signals at selection", []signal(nil), p.k.takeSignals())
			p.send(s, "ab")
			p.send(s, "cd")
			diff(t, "signals of two sends", []signal{setEvent(evA)}, p.k.takeSignals())
			diff(t, "enumeration", recorded(spi.FD_READ), p.enum(c))
			got, err := p.recv(c, 1)
			p.must(err)
			diff(t, "first byte", "a", got)
			diff(t, "signals of a partial recv", []signal{setEvent(evA)}, p.k.takeSignals())
			diff(t, "enumeration after a partial recv", recorded(spi.FD_READ), p.enum(c))
			got, err = p.recv(c, 10)
			p.must(err)
			diff(t, "rest", "bcd", got)
			diff(t, "signals of a full recv", []signal(nil), p.k.takeSignals())
			p.send(s, "e")
			diff(t, "signals of new data", []signal{setEvent(evA)}, p.k.takeSignals())
		})
	}
}

func TestAFailedRecvReenablesFDRead(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET)
	p.eventSelect(c, evA, spi.FD_READ)
	p.send(s, "x")
	p.enum(c)
	p.k.takeSignals()
	_, err := p.tab.WSPRecv(c, [][]byte{make([]byte, 1)}, new(uint32(spi.MSG_OOB)), nil, nil, nil)
	wantErr(t, "WSPRecv with MSG_OOB", err, spi.WSAEOPNOTSUPP)
	diff(t, "signals", []signal{setEvent(evA)}, p.k.takeSignals())
}

func TestEnumNetworkEventsResetsTheEventItIsGiven(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pairOf(spi.AF_INET)
	p.eventSelect(c, evA, spi.FD_WRITE)
	p.k.takeSignals()
	ne, err := p.tab.WSPEnumNetworkEvents(c, evB)
	p.must(err)
	diff(t, "events", recorded(spi.FD_WRITE), ne)
	diff(t, "signals", []signal{resetEvent(evB)}, p.k.takeSignals())
	_, err = p.tab.WSPEnumNetworkEvents(c, 0)
	p.must(err)
	diff(t, "signals without an event", []signal(nil), p.k.takeSignals())
}

func TestFDWriteIsRecordedAfterAWouldBlockWhenSpaceReturns(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET)
	p.limit(c, s, 1, 1)
	p.eventSelect(c, evA, spi.FD_WRITE)
	diff(t, "signals at selection", []signal{setEvent(evA)}, p.k.takeSignals())
	p.enum(c)
	p.send(c, "xx")
	_, err := p.tab.WSPSend(c, [][]byte{[]byte("y")}, 0, nil, nil, nil)
	wantErr(t, "send to a full buffer", err, spi.WSAEWOULDBLOCK)
	diff(t, "signals while full", []signal(nil), p.k.takeSignals())
	if _, err := p.recv(s, 10); err != nil {
		t.Fatal(err)
	}
	diff(t, "signals once space returns", []signal{setEvent(evA)}, p.k.takeSignals())
	diff(t, "enumeration", recorded(spi.FD_WRITE), p.enum(c))
	p.send(c, "z")
	if _, err := p.recv(s, 10); err != nil {
		t.Fatal(err)
	}
	diff(t, "signals of a send that did not block", []signal(nil), p.k.takeSignals())
}

func TestFDConnectThenFDWriteAtConnect(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			p := newTestProc(t)
			_, a := p.listener(f.af, ovFlag)
			c := p.socket(f.af, spi.SOCK_STREAM, ovFlag)
			p.asyncSelect(c, spi.FD_CONNECT|spi.FD_WRITE|spi.FD_READ)
			diff(t, "signals at selection", []signal(nil), p.k.takeSignals())
			err := p.tab.WSPConnect(c, a, nil, nil, nil, nil)
			wantErr(t, "connect (non-blocking, selected)", err, spi.WSAEWOULDBLOCK)
			diff(t, "messages", []signal{posted(c, spi.FD_CONNECT, 0), posted(c, spi.FD_WRITE, 0)}, p.k.takeSignals())
		})
	}
}

func TestFDConnectCarriesTheRefusal(t *testing.T) {
	p := newTestProc(t)
	free := p.bind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), "127.0.0.1:0") // bound, not listening
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	p.eventSelect(c, evA, spi.FD_CONNECT|spi.FD_WRITE)
	err := p.tab.WSPConnect(c, free, nil, nil, nil, nil)
	wantErr(t, "connect", err, spi.WSAEWOULDBLOCK)
	diff(t, "signals", []signal{setEvent(evA)}, p.k.takeSignals())
	want := recorded(spi.FD_CONNECT)
	want.ErrorCode[spi.FD_CONNECT_BIT] = spi.WSAECONNREFUSED
	diff(t, "enumeration", want, p.enum(c))
}

func TestFDAcceptIsLevelTriggeredAndCFDeferDoesNotReenableIt(t *testing.T) {
	p := newTestProc(t)
	l, a := p.listener(spi.AF_INET, ovFlag)
	p.eventSelect(l, evA, spi.FD_ACCEPT)
	for range 2 {
		p.must(p.tab.WSPConnect(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), a, nil, nil, nil, nil))
	}
	diff(t, "signals of two connections", []signal{setEvent(evA)}, p.k.takeSignals())
	diff(t, "enumeration", recorded(spi.FD_ACCEPT), p.enum(l))
	_, _, err := p.tab.WSPAccept(l, nil, nil)
	p.must(err)
	diff(t, "signals of an accept leaving one", []signal{setEvent(evA)}, p.k.takeSignals())
	p.enum(l)
	_, _, err = p.tab.WSPAccept(l, nil, nil)
	p.must(err)
	_, _, err = p.tab.WSPAccept(l, nil, nil)
	wantErr(t, "accept of an empty backlog", err, spi.WSAEWOULDBLOCK)
	diff(t, "signals of accepts leaving none", []signal(nil), p.k.takeSignals())

	p.must(p.tab.WSPConnect(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), a, nil, nil, nil, nil))
	diff(t, "signals of a third connection", []signal{setEvent(evA)}, p.k.takeSignals())
	p.enum(l)
	deferIt := func(netip.AddrPort, []byte, *spi.QOS, *spi.QOS, netip.AddrPort, *[]byte, *spi.Group, any) int32 {
		return spi.CF_DEFER
	}
	_, _, err = p.tab.WSPAccept(l, deferIt, nil)
	wantErr(t, "accept deferred", err, spi.WSATRY_AGAIN)
	diff(t, "signals of a deferral", []signal(nil), p.k.takeSignals())
	_, _, err = p.tab.WSPAccept(l, nil, nil)
	p.must(err)
	diff(t, "signals of the accept after", []signal(nil), p.k.takeSignals())
}

func TestAnAcceptedSocketTakesTheListenersSelection(t *testing.T) {
	p := newTestProc(t)
	l, a := p.listener(spi.AF_INET6, ovFlag)
	p.asyncSelect(l, spi.FD_ACCEPT|spi.FD_READ|spi.FD_WRITE|spi.FD_CLOSE)
	c := p.socket(spi.AF_INET6, spi.SOCK_STREAM, 0)
	p.must(p.tab.WSPConnect(c, a, nil, nil, nil, nil))
	diff(t, "messages of the connection", []signal{posted(l, spi.FD_ACCEPT, 0)}, p.k.takeSignals())
	s, _, err := p.tab.WSPAccept(l, nil, nil)
	p.must(err)
	diff(t, "messages of the accept", []signal{posted(s, spi.FD_WRITE, 0)}, p.k.takeSignals())
	p.send(c, "hi")
	diff(t, "messages of data", []signal{posted(s, spi.FD_READ, 0)}, p.k.takeSignals())
	_, err = p.recv(s, 10) // the accepted socket is non-blocking too
	p.must(err)
	_, err = p.recv(s, 10)
	wantErr(t, "recv on the accepted socket", err, spi.WSAEWOULDBLOCK)
}

func TestGracefulFDCloseWaitsForTheUnreadData(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			p := newTestProc(t)
			c, s := p.pairOf(f.af)
			p.eventSelect(c, evA, spi.FD_READ|spi.FD_CLOSE)
			p.send(s, "hi")
			p.must(p.tab.WSPShutdown(s, spi.SD_SEND))
			diff(t, "signals", []signal{setEvent(evA)}, p.k.takeSignals())
			diff(t, "enumeration with data unread", recorded(spi.FD_READ), p.enum(c))
			got, err := p.recv(c, 10)
			p.must(err)
			diff(t, "data", "hi", got)
			diff(t, "signals of the last read", []signal{setEvent(evA)}, p.k.takeSignals())
			diff(t, "enumeration", recorded(spi.FD_CLOSE), p.enum(c))
			got, err = p.recv(c, 10)
			p.must(err)
			diff(t, "end of data", "", got)
			diff(t, "signals of reading the end", []signal(nil), p.k.takeSignals())
		})
	}
}

func TestAbortiveFDCloseCarriesWSAECONNRESET(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET)
	p.asyncSelect(c, spi.FD_READ|spi.FD_CLOSE)
	p.setLinger(s, 1, 0)
	p.must(p.tab.WSPCloseSocket(s))
	diff(t, "messages", []signal{posted(c, spi.FD_CLOSE, spi.WSAECONNRESET)}, p.k.takeSignals())
}

func TestClosesocketPostsNoFDCloseButCloseHandleDoes(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pairOf(spi.AF_INET)
	p.asyncSelect(c, spi.FD_CLOSE)
	p.must(p.tab.WSPCloseSocket(c))
	diff(t, "messages of closesocket", []signal(nil), p.k.takeSignals())

	c2, _ := p.pairOf(spi.AF_INET)
	p.asyncSelect(c2, spi.FD_CLOSE)
	p.k.driver(c2).Cleanup()
	diff(t, "messages of CloseHandle", []signal{posted(c2, spi.FD_CLOSE, 0)}, p.k.takeSignals())
}

func TestASelectionForcesNonBlockingModeUntilCancelled(t *testing.T) {
	for _, async := range []bool{false, true} {
		p := newTestProc(t)
		c, _ := p.pairOf(spi.AF_INET)
		if async {
			p.asyncSelect(c, spi.FD_READ)
		} else {
			p.eventSelect(c, evA, spi.FD_READ)
		}
		_, err := p.recv(c, 1)
		wantErr(t, "recv while selected", err, spi.WSAEWOULDBLOCK)
		_, err = p.tab.WSPIoctl(c, spi.FIONBIO, []byte{0, 0, 0, 0}, nil, nil, nil, nil)
		wantErr(t, "FIONBIO 0 while selected", err, spi.WSAEINVAL)
		p.nonblocking(c, true)
		if async {
			p.must(p.tab.WSPAsyncSelect(c, 0, 0, 0))
		} else {
			p.must(p.tab.WSPEventSelect(c, 0, 0))
		}
		p.nonblocking(c, false)
	}
}

func TestSelectRejectsUnknownEventsAndMissingTargets(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pairOf(spi.AF_INET)
	wantErr(t, "WSPEventSelect 0x400", p.tab.WSPEventSelect(c, evA, 0x400), spi.WSAEINVAL)
	wantErr(t, "WSPAsyncSelect 0x800", p.tab.WSPAsyncSelect(c, wnd, wmsg, 0x800), spi.WSAEINVAL)
	wantErr(t, "WSPEventSelect without an event", p.tab.WSPEventSelect(c, 0, spi.FD_READ), spi.WSAEINVAL)
	wantErr(t, "WSPAsyncSelect without a window", p.tab.WSPAsyncSelect(c, 0, wmsg, spi.FD_READ), spi.WSAEINVAL)
	diff(t, "signals", []signal(nil), p.k.takeSignals())
	p.nonblocking(c, false) // a failed selection selects nothing
}

func TestSelectCallsOnAClosedSocketFailWithWSAENOTSOCK(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pairOf(spi.AF_INET)
	p.must(p.tab.WSPCloseSocket(c))
	wantErr(t, "WSPEventSelect", p.tab.WSPEventSelect(c, evA, spi.FD_READ), spi.WSAENOTSOCK)
	wantErr(t, "WSPAsyncSelect", p.tab.WSPAsyncSelect(c, wnd, wmsg, spi.FD_READ), spi.WSAENOTSOCK)
	_, err := p.tab.WSPEnumNetworkEvents(c, 0)
	wantErr(t, "WSPEnumNetworkEvents", err, spi.WSAENOTSOCK)

	c2, _ := p.pairOf(spi.AF_INET)
	p.k.driver(c2).Cleanup() // CloseHandle: the provider's entry stays
	wantErr(t, "WSPEventSelect after CloseHandle", p.tab.WSPEventSelect(c2, evA, spi.FD_READ), spi.WSAENOTSOCK)
	_, err = p.tab.WSPEnumNetworkEvents(c2, 0)
	wantErr(t, "WSPEnumNetworkEvents after CloseHandle", err, spi.WSAENOTSOCK)
}

func TestReselectingKeepsTheEventsRecordedAndNotEnumerated(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET)
	p.eventSelect(c, evA, spi.FD_CLOSE)
	p.must(p.tab.WSPCloseSocket(s))
	diff(t, "signals of the close", []signal{setEvent(evA)}, p.k.takeSignals())
	p.eventSelect(c, evB, spi.FD_CLOSE|spi.FD_READ)
	diff(t, "signals of the new selection", []signal{setEvent(evB)}, p.k.takeSignals())
	diff(t, "enumeration", recorded(spi.FD_CLOSE), p.enum(c))

	c2, s2 := p.pairOf(spi.AF_INET)
	p.eventSelect(c2, evA, spi.FD_CLOSE)
	p.must(p.tab.WSPCloseSocket(s2))
	p.k.takeSignals()
	p.asyncSelect(c2, spi.FD_CLOSE)
	diff(t, "messages of the async selection", []signal{posted(c2, spi.FD_CLOSE, 0)}, p.k.takeSignals())
	diff(t, "enumeration after WSPAsyncSelect", recorded(0), p.enum(c2))
}

func TestEventSelectAndAsyncSelectReplaceEachOther(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET)
	p.asyncSelect(c, spi.FD_READ)
	p.eventSelect(c, evA, spi.FD_READ)
	p.send(s, "a")
	diff(t, "signals", []signal{setEvent(evA)}, p.k.takeSignals())
	p.asyncSelect(c, spi.FD_READ) // data is there: the level-triggered rule
	diff(t, "messages", []signal{posted(c, spi.FD_READ, 0)}, p.k.takeSignals())
	p.must(p.tab.WSPAsyncSelect(c, 0, 0, 0))
	p.recv(c, 10)
	p.send(s, "b")
	diff(t, "signals after cancelling", []signal(nil), p.k.takeSignals())
}

func TestUDPNetworkEvents(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			p := newTestProc(t)
			unbound := p.socket(f.af, spi.SOCK_DGRAM, 0)
			p.eventSelect(unbound, evB, spi.FD_WRITE)
			diff(t, "signals of an unbound UDP socket", []signal{setEvent(evB)}, p.k.takeSignals())

			u := p.socket(f.af, spi.SOCK_DGRAM, 0)
			a := p.bind(u, f.lo)
			p.eventSelect(u, evA, spi.FD_READ|spi.FD_WRITE)
			diff(t, "signals at selection", []signal{setEvent(evA)}, p.k.takeSignals())
			diff(t, "enumeration", recorded(spi.FD_WRITE), p.enum(u))
			snd := p.socket(f.af, spi.SOCK_DGRAM, 0)
			for _, d := range []string{"one", "two"} {
				_, err := p.tab.WSPSendTo(snd, [][]byte{[]byte(d)}, 0, a, nil, nil, nil)
				p.must(err)
			}
			diff(t, "signals of two datagrams", []signal{setEvent(evA)}, p.k.takeSignals())
			diff(t, "enumeration", recorded(spi.FD_READ), p.enum(u))
			p.recv(u, 10)
			diff(t, "signals of a recv leaving one", []signal{setEvent(evA)}, p.k.takeSignals())
			p.recv(u, 10)
			diff(t, "signals of a recv leaving none", []signal(nil), p.k.takeSignals())
		})
	}
}

func TestFDAddressListChangeIsArmedBySIOAddressListChange(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	p.eventSelect(s, evA, spi.FD_ADDRESS_LIST_CHANGE)
	p.must(net.AddAddress(host4))
	diff(t, "signals before SIO_ADDRESS_LIST_CHANGE", []signal(nil), p.k.takeSignals())
	_, err := p.tab.WSPIoctl(s, spi.SIO_ADDRESS_LIST_CHANGE, nil, nil, nil, nil, nil)
	wantErr(t, "SIO_ADDRESS_LIST_CHANGE", err, spi.WSAEWOULDBLOCK)
	p.must(net.AddAddress(netip.MustParseAddr("2001:db8::1")))
	diff(t, "signals of another family's change", []signal(nil), p.k.takeSignals())
	p.must(net.RemoveAddress(host4))
	diff(t, "signals of a change", []signal{setEvent(evA)}, p.k.takeSignals())
	diff(t, "enumeration", recorded(spi.FD_ADDRESS_LIST_CHANGE), p.enum(s))
	p.must(net.AddAddress(host4))
	diff(t, "signals of a second change", []signal(nil), p.k.takeSignals())
}

func TestNetworkEventsUnderAScheduler(t *testing.T) {
	sched := new(heldScheduler)
	p := newProc(t, loopback.NewNetworkWith(loopback.Options{Scheduler: sched}))
	c, s := p.pairOf(spi.AF_INET)
	sched.release()
	p.eventSelect(c, evA, spi.FD_READ|spi.FD_CLOSE)
	ov, _, err := p.ovSend(s, "data")
	p.must(err)
	diff(t, "signals before the scheduler runs", []signal{setEvent(evA)}, p.k.takeSignals())
	p.must(p.tab.WSPCloseSocket(s))
	diff(t, "signals of the close", []signal(nil), p.k.takeSignals())
	sched.release()
	if got := ov.LoadInternal(); got != 0 {
		t.Errorf("send status %#x", got)
	}
	diff(t, "enumeration", recorded(spi.FD_READ), p.enum(c))
	p.recv(c, 10)
	diff(t, "signals of the last read", []signal{setEvent(evA)}, p.k.takeSignals())
	diff(t, "enumeration", recorded(spi.FD_CLOSE), p.enum(c))
}
