package wild_test

import (
	"errors"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

func TestStartupFailsMakesSocketCreationFailWithWSAEPROVIDERFAILEDINIT(t *testing.T) {
	m := wsspi.NewMachine()
	lsp, _ := must2(wild.InstallStartupFails(m, catalog.DefaultTCPIPv4))(t)
	c := newClient(t, m)
	// What libuv's uv_winsock_init saw, and aborted on.
	if _, err := c.th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP); !errors.Is(err, spi.WSAEPROVIDERFAILEDINIT) {
		t.Fatalf("socket: %v, want WSAEPROVIDERFAILEDINIT (10106)", err)
	}
	if n := lsp.Counts().Startups; n != 1 {
		t.Errorf("%d WSPStartup calls, want 1", n)
	}
	baseStillServes(t, c)
}

func TestMissingDLLMakesSocketCreationFailWithWSAEPROVIDERFAILEDINIT(t *testing.T) {
	m := wsspi.NewMachine()
	must(wild.InstallMissingDLL(m, catalog.DefaultTCPIPv4, catalog.DefaultUDPIPv4))(t)
	c := newClient(t, m)
	for _, typ := range []int32{spi.SOCK_STREAM, spi.SOCK_DGRAM} {
		if _, err := c.th.Socket(spi.AF_INET, typ, 0); !errors.Is(err, spi.WSAEPROVIDERFAILEDINIT) {
			t.Errorf("socket(AF_INET, %d): %v, want WSAEPROVIDERFAILEDINIT (10106)", typ, err)
		}
	}
	if e := spi.WSAEPROVIDERFAILEDINIT; e != 10106 {
		t.Errorf("WSAEPROVIDERFAILEDINIT is %d, Windows' is 10106", e)
	}
	baseStillServes(t, c)
}

// baseStillServes checks that the base TCP/IPv4 entry, named by its
// protocol info, still makes sockets, and IPv6, which no layer covers.
func baseStillServes(t *testing.T, c *client) {
	t.Helper()
	all := must(c.p.WSAEnumProtocols(nil))(t)
	for _, e := range all {
		if e.CatalogEntryId == catalog.DefaultTCPIPv4 {
			s := must(c.th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &e, 0, spi.WSA_FLAG_OVERLAPPED))(t)
			check(t, c.th.Closesocket(s))
		}
	}
	s := must(c.th.Socket(spi.AF_INET6, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	check(t, c.th.Closesocket(s))
}
