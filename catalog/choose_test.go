package catalog_test

import (
	"math"
	"testing"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// chooseCatalog is the default catalog, a raw IPv4 entry (1005, protocols 0
// to 255, no PFL_MATCHES_PROTOCOL_ZERO) and an LSP over TCP/IPv4 (layered
// 1006, chain 1007 first in order).
func chooseCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c := catalog.NewDefault()
	raw := base("RAW/IP", spi.AF_INET, spi.SOCK_RAW, 0)
	raw.ProviderFlags = 0
	raw.ProtocolMaxOffset = 255
	install(t, c, guid(1), "raw.dll", raw)
	if _, err := c.InstallLSP(catalog.LSP{ProviderId: guid(2), Path: "lsp.dll", Name: "L", Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4}}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChoose(t *testing.T) {
	c := chooseCatalog(t)
	v := c.View()
	info := func(id spi.CatalogEntryId) *spi.WSAProtocolInfo { return &spi.WSAProtocolInfo{CatalogEntryId: id} }
	const from = spi.FROM_PROTOCOL_INFO
	tests := []struct {
		name              string
		af, typ, protocol int32
		info              *spi.WSAProtocolInfo
		want              spi.CatalogEntryId
		wantErr           spi.Errno
	}{
		{"socket(AF_INET, SOCK_STREAM, 0) picks the chain", spi.AF_INET, spi.SOCK_STREAM, 0, nil, 1007, 0},
		{"TCP by number picks the chain", spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, nil, 1007, 0},
		{"TCP over IPv6", spi.AF_INET6, spi.SOCK_STREAM, 0, nil, catalog.DefaultTCPIPv6, 0},
		{"AF_UNSPEC matches any family", spi.AF_UNSPEC, spi.SOCK_DGRAM, spi.IPPROTO_UDP, nil, catalog.DefaultUDPIPv4, 0},
		{"all wildcards take the first protocol-zero entry", spi.AF_UNSPEC, 0, 0, nil, 1007, 0},
		{"type 0 matches any type", spi.AF_INET6, 0, spi.IPPROTO_UDP, nil, catalog.DefaultUDPIPv6, 0},
		{"protocol inside the range", spi.AF_INET, spi.SOCK_RAW, 1, nil, 1005, 0},
		{"protocol at the top of the range", spi.AF_INET, spi.SOCK_RAW, 255, nil, 1005, 0},
		{"protocol 0 without PFL_MATCHES_PROTOCOL_ZERO", spi.AF_INET, spi.SOCK_RAW, 0, nil, 0, spi.WSAEPROTONOSUPPORT},
		{"protocol above the range", spi.AF_INET, spi.SOCK_RAW, 256, nil, 0, spi.WSAEPROTONOSUPPORT},
		{"unknown family: last entry mismatches on family", 99, spi.SOCK_STREAM, 6, nil, 0, spi.WSAEAFNOSUPPORT},
		{"last entry (raw) mismatches on family", spi.AF_INET6, spi.SOCK_RAW, 1, nil, 0, spi.WSAEAFNOSUPPORT},
		{"last entry (raw) mismatches on type", spi.AF_INET, spi.SOCK_SEQPACKET, 0, nil, 0, spi.WSAESOCKTNOSUPPORT},
		{"FROM_PROTOCOL_INFO without info", from, spi.SOCK_STREAM, 0, nil, 0, spi.WSAEINVAL},
		{"FROM_PROTOCOL_INFO protocol without info", spi.AF_INET, spi.SOCK_STREAM, from, nil, 0, spi.WSAEINVAL},
		{"info names the base behind the chain", spi.AF_INET, spi.SOCK_STREAM, 0, info(1001), 1001, 0},
		{"info with FROM_PROTOCOL_INFO everywhere", from, from, from, info(catalog.DefaultUDPIPv6), catalog.DefaultUDPIPv6, 0},
		{"info is not checked against the triplet", spi.AF_INET6, spi.SOCK_DGRAM, 17, info(1001), 1001, 0},
		{"info names the chain", 0, 0, 0, info(1007), 1007, 0},
		{"info names a layered entry", spi.AF_INET, spi.SOCK_STREAM, 0, info(1006), 0, spi.WSAEINVAL},
		{"info names an unknown entry", spi.AF_INET, spi.SOCK_STREAM, 0, info(9999), 0, spi.WSAEINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Choose(tt.af, tt.typ, tt.protocol, tt.info)
			if tt.wantErr != 0 {
				checkOpErr(t, err, "WSASocket", tt.wantErr)
				if got.CatalogEntryId != 0 {
					t.Errorf("entry %d returned with an error", got.CatalogEntryId)
				}
				return
			}
			if err != nil {
				t.Fatalf("Choose: %v", err)
			}
			if got.CatalogEntryId != tt.want {
				t.Errorf("chose %d %q, want %d", got.CatalogEntryId, got.ProtocolName, tt.want)
			}
			if want, _ := v.Entry(tt.want); got != want {
				t.Errorf("chose %+v, want the catalog's entry %+v", got, want)
			}
		})
	}
}

func TestChooseLastEntryDecidesTheError(t *testing.T) {
	c := catalog.NewDefault()
	// UDP/IPv6 last: (AF_INET6, SOCK_STREAM, 17) fails on protocol at TCP/IPv6
	// but on type at UDP/IPv6, which is scanned last.
	_, err := c.View().Choose(spi.AF_INET6, spi.SOCK_STREAM, spi.IPPROTO_UDP, nil)
	checkOpErr(t, err, "WSASocket", spi.WSAESOCKTNOSUPPORT)
	if err := c.WSCWriteProviderOrder([]spi.CatalogEntryId{1001, 1002, 1004, 1003}); err != nil {
		t.Fatal(err)
	}
	_, err = c.View().Choose(spi.AF_INET6, spi.SOCK_STREAM, spi.IPPROTO_UDP, nil)
	checkOpErr(t, err, "WSASocket", spi.WSAEPROTONOSUPPORT)
}

func TestChooseFollowsCatalogOrder(t *testing.T) {
	c := catalog.NewDefault()
	second := base("second TCP", spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	install(t, c, guid(1), "b.dll", second)
	if got, _ := c.View().Choose(spi.AF_INET, spi.SOCK_STREAM, 0, nil); got.CatalogEntryId != 1001 {
		t.Errorf("chose %d, want 1001", got.CatalogEntryId)
	}
	if err := c.WSCWriteProviderOrder([]spi.CatalogEntryId{1005, 1001, 1002, 1003, 1004}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.View().Choose(spi.AF_INET, spi.SOCK_STREAM, 0, nil); got.CatalogEntryId != 1005 {
		t.Errorf("chose %d after reorder, want 1005", got.CatalogEntryId)
	}
}

func TestChooseEmptyCatalog(t *testing.T) {
	_, err := catalog.New().View().Choose(spi.AF_INET, spi.SOCK_STREAM, 0, nil)
	checkOpErr(t, err, "WSASocket", spi.WSAEINVAL)
}

func TestChooseSkipsLayeredEntriesOnly(t *testing.T) {
	c := catalog.New()
	l := layered("layer", true)
	l.SocketType, l.Protocol, l.ProviderFlags = spi.SOCK_STREAM, spi.IPPROTO_TCP, spi.PFL_MATCHES_PROTOCOL_ZERO
	install(t, c, guid(1), "l.dll", l)
	_, err := c.View().Choose(spi.AF_INET, spi.SOCK_STREAM, 0, nil)
	checkOpErr(t, err, "WSASocket", spi.WSAEINVAL) // nothing scanned
	hidden := tcp4
	hidden.ProviderFlags |= spi.PFL_HIDDEN
	install(t, c, guid(2), "h.dll", hidden)
	if got, err := c.View().Choose(spi.AF_INET, spi.SOCK_STREAM, 0, nil); err != nil || got.CatalogEntryId != 1002 {
		t.Errorf("Choose = %d, %v; want the hidden base 1002", got.CatalogEntryId, err)
	}
}

func TestChooseProtocolRangeDoesNotOverflow(t *testing.T) {
	c := catalog.New()
	p := base("edge", spi.AF_INET, spi.SOCK_RAW, math.MaxInt32-1)
	p.ProtocolMaxOffset = 10
	install(t, c, guid(1), "e.dll", p)
	if _, err := c.View().Choose(spi.AF_INET, spi.SOCK_RAW, math.MaxInt32, nil); err != nil {
		t.Errorf("Choose at the top of an int32 range: %v", err)
	}
	_, err := c.View().Choose(spi.AF_INET, spi.SOCK_RAW, math.MinInt32, nil)
	checkOpErr(t, err, "WSASocket", spi.WSAEPROTONOSUPPORT)
}
