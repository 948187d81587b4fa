package loopback_test

import (
	"bytes"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

const ovFlag = spi.WSA_FLAG_OVERLAPPED

func TestConnectToAPortNobodyListensOnIsRefused(t *testing.T) {
	p := newTestProc(t)
	bound := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	a := p.bind(bound, "127.0.0.1:0") // bound but not listening
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	wantErr(t, "connect to a bound socket", p.tab.WSPConnect(c, a, nil, nil, nil, nil), spi.WSAECONNREFUSED)
	wantErr(t, "connect to a free port", p.tab.WSPConnect(c, netip.MustParseAddrPort("127.0.0.1:9"), nil, nil, nil, nil), spi.WSAECONNREFUSED)
}

func TestConnectFindsListenersOnTheExactAddressOrTheWildcard(t *testing.T) {
	p := newTestProc(t)
	wild := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.bind(wild, "0.0.0.0:8000")
	p.must(p.tab.WSPListen(wild, 5))
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.must(p.tab.WSPConnect(c, netip.MustParseAddrPort("127.9.9.9:8000"), nil, nil, nil, nil))
	s, _, err := p.tab.WSPAccept(wild, nil, nil)
	p.must(err)
	local, _ := p.tab.WSPGetSockName(s)
	diff(t, "server end's local address", netip.MustParseAddrPort("127.9.9.9:8000"), local)

	exact := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.setInt(exact, spi.SO_REUSEADDR, 1)
	p.bind(exact, "127.0.0.5:8000")
	p.must(p.tab.WSPListen(exact, 5))
	c2 := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.must(p.tab.WSPConnect(c2, netip.MustParseAddrPort("127.0.0.5:8000"), nil, nil, nil, nil))
	p.nonblocking(wild, true)
	_, _, err = p.tab.WSPAccept(wild, nil, nil)
	wantErr(t, "accept on the wildcard listener", err, spi.WSAEWOULDBLOCK)
	_, _, err = p.tab.WSPAccept(exact, nil, nil)
	wantErr(t, "accept on the exact listener", err, nil)
}

func TestListenBacklogRefusesExcessConnections(t *testing.T) {
	p := newTestProc(t)
	l := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	a := p.bind(l, "127.0.0.1:0")
	p.must(p.tab.WSPListen(l, 2))
	var errs []error
	for range 3 {
		errs = append(errs, p.tab.WSPConnect(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), a, nil, nil, nil, nil))
	}
	diff(t, "connects", []error{nil, nil, spi.WSAECONNREFUSED}, errs)
	_, _, err := p.tab.WSPAccept(l, nil, nil)
	p.must(err)
	wantErr(t, "connect after an accept", p.tab.WSPConnect(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), a, nil, nil, nil, nil), nil)
}

func TestListenAndAcceptStateErrors(t *testing.T) {
	p := newTestProc(t)
	wantErr(t, "listen unbound", p.tab.WSPListen(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), 1), spi.WSAEINVAL)
	u := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	p.bind(u, "127.0.0.1:0")
	wantErr(t, "listen on UDP", p.tab.WSPListen(u, 1), spi.WSAEOPNOTSUPP)
	_, _, err := p.tab.WSPAccept(u, nil, nil)
	wantErr(t, "accept on UDP", err, spi.WSAEOPNOTSUPP)
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.bind(s, "127.0.0.1:0")
	_, _, err = p.tab.WSPAccept(s, nil, nil)
	wantErr(t, "accept without listen", err, spi.WSAEINVAL)
	c, _ := p.pair(0)
	wantErr(t, "listen on a connection", p.tab.WSPListen(c, 1), spi.WSAEISCONN)
	wantErr(t, "connect a connection", p.tab.WSPConnect(c, netip.MustParseAddrPort("127.0.0.1:1"), nil, nil, nil, nil), spi.WSAEISCONN)
	l, a := p.listener(spi.AF_INET, 0)
	wantErr(t, "connect a listener", p.tab.WSPConnect(l, a, nil, nil, nil, nil), spi.WSAEINVAL)
	wantErr(t, "connect data", p.tab.WSPConnect(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), a, []byte("hi"), nil, nil, nil), spi.WSAEOPNOTSUPP)
}

func TestAcceptedSocketInheritsTheListenersOptions(t *testing.T) {
	p := newTestProc(t)
	l, a := p.listener(spi.AF_INET, ovFlag)
	p.setInt(l, spi.SO_RCVBUF, 1234)
	p.nonblocking(l, true)
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.must(p.tab.WSPConnect(c, a, nil, nil, nil, nil))
	s, _, err := p.tab.WSPAccept(l, nil, nil)
	p.must(err)
	buf := make([]byte, 4)
	_, err = p.tab.WSPGetSockOpt(s, spi.SOL_SOCKET, spi.SO_RCVBUF, buf)
	p.must(err)
	if got := int(buf[0]) | int(buf[1])<<8; got != 1234 {
		t.Errorf("SO_RCVBUF = %d, want the listener's 1234", got)
	}
	_, err = p.recv(s, 1)
	wantErr(t, "recv on the accepted socket (nonblocking like its listener)", err, spi.WSAEWOULDBLOCK)
	ov, _, _, err := p.ovRecv(s, 1, 0)
	wantErr(t, "overlapped recv (overlapped like its listener)", err, spi.WSA_IO_PENDING)
	p.must(p.tab.WSPCloseSocket(s))
	diff(t, "abort status", spi.WSAECONNABORTED, spi.Errno(ov.LoadInternal())) // the harness's file object stores the code itself
}

func TestNonblockingAcceptWithNoConnectionWouldBlock(t *testing.T) {
	p := newTestProc(t)
	l, _ := p.listener(spi.AF_INET, 0)
	p.nonblocking(l, true)
	_, _, err := p.tab.WSPAccept(l, nil, nil)
	wantErr(t, "accept", err, spi.WSAEWOULDBLOCK)
}

func TestBlockingAcceptWaitsForAConnection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		l, a := p.listener(spi.AF_INET, 0)
		var accepted spi.Socket
		var acceptErr error
		done := make(chan struct{})
		go func() {
			accepted, _, acceptErr = p.tab.WSPAccept(l, nil, nil)
			close(done)
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("accept returned before any connect")
		default:
		}
		c := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
		p.must(p.tab.WSPConnect(c, a, nil, nil, nil, nil))
		<-done
		p.must(acceptErr)
		p.send(c, "hi")
		got, err := p.recv(accepted, 10)
		p.must(err)
		diff(t, "data", "hi", got)
	})
}

func TestClosingAListenerInterruptsBlockedAcceptWithWSAEINTR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		l, _ := p.listener(spi.AF_INET, 0)
		errc := make(chan error)
		go func() {
			_, _, err := p.tab.WSPAccept(l, nil, nil)
			errc <- err
		}()
		synctest.Wait()
		p.must(p.tab.WSPCloseSocket(l))
		wantErr(t, "accept", <-errc, spi.WSAEINTR)
	})
}

func TestClosingAListenerResetsItsBacklog(t *testing.T) {
	p := newTestProc(t)
	l, a := p.listener(spi.AF_INET, 0)
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.must(p.tab.WSPConnect(c, a, nil, nil, nil, nil))
	p.send(c, "lost")
	p.must(p.tab.WSPCloseSocket(l))
	_, err := p.recv(c, 10)
	wantErr(t, "client recv", err, spi.WSAECONNRESET)
}

func TestAcceptConditionCanRejectOrDefer(t *testing.T) {
	p := newTestProc(t)
	l, a := p.listener(spi.AF_INET, 0)
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.must(p.tab.WSPConnect(c, a, nil, nil, nil, nil))
	clientAddr, _ := p.tab.WSPGetSockName(c)
	var seen []netip.AddrPort
	answer := int32(spi.CF_DEFER)
	cond := func(caller netip.AddrPort, _ []byte, _, _ *spi.QOS, callee netip.AddrPort, _ *[]byte, _ *spi.Group, data any) int32 {
		seen = append(seen, caller, callee)
		if data != "ctx" {
			t.Errorf("callback data = %v", data)
		}
		return answer
	}
	_, _, err := p.tab.WSPAccept(l, cond, "ctx")
	wantErr(t, "deferred accept", err, spi.WSATRY_AGAIN)
	answer = spi.CF_REJECT
	_, _, err = p.tab.WSPAccept(l, cond, "ctx")
	wantErr(t, "rejected accept", err, spi.WSAECONNREFUSED)
	diff(t, "condition arguments", []netip.AddrPort{clientAddr, a, clientAddr, a}, seen)
	_, err = p.recv(c, 1)
	wantErr(t, "client after the reject", err, spi.WSAECONNRESET)
	answer = spi.CF_ACCEPT
	c2 := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.must(p.tab.WSPConnect(c2, a, nil, nil, nil, nil))
	_, _, err = p.tab.WSPAccept(l, cond, "ctx")
	wantErr(t, "accepted", err, nil)
}

func TestNonblockingConnectReportsWouldBlockAndIsConnectedAtOnce(t *testing.T) {
	p := newTestProc(t)
	l, a := p.listener(spi.AF_INET, 0)
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.nonblocking(c, true)
	wantErr(t, "first connect", p.tab.WSPConnect(c, a, nil, nil, nil, nil), spi.WSAEWOULDBLOCK)
	wantErr(t, "second connect", p.tab.WSPConnect(c, a, nil, nil, nil, nil), spi.WSAEISCONN)
	var w spi.FDSet
	w.Set(c)
	n, err := p.tab.WSPSelect(nil, &w, nil, durationPtr(0))
	p.must(err)
	if n != 1 || !w.IsSet(c) {
		t.Errorf("select for writing = %d, want the connected socket writable", n)
	}
	_, _, err = p.tab.WSPAccept(l, nil, nil)
	p.must(err)
}

func TestRefusedNonblockingConnectIsReportedBySOERRORSelectAndTheNextConnect(t *testing.T) {
	p := newTestProc(t)
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.nonblocking(c, true)
	to := netip.MustParseAddrPort("127.0.0.1:9")
	wantErr(t, "connect", p.tab.WSPConnect(c, to, nil, nil, nil, nil), spi.WSAEWOULDBLOCK)
	var e spi.FDSet
	e.Set(c)
	n, err := p.tab.WSPSelect(nil, nil, &e, durationPtr(0))
	p.must(err)
	if n != 1 {
		t.Errorf("select for exceptions = %d, want 1", n)
	}
	wantErr(t, "next connect", p.tab.WSPConnect(c, to, nil, nil, nil, nil), spi.WSAECONNREFUSED)
	wantErr(t, "connect once more", p.tab.WSPConnect(c, to, nil, nil, nil, nil), spi.WSAEWOULDBLOCK)
	buf := make([]byte, 4)
	_, err = p.tab.WSPGetSockOpt(c, spi.SOL_SOCKET, spi.SO_ERROR, buf)
	p.must(err)
	if got := spi.Errno(uint32(buf[0]) | uint32(buf[1])<<8); got != spi.WSAECONNREFUSED {
		t.Errorf("SO_ERROR = %v, want WSAECONNREFUSED", got)
	}
	_, err = p.tab.WSPGetSockOpt(c, spi.SOL_SOCKET, spi.SO_ERROR, buf)
	p.must(err)
	if buf[0] != 0 || buf[1] != 0 {
		t.Errorf("SO_ERROR read twice = %v, want 0", buf)
	}
}

func TestStreamDeliversBytesInOrderWithPartialReceives(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	p.send(c, "hello, ")
	n, err := p.tab.WSPSend(c, [][]byte{[]byte("wor"), nil, []byte("ld")}, 0, nil, nil, nil)
	p.must(err)
	if n != 5 {
		t.Errorf("gathered send = %d bytes, want 5", n)
	}
	var got []string
	for _, size := range []int{3, 4, 100} {
		part, err := p.recv(s, size)
		p.must(err)
		got = append(got, part)
	}
	diff(t, "receives", []string{"hel", "lo, ", "world"}, got)
	a, b := make([]byte, 2), make([]byte, 10)
	p.send(s, "abcdef")
	var flags uint32
	n, err = p.tab.WSPRecv(c, [][]byte{a, nil, b}, &flags, nil, nil, nil)
	p.must(err)
	diff(t, "scattered receive", "abcdef", string(a)+string(b[:n-2]))
}

func TestSendsPendWhenTheBuffersAreFullAndCompleteInSubmissionOrder(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	p.limit(c, s, 2, 2)
	ov1, n1, err := p.ovSend(c, "0123456789") // accepted: nothing buffered yet
	p.must(err)
	ov2, _, err2 := p.ovSend(c, "ab")
	ov3, _, err3 := p.ovSend(c, "")
	wantErr(t, "second send", err2, spi.WSA_IO_PENDING)
	wantErr(t, "empty send behind it", err3, spi.WSA_IO_PENDING)
	if !ov2.InProgress() || !ov3.InProgress() {
		t.Error("pending sends are not WSS_OPERATION_IN_PROGRESS")
	}
	diff(t, "completions so far", []completion{{c, ov1, 0, n1, 0, true}}, p.k.completions(t))
	got, err := p.recv(s, 3) // 7 left, over the 4 bytes of buffers: still full
	p.must(err)
	diff(t, "completions after a partial drain", []completion(nil), p.k.completions(t))
	rest, err := p.recv(s, 100)
	p.must(err)
	diff(t, "completions after draining", []completion{{c, ov2, 0, 2, 0, false}, {c, ov3, 0, 0, 0, false}}, p.k.completions(t))
	last, err := p.recv(s, 100)
	p.must(err)
	diff(t, "stream", "0123456789ab", got+rest+last)
}

func TestNonblockingSendWouldBlockWhenTheBuffersAreFull(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	p.limit(c, s, 0, 2)
	p.nonblocking(c, true)
	p.send(c, "abc")
	_, err := p.tab.WSPSend(c, [][]byte{[]byte("d")}, 0, nil, nil, nil)
	wantErr(t, "send into a full buffer", err, spi.WSAEWOULDBLOCK)
	if n := p.send(c, ""); n != 0 {
		t.Errorf("empty send = %d", n)
	}
	p.recv(s, 10)
	p.send(c, "d")
}

func TestBlockingSendWaitsForBufferSpace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		c, s := p.pair(0)
		p.limit(c, s, 1, 1)
		p.send(c, "ab")
		done := make(chan uint32)
		go func() { done <- p.send(c, "cd") }()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("send returned while the buffer was full")
		default:
		}
		got, _ := p.recv(s, 10)
		if n := <-done; n != 2 {
			t.Errorf("blocked send = %d", n)
		}
		rest, _ := p.recv(s, 10)
		diff(t, "stream", "abcd", got+rest)
	})
}

func TestBlockingReceiveWaitsForData(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		c, s := p.pair(0)
		got := make(chan string)
		go func() {
			data, err := p.recv(s, 10)
			p.must(err)
			got <- data
		}()
		synctest.Wait()
		p.send(c, "late")
		diff(t, "received", "late", <-got)
	})
}

func TestClosingASocketInterruptsItsBlockedCallsWithWSAEINTR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		c, s := p.pair(0)
		p.limit(c, s, 0, 0)
		p.send(c, "x")
		errs := make(chan error, 2)
		go func() {
			_, err := p.recv(c, 1)
			errs <- err
		}()
		go func() {
			_, err := p.tab.WSPSend(c, [][]byte{[]byte("y")}, 0, nil, nil, nil)
			errs <- err
		}()
		synctest.Wait()
		p.must(p.tab.WSPCloseSocket(c))
		wantErr(t, "first blocked call", <-errs, spi.WSAEINTR)
		wantErr(t, "second blocked call", <-errs, spi.WSAEINTR)
	})
}

func TestShutdownSendDeliversTheDataThenZeroBytes(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	p.limit(c, s, 0, 0)
	p.send(c, "first")
	ov, _, err := p.ovSend(c, "second") // waits for space
	wantErr(t, "queued send", err, spi.WSA_IO_PENDING)
	p.must(p.tab.WSPShutdown(c, spi.SD_SEND))
	_, err = p.tab.WSPSend(c, [][]byte{[]byte("x")}, 0, nil, nil, nil)
	wantErr(t, "send after SD_SEND", err, spi.WSAESHUTDOWN)
	var got []string
	for range 4 {
		data, err := p.recv(s, 100)
		p.must(err)
		got = append(got, data)
	}
	diff(t, "receives", []string{"first", "second", "", ""}, got)
	diff(t, "queued send's completion", []completion{{c, ov, 0, 6, 0, false}}, p.k.completions(t))
	p.send(s, "reply") // the other direction still works
	reply, err := p.recv(c, 100)
	p.must(err)
	diff(t, "reply", "reply", reply)
}

func TestPendingReceiveGetsZeroBytesAtTheFIN(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	ov, _, _, err := p.ovRecv(s, 10, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	p.must(p.tab.WSPShutdown(c, spi.SD_BOTH))
	diff(t, "completion", []completion{{s, ov, 0, 0, 0, false}}, p.k.completions(t))
}

func TestReceiveAfterShutdownReceiveIsWSAESHUTDOWN(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	p.must(p.tab.WSPShutdown(s, spi.SD_RECEIVE))
	_, err := p.recv(s, 1)
	wantErr(t, "recv", err, spi.WSAESHUTDOWN)
	p.send(s, "still sends")
	got, _ := p.recv(c, 100)
	diff(t, "other direction", "still sends", got)
	wantErr(t, "bad how", p.tab.WSPShutdown(s, 7), spi.WSAEINVAL)
	wantErr(t, "shutdown unconnected", p.tab.WSPShutdown(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), spi.SD_SEND), spi.WSAENOTCONN)
}

func TestDataArrivingAfterShutdownReceiveResetsTheConnection(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	p.must(p.tab.WSPShutdown(s, spi.SD_RECEIVE))
	p.send(c, "unwanted") // accepted, then answered with a reset
	_, err := p.tab.WSPSend(c, [][]byte{[]byte("more")}, 0, nil, nil, nil)
	wantErr(t, "sender's next send", err, spi.WSAECONNRESET)
	_, err = p.tab.WSPSend(s, [][]byte{[]byte("x")}, 0, nil, nil, nil)
	wantErr(t, "receiver's send", err, spi.WSAECONNABORTED)
}

func TestShutdownReceiveWithUnreadDataResetsTheConnection(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	p.send(c, "unread")
	p.must(p.tab.WSPShutdown(s, spi.SD_RECEIVE))
	_, err := p.recv(c, 1)
	wantErr(t, "peer", err, spi.WSAECONNRESET)
}

func TestGracefulCloseLetsThePeerReadTheDataThenZeroBytes(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	p.send(c, "bye")
	p.must(p.tab.WSPCloseSocket(c))
	got, err := p.recv(s, 100)
	p.must(err)
	eof, err := p.recv(s, 100)
	p.must(err)
	diff(t, "receives", []string{"bye", ""}, []string{got, eof})
}

func TestSendingToAClosedPeerSucceedsOnceThenResets(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	p.must(p.tab.WSPCloseSocket(c))
	ov, _, _, err := p.ovRecv(s, 10, 0) // reads the FIN at once
	p.must(err)
	if ov.LoadInternalHigh() != 0 {
		t.Errorf("recv after the peer's close = %d bytes, want 0", ov.LoadInternalHigh())
	}
	p.send(s, "into the void")
	_, err = p.tab.WSPSend(s, [][]byte{[]byte("again")}, 0, nil, nil, nil)
	wantErr(t, "second send", err, spi.WSAECONNRESET)
	_, err = p.recv(s, 1)
	wantErr(t, "recv", err, spi.WSAECONNRESET)
}

func TestAbortiveCloseResetsThePeer(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	p.send(c, "discarded")
	ov, _, _, err := p.ovRecv(c, 10, 0) // the closing side's own pending receive
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	p.setLinger(c, 1, 0)
	p.must(p.tab.WSPCloseSocket(c))
	diff(t, "closing side's events", []event{
		{Complete: &completion{c, ov, spi.WSAECONNABORTED, 0, 0, false}},
		{Closed: c},
	}, p.k.take())
	_, err = p.recv(s, 100)
	wantErr(t, "peer recv (unread data discarded)", err, spi.WSAECONNRESET)
	_, err = p.tab.WSPSend(s, [][]byte{[]byte("x")}, 0, nil, nil, nil)
	wantErr(t, "peer send", err, spi.WSAECONNRESET)
	_, err = p.tab.WSPGetPeerName(s)
	wantErr(t, "peer's getpeername", err, spi.WSAENOTCONN)
}

func TestAbortiveCloseCompletesThePeersPendingReceiveWithWSAECONNRESET(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	ov, _, _, err := p.ovRecv(s, 10, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	p.setLinger(c, 1, 0)
	p.must(p.tab.WSPCloseSocket(c))
	diff(t, "events", []event{
		{Complete: &completion{s, ov, spi.WSAECONNRESET, 0, 0, false}},
		{Closed: c},
	}, p.k.take())
	_, _, err = p.tab.WSPGetOverlappedResult(s, ov, false)
	wantErr(t, "WSPGetOverlappedResult", err, spi.WSAECONNRESET)
}

func TestClosingWithUnreadDataResetsThePeer(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	p.send(s, "never read")
	p.must(p.tab.WSPCloseSocket(c))
	_, err := p.recv(s, 1)
	wantErr(t, "peer", err, spi.WSAECONNRESET)
}

func TestSendAndReceiveOnAnUnconnectedStreamSocketAreWSAENOTCONN(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	_, err := p.tab.WSPSend(s, [][]byte{[]byte("x")}, 0, nil, nil, nil)
	wantErr(t, "send", err, spi.WSAENOTCONN)
	_, _, _, err = p.ovRecv(s, 1, 0)
	wantErr(t, "overlapped recv", err, spi.WSAENOTCONN)
	l, _ := p.listener(spi.AF_INET, 0)
	_, err = p.recv(l, 1)
	wantErr(t, "recv on a listener", err, spi.WSAENOTCONN)
	diff(t, "completions", []completion(nil), p.k.completions(t))
}

func TestZeroByteReceiveCompletesWhenDataArrivesWithoutConsumingIt(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	ov := new(spi.Overlapped)
	var flags uint32
	_, err := p.tab.WSPRecv(s, nil, &flags, ov, nil, nil)
	wantErr(t, "zero-byte recv", err, spi.WSA_IO_PENDING)
	p.send(c, "data")
	diff(t, "completion", []completion{{s, ov, 0, 0, 0, false}}, p.k.completions(t))
	n, err := p.tab.WSPRecv(s, [][]byte{{}}, &flags, nil, nil, nil) // data there: at once
	if err != nil || n != 0 {
		t.Errorf("zero-byte recv with data = %d, %v", n, err)
	}
	got, _ := p.recv(s, 10)
	diff(t, "data still there", "data", got)
}

func TestMSGPEEKLeavesTheDataInPlace(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	ov, buf, _, err := p.ovRecv(s, 3, spi.MSG_PEEK)
	wantErr(t, "peek", err, spi.WSA_IO_PENDING)
	p.send(c, "peekaboo")
	diff(t, "peeked", "pee", string(buf[:ov.LoadInternalHigh()]))
	got, _ := p.recv(s, 100)
	diff(t, "received", "peekaboo", got)
}

func TestMSGWAITALLWaitsUntilTheBufferIsFull(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	p.send(c, "ab")
	ov, buf, _, err := p.ovRecv(s, 5, spi.MSG_WAITALL)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	p.send(c, "cd")
	diff(t, "completions before full", []completion(nil), p.k.completions(t))
	p.send(c, "efg")
	diff(t, "completions", []completion{{s, ov, 0, 5, 0, false}}, p.k.completions(t))
	diff(t, "data", "abcde", string(buf))
	ov2, buf2, _, err := p.ovRecv(s, 5, spi.MSG_WAITALL)
	wantErr(t, "second", err, spi.WSA_IO_PENDING)
	p.must(p.tab.WSPShutdown(c, spi.SD_SEND))
	diff(t, "completion at the FIN", []completion{{s, ov2, 0, 2, 0, false}}, p.k.completions(t))
	diff(t, "data at the FIN", "fg", string(buf2[:2]))
}

func TestReceiveFlagErrors(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pair(0)
	u := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	p.bind(u, "127.0.0.1:0")
	cases := []struct {
		name  string
		s     spi.Socket
		flags uint32
		nb    bool
	}{
		{"MSG_OOB", c, spi.MSG_OOB, false},
		{"unknown bit", c, 0x40000, false},
		{"MSG_WAITALL|MSG_PEEK", c, spi.MSG_WAITALL | spi.MSG_PEEK, false},
		{"MSG_WAITALL on UDP", u, spi.MSG_WAITALL, false},
		{"MSG_WAITALL nonblocking", c, spi.MSG_WAITALL, true},
	}
	for _, k := range cases {
		p.nonblocking(k.s, k.nb)
		f := k.flags
		_, err := p.tab.WSPRecv(k.s, [][]byte{make([]byte, 4)}, &f, nil, nil, nil)
		wantErr(t, k.name, err, spi.WSAEOPNOTSUPP)
	}
	_, err := p.tab.WSPSend(c, [][]byte{{1}}, spi.MSG_OOB, nil, nil, nil)
	wantErr(t, "send MSG_OOB", err, spi.WSAEOPNOTSUPP)
}

func TestProcessesTalkOverTheSharedNetwork(t *testing.T) {
	net := loopback.NewNetwork()
	server, client := newProc(t, net), newProc(t, net)
	l, a := server.listener(spi.AF_INET6, 0)
	c := client.socket(spi.AF_INET6, spi.SOCK_STREAM, 0)
	client.must(client.tab.WSPConnect(c, a, nil, nil, nil, nil))
	s, _, err := server.tab.WSPAccept(l, nil, nil)
	server.must(err)
	client.send(c, "ping")
	got, _ := server.recv(s, 10)
	server.send(s, got+"/pong")
	reply, _ := client.recv(c, 20)
	diff(t, "reply", "ping/pong", reply)
}

func TestConcurrentSendersAndReceiversLoseNoBytes(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	p.limit(c, s, 16, 16)
	const chunks = 200
	var want strings.Builder
	for i := range chunks {
		want.WriteString(strings.Repeat(string(rune('a'+i%26)), 1+i%7))
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		data := want.String()
		for i := 0; i < len(data); {
			n := min(1+i%13, len(data)-i)
			if _, err := p.tab.WSPSend(c, [][]byte{[]byte(data[i : i+n])}, 0, nil, nil, nil); err != nil {
				t.Error(err)
				return
			}
			i += n
		}
		p.must(p.tab.WSPShutdown(c, spi.SD_SEND))
	})
	var got bytes.Buffer
	for {
		part, err := p.recv(s, 5)
		if err != nil {
			t.Fatal(err)
		}
		if part == "" {
			break
		}
		got.WriteString(part)
	}
	wg.Wait()
	if got.String() != want.String() {
		t.Errorf("received %d bytes, sent %d; streams differ", got.Len(), want.Len())
	}
}
