package catalog_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// loaderFor returns a loader over the current view of c with base
// registered at LoopbackPath.
func loaderFor(c *catalog.Catalog, base *fakeProvider) (*catalog.Loader, *catalog.Registry) {
	reg := catalog.NewRegistry()
	reg.Register(catalog.LoopbackPath, base.startup)
	return catalog.NewLoader(c.View(), reg, nil), reg
}

func load(t *testing.T, l *catalog.Loader, id spi.CatalogEntryId) *catalog.Provider {
	t.Helper()
	p, err := l.Load(id)
	if err != nil {
		t.Fatalf("Load(%d): %v", id, err)
	}
	return p
}

func cleanup(t *testing.T, l *catalog.Loader, p *catalog.Provider) {
	t.Helper()
	if err := l.Cleanup(p); err != nil {
		t.Fatalf("Cleanup(%v): %v", p.ProviderId, err)
	}
}

func checkSnapshot(t *testing.T, l *catalog.Loader, want ...catalog.LoadedProvider) {
	t.Helper()
	if want == nil {
		want = []catalog.LoadedProvider{}
	}
	if diff := cmp.Diff(want, l.Snapshot().Providers); diff != "" {
		t.Errorf("loaded providers (-want +got):\n%s", diff)
	}
}

func loopback(refs int, startedFor spi.CatalogEntryId) catalog.LoadedProvider {
	return catalog.LoadedProvider{ProviderId: catalog.LoopbackProviderId, Path: catalog.LoopbackPath,
		StartedFor: startedFor, Version: spi.WINSOCK_VERSION, Refs: refs}
}

func TestLoadStartsProviderWithItsEntry(t *testing.T) {
	c := catalog.NewDefault()
	base := &fakeProvider{}
	l, _ := loaderFor(c, base)
	p := load(t, l, catalog.DefaultUDPIPv6)
	if p.ProviderId != catalog.LoopbackProviderId || p.Path != catalog.LoopbackPath || p.Data.Version != spi.WINSOCK_VERSION {
		t.Errorf("provider %+v", p)
	}
	if missing := p.ProcTable.Missing(); len(missing) != 0 {
		t.Errorf("proc table misses %v", missing)
	}
	if diff := cmp.Diff([]spi.WSAProtocolInfo{entry(t, c, catalog.DefaultUDPIPv6)}, base.infos); diff != "" {
		t.Errorf("WSPStartup infos (-want +got):\n%s", diff)
	}
	checkSnapshot(t, l, loopback(1, catalog.DefaultUDPIPv6))
	if l.Snapshot().Serial != c.Serial() {
		t.Errorf("snapshot serial %d, want %d", l.Snapshot().Serial, c.Serial())
	}
}

func TestEntriesSharingAGUIDShareOneProvider(t *testing.T) {
	c := catalog.NewDefault()
	base := &fakeProvider{}
	l, _ := loaderFor(c, base)
	p1 := load(t, l, catalog.DefaultTCPIPv4)
	p2 := load(t, l, catalog.DefaultUDPIPv4)
	p3 := load(t, l, catalog.DefaultTCPIPv6)
	if p1 != p2 || p2 != p3 {
		t.Errorf("loads of one GUID returned different providers")
	}
	checkSnapshot(t, l, loopback(3, catalog.DefaultTCPIPv4))
	for i, want := range []int{0, 0, 1} {
		cleanup(t, l, p1)
		if s, c := base.counts(); s != 1 || c != want {
			t.Errorf("after cleanup %d: %d startups, %d cleanups; want 1, %d", i+1, s, c, want)
		}
	}
	checkSnapshot(t, l)
}

func TestCleanupOfAProviderNoLongerLoaded(t *testing.T) {
	c := catalog.NewDefault()
	base := &fakeProvider{}
	l, _ := loaderFor(c, base)
	old := load(t, l, catalog.DefaultTCPIPv4)
	cleanup(t, l, old)
	checkOpErr(t, l.Cleanup(old), "WSPCleanup", spi.WSANOTINITIALISED)
	cur := load(t, l, catalog.DefaultTCPIPv4) // started afresh
	if cur == old {
		t.Fatal("a reload returned the unloaded provider")
	}
	checkOpErr(t, l.Cleanup(old), "WSPCleanup", spi.WSANOTINITIALISED)
	checkSnapshot(t, l, loopback(1, catalog.DefaultTCPIPv4))
	if s, c := base.counts(); s != 2 || c != 1 {
		t.Errorf("%d startups, %d cleanups; want 2, 1", s, c)
	}
}

func TestLoadFailures(t *testing.T) {
	v11 := &spi.WSPData{Version: spi.MAKEWORD(1, 1), HighVersion: spi.MAKEWORD(1, 1)}
	v23 := &spi.WSPData{Version: spi.MAKEWORD(2, 3), HighVersion: spi.MAKEWORD(2, 3)}
	highBelow := &spi.WSPData{Version: spi.MAKEWORD(2, 2), HighVersion: spi.MAKEWORD(2, 0)}
	cause := errors.New("disk on fire")
	tests := []struct {
		name         string
		provider     *fakeProvider // nil: not registered
		want         spi.Errno
		alsoIs       error
		wantCleanups int
		missing      []string
	}{
		{"not registered", nil, spi.WSAEPROVIDERFAILEDINIT, catalog.ErrNotRegistered, 0, nil},
		{"startup error", &fakeProvider{err: spi.WSASYSNOTREADY}, spi.WSAEPROVIDERFAILEDINIT, spi.WSASYSNOTREADY, 0, nil},
		{"version not supported", &fakeProvider{err: spi.WSAVERNOTSUPPORTED}, spi.WSAEPROVIDERFAILEDINIT, spi.WSAVERNOTSUPPORTED, 0, nil},
		{"startup panics", &fakeProvider{panicVal: "boom"}, spi.WSAEPROVIDERFAILEDINIT, nil, 0, nil},
		{"startup panics with an error", &fakeProvider{panicVal: cause}, spi.WSAEPROVIDERFAILEDINIT, cause, 0, nil},
		{"version 1.1", &fakeProvider{data: v11}, spi.WSAEINVALIDPROVIDER, nil, 1, nil},
		{"version 2.3", &fakeProvider{data: v23}, spi.WSAEINVALIDPROVIDER, nil, 1, nil},
		{"high version below version", &fakeProvider{data: highBelow}, spi.WSAEINVALIDPROVIDER, nil, 1, nil},
		{"partial proc table", &fakeProvider{partial: true}, spi.WSAEINVALIDPROCTABLE, nil, 1,
			[]string{"WSPAccept", "WSPAddressToString", "WSPAsyncSelect", "WSPBind", "WSPCancelBlockingCall",
				"WSPCloseSocket", "WSPConnect", "WSPDuplicateSocket", "WSPEnumNetworkEvents", "WSPEventSelect",
				"WSPGetOverlappedResult", "WSPGetPeerName", "WSPGetSockName", "WSPGetSockOpt", "WSPGetQOSByName",
				"WSPIoctl", "WSPJoinLeaf", "WSPListen", "WSPRecv", "WSPRecvDisconnect", "WSPRecvFrom", "WSPSelect",
				"WSPSend", "WSPSendDisconnect", "WSPSendTo", "WSPSetSockOpt", "WSPShutdown", "WSPSocket",
				"WSPStringToAddress"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := catalog.NewDefault()
			reg := catalog.NewRegistry()
			if tt.provider != nil {
				reg.Register(catalog.LoopbackPath, tt.provider.startup)
			}
			l := catalog.NewLoader(c.View(), reg, nil)
			p, err := l.Load(catalog.DefaultTCPIPv4)
			if p != nil {
				t.Errorf("Load returned a provider with error %v", err)
			}
			checkOpErr(t, err, "WSPStartup", tt.want)
			if tt.alsoIs != nil && !errors.Is(err, tt.alsoIs) {
				t.Errorf("error %v does not wrap %v", err, tt.alsoIs)
			}
			var le *catalog.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error %v carries no *LoadError", err)
			}
			if le.ProviderId != catalog.LoopbackProviderId || le.Path != catalog.LoopbackPath || le.Errno != tt.want {
				t.Errorf("LoadError %+v", le)
			}
			if spi.ErrnoOf(err) != tt.want {
				t.Errorf("ErrnoOf = %v, want %v", spi.ErrnoOf(err), tt.want)
			}
			if diff := cmp.Diff(tt.missing, le.Missing); diff != "" {
				t.Errorf("Missing (-want +got):\n%s", diff)
			}
			if tt.provider != nil {
				if _, c := tt.provider.counts(); c != tt.wantCleanups {
					t.Errorf("%d WSPCleanup calls, want %d", c, tt.wantCleanups)
				}
			}
			checkSnapshot(t, l)
		})
	}
}

func TestLoadPanicSaysItPanicked(t *testing.T) {
	c := catalog.NewDefault()
	l, _ := loaderFor(c, &fakeProvider{panicVal: "boom"})
	_, err := l.Load(catalog.DefaultTCPIPv4)
	if err == nil || !strings.Contains(err.Error(), "WSPStartup panicked: boom") {
		t.Errorf("error %v does not report the panic", err)
	}
}

func TestLoadAcceptsVersion20(t *testing.T) {
	c := catalog.NewDefault()
	v20 := spi.WSPData{Version: spi.MAKEWORD(2, 0), HighVersion: spi.MAKEWORD(2, 0)}
	l, _ := loaderFor(c, &fakeProvider{data: &v20})
	if p := load(t, l, catalog.DefaultTCPIPv4); p.Data != v20 {
		t.Errorf("Data = %+v, want %+v", p.Data, v20)
	}
}

func TestLoadTableWithoutCleanupIsRejectedWithoutCallingIt(t *testing.T) {
	c := catalog.NewDefault()
	reg := catalog.NewRegistry()
	reg.Register(catalog.LoopbackPath, func(uint16, *spi.WSAProtocolInfo, spi.WSPUpcallTable, spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		return spi.WSPData{Version: spi.WINSOCK_VERSION, HighVersion: spi.WINSOCK_VERSION}, spi.WSPProcTable{}, nil
	})
	_, err := catalog.NewLoader(c.View(), reg, nil).Load(catalog.DefaultTCPIPv4)
	var le *catalog.LoadError
	if !errors.As(err, &le) || len(le.Missing) != 30 || !slices.Contains(le.Missing, "WSPCleanup") {
		t.Errorf("error %v, want WSAEINVALIDPROCTABLE naming all 30 entries", err)
	}
}

func TestFailedLoadCanBeRetried(t *testing.T) {
	c := catalog.NewDefault()
	base := &fakeProvider{err: spi.WSASYSNOTREADY}
	l, _ := loaderFor(c, base)
	if _, err := l.Load(catalog.DefaultTCPIPv4); err == nil {
		t.Fatal("first load succeeded")
	}
	base.mu.Lock()
	base.err = nil
	base.mu.Unlock()
	load(t, l, catalog.DefaultTCPIPv4)
	checkSnapshot(t, l, loopback(1, catalog.DefaultTCPIPv4))
}

func TestLoadUnknownEntry(t *testing.T) {
	l, _ := loaderFor(catalog.NewDefault(), &fakeProvider{})
	_, err := l.Load(4242)
	checkOpErr(t, err, "WSPStartup", spi.WSAEINVAL)
}

func TestLoaderSeesTheCatalogOfItsWSAStartup(t *testing.T) {
	c := catalog.NewDefault()
	base := &fakeProvider{}
	l, reg := loaderFor(c, base)
	other := &fakeProvider{}
	reg.Register("other.dll", other.startup)
	install(t, c, guid(1), "other.dll", base2("other"))
	_, err := l.Load(1005)
	checkOpErr(t, err, "WSPStartup", spi.WSAEINVAL)
	later := catalog.NewLoader(c.View(), reg, nil)
	load(t, later, 1005)
	if later.View().Serial() != 2 || l.View().Serial() != 1 {
		t.Errorf("serials %d and %d, want 2 and 1", later.View().Serial(), l.View().Serial())
	}
}

// base2 is a base entry of a family no default entry has.
func base2(name string) spi.WSAProtocolInfo { return base(name, 99, spi.SOCK_STREAM, 1) }

func TestProviderLooksUpWithoutReference(t *testing.T) {
	c := catalog.NewDefault()
	l, _ := loaderFor(c, &fakeProvider{})
	if _, ok := l.Provider(catalog.DefaultTCPIPv4); ok {
		t.Error("Provider found a provider before any load")
	}
	p := load(t, l, catalog.DefaultTCPIPv4)
	if got, ok := l.Provider(catalog.DefaultUDPIPv6); !ok || got != p {
		t.Errorf("Provider(UDP/IPv6) = %v, %v; want the loaded loopback provider", got, ok)
	}
	if _, ok := l.Provider(4242); ok {
		t.Error("Provider found a provider for an unknown entry")
	}
	checkSnapshot(t, l, loopback(1, catalog.DefaultTCPIPv4))
}

func TestDefaultUpcallsServeProviderPath(t *testing.T) {
	c := catalog.NewDefault()
	base := &fakeProvider{}
	l, _ := loaderFor(c, base)
	load(t, l, catalog.DefaultTCPIPv4)
	up := base.upcalls[0]
	path, err := up.WPUGetProviderPath(catalog.LoopbackProviderId)
	if err != nil || path != catalog.LoopbackPath {
		t.Errorf("WPUGetProviderPath = %q, %v", path, err)
	}
	if up.WPUCreateSocketHandle != nil {
		t.Error("default upcall table has WPUCreateSocketHandle")
	}
}

func TestUpcallsFuncBuildsEachProvidersTable(t *testing.T) {
	c := catalog.NewDefault()
	base := &fakeProvider{}
	reg := catalog.NewRegistry()
	reg.Register(catalog.LoopbackPath, base.startup)
	var asked []spi.CatalogEntryId
	l := catalog.NewLoader(c.View(), reg, func(e *spi.WSAProtocolInfo) (spi.WSPUpcallTable, spi.Imports) {
		asked = append(asked, e.CatalogEntryId)
		return spi.WSPUpcallTable{WPUGetProviderPath: func(spi.GUID) (string, error) { return "marker", nil }}, spi.Imports{}
	})
	load(t, l, catalog.DefaultUDPIPv4)
	if diff := cmp.Diff([]spi.CatalogEntryId{catalog.DefaultUDPIPv4}, asked); diff != "" {
		t.Errorf("UpcallsFunc entries (-want +got):\n%s", diff)
	}
	if got, _ := base.upcalls[0].WPUGetProviderPath(spi.GUID{}); got != "marker" {
		t.Errorf("provider got another upcall table")
	}
}

func TestLastCleanupReturnsProviderError(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    *fakeProvider
		want string
	}{
		{"error", &fakeProvider{cleanErr: spi.WSAENETDOWN}, "network is down"},
		{"panic", &fakeProvider{onClean: func() error { panic("cleanup boom") }}, "WSPCleanup panicked: cleanup boom"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := loaderFor(catalog.NewDefault(), tt.f)
			p := load(t, l, catalog.DefaultTCPIPv4)
			err := l.Cleanup(p)
			var oe *spi.OpError
			if !errors.As(err, &oe) || oe.Op != "WSPCleanup" || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Cleanup = %v, want a WSPCleanup error saying %q", err, tt.want)
			}
			checkSnapshot(t, l)
		})
	}
}

// lspProvider is a layered provider that loads the next layer from its
// WSPStartup, as the Microsoft sample does lazily, and releases it in its
// WSPCleanup.
type lspProvider struct {
	fakeProvider
	l       *catalog.Loader
	self    spi.CatalogEntryId
	mu      sync.Mutex // guards next and nextInfo
	next    []*catalog.Provider
	nextInf []spi.WSAProtocolInfo
}

func newLSP(self spi.CatalogEntryId) *lspProvider {
	lp := &lspProvider{self: self}
	lp.onStart = func(info *spi.WSAProtocolInfo) error {
		next, info2, err := lp.l.LoadNext(info, lp.self)
		if err != nil {
			return err
		}
		lp.mu.Lock()
		lp.next = append(lp.next, next)
		lp.nextInf = append(lp.nextInf, info2)
		lp.mu.Unlock()
		return nil
	}
	lp.onClean = func() error {
		lp.mu.Lock()
		next := lp.next
		lp.next = nil
		lp.mu.Unlock()
		for _, p := range next {
			if err := lp.l.Cleanup(p); err != nil {
				return err
			}
		}
		return nil
	}
	return lp
}

func TestLoadNextReachesTheBaseWithItsOwnInfo(t *testing.T) {
	c := catalog.NewDefault()
	res := lspOver(t, c, 1, "L", false, catalog.DefaultTCPIPv4)
	chainGUID := entry(t, c, res.Chains[0]).ProviderId
	base := &fakeProvider{}
	l, reg := loaderFor(c, base)
	lsp := newLSP(res.Layered)
	lsp.l = l
	reg.Register("L.dll", lsp.startup)

	chosen, err := l.View().Choose(spi.AF_INET, spi.SOCK_STREAM, 0, nil)
	if err != nil || chosen.CatalogEntryId != res.Chains[0] {
		t.Fatalf("Choose = %d, %v; want the chain %d", chosen.CatalogEntryId, err, res.Chains[0])
	}
	top := load(t, l, chosen.CatalogEntryId)
	if diff := cmp.Diff([]spi.WSAProtocolInfo{chosen}, lsp.infos); diff != "" {
		t.Errorf("LSP's WSPStartup info (-want +got):\n%s", diff)
	}
	tcp := entry(t, c, catalog.DefaultTCPIPv4)
	if diff := cmp.Diff([]spi.WSAProtocolInfo{tcp}, base.infos); diff != "" {
		t.Errorf("base's WSPStartup info (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]spi.WSAProtocolInfo{tcp}, lsp.nextInf); diff != "" {
		t.Errorf("info LoadNext returned (-want +got):\n%s", diff)
	}
	lspLoaded := catalog.LoadedProvider{ProviderId: chainGUID, Path: "L.dll", StartedFor: res.Chains[0], Version: spi.WINSOCK_VERSION, Refs: 1}
	checkSnapshot(t, l, loopback(1, catalog.DefaultTCPIPv4), lspLoaded)

	direct := load(t, l, catalog.DefaultUDPIPv4) // a plain UDP socket shares the base
	checkSnapshot(t, l, loopback(2, catalog.DefaultTCPIPv4), lspLoaded)
	cleanup(t, l, top) // the LSP's last cleanup releases its reference to the base
	checkSnapshot(t, l, loopback(1, catalog.DefaultTCPIPv4))
	if _, c := base.counts(); c != 0 {
		t.Errorf("base cleaned up while still referenced")
	}
	cleanup(t, l, direct)
	checkSnapshot(t, l)
	if s, c := base.counts(); s != 1 || c != 1 {
		t.Errorf("base: %d startups, %d cleanups; want 1, 1", s, c)
	}
}

func TestLoadNextThroughAnotherLayer(t *testing.T) {
	// Two non-IFS LSPs stacked: A over TCP, B over A's chain.
	for _, tt := range []struct {
		name string
		// chainOfB returns B's chain id after installing it.
		viaChain bool
	}{
		{"installer convention: B's chain names A's chain", true},
		{"WSPStartup convention: B's chain names A's layered entry", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := catalog.NewDefault()
			a := lspOver(t, c, 1, "A", false, catalog.DefaultTCPIPv4)
			var bLayered, bChain spi.CatalogEntryId
			if tt.viaChain {
				b := lspOver(t, c, 2, "B", false, a.Chains[0])
				bLayered, bChain = b.Layered, b.Chains[0]
			} else {
				install(t, c, guid(2), "B.dll", layered("B", false))
				bLayered = 1007
				install(t, c, guid(3), "B.dll", chainOver("B over A", tcp4, false, bLayered, a.Layered, catalog.DefaultTCPIPv4))
				bChain = 1008
			}
			base := &fakeProvider{}
			l, reg := loaderFor(c, base)
			lspA, lspB := newLSP(a.Layered), newLSP(bLayered)
			lspA.l, lspB.l = l, l
			reg.Register("A.dll", lspA.startup)
			reg.Register("B.dll", lspB.startup)

			bc := entry(t, c, bChain)
			top := load(t, l, bChain)
			wantA := bc // the chain passes down unchanged to a layered element
			if tt.viaChain {
				wantA = entry(t, c, a.Chains[0]) // A sees its own chain
			}
			if diff := cmp.Diff([]spi.WSAProtocolInfo{wantA}, lspA.infos); diff != "" {
				t.Errorf("A's WSPStartup info (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]spi.WSAProtocolInfo{entry(t, c, catalog.DefaultTCPIPv4)}, base.infos); diff != "" {
				t.Errorf("base's WSPStartup info (-want +got):\n%s", diff)
			}
			if got := len(l.Snapshot().Providers); got != 3 {
				t.Errorf("%d providers loaded, want 3 (B, A, base)", got)
			}
			cleanup(t, l, top)
			checkSnapshot(t, l)
			for name, f := range map[string]*fakeProvider{"A": &lspA.fakeProvider, "B": &lspB.fakeProvider, "base": base} {
				if s, c := f.counts(); s != 1 || c != 1 {
					t.Errorf("%s: %d startups, %d cleanups; want 1, 1", name, s, c)
				}
			}
		})
	}
}

func TestLoadNextRejectsBadPositions(t *testing.T) {
	c := catalog.NewDefault()
	res := lspOver(t, c, 1, "L", false, catalog.DefaultTCPIPv4)
	chain := entry(t, c, res.Chains[0])
	tcp := entry(t, c, catalog.DefaultTCPIPv4)
	l, _ := loaderFor(c, &fakeProvider{})
	for _, tt := range []struct {
		name  string
		chain spi.WSAProtocolInfo
		self  spi.CatalogEntryId
		want  spi.Errno
	}{
		{"self not in the chain", chain, 4242, spi.WSAEINVAL},
		{"self is the base", chain, catalog.DefaultTCPIPv4, spi.WSAEINVAL},
		{"a base entry is no chain", tcp, catalog.DefaultTCPIPv4, spi.WSAEINVAL},
		{"next entry not installed", chainOver("broken", tcp, false, res.Layered, 4242, catalog.DefaultTCPIPv4), res.Layered, spi.WSAEPROVIDERFAILEDINIT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, _, err := l.LoadNext(&tt.chain, tt.self)
			if p != nil {
				t.Error("LoadNext returned a provider with an error")
			}
			checkOpErr(t, err, "WSPStartup", tt.want)
			checkSnapshot(t, l)
		})
	}
}

func TestLoadNextAfterDeinstallUsesTheProcessView(t *testing.T) {
	c := catalog.NewDefault()
	res := lspOver(t, c, 1, "L", false, catalog.DefaultTCPIPv4)
	chain := entry(t, c, res.Chains[0])
	oldView := c.View()
	if err := c.WSCDeinstallProvider(catalog.LoopbackProviderId); err != nil {
		t.Fatal(err)
	}
	reg := catalog.NewRegistry()
	reg.Register(catalog.LoopbackPath, (&fakeProvider{}).startup)
	if _, _, err := catalog.NewLoader(oldView, reg, nil).LoadNext(&chain, res.Layered); err != nil {
		t.Errorf("old process: LoadNext = %v, want the base it saw at startup", err)
	}
	_, _, err := catalog.NewLoader(c.View(), reg, nil).LoadNext(&chain, res.Layered)
	checkOpErr(t, err, "WSPStartup", spi.WSAEPROVIDERFAILEDINIT)
}

func TestNestedLoadOfTheSameProviderDoesNotDeadlock(t *testing.T) {
	c := catalog.NewDefault()
	base := &fakeProvider{}
	l, _ := loaderFor(c, base)
	var nested atomic.Bool
	var inner *catalog.Provider
	base.onStart = func(*spi.WSAProtocolInfo) error {
		if nested.Swap(true) {
			return nil
		}
		var err error
		inner, err = l.Load(catalog.DefaultUDPIPv4)
		return err
	}
	outer := load(t, l, catalog.DefaultTCPIPv4)
	if outer != inner {
		t.Error("the nested load and the outer load got different providers")
	}
	checkSnapshot(t, l, loopback(2, catalog.DefaultUDPIPv4))
	if s, c := base.counts(); s != 2 || c != 1 {
		t.Errorf("%d startups, %d cleanups; want 2, 1 (the second table is cleaned up at once)", s, c)
	}
}

func TestConcurrentLoadsAndCleanups(t *testing.T) {
	c := catalog.NewDefault()
	base := &fakeProvider{}
	l, _ := loaderFor(c, base)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				p, err := l.Load(catalog.DefaultTCPIPv4 + spi.CatalogEntryId((g+i)%4))
				if err != nil {
					t.Error(err)
					return
				}
				l.Provider(catalog.DefaultTCPIPv4)
				_ = l.Snapshot()
				if err := l.Cleanup(p); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	checkSnapshot(t, l)
	if s, c := base.counts(); s != c || s == 0 {
		t.Errorf("%d startups, %d cleanups; want equal and nonzero", s, c)
	}
}

func TestRegistry(t *testing.T) {
	var reg catalog.Registry // zero value ready for use
	if _, ok := reg.Lookup("a.dll"); ok {
		t.Error("empty registry found a.dll")
	}
	f := &fakeProvider{}
	reg.Register(`%SystemRoot%\a.dll`, f.startup)
	if _, ok := reg.Lookup(`C:\Windows\a.dll`); ok {
		t.Error("lookup expanded an environment string")
	}
	if _, ok := reg.Lookup(`%SystemRoot%\a.dll`); !ok {
		t.Error("lookup of the registered path failed")
	}
	reg.Unregister(`%SystemRoot%\a.dll`)
	if _, ok := reg.Lookup(`%SystemRoot%\a.dll`); ok {
		t.Error("lookup after Unregister succeeded")
	}
	defer func() {
		if recover() == nil {
			t.Error("Register of a nil function did not panic")
		}
	}()
	reg.Register("nil.dll", nil)
}

func TestConcurrentCatalogChangesAndReads(t *testing.T) {
	c := catalog.NewDefault()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				id := guid(uint32(100 + g*100 + i))
				if err := c.WSCInstallProvider(id, "x.dll", []spi.WSAProtocolInfo{base2("x")}); err != nil {
					t.Error(err)
				}
				v := c.View()
				if _, err := v.Choose(spi.AF_INET, spi.SOCK_STREAM, 0, nil); err != nil {
					t.Error(err)
				}
				_ = v.Lint()
				if i%2 == 0 {
					if err := c.WSCDeinstallProvider(id); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	all := enum(t, c)
	if len(all) != 4+4*25 {
		t.Errorf("%d entries, want %d", len(all), 4+4*25)
	}
	if c.Serial() != 1+4*75 {
		t.Errorf("serial %d, want %d", c.Serial(), 1+4*75)
	}
	seen := map[spi.CatalogEntryId]bool{}
	for _, p := range all {
		if seen[p.CatalogEntryId] || p.CatalogEntryId < 1001 || p.CatalogEntryId >= 1001+4+200 {
			t.Errorf("bad or repeated id %d", p.CatalogEntryId)
		}
		seen[p.CatalogEntryId] = true
	}
}
