package wsspi_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// talks checks that bytes go both ways between a and b: a's thread sends
// on a, b's receives on b, and back.
func talks(tb TB, ath *wsspi.Thread, a spi.Socket, bth *wsspi.Thread, b spi.Socket) {
	tb.Helper()
	must(ath.WSASend(a, [][]byte{[]byte("ping")}, 0, nil, nil))(tb)
	if got := recvAll(tb, bth, b, 4); string(got) != "ping" {
		tb.Errorf("received %q, want ping", got)
	}
	must(bth.WSASend(b, [][]byte{[]byte("pong")}, 0, nil, nil))(tb)
	if got := recvAll(tb, ath, a, 4); string(got) != "pong" {
		tb.Errorf("received %q, want pong", got)
	}
}

func TestSocketPairConnectsTwoSocketsOfOneThread(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			p := wsspi.NewMachine().NewProcess()
			defer p.Close()
			th := p.NewThread()
			pr := must(th.SocketPair(wsspi.PairOptions{Family: f.af}))(t)

			if want := loopbackAddr(f.af, 0).Addr(); pr.Addr.Addr() != want || pr.Addr.Port() < 49152 {
				t.Errorf("Addr = %v, want %v with an ephemeral port", pr.Addr, want)
			}
			if got := must(th.Getpeername(pr.Client))(t); got != pr.Addr {
				t.Errorf("the client's peer is %v, want %v", got, pr.Addr)
			}
			if got, want := must(th.Getpeername(pr.Server))(t), must(th.Getsockname(pr.Client))(t); got != want {
				t.Errorf("the server's peer is %v, want the client's address %v", got, want)
			}
			if pr.Listener != nil || pr.Port != 0 {
				t.Errorf("Listener %v, Port %v; want neither by default", pr.Listener, pr.Port)
			}
			talks(t, th, pr.Client, th, pr.Server)
			check(t, pr.Close())
			checkNoHandles(t, p)
		})
	}
}

func TestSocketPairMakesTheCallsOneByOne(t *testing.T) {
	rec := new(trace.Recorder)
	p := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec}).NewProcess()
	defer p.Close()
	th := p.NewThread()
	pr := must(th.SocketPair(wsspi.PairOptions{CompletionPort: true}))(t)
	var got []string
	for _, e := range rec.Events() {
		if e.Kind == trace.ClientCall {
			got = append(got, e.Func)
		}
	}
	want := []string{
		"WSASocket", "bind", "getsockname", "listen", // the listener
		"WSASocket", "connect", // the client
		"WSAAccept", "closesocket", // the server's end, and the listener closed
		"CreateIoCompletionPort", "CreateIoCompletionPort", // both ends on one port
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("client calls (-want +got):\n%s", diff)
	}
	check(t, pr.Close())
}

func TestSocketPairAssociatesBothEndsWithOnePort(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	th := p.NewThread()
	pr := must(th.SocketPair(wsspi.PairOptions{CompletionPort: true, ClientKey: 1, ServerKey: 2}))(t)
	for _, end := range []struct {
		s   spi.Socket
		key uintptr
	}{{pr.Client, 1}, {pr.Server, 2}} {
		var ov spi.Overlapped
		if _, err := th.WSASend(end.s, [][]byte{[]byte("hello")}, 0, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
			t.Fatal(err)
		}
		e := must(th.GetQueuedCompletionStatus(pr.Port, long))(t)
		if e.CompletionKey != end.key || e.Overlapped != &ov || e.NumberOfBytesTransferred != 5 {
			t.Errorf("send on %v: packet %+v, want 5 bytes of %p under key %d", end.s, e, &ov, end.key)
		}
	}
	check(t, pr.Close())
	checkNoHandles(t, p)
}

func TestSocketPairAcrossTwoProcesses(t *testing.T) {
	w := newWorld(t)
	pr := must(w.cth.SocketPair(wsspi.PairOptions{Server: w.sth, CompletionPort: true, ClientKey: 42}))(t)
	if e, ok := w.server.Handles().Lookup(pr.Server); !ok || e.Kind != handles.KindIFSSocket {
		t.Errorf("the server's end %v is not a socket of the server process: %+v", pr.Server, e)
	}
	talks(t, w.cth, pr.Client, w.sth, pr.Server)
	// The port is the client process's: the server's end is on none, so
	// it can still be associated.
	sport := must(w.server.CreateIoCompletionPort(pr.Server, 0, 7, 0))(t)
	if _, err := w.client.CreateIoCompletionPort(pr.Client, 0, 1, 0); !errors.Is(err, spi.ERROR_INVALID_PARAMETER) {
		t.Errorf("a second port for the client's end: %v, want ERROR_INVALID_PARAMETER", err)
	}
	check(t, w.server.CloseHandle(sport))
	check(t, pr.Close())
	checkNoHandles(t, w.client)
	checkNoHandles(t, w.server)
}

func TestSocketPairThroughAnLSP(t *testing.T) {
	m := wsspi.NewMachine()
	_, ids := installKits(t, m, 1)
	chain := ids[0].Chains[0]
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()

	// By default both ends go through the catalog's first TCP entry, the
	// chain; ServerEntry puts the server on the base provider.
	for _, c := range []struct {
		name              string
		opts              wsspi.PairOptions
		client, listening spi.CatalogEntryId
	}{
		{"catalog's choice", wsspi.PairOptions{KeepListener: true}, chain, chain},
		{"server on the base", wsspi.PairOptions{KeepListener: true, ServerEntry: catalog.DefaultTCPIPv4}, chain, catalog.DefaultTCPIPv4},
		{"client on the base", wsspi.PairOptions{KeepListener: true, ClientEntry: catalog.DefaultTCPIPv4, ServerEntry: catalog.DefaultTCPIPv4}, catalog.DefaultTCPIPv4, catalog.DefaultTCPIPv4},
	} {
		t.Run(c.name, func(t *testing.T) {
			pr := must(th.SocketPair(c.opts))(t)
			if got := protocolInfo(t, th, pr.Client).CatalogEntryId; got != c.client {
				t.Errorf("the client's socket is of entry %d, want %d", got, c.client)
			}
			if got := protocolInfo(t, th, pr.Listener.Socket).CatalogEntryId; got != c.listening {
				t.Errorf("the listener is of entry %d, want %d", got, c.listening)
			}
			talks(t, th, pr.Client, th, pr.Server)
			check(t, pr.Close())
		})
	}
}

func TestSocketPairNotOverlapped(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	th := p.NewThread()
	pr := must(th.SocketPair(wsspi.PairOptions{NotOverlapped: true}))(t)
	var ov spi.Overlapped
	_, err := th.WSASend(pr.Client, [][]byte{[]byte("x")}, 0, &ov, nil)
	wantErr(t, "an overlapped send on the client's end", &spi.OpError{Op: "WSASend", Handle: pr.Client, Err: notOverlapped}, err)
	if _, err := th.WSASend(pr.Server, [][]byte{[]byte("x")}, 0, &ov, nil); err != nil {
		t.Errorf("an overlapped send on the server's end: %v", err)
	}
	if got := recvAll(t, th, pr.Client, 1); string(got) != "x" {
		t.Errorf("received %q, want x", got)
	}
	talks(t, th, pr.Client, th, pr.Server)
	check(t, pr.Close())
}

func TestSocketPairKeepsTheListenerOnlyIfAsked(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	th := p.NewThread()
	addr := netip.MustParseAddrPort("127.0.0.1:9000")

	pr := must(th.SocketPair(wsspi.PairOptions{Addr: addr, KeepListener: true}))(t)
	if pr.Listener == nil || pr.Listener.Addr != addr || pr.Addr != addr {
		t.Fatalf("Listener %+v, Addr %v; want a listener on %v", pr.Listener, pr.Addr, addr)
	}
	c := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	check(t, th.Connect(c, addr))
	s, _ := must2(pr.Listener.Accept())(t)
	talks(t, th, c, th, s)
	for _, h := range []spi.Socket{c, s} {
		check(t, th.Closesocket(h))
	}
	check(t, pr.Close())
	checkNoHandles(t, p)

	pr = must(th.SocketPair(wsspi.PairOptions{Addr: addr}))(t)
	c = must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	wantErr(t, "connect once the pair is made", opErr("connect", c, spi.WSAECONNREFUSED), th.Connect(c, addr))
	check(t, th.Closesocket(c))
	check(t, pr.Close())
	checkNoHandles(t, p)
}

// TestSocketPairLeaksNothingWhenACallFails fails each of the calls of
// SocketPair in turn and checks that the error names the call and the
// address, carries the code, and that the pair's handles are gone.
func TestSocketPairLeaksNothingWhenACallFails(t *testing.T) {
	m := wsspi.NewMachine()
	udp, _ := m.Catalog().View().Entry(catalog.DefaultUDPIPv4)
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	taken := netip.MustParseAddrPort("127.0.0.1:9000")
	busy := must(th.ListenTCP(taken, wsspi.ListenOptions{}))(t)
	defer busy.Close()

	for _, c := range []struct {
		name string
		opts wsspi.PairOptions
		op   string
		code spi.Errno
	}{
		{"listener on a UDP entry", wsspi.PairOptions{ServerEntry: udp.CatalogEntryId}, "WSASocket", spi.WSAESOCKTNOSUPPORT},
		{"address in use", wsspi.PairOptions{Addr: taken}, "bind", spi.WSAEADDRINUSE},
		{"client on a UDP entry", wsspi.PairOptions{ClientEntry: udp.CatalogEntryId}, "WSASocket", spi.WSAESOCKTNOSUPPORT},
		{"client on an entry not installed", wsspi.PairOptions{ClientEntry: 4242}, "WSASocket", spi.WSAEINVAL},
		{"client on an entry of the other family", wsspi.PairOptions{Family: spi.AF_INET6, ClientEntry: catalog.DefaultTCPIPv4}, "WSASocket", spi.WSAEAFNOSUPPORT},
		{"a port for a socket that is not overlapped", wsspi.PairOptions{NotOverlapped: true, CompletionPort: true}, "CreateIoCompletionPort", spi.ERROR_INVALID_PARAMETER},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := liveObjects(p)
			pr, err := th.SocketPair(c.opts)
			if pr != nil {
				t.Errorf("SocketPair = %+v, want nil", pr)
			}
			var oe *spi.OpError
			if !errors.As(err, &oe) || oe.Op != c.op || !errors.Is(err, c.code) {
				t.Errorf("error %v, want %s failing with %v", err, c.op, c.code)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "SocketPair ") {
				t.Errorf("error %q does not begin with SocketPair and the address", err)
			}
			if diff := cmp.Diff(before, liveObjects(p)); diff != "" {
				t.Errorf("handles left (-before +after):\n%s", diff)
			}
		})
	}
}

func TestSocketPairLeaksNothingWhenConnectFails(t *testing.T) {
	m := wsspi.NewMachine()
	refuse := layered.Config{Hooks: layered.Hooks{
		OnConnect: func(*layered.Socket, netip.AddrPort) (netip.AddrPort, error) {
			return netip.AddrPort{}, spi.WSAENETUNREACH
		},
	}}
	installKits(t, m, 1, refuse)
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	// A first socket loads the layer, which keeps a port of its own.
	check(t, th.Closesocket(must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)))
	before := liveObjects(p)
	_, err := th.SocketPair(wsspi.PairOptions{ServerEntry: catalog.DefaultTCPIPv4})
	var oe *spi.OpError
	if !errors.As(err, &oe) || oe.Op != "connect" || !errors.Is(err, spi.WSAENETUNREACH) {
		t.Errorf("error %v, want connect failing with WSAENETUNREACH", err)
	}
	if diff := cmp.Diff(before, liveObjects(p)); diff != "" {
		t.Errorf("handles left (-before +after):\n%s", diff)
	}
}

// TestSocketPairLeaksNothingInAFullTable makes a pair in handle tables of
// every size too small for it: whichever call finds the table full, the
// pair leaves nothing behind.
func TestSocketPairLeaksNothingInAFullTable(t *testing.T) {
	failed := map[string]bool{}
	for capacity := 1; ; capacity++ {
		m := wsspi.NewMachineWith(wsspi.MachineOptions{Handles: handles.Options{Capacity: capacity}})
		p := m.NewProcess()
		th, err := p.CreateThread()
		if err != nil {
			p.Close()
			continue
		}
		// The listener is kept, or the port would take its freed handle.
		pr, err := th.SocketPair(wsspi.PairOptions{CompletionPort: true, KeepListener: true})
		if err == nil {
			check(t, pr.Close())
			p.Close()
			break
		}
		var oe *spi.OpError
		if !errors.As(err, &oe) || spi.ErrnoOf(err) != spi.WSAENOBUFS && spi.ErrnoOf(err) != spi.ERROR_NOT_ENOUGH_MEMORY {
			t.Errorf("capacity %d: %v, want a call failing for want of handles", capacity, err)
		} else {
			failed[oe.Op] = true
		}
		checkNoHandles(t, p)
		p.Close()
	}
	for _, op := range []string{"WSASocket", "WSAAccept", "CreateIoCompletionPort"} {
		if !failed[op] {
			t.Errorf("no table size made %s fail: seen %v", op, failed)
		}
	}
}

func TestSocketPairPanicsWithAThreadOfAnotherMachine(t *testing.T) {
	p, q := wsspi.NewMachine().NewProcess(), wsspi.NewMachine().NewProcess()
	defer p.Close()
	defer q.Close()
	defer func() {
		if r := recover(); r == nil {
			t.Error("no panic")
		}
	}()
	_, _ = p.NewThread().SocketPair(wsspi.PairOptions{Server: q.NewThread()})
}

func TestListenTCPLearnsThePortItWasGiven(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			p := wsspi.NewMachine().NewProcess()
			defer p.Close()
			th := p.NewThread()
			l := must(th.ListenTCP(loopbackAddr(f.af, 0), wsspi.ListenOptions{Backlog: 1}))(t)
			if got := must(th.Getsockname(l.Socket))(t); got != l.Addr || got.Port() == 0 {
				t.Errorf("Addr = %v, getsockname = %v; want the same, with a port", l.Addr, got)
			}
			c := must(th.Socket(f.af, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			check(t, th.Connect(c, l.Addr))
			s, from := must2(l.Accept())(t)
			if want := must(th.Getsockname(c))(t); from != want {
				t.Errorf("Accept's peer = %v, want %v", from, want)
			}
			// A backlog of 1 holds one connection.
			c2 := must(th.Socket(f.af, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			c3 := must(th.Socket(f.af, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			check(t, th.Connect(c2, l.Addr))
			wantErr(t, "connect to a full backlog", opErr("connect", c3, spi.WSAECONNREFUSED), th.Connect(c3, l.Addr))
			check(t, l.Close())
			for _, h := range []spi.Socket{c, s, c2, c3} {
				check(t, th.Closesocket(h))
			}
			checkNoHandles(t, p)
		})
	}
}

func TestListenTCPErrorsNameTheAddress(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	th := p.NewThread()
	addr := netip.MustParseAddrPort("127.0.0.1:80")
	l := must(th.ListenTCP(addr, wsspi.ListenOptions{}))(t)
	defer l.Close()
	before := liveObjects(p)
	_, err := th.ListenTCP(addr, wsspi.ListenOptions{})
	if !errors.Is(err, spi.WSAEADDRINUSE) || !strings.HasPrefix(err.Error(), "ListenTCP 127.0.0.1:80: bind ") {
		t.Errorf("a second listener on %v: %v, want ListenTCP %v: bind ...: WSAEADDRINUSE", addr, err, addr)
	}
	if diff := cmp.Diff(before, liveObjects(p)); diff != "" {
		t.Errorf("handles left (-before +after):\n%s", diff)
	}
}
