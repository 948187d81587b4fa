package catalog_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

func TestNewDefaultHoldsMSAFDLikeEntries(t *testing.T) {
	c := catalog.NewDefault()
	type row struct {
		ID                   spi.CatalogEntryId
		Name                 string
		AF, Type, Protocol   int32
		Flags1, ProviderFlag uint32
		SockAddr             int32
		Chain                []spi.CatalogEntryId
	}
	var got []row
	for _, p := range enum(t, c) {
		if p.ProviderId != catalog.LoopbackProviderId || p.MinSockAddr != p.MaxSockAddr || p.Version != 2 {
			t.Errorf("entry %d: provider %v, sockaddr %d..%d, version %d", p.CatalogEntryId, p.ProviderId, p.MinSockAddr, p.MaxSockAddr, p.Version)
		}
		got = append(got, row{p.CatalogEntryId, p.ProtocolName, p.AddressFamily, p.SocketType, p.Protocol,
			p.ServiceFlags1, p.ProviderFlags, p.MaxSockAddr, p.ProtocolChain.Entries()})
	}
	want := []row{
		{1001, "MSAFD Tcpip [TCP/IP]", 2, 1, 6, 0x20066, 8, 16, []spi.CatalogEntryId{1001}},
		{1002, "MSAFD Tcpip [UDP/IP]", 2, 2, 17, 0x20609, 8, 16, []spi.CatalogEntryId{1002}},
		{1003, "MSAFD Tcpip [TCP/IPv6]", 23, 1, 6, 0x20066, 8, 28, []spi.CatalogEntryId{1003}},
		{1004, "MSAFD Tcpip [UDP/IPv6]", 23, 2, 17, 0x20609, 8, 28, []spi.CatalogEntryId{1004}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default entries (-want +got):\n%s", diff)
	}
	if path, _ := c.WSCGetProviderPath(catalog.LoopbackProviderId); path != `%SystemRoot%\system32\mswsock.dll` {
		t.Errorf("path %q", path)
	}
	if c.Serial() != 1 {
		t.Errorf("serial %d, want 1", c.Serial())
	}
	for i, id := range []spi.CatalogEntryId{catalog.DefaultTCPIPv4, catalog.DefaultUDPIPv4, catalog.DefaultTCPIPv6, catalog.DefaultUDPIPv6} {
		if id != want[i].ID {
			t.Errorf("constant %d = %d, want %d", i, id, want[i].ID)
		}
	}
}

func TestInstallLSPNonIFSOverTCP(t *testing.T) {
	c := catalog.NewDefault()
	serial := c.Serial()
	res, err := c.InstallLSP(catalog.LSP{ProviderId: guid(1), Path: `C:\lsp.dll`, Name: "Sniffer",
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4}, Categories: spi.LSP_INSPECTOR})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(catalog.LSPEntries{Layered: 1005, Chains: []spi.CatalogEntryId{1006}}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if c.Serial() != serial+1 {
		t.Errorf("serial %d, want %d: InstallLSP is one change", c.Serial(), serial+1)
	}
	tcp := entry(t, c, catalog.DefaultTCPIPv4)

	wantLayered := tcp
	wantLayered.ProviderId, wantLayered.CatalogEntryId = guid(1), 1005
	wantLayered.SocketType, wantLayered.Protocol = 0, 0
	wantLayered.ProviderFlags = spi.PFL_HIDDEN
	wantLayered.ServiceFlags1 &^= spi.XP1_IFS_HANDLES
	wantLayered.ProtocolChain = spi.WSAProtocolChain{}
	wantLayered.ProtocolName = "Sniffer"
	if diff := cmp.Diff(wantLayered, entry(t, c, 1005)); diff != "" {
		t.Errorf("layered entry (-want +got):\n%s", diff)
	}

	chain := entry(t, c, 1006)
	wantChain := tcp
	wantChain.ProviderId, wantChain.CatalogEntryId = chain.ProviderId, 1006
	wantChain.ServiceFlags1 &^= spi.XP1_IFS_HANDLES
	wantChain.ProtocolChain = spi.WSAProtocolChain{ChainLen: 2, ChainEntries: [7]spi.CatalogEntryId{1005, 1001}}
	wantChain.ProtocolName = "Sniffer over [MSAFD Tcpip [TCP/IP]]"
	if diff := cmp.Diff(wantChain, chain); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	if chain.ProviderId == guid(1) || chain.ProviderId.IsZero() {
		t.Errorf("chain GUID %v: want its own", chain.ProviderId)
	}
	if path, _ := c.WSCGetProviderPath(chain.ProviderId); path != `C:\lsp.dll` {
		t.Errorf("chain path %q", path)
	}
	if diff := cmp.Diff([]spi.CatalogEntryId{1006, 1001, 1002, 1003, 1004, 1005}, idsOf(enum(t, c))); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if cats, _ := c.WSCGetProviderInfo(guid(1), spi.ProviderInfoLspCategories); cats != spi.LSP_INSPECTOR {
		t.Errorf("categories %#x", cats)
	}
	checkLint(t, c)
}

func TestInstallLSPIFSOverSeveralEntries(t *testing.T) {
	c := catalog.NewDefault()
	res, err := c.InstallLSP(catalog.LSP{ProviderId: guid(1), Path: "ifs.dll", Name: "IFS", IFS: true,
		Over: []spi.CatalogEntryId{catalog.DefaultUDPIPv6, catalog.DefaultTCPIPv4}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]spi.CatalogEntryId{res.Chains[0], res.Chains[1], 1001, 1002, 1003, 1004, res.Layered}, idsOf(enum(t, c))); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	for i, over := range []spi.CatalogEntryId{catalog.DefaultUDPIPv6, catalog.DefaultTCPIPv4} {
		ch := entry(t, c, res.Chains[i])
		if !ch.IFS() || ch.AddressFamily != entry(t, c, over).AddressFamily {
			t.Errorf("chain over %d: IFS %v, af %d", over, ch.IFS(), ch.AddressFamily)
		}
	}
	if l := entry(t, c, res.Layered); !l.IFS() || l.AddressFamily != spi.AF_INET6 {
		t.Errorf("layered entry: IFS %v, af %d; want a copy of the first entry layered over", l.IFS(), l.AddressFamily)
	}
	checkLint(t, c)
}

func TestInstallLSPOverAnotherLSPsChain(t *testing.T) {
	c := catalog.NewDefault()
	a := lspOver(t, c, 1, "A", false, catalog.DefaultTCPIPv4)
	b := lspOver(t, c, 2, "B", false, a.Chains[0])
	bc := entry(t, c, b.Chains[0])
	if diff := cmp.Diff([]spi.CatalogEntryId{b.Layered, a.Chains[0], catalog.DefaultTCPIPv4}, bc.ProtocolChain.Entries()); diff != "" {
		t.Errorf("B's chain (-want +got):\n%s", diff)
	}
	if bc.ProtocolName != "B over [A over [MSAFD Tcpip [TCP/IP]]]" {
		t.Errorf("name %q", bc.ProtocolName)
	}
	if got, _ := c.View().Choose(spi.AF_INET, spi.SOCK_STREAM, 0, nil); got.CatalogEntryId != b.Chains[0] {
		t.Errorf("socket() picks %d, want B's chain %d", got.CatalogEntryId, b.Chains[0])
	}
	checkLint(t, c)
}

func TestInstallLSPChainGUIDs(t *testing.T) {
	lsp := catalog.LSP{ProviderId: guid(1), Path: "l.dll", Name: "L",
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4, catalog.DefaultUDPIPv4}}
	chainGUIDs := func(lsp catalog.LSP) []spi.GUID {
		c := catalog.NewDefault()
		res, err := c.InstallLSP(lsp)
		if err != nil {
			t.Fatal(err)
		}
		return []spi.GUID{entry(t, c, res.Chains[0]).ProviderId, entry(t, c, res.Chains[1]).ProviderId}
	}
	first, again := chainGUIDs(lsp), chainGUIDs(lsp)
	if diff := cmp.Diff(first, again); diff != "" {
		t.Errorf("derived chain GUIDs differ between runs (-first +again):\n%s", diff)
	}
	if first[0] == first[1] || first[0].Data3>>12 != 5 {
		t.Errorf("derived GUIDs %v: want distinct version-5 GUIDs", first)
	}
	lsp.ChainProviderIds = []spi.GUID{guid(7), guid(8)}
	if diff := cmp.Diff(lsp.ChainProviderIds, chainGUIDs(lsp)); diff != "" {
		t.Errorf("given chain GUIDs (-want +got):\n%s", diff)
	}
}

func TestInstallLSPRejectsBadInput(t *testing.T) {
	// Each case runs on the default catalog plus a layered entry (1005,
	// guid(9)) and a chain of length 7 ... built below.
	good := catalog.LSP{ProviderId: guid(1), Path: "l.dll", Name: "L", Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4}}
	with := func(f func(*catalog.LSP)) catalog.LSP {
		l := good
		f(&l)
		return l
	}
	tests := []struct {
		name string
		lsp  catalog.LSP
		op   string
		want spi.Errno
	}{
		{"no entries to layer over", with(func(l *catalog.LSP) { l.Over = nil }), "WSCInstallProvider", spi.WSAEINVAL},
		{"unknown entry", with(func(l *catalog.LSP) { l.Over = []spi.CatalogEntryId{4242} }), "WSCInstallProvider", spi.WSAEINVAL},
		{"layered entry", with(func(l *catalog.LSP) { l.Over = []spi.CatalogEntryId{1005} }), "WSCInstallProvider", spi.WSAEINVAL},
		{"full chain", with(func(l *catalog.LSP) { l.Over = []spi.CatalogEntryId{fullChain} }), "WSCInstallProvider", spi.WSAEINVAL},
		{"LSP GUID installed", with(func(l *catalog.LSP) { l.ProviderId = guid(9) }), "WSCInstallProvider", spi.WSANO_RECOVERY},
		{"GUID_NULL", with(func(l *catalog.LSP) { l.ProviderId = spi.GUID{} }), "WSCInstallProvider", spi.WSAEINVAL},
		{"empty path", with(func(l *catalog.LSP) { l.Path = "" }), "WSCInstallProvider", spi.WSAEINVAL},
		{"chain GUID count", with(func(l *catalog.LSP) { l.ChainProviderIds = []spi.GUID{guid(2), guid(3)} }), "WSCInstallProvider", spi.WSAEINVAL},
		{"chain GUID installed", with(func(l *catalog.LSP) { l.ChainProviderIds = []spi.GUID{catalog.LoopbackProviderId} }), "WSCInstallProvider", spi.WSANO_RECOVERY},
		{"chain GUID equal to the LSP's", with(func(l *catalog.LSP) { l.ChainProviderIds = []spi.GUID{guid(1)} }), "WSCInstallProvider", spi.WSANO_RECOVERY},
		{"name too long for the chain", with(func(l *catalog.LSP) { l.Name = strings.Repeat("n", 240) }), "WSCInstallProvider", spi.WSAEINVAL},
		{"bad categories", with(func(l *catalog.LSP) { l.Categories = 0x100 }), "WSCSetProviderInfo", spi.WSAEINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := catalog.NewDefault()
			buildFullChain(t, c)
			before, serial := enum(t, c), c.Serial()
			res, err := c.InstallLSP(tt.lsp)
			checkOpErr(t, err, tt.op, tt.want)
			if res.Layered != 0 || res.Chains != nil {
				t.Errorf("result %+v with an error", res)
			}
			if diff := cmp.Diff(before, enum(t, c)); diff != "" || c.Serial() != serial {
				t.Errorf("catalog changed (-before +after):\n%s", diff)
			}
			if _, err := c.WSCGetProviderPath(guid(1)); err == nil && tt.lsp.ProviderId == guid(1) {
				t.Error("the LSP's layered entry stayed installed")
			}
		})
	}
}

// fullChain is the id buildFullChain gives a chain of MAX_PROTOCOL_CHAIN
// entries: six LSPs stacked over TCP/IPv4.
const fullChain = spi.CatalogEntryId(1017)

// buildFullChain installs a lone layered entry (1005, guid(9)) and six
// stacked LSPs over TCP/IPv4, the last of whose chains (1017) is full.
func buildFullChain(t *testing.T, c *catalog.Catalog) {
	t.Helper()
	install(t, c, guid(9), "lone.dll", layered("lone", false))
	over := catalog.DefaultTCPIPv4
	for i := range 6 {
		over = lspOver(t, c, uint32(20+i), "S", false, over).Chains[0]
	}
	if p := entry(t, c, over); over != fullChain || p.ProtocolChain.ChainLen != spi.MAX_PROTOCOL_CHAIN {
		t.Fatalf("full chain is %d with ChainLen %d", over, p.ProtocolChain.ChainLen)
	}
}
