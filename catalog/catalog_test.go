package catalog_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

func TestInstallAssignsIdsFrom1001(t *testing.T) {
	c := catalog.New()
	install(t, c, guid(1), "a.dll", tcp4, base("UDP", spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))
	install(t, c, guid(2), "b.dll", base("TCP6", spi.AF_INET6, spi.SOCK_STREAM, spi.IPPROTO_TCP))
	want := []spi.CatalogEntryId{1001, 1002, 1003}
	if diff := cmp.Diff(want, idsOf(enum(t, c))); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestInstallFillsProviderIdAndBaseChain(t *testing.T) {
	c := catalog.New()
	in := tcp4
	in.ProviderId = guid(99)                // overwritten
	in.CatalogEntryId = 5                   // overwritten
	in.ProtocolChain.ChainEntries[3] = 1234 // unused tail, cleared
	install(t, c, guid(1), "a.dll", in)
	want := tcp4
	want.ProviderId = guid(1)
	want.CatalogEntryId = 1001
	want.ProtocolChain.ChainEntries[0] = 1001
	if diff := cmp.Diff([]spi.WSAProtocolInfo{want}, enum(t, c)); diff != "" {
		t.Errorf("installed entry (-want +got):\n%s", diff)
	}
}

func TestInstallAcceptsBaseNamingItsOwnId(t *testing.T) {
	c := catalog.New()
	in := tcp4
	in.ProtocolChain.ChainEntries[0] = 1001
	install(t, c, guid(1), "a.dll", in)
	if got := entry(t, c, 1001).ProtocolChain.ChainEntries[0]; got != 1001 {
		t.Errorf("ChainEntries[0] = %d, want 1001", got)
	}
}

func TestInstallOneGUIDManyEntries(t *testing.T) {
	c := catalog.NewDefault()
	for _, p := range enum(t, c) {
		if p.ProviderId != catalog.LoopbackProviderId {
			t.Errorf("entry %d has provider %v, want %v", p.CatalogEntryId, p.ProviderId, catalog.LoopbackProviderId)
		}
	}
	if n := len(enum(t, c)); n != 4 {
		t.Errorf("%d entries, want 4", n)
	}
}

func TestInstallDuplicateGUIDFailsWithNoRecovery(t *testing.T) {
	c := catalog.NewDefault()
	before, serial := enum(t, c), c.Serial()
	err := c.WSCInstallProvider(catalog.LoopbackProviderId, "other.dll", []spi.WSAProtocolInfo{tcp4})
	checkOpErr(t, err, "WSCInstallProvider", spi.WSANO_RECOVERY)
	if diff := cmp.Diff(before, enum(t, c)); diff != "" {
		t.Errorf("catalog changed (-before +after):\n%s", diff)
	}
	if c.Serial() != serial {
		t.Errorf("serial %d, want %d", c.Serial(), serial)
	}
}

func TestInstallRejectsBadInput(t *testing.T) {
	// The default catalog holds bases 1001..1004; 1005 is a layered entry.
	long := func(n int) string { return strings.Repeat("x", n) }
	withChain := func(p spi.WSAProtocolInfo, n int32, ids ...spi.CatalogEntryId) spi.WSAProtocolInfo {
		p.ProtocolChain = spi.WSAProtocolChain{ChainLen: n}
		copy(p.ProtocolChain.ChainEntries[:], ids)
		return p
	}
	named := func(name string) spi.WSAProtocolInfo { p := tcp4; p.ProtocolName = name; return p }
	tests := []struct {
		name  string
		guid  spi.GUID
		path  string
		infos []spi.WSAProtocolInfo
	}{
		{"GUID_NULL", spi.GUID{}, "x.dll", []spi.WSAProtocolInfo{tcp4}},
		{"empty path", guid(7), "", []spi.WSAProtocolInfo{tcp4}},
		{"path longer than MAX_PATH", guid(7), long(spi.MAX_PATH + 1), []spi.WSAProtocolInfo{tcp4}},
		{"empty list", guid(7), "x.dll", nil},
		{"ChainLen -1", guid(7), "x.dll", []spi.WSAProtocolInfo{withChain(tcp4, -1)}},
		{"ChainLen 8", guid(7), "x.dll", []spi.WSAProtocolInfo{withChain(tcp4, 8)}},
		{"base naming another entry", guid(7), "x.dll", []spi.WSAProtocolInfo{withChain(tcp4, 1, 1001)}},
		{"chain naming an unknown id", guid(7), "x.dll", []spi.WSAProtocolInfo{chainOver("c", tcp4, false, 1005, 4242)}},
		{"chain naming itself", guid(7), "x.dll", []spi.WSAProtocolInfo{chainOver("c", tcp4, false, 1006, 1001)}},
		{"chain naming an entry twice", guid(7), "x.dll", []spi.WSAProtocolInfo{chainOver("c", tcp4, false, 1005, 1005, 1001)}},
		{"chain naming a later entry of the same call", guid(7), "x.dll",
			[]spi.WSAProtocolInfo{chainOver("c", tcp4, false, 1007, 1001), layered("l2", false)}},
		{"chain whose top is a base", guid(7), "x.dll", []spi.WSAProtocolInfo{chainOver("c", tcp4, false, 1002, 1001)}},
		{"chain whose bottom is a layered entry", guid(7), "x.dll", []spi.WSAProtocolInfo{chainOver("c", tcp4, false, 1005, 1005)}},
		{"chain with a base in the middle", guid(7), "x.dll", []spi.WSAProtocolInfo{chainOver("c", tcp4, false, 1005, 1002, 1001)}},
		{"chain of length 8 entries", guid(7), "x.dll", []spi.WSAProtocolInfo{withChain(tcp4, 8, 1005, 1001)}},
		{"protocol name too long", guid(7), "x.dll", []spi.WSAProtocolInfo{named(long(spi.WSAPROTOCOL_LEN + 1))}},
		{"good entry then a bad one", guid(7), "x.dll", []spi.WSAProtocolInfo{tcp4, withChain(tcp4, 9)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := catalog.NewDefault()
			install(t, c, guid(5), "lsp.dll", layered("lsp", false))
			before, serial := enum(t, c), c.Serial()
			err := c.WSCInstallProvider(tt.guid, tt.path, tt.infos)
			checkOpErr(t, err, "WSCInstallProvider", spi.WSAEINVAL)
			if diff := cmp.Diff(before, enum(t, c)); diff != "" {
				t.Errorf("catalog changed (-before +after):\n%s", diff)
			}
			if c.Serial() != serial {
				t.Errorf("serial %d, want %d", c.Serial(), serial)
			}
			if _, err := c.WSCGetProviderPath(tt.guid); err == nil {
				t.Errorf("provider %v has a path after a failed install", tt.guid)
			}
			// The failed call used no ids: the next install gets 1006.
			install(t, c, guid(8), "y.dll", tcp4)
			if last := enum(t, c); last[len(last)-1].CatalogEntryId != 1006 {
				t.Errorf("next id %d, want 1006", last[len(last)-1].CatalogEntryId)
			}
		})
	}
}

func TestInstallNameOfWSAPROTOCOL_LENFits(t *testing.T) {
	c := catalog.New()
	p := tcp4
	p.ProtocolName = strings.Repeat("é", spi.WSAPROTOCOL_LEN)
	install(t, c, guid(1), strings.Repeat("p", spi.MAX_PATH), p)
}

// TestInstallTwoStepLSP follows Microsoft's installer: install the hidden
// layered entry, learn its id by enumerating, install a chain naming it
// under a second GUID.
func TestInstallTwoStepLSP(t *testing.T) {
	c := catalog.NewDefault()
	install(t, c, guid(10), `C:\lsp.dll`, layered("My LSP", false))
	var layeredID spi.CatalogEntryId
	for _, p := range enum(t, c) {
		if p.ProviderId == guid(10) {
			layeredID = p.CatalogEntryId
		}
	}
	if layeredID != 1005 {
		t.Fatalf("layered id %d, want 1005", layeredID)
	}
	tcp := entry(t, c, catalog.DefaultTCPIPv4)
	install(t, c, guid(11), `C:\lsp.dll`, chainOver("My LSP over [TCP]", tcp, false, layeredID, tcp.CatalogEntryId))
	got := entry(t, c, 1006)
	if diff := cmp.Diff([]spi.CatalogEntryId{1005, 1001}, got.ProtocolChain.Entries()); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	if lint := c.Lint(); len(lint) != 1 || lint[0].Rule != catalog.RuleShadowedChain {
		t.Errorf("Lint = %v, want only the shadowed chain (not reordered yet)", lint)
	}
}

func TestIdsAreNeverReused(t *testing.T) {
	c := catalog.New()
	install(t, c, guid(1), "a.dll", tcp4)
	if err := c.WSCDeinstallProvider(guid(1)); err != nil {
		t.Fatal(err)
	}
	install(t, c, guid(1), "a.dll", tcp4)
	if diff := cmp.Diff([]spi.CatalogEntryId{1002}, idsOf(enum(t, c))); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}

func TestDeinstallRemovesEveryEntryOfTheGUID(t *testing.T) {
	c := catalog.NewDefault()
	install(t, c, guid(1), "a.dll", base("x", 99, 1, 1))
	if err := c.WSCSetProviderInfo(catalog.LoopbackProviderId, spi.ProviderInfoLspCategories, spi.LSP_SYSTEM); err != nil {
		t.Fatal(err)
	}
	if err := c.WSCDeinstallProvider(catalog.LoopbackProviderId); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]spi.CatalogEntryId{1005}, idsOf(enum(t, c))); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	_, err := c.WSCGetProviderPath(catalog.LoopbackProviderId)
	checkOpErr(t, err, "WSCGetProviderPath", spi.WSAEINVAL)
	_, err = c.WSCGetProviderInfo(catalog.LoopbackProviderId, spi.ProviderInfoLspCategories)
	checkOpErr(t, err, "WSCGetProviderInfo", spi.WSAEINVALIDPROVIDER)
}

func TestDeinstallLeavesChainsNamingTheEntries(t *testing.T) {
	c := catalog.NewDefault()
	lsp, err := c.InstallLSP(catalog.LSP{ProviderId: guid(1), Path: "lsp.dll", Name: "L", Over: []spi.CatalogEntryId{1001}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WSCDeinstallProvider(guid(1)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.View().Entry(lsp.Chains[0]); !ok {
		t.Errorf("chain %d was removed with the layered entry", lsp.Chains[0])
	}
}

func TestDeinstallUnknownGUIDFails(t *testing.T) {
	c := catalog.NewDefault()
	before := enum(t, c)
	checkOpErr(t, c.WSCDeinstallProvider(guid(42)), "WSCDeinstallProvider", spi.WSAEINVAL)
	if diff := cmp.Diff(before, enum(t, c)); diff != "" {
		t.Errorf("catalog changed (-before +after):\n%s", diff)
	}
}

func TestUpdateReplacesNamedEntriesInPlace(t *testing.T) {
	c := catalog.NewDefault()
	p := entry(t, c, catalog.DefaultUDPIPv4)
	p.ProtocolName = "renamed"
	p.ProviderId = guid(77) // ignored
	if err := c.WSCUpdateProvider(catalog.LoopbackProviderId, `D:\new.dll`, []spi.WSAProtocolInfo{p}); err != nil {
		t.Fatal(err)
	}
	want := catalog.DefaultEntries()
	for i := range want {
		want[i].ProviderId = catalog.LoopbackProviderId
		want[i].CatalogEntryId = catalog.DefaultTCPIPv4 + spi.CatalogEntryId(i)
		want[i].ProtocolChain.ChainEntries[0] = want[i].CatalogEntryId
	}
	want[1].ProtocolName = "renamed"
	if diff := cmp.Diff(want, enum(t, c)); diff != "" {
		t.Errorf("catalog (-want +got):\n%s", diff)
	}
	if path, _ := c.WSCGetProviderPath(catalog.LoopbackProviderId); path != `D:\new.dll` {
		t.Errorf("path %q, want the new one", path)
	}
}

func TestUpdateRejectsBadInput(t *testing.T) {
	c0 := catalog.NewDefault()
	tcp := entry(t, c0, 1001)
	other := tcp
	other.CatalogEntryId = 1005 // an entry of guid(1)
	unknown := tcp
	unknown.CatalogEntryId = 4242
	self := tcp
	self.ProtocolChain = spi.WSAProtocolChain{ChainLen: 2, ChainEntries: [7]spi.CatalogEntryId{1001, 1002}}
	tooLong := tcp
	tooLong.ProtocolChain.ChainLen = 8
	tests := []struct {
		name  string
		guid  spi.GUID
		infos []spi.WSAProtocolInfo
	}{
		{"unknown GUID", guid(42), []spi.WSAProtocolInfo{tcp}},
		{"GUID_NULL", spi.GUID{}, []spi.WSAProtocolInfo{tcp}},
		{"empty list", catalog.LoopbackProviderId, nil},
		{"entry of another provider", catalog.LoopbackProviderId, []spi.WSAProtocolInfo{other}},
		{"entry that is not installed", catalog.LoopbackProviderId, []spi.WSAProtocolInfo{unknown}},
		{"entry named twice", catalog.LoopbackProviderId, []spi.WSAProtocolInfo{tcp, tcp}},
		{"chain naming itself", catalog.LoopbackProviderId, []spi.WSAProtocolInfo{self}},
		{"ChainLen 8", catalog.LoopbackProviderId, []spi.WSAProtocolInfo{tcp, tooLong}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := catalog.NewDefault()
			install(t, c, guid(1), "a.dll", base("other", 99, 1, 1))
			before, serial := enum(t, c), c.Serial()
			checkOpErr(t, c.WSCUpdateProvider(tt.guid, "new.dll", tt.infos), "WSCUpdateProvider", spi.WSAEINVAL)
			if diff := cmp.Diff(before, enum(t, c)); diff != "" {
				t.Errorf("catalog changed (-before +after):\n%s", diff)
			}
			if path, _ := c.WSCGetProviderPath(catalog.LoopbackProviderId); path != catalog.LoopbackPath || c.Serial() != serial {
				t.Errorf("path %q serial %d after a failed update", path, c.Serial())
			}
		})
	}
}

func TestWriteProviderOrderSetsOrder(t *testing.T) {
	c := catalog.NewDefault()
	order := []spi.CatalogEntryId{1004, 1002, 1001, 1003}
	if err := c.WSCWriteProviderOrder(order); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(order, idsOf(enum(t, c))); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

func TestWriteProviderOrderRejectsBadLists(t *testing.T) {
	tests := []struct {
		name string
		ids  []spi.CatalogEntryId
	}{
		{"empty", nil},
		{"missing an id", []spi.CatalogEntryId{1001, 1002, 1003}},
		{"duplicate id", []spi.CatalogEntryId{1001, 1002, 1003, 1003}},
		{"unknown id", []spi.CatalogEntryId{1001, 1002, 1003, 9999}},
		{"extra id", []spi.CatalogEntryId{1001, 1002, 1003, 1004, 1005}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := catalog.NewDefault()
			before := enum(t, c)
			checkOpErr(t, c.WSCWriteProviderOrder(tt.ids), "WSCWriteProviderOrder", spi.WSAEINVAL)
			if diff := cmp.Diff(before, enum(t, c)); diff != "" {
				t.Errorf("catalog changed (-before +after):\n%s", diff)
			}
		})
	}
}

func TestEnumProtocols(t *testing.T) {
	c := catalog.NewDefault()
	lsp, err := c.InstallLSP(catalog.LSP{ProviderId: guid(1), Path: "lsp.dll", Name: "L", Over: []spi.CatalogEntryId{1001, 1002}})
	if err != nil {
		t.Fatal(err)
	}
	hiddenBase := base("hidden", spi.AF_INET, spi.SOCK_RAW, 255)
	hiddenBase.ProviderFlags |= spi.PFL_HIDDEN
	install(t, c, guid(2), "raw.dll", hiddenBase) // 1008
	tests := []struct {
		name      string
		wsc       bool
		protocols []int32
		want      []spi.CatalogEntryId
	}{
		{"WSC all", true, nil, []spi.CatalogEntryId{lsp.Chains[0], lsp.Chains[1], 1001, 1002, 1003, 1004, lsp.Layered, 1008}},
		{"WSA all", false, nil, []spi.CatalogEntryId{lsp.Chains[0], lsp.Chains[1], 1001, 1002, 1003, 1004}},
		{"WSC empty filter is no filter", true, []int32{}, []spi.CatalogEntryId{lsp.Chains[0], lsp.Chains[1], 1001, 1002, 1003, 1004, lsp.Layered, 1008}},
		{"WSA TCP", false, []int32{spi.IPPROTO_TCP}, []spi.CatalogEntryId{lsp.Chains[0], 1001, 1003}},
		{"WSA UDP and TCP", false, []int32{spi.IPPROTO_UDP, spi.IPPROTO_TCP}, []spi.CatalogEntryId{lsp.Chains[0], lsp.Chains[1], 1001, 1002, 1003, 1004}},
		{"WSC protocol 0 matches the layered entry's range", true, []int32{0}, []spi.CatalogEntryId{lsp.Layered}},
		{"WSC 255", true, []int32{255}, []spi.CatalogEntryId{1008}},
		{"WSA 255 hidden", false, []int32{255}, []spi.CatalogEntryId{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enumerate := c.WSAEnumProtocols
			if tt.wsc {
				enumerate = c.WSCEnumProtocols
			}
			got, err := enumerate(tt.protocols)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, idsOf(got)); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProviderPath(t *testing.T) {
	c := catalog.NewDefault()
	v := c.View()
	for _, get := range []struct {
		op string
		fn func(spi.GUID) (string, error)
	}{
		{"WSCGetProviderPath", c.WSCGetProviderPath},
		{"WSCGetProviderPath", v.WSCGetProviderPath},
		{"WPUGetProviderPath", v.WPUGetProviderPath},
	} {
		path, err := get.fn(catalog.LoopbackProviderId)
		if err != nil || path != `%SystemRoot%\system32\mswsock.dll` {
			t.Errorf("%s = %q, %v; want the unexpanded MSAFD path", get.op, path, err)
		}
		_, err = get.fn(guid(5))
		checkOpErr(t, err, get.op, spi.WSAEINVAL)
	}
}

func TestProviderInfo(t *testing.T) {
	c := catalog.NewDefault()
	if got, err := c.WSCGetProviderInfo(catalog.LoopbackProviderId, spi.ProviderInfoLspCategories); got != 0 || err != nil {
		t.Errorf("categories before set = %#x, %v; want 0, nil", got, err)
	}
	const cats = spi.LSP_FIREWALL | spi.LSP_INSPECTOR
	if err := c.WSCSetProviderInfo(catalog.LoopbackProviderId, spi.ProviderInfoLspCategories, cats); err != nil {
		t.Fatal(err)
	}
	if got, err := c.WSCGetProviderInfo(catalog.LoopbackProviderId, spi.ProviderInfoLspCategories); got != cats || err != nil {
		t.Errorf("categories = %#x, %v; want %#x", got, err, cats)
	}
	tests := []struct {
		name     string
		guid     spi.GUID
		infoType int
		cats     uint32
		want     spi.Errno
	}{
		{"audit", catalog.LoopbackProviderId, spi.ProviderInfoAudit, 0, spi.ERROR_CALL_NOT_IMPLEMENTED},
		{"unknown info type", catalog.LoopbackProviderId, 7, 0, spi.WSAEINVAL},
		{"unknown provider", guid(3), spi.ProviderInfoLspCategories, 0, spi.WSAEINVALIDPROVIDER},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkOpErr(t, c.WSCSetProviderInfo(tt.guid, tt.infoType, tt.cats), "WSCSetProviderInfo", tt.want)
			_, err := c.WSCGetProviderInfo(tt.guid, tt.infoType)
			checkOpErr(t, err, "WSCGetProviderInfo", tt.want)
		})
	}
	checkOpErr(t, c.WSCSetProviderInfo(catalog.LoopbackProviderId, spi.ProviderInfoLspCategories, 0x100),
		"WSCSetProviderInfo", spi.WSAEINVAL)
	if got, _ := c.WSCGetProviderInfo(catalog.LoopbackProviderId, spi.ProviderInfoLspCategories); got != cats {
		t.Errorf("categories changed by a failed set: %#x", got)
	}
}

func TestViewKeepsTheCatalogOfItsSerial(t *testing.T) {
	c := catalog.NewDefault()
	v := c.View()
	if v.Serial() != 1 {
		t.Errorf("serial of the default catalog %d, want 1", v.Serial())
	}
	install(t, c, guid(1), "a.dll", base("new", 99, 1, 1))
	if err := c.WSCWriteProviderOrder([]spi.CatalogEntryId{1005, 1004, 1003, 1002, 1001}); err != nil {
		t.Fatal(err)
	}
	if c.Serial() != 3 {
		t.Errorf("serial %d after two changes, want 3", c.Serial())
	}
	old, _ := v.WSCEnumProtocols(nil)
	if diff := cmp.Diff([]spi.CatalogEntryId{1001, 1002, 1003, 1004}, idsOf(old)); diff != "" {
		t.Errorf("old view changed (-want +got):\n%s", diff)
	}
	if _, err := v.WSCGetProviderPath(guid(1)); err == nil {
		t.Error("old view knows a provider installed after it")
	}
}

func TestZeroCatalogIsEmpty(t *testing.T) {
	var c catalog.Catalog
	if got := enum(t, &c); len(got) != 0 {
		t.Errorf("zero catalog holds %v", got)
	}
	install(t, &c, guid(1), "a.dll", tcp4)
	if diff := cmp.Diff([]spi.CatalogEntryId{1001}, idsOf(enum(t, &c))); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
}
