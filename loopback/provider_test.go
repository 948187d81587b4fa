package loopback_test

import (
	"net/netip"
	"testing"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

func TestWSPStartupNegotiatesVersion(t *testing.T) {
	k := newFakeKernel()
	cases := []struct {
		requested uint16
		want      uint16
		err       error
	}{
		{spi.MAKEWORD(2, 2), spi.MAKEWORD(2, 2), nil},
		{spi.MAKEWORD(2, 0), spi.MAKEWORD(2, 0), nil},
		{spi.MAKEWORD(3, 0), spi.MAKEWORD(2, 2), nil},
		{spi.MAKEWORD(1, 1), 0, spi.WSAVERNOTSUPPORTED},
	}
	for _, c := range cases {
		prov := loopback.NewNetwork().NewProvider()
		data, _, err := prov.WSPStartup(c.requested, nil, k.upcalls(), k.imports())
		wantErr(t, "WSPStartup", err, c.err)
		if c.err == nil && (data.Version != c.want || data.HighVersion != spi.MAKEWORD(2, 2)) {
			t.Errorf("WSPStartup(%#x) = version %#x high %#x, want %#x high 0x202", c.requested, data.Version, data.HighVersion, c.want)
		}
	}
}

func TestWSPStartupReturnsACompleteProcTable(t *testing.T) {
	p := newTestProc(t)
	diff(t, "nil entries", []string(nil), p.tab.Missing())
}

func TestWSPStartupPanicsWithoutTheServicesItNeeds(t *testing.T) {
	k := newFakeKernel()
	for name, up := range map[string]spi.WSPUpcallTable{"no WPUModifyIFSHandle": {}, "no CreateFileObject": k.upcalls()} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("WSPStartup did not panic")
				}
			}()
			imports := k.imports()
			if up.WPUModifyIFSHandle != nil {
				imports = spi.Imports{}
			}
			loopback.NewNetwork().NewProvider().WSPStartup(spi.WINSOCK_VERSION, nil, up, imports)
		})
	}
}

func TestCallsFailWithWSANOTINITIALISEDBeforeStartupAndAfterLastCleanup(t *testing.T) {
	p := newTestProc(t)
	tab := p.tab
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	for range p.entries {
		p.must(tab.WSPCleanup())
	}
	wantErr(t, "WSPCleanup after the last", tab.WSPCleanup(), spi.WSANOTINITIALISED)
	_, err := tab.WSPSocket(spi.AF_INET, spi.SOCK_STREAM, 0, p.entry(spi.AF_INET, spi.SOCK_STREAM), 0, 0)
	wantErr(t, "WSPSocket", err, spi.WSANOTINITIALISED)
	wantErr(t, "WSPBind", tab.WSPBind(s, netip.MustParseAddrPort("127.0.0.1:0")), spi.WSANOTINITIALISED)
	wantErr(t, "WSPCloseSocket", tab.WSPCloseSocket(s), spi.WSANOTINITIALISED)
	_, err = tab.WSPAddressToString(netip.MustParseAddrPort("127.0.0.1:1"), nil)
	wantErr(t, "WSPAddressToString", err, spi.WSANOTINITIALISED)
	_, err = tab.WSPStringToAddress("127.0.0.1", spi.AF_INET, nil)
	wantErr(t, "WSPStringToAddress", err, spi.WSANOTINITIALISED)
	var set spi.FDSet
	set.Set(s)
	_, err = tab.WSPSelect(&set, nil, nil, nil)
	wantErr(t, "WSPSelect", err, spi.WSANOTINITIALISED)
}

func TestStartupIsReferenceCountedPerProcess(t *testing.T) {
	p := newTestProc(t) // four WSPStartup calls, one per entry
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	for i := 0; i < len(p.entries)-1; i++ {
		p.must(p.tab.WSPCleanup())
	}
	p.bind(s, "127.0.0.1:0") // still loaded
	if got := p.k.openFiles(); got != 1 {
		t.Fatalf("%d file objects open before the last WSPCleanup, want 1", got)
	}
	p.must(p.tab.WSPCleanup())
	if got := p.k.openFiles(); got != 0 {
		t.Errorf("%d file objects open after the last WSPCleanup, want 0", got)
	}
	// The provider can be loaded again at once.
	_, tab, err := p.prov.WSPStartup(spi.WINSOCK_VERSION, p.entry(spi.AF_INET, spi.SOCK_DGRAM), p.k.upcalls(), p.k.imports())
	p.must(err)
	_, err = tab.WSPGetSockName(s)
	wantErr(t, "old socket after reload", err, spi.WSAENOTSOCK)
	if _, err := tab.WSPSocket(spi.AF_INET, spi.SOCK_DGRAM, 0, p.entry(spi.AF_INET, spi.SOCK_DGRAM), 0, 0); err != nil {
		t.Errorf("WSPSocket after reload: %v", err)
	}
}

func TestProcessesHaveSeparateReferenceCountsAndHandles(t *testing.T) {
	net := loopback.NewNetwork()
	a, b := newProc(t, net), newProc(t, net)
	a.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	onlyInA := a.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	s := b.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	_, err := b.tab.WSPGetSockOpt(onlyInA, spi.SOL_SOCKET, spi.SO_TYPE, make([]byte, 4))
	wantErr(t, "a handle of process A in process B", err, spi.WSAENOTSOCK)
	for range a.entries {
		a.must(a.tab.WSPCleanup())
	}
	if _, err := b.tab.WSPGetSockOpt(s, spi.SOL_SOCKET, spi.SO_TYPE, make([]byte, 4)); err != nil {
		t.Errorf("process B's socket after process A's cleanup: %v", err)
	}
}

func TestLatestUpcallTableIsUsed(t *testing.T) {
	p := newTestProc(t)
	k2 := newFakeKernel()
	k2.modifyDiff = 0x1000
	_, tab, err := p.prov.WSPStartup(spi.WINSOCK_VERSION, p.entry(spi.AF_INET, spi.SOCK_STREAM), k2.upcalls(), k2.imports())
	p.must(err)
	s, err := tab.WSPSocket(spi.AF_INET, spi.SOCK_STREAM, 0, p.entry(spi.AF_INET, spi.SOCK_STREAM), 0, 0)
	p.must(err)
	if s != 4+0x1000 {
		t.Errorf("socket = %v, want the handle the latest WPUModifyIFSHandle returned, 0x1004", s)
	}
	diff(t, "first table's WPUModifyIFSHandle calls", []spi.CatalogEntryId(nil), p.k.modified)
}

func TestWSPSocketRegistersItsFileObjectWithWPUModifyIFSHandle(t *testing.T) {
	p := newTestProc(t)
	p.k.modifyDiff = 0x100
	s := p.socket(spi.AF_INET6, spi.SOCK_DGRAM, spi.WSA_FLAG_OVERLAPPED)
	if s != 4+0x100 {
		t.Errorf("WSPSocket = %v, want WPUModifyIFSHandle's answer 0x104", s)
	}
	diff(t, "WPUModifyIFSHandle catalog ids", []spi.CatalogEntryId{idUDP6}, p.k.modified)
	var out [8]byte
	n, err := p.tab.WSPIoctl(s, spi.SIO_BASE_HANDLE, nil, out[:], nil, nil, nil)
	p.must(err)
	if got := spi.Handle(uint64(out[0]) | uint64(out[1])<<8); n != 8 || got != s {
		t.Errorf("SIO_BASE_HANDLE = %v (%d bytes), want %v", got, n, s)
	}
}

func TestWSPSocketResolvesTheTripletAgainstItsInfo(t *testing.T) {
	p := newTestProc(t)
	tcp4 := p.entry(spi.AF_INET, spi.SOCK_STREAM)
	raw := *tcp4
	raw.SocketType = spi.SOCK_RAW
	ipx := *tcp4
	ipx.AddressFamily = 6
	udpAsTCP := *p.entry(spi.AF_INET, spi.SOCK_DGRAM)
	udpAsTCP.Protocol = spi.IPPROTO_TCP
	const from = spi.FROM_PROTOCOL_INFO
	cases := []struct {
		name               string
		af, typ, protocol  int32
		info               *spi.WSAProtocolInfo
		want               error
		wantType, wantAddr int32
	}{
		{"all from info", from, from, from, tcp4, nil, spi.SOCK_STREAM, spi.AF_INET},
		{"wildcards", 0, 0, 0, tcp4, nil, spi.SOCK_STREAM, spi.AF_INET},
		{"explicit", spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, tcp4, nil, spi.SOCK_STREAM, spi.AF_INET},
		{"family mismatch", spi.AF_INET6, spi.SOCK_STREAM, 0, tcp4, spi.WSAEAFNOSUPPORT, 0, 0},
		{"type mismatch", spi.AF_INET, spi.SOCK_DGRAM, 0, tcp4, spi.WSAESOCKTNOSUPPORT, 0, 0},
		{"protocol mismatch", spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_UDP, tcp4, spi.WSAEPROTONOSUPPORT, 0, 0},
		{"unsupported family", from, from, from, &ipx, spi.WSAEAFNOSUPPORT, 0, 0},
		{"unsupported type", from, from, from, &raw, spi.WSAESOCKTNOSUPPORT, 0, 0},
		{"unsupported protocol", from, from, from, &udpAsTCP, spi.WSAEPROTONOSUPPORT, 0, 0},
		{"nil info, entries of startup", spi.AF_INET6, spi.SOCK_DGRAM, spi.IPPROTO_UDP, nil, nil, spi.SOCK_DGRAM, spi.AF_INET6},
		{"nil info, no such entry", spi.AF_INET, spi.SOCK_RAW, 0, nil, spi.WSAESOCKTNOSUPPORT, 0, 0},
		{"nil info, no such protocol", spi.AF_INET, spi.SOCK_STREAM, 99, nil, spi.WSAEPROTONOSUPPORT, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := p.tab.WSPSocket(c.af, c.typ, c.protocol, c.info, 0, 0)
			wantErr(t, "WSPSocket", err, c.want)
			if c.want != nil {
				if s != spi.INVALID_SOCKET {
					t.Errorf("WSPSocket = %v, want INVALID_SOCKET", s)
				}
				return
			}
			buf := make([]byte, spi.WSAProtocolInfoSize)
			_, err = p.tab.WSPGetSockOpt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf)
			p.must(err)
			var got spi.WSAProtocolInfo
			p.must(got.UnmarshalBinary(buf))
			if got.SocketType != c.wantType || got.AddressFamily != c.wantAddr {
				t.Errorf("socket is type %d family %d, want %d %d", got.SocketType, got.AddressFamily, c.wantType, c.wantAddr)
			}
		})
	}
}

func TestWSPSocketRejectsGroupsAndMultipoint(t *testing.T) {
	p := newTestProc(t)
	info := p.entry(spi.AF_INET, spi.SOCK_DGRAM)
	_, err := p.tab.WSPSocket(0, 0, 0, info, spi.SG_UNCONSTRAINED_GROUP, 0)
	wantErr(t, "with a group", err, spi.WSAEINVAL)
	_, err = p.tab.WSPSocket(0, 0, 0, info, 0, spi.WSA_FLAG_MULTIPOINT_D_LEAF)
	wantErr(t, "multipoint", err, spi.WSAEINVAL)
}

func TestWSPSocketFailsWithWSAENOBUFSWhenTheHandleTableIsFull(t *testing.T) {
	p := newTestProc(t)
	p.k.createErr = spi.WSAENOBUFS
	_, err := p.tab.WSPSocket(0, 0, 0, p.entry(spi.AF_INET, spi.SOCK_STREAM), 0, 0)
	wantErr(t, "WSPSocket", err, spi.WSAENOBUFS)
}

func TestWSPSocketClosesTheFileObjectWhenWPUModifyIFSHandleFails(t *testing.T) {
	p := newTestProc(t)
	p.k.modifyErr = spi.WSAEINVAL
	_, err := p.tab.WSPSocket(0, 0, 0, p.entry(spi.AF_INET, spi.SOCK_STREAM), 0, 0)
	wantErr(t, "WSPSocket", err, spi.WSAEINVAL)
	diff(t, "events", []event{{Closed: 4}}, p.k.take())
}

func TestHandleIsUnusableAfterClose(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, spi.WSA_FLAG_OVERLAPPED)
	p.must(p.tab.WSPCloseSocket(s))
	diff(t, "events", []event{{Closed: s}}, p.k.take())
	wantErr(t, "WSPCloseSocket again", p.tab.WSPCloseSocket(s), spi.WSAENOTSOCK)
	_, err := p.tab.WSPSend(s, nil, 0, nil, nil, nil)
	wantErr(t, "WSPSend", err, spi.WSAENOTSOCK)
	_, _, err = p.tab.WSPGetOverlappedResult(s, new(spi.Overlapped), false)
	wantErr(t, "WSPGetOverlappedResult", err, spi.WSAENOTSOCK)
	_, err = p.tab.WSPIoctl(s, spi.FIONREAD, nil, make([]byte, 4), nil, nil, nil)
	wantErr(t, "WSPIoctl", err, spi.WSAENOTSOCK)
}

func TestUnimplementedEntriesFailWithWSAEOPNOTSUPP(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	_, err := p.tab.WSPGetQOSByName(s, nil)
	wantErr(t, "WSPGetQOSByName", err, spi.WSAEOPNOTSUPP)
	_, err = p.tab.WSPDuplicateSocket(s, 1)
	wantErr(t, "WSPDuplicateSocket", err, spi.WSAEOPNOTSUPP)
	wantErr(t, "WSPCancelBlockingCall", p.tab.WSPCancelBlockingCall(), nil)
}
