package loopback_test

import (
	"net/netip"
	"testing"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

func TestBindAcceptsLoopbackAndWildcardAddressesOnly(t *testing.T) {
	cases := []struct {
		af   int32
		addr string
		want error
	}{
		{spi.AF_INET, "127.0.0.1:5000", nil},
		{spi.AF_INET, "127.1.2.3:5000", nil},
		{spi.AF_INET, "0.0.0.0:5000", nil},
		{spi.AF_INET, "10.0.0.1:5000", spi.WSAEADDRNOTAVAIL},
		{spi.AF_INET, "[::1]:5000", spi.WSAEFAULT},
		{spi.AF_INET6, "[::1]:5000", nil},
		{spi.AF_INET6, "[::]:5000", nil},
		{spi.AF_INET6, "[::ffff:127.0.0.1]:5000", spi.WSAEADDRNOTAVAIL},
		{spi.AF_INET6, "[fe80::1]:5000", spi.WSAEADDRNOTAVAIL},
		{spi.AF_INET6, "127.0.0.1:5000", spi.WSAEFAULT},
	}
	for _, c := range cases {
		for _, typ := range []int32{spi.SOCK_STREAM, spi.SOCK_DGRAM} {
			p := newTestProc(t)
			s := p.socket(c.af, typ, 0)
			err := p.tab.WSPBind(s, netip.MustParseAddrPort(c.addr))
			wantErr(t, "bind "+c.addr, err, c.want)
		}
	}
	p := newTestProc(t)
	wantErr(t, "bind to no address", p.tab.WSPBind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), netip.AddrPort{}), spi.WSAEFAULT)
}

func TestBindToPortZeroPicksEphemeralPortsInTurn(t *testing.T) {
	p := newTestProc(t)
	var got []uint16
	for range 3 {
		got = append(got, p.bind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), "127.0.0.1:0").Port())
	}
	diff(t, "ports", []uint16{loopback.EphemeralPortFirst, loopback.EphemeralPortFirst + 1, loopback.EphemeralPortFirst + 2}, got)
	// A port taken explicitly is skipped.
	p.bind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), "127.0.0.1:49155")
	if a := p.bind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), "0.0.0.0:0"); a.Port() != 49156 || a.Addr() != netip.IPv4Unspecified() {
		t.Errorf("next ephemeral binding = %v, want 0.0.0.0:49156", a)
	}
}

func TestBindingAnAddressInUseIsWSAEADDRINUSE(t *testing.T) {
	cases := []struct {
		first, second string
		want          error
	}{
		{"127.0.0.1:7000", "127.0.0.1:7000", spi.WSAEADDRINUSE},
		{"0.0.0.0:7000", "127.0.0.1:7000", spi.WSAEADDRINUSE},
		{"127.0.0.1:7000", "0.0.0.0:7000", spi.WSAEADDRINUSE},
		{"127.0.0.1:7000", "127.0.0.2:7000", nil},
		{"127.0.0.1:7000", "127.0.0.1:7001", nil},
	}
	for _, c := range cases {
		p := newTestProc(t)
		p.bind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), c.first)
		err := p.tab.WSPBind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), netip.MustParseAddrPort(c.second))
		wantErr(t, c.first+" then "+c.second, err, c.want)
	}
}

func TestPortSpacesAreSeparatePerProtocolAndFamily(t *testing.T) {
	p := newTestProc(t)
	p.bind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), "127.0.0.1:7000")
	p.bind(p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0), "127.0.0.1:7000")
	p.bind(p.socket(spi.AF_INET6, spi.SOCK_STREAM, 0), "[::1]:7000")
	p.bind(p.socket(spi.AF_INET6, spi.SOCK_DGRAM, 0), "[::1]:7000")
}

func TestSOREUSEADDRLetsASocketBindAPortInUse(t *testing.T) {
	p := newTestProc(t)
	p.bind(p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0), "127.0.0.1:7000")
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	p.setInt(s, spi.SO_REUSEADDR, 1)
	p.bind(s, "127.0.0.1:7000")
}

func TestClosingASocketReleasesItsPort(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.bind(s, "127.0.0.1:7000")
	p.must(p.tab.WSPCloseSocket(s))
	p.bind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), "127.0.0.1:7000")
}

func TestBindingTwiceIsWSAEINVAL(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.bind(s, "127.0.0.1:0")
	wantErr(t, "second bind", p.tab.WSPBind(s, netip.MustParseAddrPort("127.0.0.1:0")), spi.WSAEINVAL)
}

func TestConnectAndSendToRejectBadDestinations(t *testing.T) {
	cases := []struct {
		af   int32
		to   string
		want error
	}{
		{spi.AF_INET, "[::1]:80", spi.WSAEAFNOSUPPORT},
		{spi.AF_INET, "0.0.0.0:80", spi.WSAEADDRNOTAVAIL},
		{spi.AF_INET, "127.0.0.1:0", spi.WSAEADDRNOTAVAIL},
		{spi.AF_INET, "192.0.2.1:80", spi.WSAENETUNREACH},
		{spi.AF_INET6, "[2001:db8::1]:80", spi.WSAENETUNREACH},
		{spi.AF_INET6, "[::ffff:127.0.0.1]:80", spi.WSAENETUNREACH},
		{spi.AF_INET6, "127.0.0.1:80", spi.WSAEAFNOSUPPORT},
	}
	for _, c := range cases {
		p := newTestProc(t)
		to := netip.MustParseAddrPort(c.to)
		err := p.tab.WSPConnect(p.socket(c.af, spi.SOCK_STREAM, 0), to, nil, nil, nil, nil)
		wantErr(t, "TCP connect "+c.to, err, c.want)
		if c.to != "0.0.0.0:80" { // connecting UDP to the unspecified address disconnects it
			err = p.tab.WSPConnect(p.socket(c.af, spi.SOCK_DGRAM, 0), to, nil, nil, nil, nil)
			wantErr(t, "UDP connect "+c.to, err, c.want)
		}
		_, err = p.tab.WSPSendTo(p.socket(c.af, spi.SOCK_DGRAM, 0), [][]byte{{1}}, 0, to, nil, nil, nil)
		wantErr(t, "sendto "+c.to, err, c.want)
	}
}

func TestConnectBindsImplicitlyAndReportsTheLoopbackSource(t *testing.T) {
	p := newTestProc(t)
	l, a := p.listener(spi.AF_INET6, 0)
	c := p.socket(spi.AF_INET6, spi.SOCK_STREAM, 0)
	_, err := p.tab.WSPGetSockName(c)
	wantErr(t, "getsockname before bind", err, spi.WSAEINVAL)
	p.must(p.tab.WSPConnect(c, a, nil, nil, nil, nil))
	local, err := p.tab.WSPGetSockName(c)
	p.must(err)
	if local.Addr() != netip.IPv6Loopback() || local.Port() < loopback.EphemeralPortFirst {
		t.Errorf("client address = %v, want [::1]:<ephemeral>", local)
	}
	peer, err := p.tab.WSPGetPeerName(c)
	p.must(err)
	diff(t, "client's peer", a, peer)
	s, from, err := p.tab.WSPAccept(l, nil, nil)
	p.must(err)
	diff(t, "accept's peer address", local, from)
	sl, err := p.tab.WSPGetSockName(s)
	p.must(err)
	diff(t, "server end's address", a, sl)
}

func TestGetPeerNameOfAnUnconnectedSocketIsWSAENOTCONN(t *testing.T) {
	p := newTestProc(t)
	_, err := p.tab.WSPGetPeerName(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0))
	wantErr(t, "TCP", err, spi.WSAENOTCONN)
	_, err = p.tab.WSPGetPeerName(p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0))
	wantErr(t, "UDP", err, spi.WSAENOTCONN)
}

func TestAddressToStringFormatsNetipForms(t *testing.T) {
	p := newTestProc(t)
	tcp4, tcp6 := p.entry(spi.AF_INET, spi.SOCK_STREAM), p.entry(spi.AF_INET6, spi.SOCK_STREAM)
	cases := []struct {
		addr netip.AddrPort
		info *spi.WSAProtocolInfo
		want string
		err  error
	}{
		{netip.MustParseAddrPort("127.0.0.1:80"), tcp4, "127.0.0.1:80", nil},
		{netip.MustParseAddrPort("127.0.0.1:0"), tcp4, "127.0.0.1", nil},
		{netip.MustParseAddrPort("[::1]:80"), tcp6, "[::1]:80", nil},
		{netip.MustParseAddrPort("[::1]:0"), nil, "::1", nil},
		{netip.MustParseAddrPort("[::1]:80"), tcp4, "", spi.WSAEINVAL},
		{netip.AddrPort{}, nil, "", spi.WSAEINVAL},
	}
	for _, c := range cases {
		got, err := p.tab.WSPAddressToString(c.addr, c.info)
		wantErr(t, "WSPAddressToString", err, c.err)
		if got != c.want {
			t.Errorf("WSPAddressToString(%v) = %q, want %q", c.addr, got, c.want)
		}
	}
}

func TestStringToAddressParsesNetipForms(t *testing.T) {
	p := newTestProc(t)
	cases := []struct {
		s    string
		af   int32
		want string
		err  error
	}{
		{"127.0.0.1:80", spi.AF_INET, "127.0.0.1:80", nil},
		{"127.0.0.1", spi.AF_INET, "127.0.0.1:0", nil},
		{"[::1]:80", spi.AF_INET6, "[::1]:80", nil},
		{"::1", spi.AF_INET6, "[::1]:0", nil},
		{"[::1]", spi.AF_INET6, "[::1]:0", nil},
		{"[127.0.0.1]", spi.AF_INET, "", spi.WSAEINVAL},
		{"::1", spi.AF_INET, "", spi.WSAEINVAL},
		{"127.0.0.1", spi.AF_INET6, "", spi.WSAEINVAL},
		{"localhost", spi.AF_INET, "", spi.WSAEINVAL},
		{"127.0.0.1", spi.AF_UNSPEC, "", spi.WSAEINVAL},
	}
	for _, c := range cases {
		got, err := p.tab.WSPStringToAddress(c.s, c.af, nil)
		wantErr(t, "WSPStringToAddress("+c.s+")", err, c.err)
		if c.err == nil && got != netip.MustParseAddrPort(c.want) {
			t.Errorf("WSPStringToAddress(%q) = %v, want %v", c.s, got, c.want)
		}
	}
	_, err := p.tab.WSPStringToAddress("::1", spi.AF_INET6, p.entry(spi.AF_INET, spi.SOCK_STREAM))
	wantErr(t, "family of info differs", err, spi.WSAEINVAL)
}
