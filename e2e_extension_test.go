package wsspi_test

import (
	"encoding/binary"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// forPortAndEvent runs f with the notification styles AcceptEx and
// ConnectEx support (they take no completion routine): a port and an
// event.
func forPortAndEvent(t *testing.T, f func(t *testing.T, newNotifier func(TB, *wsspi.Thread, spi.Socket) notifier)) {
	for _, st := range styles {
		if st.name == "routine" {
			continue
		}
		t.Run(st.name, func(t *testing.T) { f(t, st.new) })
	}
}

// boundSocket makes an overlapped TCP socket of th bound to an ephemeral
// loopback port of family af.
func boundSocket(tb TB, th *wsspi.Thread, af int32) spi.Socket {
	tb.Helper()
	s := must(th.Socket(af, spi.SOCK_STREAM, spi.IPPROTO_TCP))(tb)
	check(tb, th.Bind(s, loopbackAddr(af, 0)))
	return s
}

func TestAcceptExPendsUntilConnectExArrivesThenBothComplete(t *testing.T) {
	forPortAndEvent(t, func(t *testing.T, newNotifier func(TB, *wsspi.Thread, spi.Socket) notifier) {
		for _, fam := range families {
			t.Run(fam.name, func(t *testing.T) {
				w := newWorld(t)
				addr := loopbackAddr(fam.af, 9000)
				l := listen(t, w.sth, addr, 8)
				ln := newNotifier(t, w.sth, l)
				a := must(w.sth.Socket(fam.af, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
				aov, _ := ln.prepare()
				buf := make([]byte, 5)
				_, err := w.sth.AcceptEx(l, a, buf, aov)
				wantErr(t, "AcceptEx", opErr("AcceptEx", l, spi.WSA_IO_PENDING), err)
				ln.none(t)

				c := boundSocket(t, w.cth, fam.af)
				cn := newNotifier(t, w.cth, c)
				cov, _ := cn.prepare()
				if n, err := w.cth.ConnectEx(c, addr, []byte("hello"), cov); n != 5 || err != nil {
					t.Fatalf("ConnectEx = %d, %v; want 5, nil", n, err)
				}
				diffResults(t, []result{{cov, 5, 0}}, []result{cn.next(t)})
				diffResults(t, []result{{aov, 5, 0}}, []result{ln.next(t)})
				ln.none(t)
				cn.none(t)
				if string(buf) != "hello" {
					t.Errorf("first data %q, want hello", buf)
				}

				check(t, w.sth.Setsockopt(a, spi.SOL_SOCKET, spi.SO_UPDATE_ACCEPT_CONTEXT, binary.LittleEndian.AppendUint64(nil, uint64(l))))
				check(t, w.cth.Setsockopt(c, spi.SOL_SOCKET, spi.SO_UPDATE_CONNECT_CONTEXT, nil))
				cl := must(w.cth.Getsockname(c))(t)
				if peer := must(w.sth.Getpeername(a))(t); peer != cl {
					t.Errorf("peer of the accept socket %v, want the client's %v", peer, cl)
				}
				must(w.sth.WSASend(a, [][]byte{[]byte("world")}, 0, nil, nil))(t)
				if got := recvAll(t, w.cth, c, 5); string(got) != "world" {
					t.Errorf("client received %q, want world", got)
				}
			})
		}
	})
}

func TestConnectExOnAnUnboundSocketIsWSAEINVALAndARefusalIsImmediate(t *testing.T) {
	forPortAndEvent(t, func(t *testing.T, newNotifier func(TB, *wsspi.Thread, spi.Socket) notifier) {
		w := newWorld(t)
		unbound := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		n := newNotifier(t, w.cth, unbound)
		ov, _ := n.prepare()
		_, err := w.cth.ConnectEx(unbound, loopbackAddr(spi.AF_INET, 9000), nil, ov)
		wantErr(t, "ConnectEx unbound", opErr("ConnectEx", unbound, spi.WSAEINVAL), err)
		n.none(t)

		c := boundSocket(t, w.cth, spi.AF_INET)
		cn := newNotifier(t, w.cth, c)
		cov, _ := cn.prepare()
		_, err = w.cth.ConnectEx(c, loopbackAddr(spi.AF_INET, 9001), nil, cov)
		wantErr(t, "ConnectEx nobody listening", opErr("ConnectEx", c, spi.WSAECONNREFUSED), err)
		cn.none(t)
	})
}

func TestClosingTheListenerAbortsAPendingAcceptExOnce(t *testing.T) {
	forPortAndEvent(t, func(t *testing.T, newNotifier func(TB, *wsspi.Thread, spi.Socket) notifier) {
		w := newWorld(t)
		l := listen(t, w.sth, loopbackAddr(spi.AF_INET, 9000), 8)
		ln := newNotifier(t, w.sth, l)
		a := must(w.sth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		aov, _ := ln.prepare()
		_, err := w.sth.AcceptEx(l, a, nil, aov)
		wantErr(t, "AcceptEx", opErr("AcceptEx", l, spi.WSA_IO_PENDING), err)
		check(t, w.sth.Closesocket(l))
		diffResults(t, []result{{aov, 0, spi.WSA_OPERATION_ABORTED}}, []result{ln.next(t)})
		ln.none(t)
		check(t, w.sth.Closesocket(a))
		ln.none(t)
	})
}

func TestExtensionFunctionPointersAreStableCookiesOfTheProcess(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	id := spi.WSAID_CONNECTEX.Bytes()
	var cookies [2]uintptr
	for i := range cookies {
		out := make([]byte, spi.ExtensionPointerSize)
		if n := must(w.cth.WSAIoctl(s, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, id[:], out, nil, nil))(t); n != spi.ExtensionPointerSize {
			t.Fatalf("SIO_GET_EXTENSION_FUNCTION_POINTER returned %d bytes", n)
		}
		cookies[i] = uintptr(binary.LittleEndian.Uint64(out))
	}
	if cookies[0] != cookies[1] {
		t.Errorf("cookies %#x, want one cookie", cookies)
	}
	if fn, ok := w.client.ExtensionFunction(cookies[0]); !ok {
		t.Error("ExtensionFunction of the cookie: not found")
	} else if _, ok := fn.(spi.ConnectExFunc); !ok {
		t.Errorf("ExtensionFunction of the cookie is a %T, want spi.ConnectExFunc", fn)
	}
	for _, bad := range []uintptr{0, cookies[0] + 1, cookies[0] + 0x1000} {
		if _, ok := w.client.ExtensionFunction(bad); ok {
			t.Errorf("ExtensionFunction(%#x) found a function", bad)
		}
	}
	if _, ok := w.server.ExtensionFunction(cookies[0]); ok {
		t.Error("another process knows the cookie")
	}
}

func TestTraceShowsAcceptExAndConnectExAndTheirRegistration(t *testing.T) {
	m, rec := tracedMachine()
	p := m.NewProcess()
	t.Cleanup(func() { p.Close() })
	th := p.NewThread()
	addr := loopbackAddr(spi.AF_INET, 9000)
	l := listen(t, th, addr, 8)
	a := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	port := must(p.CreateIoCompletionPort(l, 0, portKey, 0))(t)
	_, err := th.AcceptEx(l, a, nil, new(spi.Overlapped))
	wantErr(t, "AcceptEx", opErr("AcceptEx", l, spi.WSA_IO_PENDING), err)
	c := boundSocket(t, th, spi.AF_INET)
	must(th.ConnectEx(c, addr, nil, new(spi.Overlapped)))(t)
	must(th.GetQueuedCompletionStatus(port, long))(t)
	seen := map[string]int{}
	for _, e := range rec.Events() {
		seen[e.Func]++
	}
	for _, fn := range []string{"AcceptEx", "ConnectEx", "RegisterExtension"} {
		if seen[fn] == 0 {
			t.Errorf("no %s event in the trace", fn)
		}
	}
}
