package wsspi_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
)

// End-to-end tests of TCP over the loopback provider, between a client
// process and a server process of one machine, through the root API.

func TestStreamBytesArriveInOrderWithPartialReceives(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			k := newConn(t, f.af, spi.WSA_FLAG_OVERLAPPED)
			var sent []byte
			for _, n := range []int{5, 300, 1000} {
				chunk := pattern(len(sent), n)
				if got := must(k.cth.WSASend(k.c, [][]byte{chunk[:n/2], chunk[n/2:]}, 0, nil, nil))(t); got != uint32(n) {
					t.Fatalf("WSASend of %d bytes sent %d", n, got)
				}
				sent = append(sent, chunk...)
			}
			var got []byte
			a, b := make([]byte, 20), make([]byte, 44)
			for len(got) < len(sent) {
				n := must(k.sth.WSARecv(k.s, [][]byte{a, b}, nil, nil, nil))(t)
				if n == 0 || n > 64 {
					t.Fatalf("WSARecv into 64 bytes of buffers = %d", n)
				}
				got = append(got, append(append([]byte(nil), a...), b...)[:n]...)
			}
			if !bytes.Equal(sent, got) {
				t.Errorf("received %d bytes that differ from the %d sent", len(got), len(sent))
			}
		})
	}
}

func TestStreamReceiveReturnsWhatHasArrived(t *testing.T) {
	k := newConn(t, spi.AF_INET, 0)
	must(k.cth.WSASend(k.c, [][]byte{[]byte("hello")}, 0, nil, nil))(t)
	buf := make([]byte, 100)
	n := must(k.sth.WSARecv(k.s, [][]byte{buf}, nil, nil, nil))(t)
	if got := string(buf[:n]); got != "hello" {
		t.Errorf("WSARecv into 100 bytes = %q, want the 5 bytes sent", got)
	}
}

func TestStreamRoundTripBetweenTwoProcesses(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			k := newConn(t, f.af, spi.WSA_FLAG_OVERLAPPED)
			cname := must(k.cth.Getsockname(k.c))(t)
			if got := must(k.sth.Getpeername(k.s))(t); got != cname {
				t.Errorf("server's peer %v, client's name %v", got, cname)
			}
			if got := must(k.cth.Getpeername(k.c))(t); got != k.addr {
				t.Errorf("client's peer %v, want %v", got, k.addr)
			}
			if !cname.Addr().IsLoopback() || cname.Addr().Is6() != (f.af == spi.AF_INET6) {
				t.Errorf("client bound to %v, want a loopback address of its family", cname)
			}
			must(k.cth.WSASend(k.c, [][]byte{[]byte("ping")}, 0, nil, nil))(t)
			if got := recvAll(t, k.sth, k.s, 4); string(got) != "ping" {
				t.Errorf("server received %q", got)
			}
			must(k.sth.WSASend(k.s, [][]byte{[]byte("pong")}, 0, nil, nil))(t)
			if got := recvAll(t, k.cth, k.c, 4); string(got) != "pong" {
				t.Errorf("client received %q", got)
			}
		})
	}
}

func TestStreamListenBacklogRefusesConnectionsBeyondIt(t *testing.T) {
	w := newWorld(t)
	addr := loopbackAddr(spi.AF_INET, 80)
	l := listen(t, w.sth, addr, 2)
	var clients []spi.Socket
	for range 3 {
		clients = append(clients, must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t))
	}
	check(t, w.cth.Connect(clients[0], addr))
	check(t, w.cth.Connect(clients[1], addr))
	wantErr(t, "third connect", opErr("connect", clients[2], spi.WSAECONNREFUSED), w.cth.Connect(clients[2], addr))

	for i := range 2 {
		_, peer := must2(w.sth.Accept(l))(t)
		if want := must(w.cth.Getsockname(clients[i]))(t); peer != want {
			t.Errorf("accept %d: peer %v, want client %d at %v", i, peer, i, want)
		}
	}
	check(t, w.cth.Connect(clients[2], addr)) // the backlog has room again
}

func TestStreamConnectCompletesBeforeAccept(t *testing.T) {
	w := newWorld(t)
	addr := loopbackAddr(spi.AF_INET, 80)
	l := listen(t, w.sth, addr, 1)
	c := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	check(t, w.cth.Connect(c, addr))
	must(w.cth.WSASend(c, [][]byte{[]byte("early")}, 0, nil, nil))(t)
	s, _ := must2(w.sth.Accept(l))(t)
	if got := recvAll(t, w.sth, s, 5); string(got) != "early" {
		t.Errorf("accepted socket received %q, want what was sent before accept", got)
	}
}

func TestStreamAcceptBlocksUntilAClientConnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		addr := loopbackAddr(spi.AF_INET, 80)
		l := listen(t, w.sth, addr, 1)
		type result struct {
			s    spi.Socket
			peer netip.AddrPort
			err  error
		}
		acceptor := w.server.NewThread()
		done := blocks(t, "accept", func() result {
			s, peer, err := acceptor.Accept(l)
			return result{s, peer, err}
		})
		c := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
		check(t, w.cth.Connect(c, addr))
		r := <-done
		check(t, r.err)
		if want := must(w.cth.Getsockname(c))(t); r.peer != want {
			t.Errorf("accepted peer %v, want %v", r.peer, want)
		}
	})
}

func TestStreamNonblockingAcceptConnectAndRecvFailWithWSAEWOULDBLOCK(t *testing.T) {
	w := newWorld(t)
	addr := loopbackAddr(spi.AF_INET, 80)
	l := listen(t, w.sth, addr, 1)
	setNonblocking(t, w.sth, l, true)
	_, _, err := w.sth.Accept(l)
	wantErr(t, "accept with an empty backlog", opErr("WSAAccept", l, spi.WSAEWOULDBLOCK), err)

	c := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	setNonblocking(t, w.cth, c, true)
	wantErr(t, "nonblocking connect", opErr("connect", c, spi.WSAEWOULDBLOCK), w.cth.Connect(c, addr))
	wantErr(t, "second connect", opErr("connect", c, spi.WSAEISCONN), w.cth.Connect(c, addr))

	s, _ := must2(w.sth.Accept(l))(t) // the accepted socket inherits FIONBIO
	buf := make([]byte, 8)
	_, err = w.sth.WSARecv(s, [][]byte{buf}, nil, nil, nil)
	wantErr(t, "server recv with nothing sent", opErr("WSARecv", s, spi.WSAEWOULDBLOCK), err)
	_, err = w.cth.WSARecv(c, [][]byte{buf}, nil, nil, nil)
	wantErr(t, "client recv with nothing sent", opErr("WSARecv", c, spi.WSAEWOULDBLOCK), err)

	must(w.cth.WSASend(c, [][]byte{[]byte("x")}, 0, nil, nil))(t)
	if n, err := w.sth.WSARecv(s, [][]byte{buf}, nil, nil, nil); n != 1 || err != nil {
		t.Errorf("recv once data arrived = %d, %v", n, err)
	}

	setNonblocking(t, w.sth, s, false)
	must(w.cth.WSASend(c, [][]byte{[]byte("y")}, 0, nil, nil))(t)
	if n, err := w.sth.WSARecv(s, [][]byte{buf}, nil, nil, nil); n != 1 || err != nil {
		t.Errorf("recv after clearing FIONBIO = %d, %v", n, err)
	}
}

func TestStreamNonblockingSendFailsWithWSAEWOULDBLOCKWhenBuffersAreFull(t *testing.T) {
	k := newConn(t, spi.AF_INET, 0)
	setInt(t, k.cth, k.c, spi.SO_SNDBUF, 8)
	setInt(t, k.sth, k.s, spi.SO_RCVBUF, 8)
	setNonblocking(t, k.cth, k.c, true)
	msg := [][]byte{pattern(0, 16)}
	must(k.cth.WSASend(k.c, msg, 0, nil, nil))(t) // 16 bytes buffered: the limit of 8+8
	_, err := k.cth.WSASend(k.c, msg, 0, nil, nil)
	wantErr(t, "send into full buffers", opErr("WSASend", k.c, spi.WSAEWOULDBLOCK), err)
	recvAll(t, k.sth, k.s, 16)
	if _, err := k.cth.WSASend(k.c, msg, 0, nil, nil); err != nil {
		t.Errorf("send once the peer read: %v", err)
	}
}

func TestStreamNonblockingConnectRefusedReportsThroughSOERROR(t *testing.T) {
	w := newWorld(t)
	c := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	setNonblocking(t, w.cth, c, true)
	addr := loopbackAddr(spi.AF_INET, 81)
	wantErr(t, "nonblocking connect", opErr("connect", c, spi.WSAEWOULDBLOCK), w.cth.Connect(c, addr))
	if got := getInt(t, w.cth, c, spi.SO_ERROR); got != uint32(spi.WSAECONNREFUSED) {
		t.Errorf("SO_ERROR = %d, want WSAECONNREFUSED", got)
	}
	if got := getInt(t, w.cth, c, spi.SO_ERROR); got != 0 {
		t.Errorf("SO_ERROR read twice = %d, want 0", got)
	}
}

func TestStreamOverlappedCallsPendOnANonblockingSocket(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	setNonblocking(t, k.cth, k.c, true)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	var ov spi.Overlapped
	buf := make([]byte, 4)
	pendRecv(t, k.cth, k.c, buf, &ov, nil)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
	e := must(k.cth.GetQueuedCompletionStatus(port, long))(t)
	if e.Overlapped != &ov || e.NumberOfBytesTransferred != 4 || string(buf) != "data" {
		t.Errorf("completion %+v, buffer %q", e, buf)
	}
}

func TestStreamSendsPendWhenBuffersAreFullAndCompleteInOrder(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	setInt(t, k.cth, k.c, spi.SO_SNDBUF, 16)
	setInt(t, k.sth, k.s, spi.SO_RCVBUF, 16)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 7, 0))(t)

	// A send is taken whole while fewer than 16+16 bytes wait at the peer:
	// the first two are, the others pend.
	ovs := make([]spi.Overlapped, 5)
	var sent []byte
	var results []error
	for i := range ovs {
		chunk := pattern(len(sent), 20)
		sent = append(sent, chunk...)
		_, err := k.cth.WSASend(k.c, [][]byte{chunk}, 0, &ovs[i], nil)
		results = append(results, err)
	}
	pending := opErr("WSASend", k.c, spi.WSA_IO_PENDING)
	if diff := cmp.Diff([]error{nil, nil, pending, pending, pending}, results); diff != "" {
		t.Fatalf("WSASend results (-want +got):\n%s", diff)
	}
	next := func() int {
		t.Helper()
		e := must(k.cth.GetQueuedCompletionStatus(port, long))(t)
		if e.CompletionKey != 7 || e.NumberOfBytesTransferred != 20 {
			t.Errorf("packet %+v", e)
		}
		for i := range ovs {
			if e.Overlapped == &ovs[i] {
				return i
			}
		}
		t.Fatalf("packet for an unknown overlapped")
		return -1
	}
	order := []int{next(), next()}
	if _, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Fatalf("a third packet before the peer read: %v", err)
	}
	for i := 2; i < 5; i++ {
		if !ovs[i].InProgress() {
			t.Errorf("send %d not in progress before the peer read", i)
		}
	}
	got := recvAll(t, k.sth, k.s, 40) // makes room for two more
	order = append(order, next(), next())
	got = append(got, recvAll(t, k.sth, k.s, 40)...)
	order = append(order, next())
	got = append(got, recvAll(t, k.sth, k.s, 20)...)
	if diff := cmp.Diff([]int{0, 1, 2, 3, 4}, order); diff != "" {
		t.Errorf("completion order (-want +got):\n%s", diff)
	}
	if !bytes.Equal(sent, got) {
		t.Errorf("bytes received differ from bytes sent")
	}
}

func TestStreamShutdownSendGivesThePeerAZeroByteReceive(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	port := must(k.server.CreateIoCompletionPort(k.s, 0, 3, 0))(t)
	var ov spi.Overlapped
	buf := make([]byte, 16)
	must(k.cth.WSASend(k.c, [][]byte{[]byte("abc")}, 0, nil, nil))(t)
	check(t, k.cth.Shutdown(k.c, spi.SD_SEND))

	if n := must(k.sth.WSARecv(k.s, [][]byte{buf}, nil, nil, nil))(t); string(buf[:n]) != "abc" {
		t.Errorf("first recv = %q, want the data sent before shutdown", buf[:n])
	}
	for i := range 2 {
		if n, err := k.sth.WSARecv(k.s, [][]byte{buf}, nil, nil, nil); n != 0 || err != nil {
			t.Errorf("recv %d after the data = %d, %v; want 0, nil", i, n, err)
		}
	}
	if n, err := k.sth.WSARecv(k.s, [][]byte{buf}, nil, &ov, nil); n != 0 || err != nil {
		t.Errorf("overlapped recv at the end = %d, %v; want 0, nil", n, err)
	}
	if e := must(k.sth.GetQueuedCompletionStatus(port, long))(t); e.Overlapped != &ov || e.NumberOfBytesTransferred != 0 {
		t.Errorf("packet %+v", e)
	}

	_, err := k.cth.WSASend(k.c, [][]byte{[]byte("more")}, 0, nil, nil)
	wantErr(t, "send after shutdown", opErr("WSASend", k.c, spi.WSAESHUTDOWN), err)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("reply")}, 0, nil, nil))(t)
	if got := recvAll(t, k.cth, k.c, 5); string(got) != "reply" {
		t.Errorf("the half-closed client received %q", got)
	}
}

func TestStreamShutdownSendCompletesAPendingReceiveWithZeroBytes(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	port := must(k.server.CreateIoCompletionPort(k.s, 0, 3, 0))(t)
	var ov spi.Overlapped
	pendRecv(t, k.sth, k.s, make([]byte, 8), &ov, nil)
	check(t, k.cth.Shutdown(k.c, spi.SD_SEND))
	want := spi.OverlappedEntry{CompletionKey: 3, Overlapped: &ov}
	if diff := cmp.Diff(want, must(k.sth.GetQueuedCompletionStatus(port, long))(t)); diff != "" {
		t.Errorf("packet (-want +got):\n%s", diff)
	}
}

func TestStreamGracefulCloseDeliversTheDataThenTheEnd(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	must(k.cth.WSASend(k.c, [][]byte{[]byte("last words")}, 0, nil, nil))(t)
	check(t, k.cth.Closesocket(k.c))
	if got := recvAll(t, k.sth, k.s, 10); string(got) != "last words" {
		t.Errorf("received %q", got)
	}
	if n, err := k.sth.WSARecv(k.s, [][]byte{make([]byte, 8)}, nil, nil, nil); n != 0 || err != nil {
		t.Errorf("recv after the data = %d, %v; want 0, nil", n, err)
	}
}

func TestStreamAbortiveCloseResetsThePeer(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	port := must(k.server.CreateIoCompletionPort(k.s, 0, 3, 0))(t)
	var ov spi.Overlapped
	pendRecv(t, k.sth, k.s, make([]byte, 8), &ov, nil)
	setLinger(t, k.cth, k.c, 1, 0)
	check(t, k.cth.Closesocket(k.c))

	e, err := k.sth.GetQueuedCompletionStatus(port, long)
	wantErr(t, "pending recv", opErr("GetQueuedCompletionStatus", port, spi.ERROR_NETNAME_DELETED), err)
	if e.Overlapped != &ov {
		t.Errorf("packet %+v is not the pending recv's", e)
	}
	_, err = k.sth.WSARecv(k.s, [][]byte{make([]byte, 8)}, nil, nil, nil)
	wantErr(t, "later recv", opErr("WSARecv", k.s, spi.WSAECONNRESET), err)
	_, err = k.sth.WSASend(k.s, [][]byte{[]byte("x")}, 0, nil, nil)
	wantErr(t, "later send", opErr("WSASend", k.s, spi.WSAECONNRESET), err)
}

func TestStreamAbortiveCloseDiscardsUnreadData(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	must(k.cth.WSASend(k.c, [][]byte{[]byte("never read")}, 0, nil, nil))(t)
	setLinger(t, k.cth, k.c, 1, 0)
	check(t, k.cth.Closesocket(k.c))
	_, err := k.sth.WSARecv(k.s, [][]byte{make([]byte, 16)}, nil, nil, nil)
	wantErr(t, "recv", opErr("WSARecv", k.s, spi.WSAECONNRESET), err)
}

func TestStreamConnectToAPortNobodyListensOnIsRefused(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			w := newWorld(t)
			c := must(w.cth.Socket(f.af, spi.SOCK_STREAM, 0))(t)
			wantErr(t, "connect", opErr("connect", c, spi.WSAECONNREFUSED), w.cth.Connect(c, loopbackAddr(f.af, 81)))
		})
	}
}

func TestStreamCallsOnAnUnconnectedSocketFailWithWSAENOTCONN(t *testing.T) {
	w := newWorld(t)
	c := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	buf := make([]byte, 4)
	var ov spi.Overlapped
	calls := map[string]error{}
	_, calls["WSASend"] = w.cth.WSASend(c, [][]byte{buf}, 0, nil, nil)
	_, calls["WSARecv"] = w.cth.WSARecv(c, [][]byte{buf}, nil, nil, nil)
	_, calls["WSARecv overlapped"] = w.cth.WSARecv(c, [][]byte{buf}, nil, &ov, nil)
	_, calls["ReadFile"] = w.cth.ReadFile(c, buf, nil)
	_, calls["WriteFile"] = w.cth.WriteFile(c, buf, nil)
	calls["shutdown"] = w.cth.Shutdown(c, spi.SD_BOTH)
	_, calls["getpeername"] = w.cth.Getpeername(c)
	want := map[string]error{
		"WSASend":            opErr("WSASend", c, spi.WSAENOTCONN),
		"WSARecv":            opErr("WSARecv", c, spi.WSAENOTCONN),
		"WSARecv overlapped": opErr("WSARecv", c, spi.WSAENOTCONN),
		"ReadFile":           opErr("ReadFile", c, spi.ERROR_UNEXP_NET_ERR), // STATUS_INVALID_CONNECTION, as kernel32 maps it
		"WriteFile":          opErr("WriteFile", c, spi.ERROR_UNEXP_NET_ERR),
		"shutdown":           opErr("shutdown", c, spi.WSAENOTCONN),
		"getpeername":        opErr("getpeername", c, spi.WSAENOTCONN),
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if ov.InProgress() || ov.Internal != 0 {
		t.Errorf("a failed overlapped call touched its overlapped: %+v", ov)
	}
}

func TestBindingAnAddressInUseFailsWithWSAEADDRINUSE(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			w := newWorld(t)
			addr := loopbackAddr(f.af, 7000)
			first := must(w.sth.Socket(f.af, spi.SOCK_STREAM, 0))(t)
			check(t, w.sth.Bind(first, addr))
			for _, a := range []netip.AddrPort{addr, netip.AddrPortFrom(anyAddr(f.af), 7000)} {
				s := must(w.cth.Socket(f.af, spi.SOCK_STREAM, 0))(t)
				wantErr(t, "bind to "+a.String(), opErr("bind", s, spi.WSAEADDRINUSE), w.cth.Bind(s, a))
			}
			udp := must(w.cth.Socket(f.af, spi.SOCK_DGRAM, 0))(t)
			check(t, w.cth.Bind(udp, addr)) // UDP has a port space of its own
			check(t, w.sth.Closesocket(first))
			again := must(w.cth.Socket(f.af, spi.SOCK_STREAM, 0))(t)
			check(t, w.cth.Bind(again, addr)) // released at close
		})
	}
}

func TestBindingASocketTwiceFailsWithWSAEINVAL(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	check(t, w.cth.Bind(s, loopbackAddr(spi.AF_INET, 7000)))
	wantErr(t, "second bind", opErr("bind", s, spi.WSAEINVAL), w.cth.Bind(s, loopbackAddr(spi.AF_INET, 7001)))
}

// anyAddr is the wildcard address of family af.
func anyAddr(af int32) netip.Addr {
	if af == spi.AF_INET6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}

// blockedRecv starts a blocking receive on s by a new thread of k's server
// and returns where its error arrives, after checking that it blocks.
func blockedRecv(t *testing.T, k *conn, s spi.Socket) <-chan error {
	t.Helper()
	th := k.server.NewThread()
	return blocks(t, "recv", func() error {
		_, err := th.WSARecv(s, [][]byte{make([]byte, 8)}, nil, nil, nil)
		return err
	})
}

func TestClosesocketEndsABlockedReceiveWithWSAEINTR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newConn(t, spi.AF_INET, 0)
		done := blockedRecv(t, k, k.s)
		check(t, k.sth.Closesocket(k.s))
		wantErr(t, "blocked recv", opErr("WSARecv", k.s, spi.WSAEINTR), <-done)
	})
}

func TestWSACleanupEndsBlockedCallsWithWSAEINTR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newConn(t, spi.AF_INET, 0)
		recv := blockedRecv(t, k, k.s)
		acceptor := k.server.NewThread()
		accepted := blocks(t, "accept", func() error {
			_, _, err := acceptor.Accept(k.l)
			return err
		})
		check(t, k.server.WSACleanup())
		wantErr(t, "blocked recv", opErr("WSARecv", k.s, spi.WSAEINTR), <-recv)
		wantErr(t, "blocked accept", opErr("WSAAccept", k.l, spi.WSAEINTR), <-accepted)
		checkNoHandles(t, k.server)
	})
}
