package layered_test

import (
	"bytes"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

var testGUID = spi.MustParseGUID("{5EC0A7E1-0000-4000-8000-000000000001}")

const testPath = `C:\lsp\test.dll`

func must[T any](v T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v
	}
}

// install puts a kit layer with cfg over TCP/IPv4 on a new machine.
func install(t *testing.T, cfg layered.Config) (*wsspi.Machine, *layered.Provider, catalog.LSPEntries) {
	t.Helper()
	m := wsspi.NewMachine()
	p, ids, err := layered.Install(m, layered.Options{Name: "test", GUID: testGUID, Path: testPath,
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4}, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return m, p, ids
}

// listener makes a base (not layered) TCP listener of a new process.
func listener(t *testing.T, m *wsspi.Machine, addr netip.AddrPort) *wsspi.Process {
	t.Helper()
	p := m.NewProcess()
	t.Cleanup(func() { p.Close() })
	base, _ := m.Catalog().View().Entry(catalog.DefaultTCPIPv4)
	th := p.NewThread()
	l := must(th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &base, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	if err := th.Bind(l, addr); err != nil {
		t.Fatal(err)
	}
	if err := th.Listen(l, 4); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInstanceCountsItsStartupsAndKeepsTheLatestServices(t *testing.T) {
	m := wsspi.NewMachine()
	ids := must(m.Catalog().InstallLSP(catalog.LSP{ProviderId: testGUID, Path: testPath, Name: "test",
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4}}))(t)
	prov := layered.New(ids.Layered, layered.Config{})
	var table spi.WSPProcTable
	m.RegisterProvider(testPath, func(v uint16, info *spi.WSAProtocolInfo, up spi.WSPUpcallTable, im spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		// Version negotiation, on copies that are then dropped.
		if _, _, err := prov.NewInstance().WSPStartup(spi.MAKEWORD(1, 1), info, up, im); !errors.Is(err, spi.WSAVERNOTSUPPORTED) {
			t.Errorf("WSPStartup(1.1): %v, want WSAVERNOTSUPPORTED", err)
		}
		for v, want := range map[uint16]uint16{spi.MAKEWORD(2, 0): spi.MAKEWORD(2, 0), spi.MAKEWORD(3, 0): spi.WINSOCK_VERSION} {
			other := prov.NewInstance()
			data, t2, err := other.WSPStartup(v, info, up, im)
			if err != nil || data.Version != want || data.HighVersion != spi.WINSOCK_VERSION {
				t.Errorf("WSPStartup(%#x) = %+v, %v; want version %#x", v, data, err, want)
			}
			if err == nil {
				_ = t2.WSPCleanup()
			}
		}
		// A caller that starts the process's copy up twice.
		in := prov.NewInstance()
		if _, _, err := in.WSPStartup(v, info, up, im); err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		data, t2, err := in.WSPStartup(v, info, up, im)
		table = t2
		return data, t2, err
	})
	p := m.NewProcess()
	defer p.Close()
	must(p.NewThread().Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if err := p.WSACleanup(); err != nil { // one WSPCleanup
		t.Fatal(err)
	}
	if s := prov.Stats(); s.Instances != 1 || s.Sockets != 1 || s.Workers != 1 {
		t.Errorf("after one of two WSPCleanup calls: %+v, want the instance and its socket alive", s)
	}
	if err := table.WSPCleanup(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(layered.Stats{}, prov.Stats()); diff != "" {
		t.Errorf("after the last WSPCleanup (-want +got):\n%s", diff)
	}
	if err := table.WSPCleanup(); !errors.Is(err, spi.WSANOTINITIALISED) {
		t.Errorf("a third WSPCleanup: %v, want WSANOTINITIALISED", err)
	}
	if _, err := table.WSPSocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, nil, 0, 0); !errors.Is(err, spi.WSANOTINITIALISED) {
		t.Errorf("WSPSocket after cleanup: %v, want WSANOTINITIALISED", err)
	}
}

func TestWSPStartupWithAnIncompleteUpcallTablePanics(t *testing.T) {
	in := layered.New(1, layered.Config{}).NewInstance()
	defer func() {
		if r := recover(); r == nil {
			t.Error("WSPStartup with no upcall table did not panic")
		}
	}()
	_, _, _ = in.WSPStartup(spi.WINSOCK_VERSION, nil, spi.WSPUpcallTable{}, spi.Imports{})
}

func TestHandleOwnerIsTheEntryTheProviderWasLoadedFor(t *testing.T) {
	chain := func(id spi.CatalogEntryId, ids ...spi.CatalogEntryId) *spi.WSAProtocolInfo {
		info := &spi.WSAProtocolInfo{CatalogEntryId: id}
		info.ProtocolChain.ChainLen = int32(len(ids))
		copy(info.ProtocolChain.ChainEntries[:], ids)
		return info
	}
	cases := []struct {
		name  string
		info  *spi.WSAProtocolInfo
		self  spi.CatalogEntryId
		want  spi.CatalogEntryId
		error bool
	}{
		{"top of a chain", chain(2001, 1005, 1001), 1005, 2001, false},
		{"top of a chain over a chain", chain(2002, 1006, 2001, 1001), 1006, 2002, false},
		{"in a chain passed down unchanged", chain(2003, 1007, 1005, 1001), 1005, 1005, false},
		{"not in the chain", chain(2001, 1005, 1001), 1009, 0, true},
		{"the base of the chain", chain(2001, 1005, 1001), 1001, 0, true},
		{"a base entry", chain(1001, 1001), 1001, 0, true},
	}
	for _, tc := range cases {
		got, err := layered.HandleOwner(tc.info, tc.self)
		if got != tc.want || (err != nil) != tc.error {
			t.Errorf("%s: %d, %v; want %d, error %v", tc.name, got, err, tc.want, tc.error)
		}
		if tc.error && !errors.Is(err, spi.WSAEINVAL) {
			t.Errorf("%s: %v, want WSAEINVAL", tc.name, err)
		}
	}
}

func TestHooksSeeConnectsAndClosesOnce(t *testing.T) {
	var mu sync.Mutex
	var connects []netip.AddrPort
	closed := map[spi.Socket]int{}
	real := netip.MustParseAddrPort("127.0.0.1:8080")
	m, prov, _ := install(t, layered.Config{Hooks: layered.Hooks{
		OnConnect: func(s *layered.Socket, name netip.AddrPort) (netip.AddrPort, error) {
			mu.Lock()
			defer mu.Unlock()
			connects = append(connects, name)
			s.SetValue(len(connects))
			if name.Port() == 1 {
				return name, spi.WSAEACCES
			}
			return real, nil // a proxy: every connection goes to real
		},
		OnClose: func(s *layered.Socket) {
			mu.Lock()
			defer mu.Unlock()
			closed[s.Handle()]++
			if s.Lower() == s.Handle() || s.Protocol().CatalogEntryId == 0 {
				t.Errorf("socket %v: lower %v, entry %d", s.Handle(), s.Lower(), s.Protocol().CatalogEntryId)
			}
		},
	}})
	listener(t, m, real)
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	a := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	b := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if err := th.Connect(a, netip.MustParseAddrPort("127.0.0.1:9")); err != nil {
		t.Fatalf("connect redirected by the hook: %v", err)
	}
	if got := must(th.Getpeername(a))(t); got != real {
		t.Errorf("peer %v, want %v", got, real)
	}
	if err := th.Connect(b, netip.MustParseAddrPort("127.0.0.1:1")); !errors.Is(err, spi.WSAEACCES) {
		t.Errorf("connect refused by the hook: %v, want WSAEACCES", err)
	}
	if err := th.Closesocket(a); err != nil {
		t.Fatal(err)
	}
	if err := p.WSACleanup(); err != nil { // b is still open
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(map[spi.Socket]int{a: 1, b: 1}, closed); diff != "" {
		t.Errorf("OnClose calls (-want +got):\n%s", diff)
	}
	if len(connects) != 2 {
		t.Errorf("OnConnect saw %v", connects)
	}
	if s := prov.Stats(); s.Instances+s.Sockets+s.Workers != 0 {
		t.Errorf("after WSACleanup: %+v", s)
	}
}

func TestHooksChangeTheDataBothWays(t *testing.T) {
	upper := func(b []byte) []byte { return bytes.ToUpper(b) }
	m, _, _ := install(t, layered.Config{Hooks: layered.Hooks{
		OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte {
			out := make([][]byte, len(bufs))
			for i, b := range bufs {
				out[i] = upper(b)
			}
			return out
		},
		OnRecv: func(_ *layered.Socket, bufs [][]byte, n uint32) {
			copy(bufs[0][:n], upper(bufs[0][:n]))
		},
	}})
	addr := netip.MustParseAddrPort("127.0.0.1:8081")
	srv := m.NewProcess()
	defer srv.Close()
	sth := srv.NewThread()
	base, _ := m.Catalog().View().Entry(catalog.DefaultTCPIPv4)
	l := must(sth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &base, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	if err := errors.Join(sth.Bind(l, addr), sth.Listen(l, 1)); err != nil {
		t.Fatal(err)
	}
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	c := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if err := th.Connect(c, addr); err != nil {
		t.Fatal(err)
	}
	s, _ := must2(sth.Accept(l))(t)
	port := must(p.CreateIoCompletionPort(c, 0, 1, 0))(t)

	var ov spi.Overlapped
	if _, err := th.WSASend(c, [][]byte{[]byte("quiet")}, 0, &ov, nil); err != nil {
		t.Fatal(err)
	}
	if e := must(th.GetQueuedCompletionStatus(port, time.Second))(t); e.NumberOfBytesTransferred != 5 {
		t.Errorf("send packet %+v", e)
	}
	got := make([]byte, 5)
	if n := must(sth.WSARecv(s, [][]byte{got}, nil, nil, nil))(t); string(got[:n]) != "QUIET" {
		t.Errorf("the server read %q, want the OnSend hook's QUIET", got[:n])
	}
	buf := make([]byte, 8)
	if _, err := th.WSARecv(c, [][]byte{buf}, nil, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatal(err)
	}
	must(sth.WSASend(s, [][]byte{[]byte("loud")}, 0, nil, nil))(t)
	if e := must(th.GetQueuedCompletionStatus(port, time.Second))(t); e.NumberOfBytesTransferred != 4 || string(buf[:4]) != "LOUD" {
		t.Errorf("packet %+v, data %q; want 4 bytes the OnRecv hook made LOUD", e, buf[:4])
	}
}

func must2[T, U any](v T, u U, err error) func(testing.TB) (T, U) {
	return func(tb testing.TB) (T, U) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return v, u
	}
}
