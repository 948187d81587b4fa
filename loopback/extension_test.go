package loopback_test

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/wsspi/wsspi/spi"
)

// extension fetches the extension function id through
// WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) on s.
func (p *proc) extension(s spi.Socket, id spi.GUID) any {
	p.t.Helper()
	in := id.Bytes()
	out := make([]byte, spi.ExtensionPointerSize)
	n, err := p.tab.WSPIoctl(s, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, in[:], out, nil, nil, nil)
	p.must(err)
	if n != spi.ExtensionPointerSize {
		p.t.Fatalf("SIO_GET_EXTENSION_FUNCTION_POINTER returned %d bytes", n)
	}
	return p.k.extension(uintptr(binary.LittleEndian.Uint64(out)))
}

func (p *proc) acceptEx(l, a spi.Socket, buf []byte, ov *spi.Overlapped) (uint32, error) {
	p.t.Helper()
	fn, ok := p.extension(l, spi.WSAID_ACCEPTEX).(spi.AcceptExFunc)
	if !ok {
		p.t.Fatal("AcceptEx is not an spi.AcceptExFunc")
	}
	return fn(l, a, buf, ov, &spi.ThreadID{ThreadHandle: 40})
}

func (p *proc) connectEx(s spi.Socket, to netip.AddrPort, data []byte, ov *spi.Overlapped) (uint32, error) {
	p.t.Helper()
	fn, ok := p.extension(s, spi.WSAID_CONNECTEX).(spi.ConnectExFunc)
	if !ok {
		p.t.Fatal("ConnectEx is not an spi.ConnectExFunc")
	}
	return fn(s, to, data, ov, &spi.ThreadID{ThreadHandle: 40})
}

// boundClient returns an overlapped TCP socket bound to 127.0.0.1:0.
func (p *proc) boundClient() spi.Socket {
	p.t.Helper()
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	p.bind(c, "127.0.0.1:0")
	return c
}

func TestExtensionFunctionPointerIsStableAndChecksItsBuffers(t *testing.T) {
	p := newTestProc(t)
	l, _ := p.listener(spi.AF_INET, ovFlag)
	accept := spi.WSAID_ACCEPTEX.Bytes()
	out := make([]byte, 8)
	var cookies []uint64
	for range 2 {
		_, err := p.tab.WSPIoctl(l, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, accept[:], out, nil, nil, nil)
		p.must(err)
		cookies = append(cookies, binary.LittleEndian.Uint64(out))
	}
	if cookies[0] != cookies[1] || cookies[0] == 0 {
		t.Errorf("AcceptEx cookies %#x, want the same non-zero cookie twice", cookies)
	}
	if _, ok := p.extension(l, spi.WSAID_CONNECTEX).(spi.ConnectExFunc); !ok {
		t.Error("ConnectEx is not an spi.ConnectExFunc")
	}
	_, err := p.tab.WSPIoctl(l, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, accept[:], out[:7], nil, nil, nil)
	wantErr(t, "short out", err, spi.WSAEFAULT)
	_, err = p.tab.WSPIoctl(l, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, accept[:15], out, nil, nil, nil)
	wantErr(t, "short in", err, spi.WSAEFAULT)
	unknown := spi.MustParseGUID("{00000000-1111-2222-3333-444444444444}").Bytes()
	_, err = p.tab.WSPIoctl(l, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, unknown[:], out, nil, nil, nil)
	wantErr(t, "unknown GUID", err, spi.WSAEINVAL)
}

func TestAcceptExPendsUntilConnectExArrivesThenCompletesOnTheListener(t *testing.T) {
	p := newTestProc(t)
	l, addr := p.listener(spi.AF_INET, ovFlag)
	a := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	aov := new(spi.Overlapped)
	_, err := p.acceptEx(l, a, nil, aov)
	wantErr(t, "AcceptEx", err, spi.WSA_IO_PENDING)
	if !aov.InProgress() {
		t.Error("pending AcceptEx: Internal is not WSS_OPERATION_IN_PROGRESS")
	}
	diff(t, "completions while pending", []completion(nil), p.k.completions(t))

	c := p.boundClient()
	cov := new(spi.Overlapped)
	n, err := p.connectEx(c, addr, nil, cov)
	if n != 0 || err != nil {
		t.Fatalf("ConnectEx = %d, %v; want 0, nil", n, err)
	}
	diff(t, "completions", []completion{{l, aov, 0, 0, 0, false}, {c, cov, 0, 0, 0, true}}, p.k.completions(t))

	cl, err := p.tab.WSPGetSockName(c)
	p.must(err)
	peer, err := p.tab.WSPGetPeerName(a)
	p.must(err)
	local, err := p.tab.WSPGetSockName(a)
	p.must(err)
	diff(t, "accept socket addresses", []netip.AddrPort{cl, addr}, []netip.AddrPort{peer, local})
	p.send(c, "ping")
	got, err := p.recv(a, 8)
	p.must(err)
	diff(t, "data on the accepted connection", "ping", got)
	p.must(p.tab.WSPSetSockOpt(a, spi.SOL_SOCKET, spi.SO_UPDATE_ACCEPT_CONTEXT, make([]byte, 8)))
	p.must(p.tab.WSPSetSockOpt(c, spi.SOL_SOCKET, spi.SO_UPDATE_CONNECT_CONTEXT, nil))
}

func TestAcceptExWithABufferCompletesWhenTheFirstDataArrives(t *testing.T) {
	p := newTestProc(t)
	l, addr := p.listener(spi.AF_INET, ovFlag)
	a := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	aov := new(spi.Overlapped)
	buf := make([]byte, 16)
	_, err := p.acceptEx(l, a, buf, aov)
	wantErr(t, "AcceptEx", err, spi.WSA_IO_PENDING)
	c := p.boundClient()
	cov := new(spi.Overlapped)
	if _, err := p.connectEx(c, addr, nil, cov); err != nil {
		t.Fatal(err)
	}
	diff(t, "completions once connected", []completion{{c, cov, 0, 0, 0, true}}, p.k.completions(t))
	if _, _, err := p.tab.WSPGetOverlappedResult(l, aov, false); err != spi.WSA_IO_INCOMPLETE {
		t.Errorf("WSPGetOverlappedResult before data = %v, want WSA_IO_INCOMPLETE", err)
	}
	p.send(c, "hello")
	diff(t, "completions once data arrived", []completion{{l, aov, 0, 5, 0, false}}, p.k.completions(t))
	diff(t, "first data", "hello", string(buf[:5]))
	n, _, err := p.tab.WSPGetOverlappedResult(l, aov, false)
	if n != 5 || err != nil {
		t.Errorf("WSPGetOverlappedResult = %d, %v; want 5, nil", n, err)
	}
}

func TestConnectExSendsItsDataIntoAnAcceptExBuffer(t *testing.T) {
	p := newTestProc(t)
	l, addr := p.listener(spi.AF_INET, ovFlag)
	a := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	aov, cov := new(spi.Overlapped), new(spi.Overlapped)
	buf := make([]byte, 3)
	_, err := p.acceptEx(l, a, buf, aov)
	wantErr(t, "AcceptEx", err, spi.WSA_IO_PENDING)
	c := p.boundClient()
	n, err := p.connectEx(c, addr, []byte("abcdef"), cov)
	if n != 6 || err != nil {
		t.Fatalf("ConnectEx = %d, %v; want 6, nil", n, err)
	}
	diff(t, "completions", []completion{{l, aov, 0, 3, 0, false}, {c, cov, 0, 6, 0, true}}, p.k.completions(t))
	diff(t, "first data", "abc", string(buf))
	rest, err := p.recv(a, 8)
	p.must(err)
	diff(t, "the rest", "def", rest)
}

func TestAcceptExTakesAConnectionAlreadyInTheBacklogAtOnce(t *testing.T) {
	p := newTestProc(t)
	l, addr := p.listener(spi.AF_INET, ovFlag)
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	p.must(p.tab.WSPConnect(c, addr, nil, nil, nil, nil))
	a := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	aov := new(spi.Overlapped)
	if n, err := p.acceptEx(l, a, nil, aov); n != 0 || err != nil {
		t.Fatalf("AcceptEx = %d, %v; want 0, nil", n, err)
	}
	diff(t, "completions", []completion{{l, aov, 0, 0, 0, true}}, p.k.completions(t))
	p.send(a, "pong")
	got, err := p.recv(c, 8)
	p.must(err)
	diff(t, "data to the client", "pong", got)
}

func TestAcceptExBadInput(t *testing.T) {
	p := newTestProc(t)
	l, _ := p.listener(spi.AF_INET, ovFlag)
	bound := p.boundClient()
	v6 := p.socket(spi.AF_INET6, spi.SOCK_STREAM, ovFlag)
	udp := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	notListening := p.boundClient()
	a := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	_, err := p.acceptEx(l, a, nil, new(spi.Overlapped))
	wantErr(t, "first AcceptEx", err, spi.WSA_IO_PENDING)
	for _, tc := range []struct {
		name           string
		listen, accept spi.Socket
		ov             *spi.Overlapped
		want           error
	}{
		{"nil overlapped", l, p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag), nil, spi.WSAEINVAL},
		{"bound accept socket", l, bound, new(spi.Overlapped), spi.WSAEINVAL},
		{"accept socket of another family", l, v6, new(spi.Overlapped), spi.WSAEINVAL},
		{"datagram accept socket", l, udp, new(spi.Overlapped), spi.WSAEINVAL},
		{"accept socket of a pending AcceptEx", l, a, new(spi.Overlapped), spi.WSAEINVAL},
		{"listener not listening", notListening, p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag), new(spi.Overlapped), spi.WSAEINVAL},
		{"accept socket not a socket", l, 0x7777, new(spi.Overlapped), spi.WSAENOTSOCK},
	} {
		_, err := p.acceptEx(tc.listen, tc.accept, nil, tc.ov)
		wantErr(t, tc.name, err, tc.want)
	}
	diff(t, "completions", []completion(nil), p.k.completions(t))
}

func TestConnectExBadInputAndRefusalNotifyNothing(t *testing.T) {
	p := newTestProc(t)
	_, addr := p.listener(spi.AF_INET, ovFlag)
	unbound := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	_, err := p.connectEx(unbound, addr, nil, new(spi.Overlapped))
	wantErr(t, "unbound", err, spi.WSAEINVAL)
	c := p.boundClient()
	_, err = p.connectEx(c, addr, nil, nil)
	wantErr(t, "nil overlapped", err, spi.WSAEINVAL)
	_, err = p.connectEx(c, netip.MustParseAddrPort("127.0.0.1:1"), nil, new(spi.Overlapped))
	wantErr(t, "nobody listening", err, spi.WSAECONNREFUSED)
	if _, err := p.connectEx(c, addr, nil, new(spi.Overlapped)); err != nil {
		t.Fatal(err)
	}
	_, err = p.connectEx(c, addr, nil, new(spi.Overlapped))
	wantErr(t, "connected", err, spi.WSAEISCONN)
	p.k.take()
	udp := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	p.bind(udp, "127.0.0.1:0")
	_, err = p.connectEx(udp, addr, nil, new(spi.Overlapped))
	wantErr(t, "datagram", err, spi.WSAEINVAL)
	diff(t, "completions", []completion(nil), p.k.completions(t))
}

func TestClosingTheListenerAbortsPendingAcceptExOnce(t *testing.T) {
	for _, tc := range []struct {
		name      string
		buf       []byte
		connected bool
	}{
		{"waiting for a connection", nil, false},
		{"waiting for first data", make([]byte, 4), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProc(t)
			l, addr := p.listener(spi.AF_INET, ovFlag)
			a := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
			aov := new(spi.Overlapped)
			_, err := p.acceptEx(l, a, tc.buf, aov)
			wantErr(t, "AcceptEx", err, spi.WSA_IO_PENDING)
			if tc.connected {
				if _, err := p.connectEx(p.boundClient(), addr, nil, new(spi.Overlapped)); err != nil {
					t.Fatal(err)
				}
				p.k.take()
			}
			p.must(p.tab.WSPCloseSocket(l))
			diff(t, "events", []event{
				{Complete: &completion{l, aov, spi.WSA_OPERATION_ABORTED, 0, 0, false}},
				{Closed: l},
			}, p.k.take())
			p.must(p.tab.WSPCloseSocket(a))
			for _, e := range p.k.take() {
				if e.Complete != nil {
					t.Errorf("completion after the listener closed: %+v", *e.Complete)
				}
			}
		})
	}
}

func TestClosingTheAcceptSocketAbortsItsPendingAcceptEx(t *testing.T) {
	p := newTestProc(t)
	l, addr := p.listener(spi.AF_INET, ovFlag)
	a := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	aov := new(spi.Overlapped)
	_, err := p.acceptEx(l, a, nil, aov)
	wantErr(t, "AcceptEx", err, spi.WSA_IO_PENDING)
	p.must(p.tab.WSPCloseSocket(a))
	diff(t, "events", []event{
		{Complete: &completion{l, aov, spi.WSA_OPERATION_ABORTED, 0, 0, false}},
		{Closed: a},
	}, p.k.take())
	// A later connection waits in the backlog for an ordinary accept.
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.must(p.tab.WSPConnect(c, addr, nil, nil, nil, nil))
	if _, _, err := p.tab.WSPAccept(l, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestCancelIoCancelsPendingAcceptEx(t *testing.T) {
	p := newTestProc(t)
	l, _ := p.listener(spi.AF_INET, ovFlag)
	a := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	aov := new(spi.Overlapped)
	_, err := p.acceptEx(l, a, nil, aov)
	wantErr(t, "AcceptEx", err, spi.WSA_IO_PENDING)
	if n := p.k.driver(l).CancelIo(spi.ThreadID{}, true, aov); n != 1 {
		t.Errorf("CancelIo cancelled %d, want 1", n)
	}
	diff(t, "completions", []completion{{l, aov, spi.ERROR_OPERATION_ABORTED, 0, 0, false}}, p.k.completions(t))
	// The accept socket is free again.
	_, err = p.acceptEx(l, a, nil, new(spi.Overlapped))
	wantErr(t, "AcceptEx again", err, spi.WSA_IO_PENDING)
}

func TestAcceptExWaitingForDataEndsWithThePeersCloseOrTheAcceptSocketsClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(p *proc, c, a spi.Socket)
		want completion // Handle and Ov are filled in
	}{
		{"graceful close: 0 bytes", func(p *proc, c, _ spi.Socket) { p.must(p.tab.WSPCloseSocket(c)) },
			completion{Status: 0}},
		{"abortive close: WSAECONNRESET", func(p *proc, c, _ spi.Socket) {
			p.setLinger(c, 1, 0)
			p.must(p.tab.WSPCloseSocket(c))
		}, completion{Status: spi.WSAECONNRESET}},
		// The accept socket is connected: its close aborts the connection's
		// I/O, STATUS_CONNECTION_ABORTED, one of the results Wine's tests
		// see on Windows for this case (docs/facts.md §9.4).
		{"accept socket closed: aborted", func(p *proc, _, a spi.Socket) { p.must(p.tab.WSPCloseSocket(a)) },
			completion{Status: spi.WSAECONNABORTED}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestProc(t)
			l, addr := p.listener(spi.AF_INET, ovFlag)
			a := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
			aov := new(spi.Overlapped)
			_, err := p.acceptEx(l, a, make([]byte, 4), aov)
			wantErr(t, "AcceptEx", err, spi.WSA_IO_PENDING)
			c := p.boundClient()
			if _, err := p.connectEx(c, addr, nil, new(spi.Overlapped)); err != nil {
				t.Fatal(err)
			}
			p.k.take()
			tc.end(p, c, a)
			var got []completion
			for _, e := range p.k.take() {
				if e.Complete != nil && e.Complete.Handle == l {
					got = append(got, *e.Complete)
				}
			}
			want := tc.want
			want.Handle, want.Ov = l, aov
			diff(t, "completions on the listener", []completion{want}, got)
		})
	}
}

func TestLastCleanupCancelsPendingAcceptExWithoutNotification(t *testing.T) {
	p := newTestProc(t)
	l, addr := p.listener(spi.AF_INET, ovFlag)
	waiting := new(spi.Overlapped) // for a connection
	_, err := p.acceptEx(l, p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag), nil, waiting)
	wantErr(t, "AcceptEx", err, spi.WSA_IO_PENDING)
	data := new(spi.Overlapped) // connected, for first data
	_, err = p.acceptEx(l, p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag), make([]byte, 4), data)
	wantErr(t, "AcceptEx", err, spi.WSA_IO_PENDING)
	for range 2 {
		if _, err := p.connectEx(p.boundClient(), addr, nil, new(spi.Overlapped)); err != nil {
			t.Fatal(err)
		}
	}
	// The first AcceptEx took the first connection at once (no buffer);
	// the second waits for data.
	p.k.take()
	_, err = p.acceptEx(l, p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag), nil, waiting)
	wantErr(t, "third AcceptEx", err, spi.WSA_IO_PENDING)
	for range p.entries {
		p.must(p.tab.WSPCleanup())
	}
	for _, e := range p.k.take() {
		if e.Complete != nil {
			t.Errorf("Complete called during cleanup: %+v", *e.Complete)
		}
	}
	for _, o := range []*spi.Overlapped{waiting, data} {
		if spi.NTStatus(o.LoadInternal()) != spi.STATUS_CANCELLED || o.LoadOffsetHigh() != uint32(spi.WSA_OPERATION_ABORTED) {
			t.Errorf("cancelled AcceptEx: Internal %#x OffsetHigh %d", o.LoadInternal(), o.LoadOffsetHigh())
		}
	}
	if n := p.k.openFiles(); n != 0 {
		t.Errorf("%d file objects left open", n)
	}
}
