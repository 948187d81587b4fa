package catalog_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// checkLint compares the findings of c with want, ignoring Detail, which
// must not be empty.
func checkLint(t *testing.T, c *catalog.Catalog, want ...catalog.Finding) {
	t.Helper()
	got := c.Lint()
	if want == nil {
		want = []catalog.Finding{}
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(catalog.Finding{}, "Detail")); diff != "" {
		t.Errorf("Lint (-want +got):\n%s", diff)
	}
	for _, f := range got {
		if f.Detail == "" || !strings.HasPrefix(f.String(), string(f.Rule)+" [") {
			t.Errorf("finding %q lacks a detail or a rule prefix", f)
		}
	}
}

func finding(rule catalog.Rule, ids ...spi.CatalogEntryId) catalog.Finding {
	return catalog.Finding{Rule: rule, Entries: ids}
}

// lspOver installs an LSP named name over the entries over and returns its
// ids.
func lspOver(t *testing.T, c *catalog.Catalog, n uint32, name string, ifs bool, over ...spi.CatalogEntryId) catalog.LSPEntries {
	t.Helper()
	res, err := c.InstallLSP(catalog.LSP{ProviderId: guid(n), Path: name + ".dll", Name: name, IFS: ifs, Over: over})
	if err != nil {
		t.Fatalf("InstallLSP(%s): %v", name, err)
	}
	return res
}

// update rewrites entry id of c with f.
func update(t *testing.T, c *catalog.Catalog, id spi.CatalogEntryId, f func(*spi.WSAProtocolInfo)) {
	t.Helper()
	p := entry(t, c, id)
	f(&p)
	path, _ := c.WSCGetProviderPath(p.ProviderId)
	if err := c.WSCUpdateProvider(p.ProviderId, path, []spi.WSAProtocolInfo{p}); err != nil {
		t.Fatalf("WSCUpdateProvider(%d): %v", id, err)
	}
}

func TestLintDefaultCatalogIsClean(t *testing.T) {
	checkLint(t, catalog.NewDefault())
}

func TestLintIFSChainWithNonIFSLayer(t *testing.T) {
	c := catalog.NewDefault()
	lsp := lspOver(t, c, 1, "NonIFS", false, catalog.DefaultTCPIPv4)
	checkLint(t, c) // the installer clears the IFS bit: clean
	update(t, c, lsp.Chains[0], func(p *spi.WSAProtocolInfo) { p.ServiceFlags1 |= spi.XP1_IFS_HANDLES })
	checkLint(t, c, finding(catalog.RuleIFSChainNonIFSElement, lsp.Chains[0], lsp.Layered))
}

func TestLintIFSChainWithNonIFSBase(t *testing.T) {
	c := catalog.NewDefault()
	update(t, c, catalog.DefaultTCPIPv4, func(p *spi.WSAProtocolInfo) { p.ServiceFlags1 &^= spi.XP1_IFS_HANDLES })
	lsp := lspOver(t, c, 1, "IFS", true, catalog.DefaultTCPIPv4)
	checkLint(t, c, // the chain itself is computed non-IFS; the layer is IFS over a non-IFS base
		finding(catalog.RuleIFSAboveNonIFS, lsp.Chains[0], lsp.Layered, catalog.DefaultTCPIPv4))
	update(t, c, lsp.Chains[0], func(p *spi.WSAProtocolInfo) { p.ServiceFlags1 |= spi.XP1_IFS_HANDLES })
	checkLint(t, c,
		finding(catalog.RuleIFSChainNonIFSElement, lsp.Chains[0], catalog.DefaultTCPIPv4),
		finding(catalog.RuleIFSAboveNonIFS, lsp.Chains[0], lsp.Layered, catalog.DefaultTCPIPv4))
}

func TestLintIFSLayerAboveNonIFSLayer(t *testing.T) {
	t.Run("breaks", func(t *testing.T) {
		c := catalog.NewDefault()
		a := lspOver(t, c, 1, "A", false, catalog.DefaultTCPIPv4)
		b := lspOver(t, c, 2, "B", true, a.Chains[0])
		if bc := entry(t, c, b.Chains[0]); bc.IFS() {
			t.Errorf("chain of an IFS LSP over a non-IFS chain advertises XP1_IFS_HANDLES")
		}
		checkLint(t, c, finding(catalog.RuleIFSAboveNonIFS, b.Chains[0], b.Layered, a.Chains[0]))
	})
	t.Run("clean", func(t *testing.T) {
		c := catalog.NewDefault()
		b := lspOver(t, c, 2, "B", true, catalog.DefaultTCPIPv4)
		a := lspOver(t, c, 1, "A", false, b.Chains[0])
		bc, ac := entry(t, c, b.Chains[0]), entry(t, c, a.Chains[0])
		if !bc.IFS() || ac.IFS() {
			t.Errorf("IFS bits: B's chain %v, A's chain %v; want true, false", bc.IFS(), ac.IFS())
		}
		checkLint(t, c)
	})
}

func TestLintChainNamingMissingEntry(t *testing.T) {
	c := catalog.NewDefault()
	lsp := lspOver(t, c, 1, "L", false, catalog.DefaultTCPIPv4)
	checkLint(t, c)
	if err := c.WSCDeinstallProvider(guid(1)); err != nil {
		t.Fatal(err)
	}
	checkLint(t, c, finding(catalog.RuleMissingEntry, lsp.Chains[0], lsp.Layered))
}

func TestLintChainElementOfWrongKind(t *testing.T) {
	c := catalog.NewDefault()
	lsp := lspOver(t, c, 1, "L", false, catalog.DefaultTCPIPv4)
	checkLint(t, c)
	update(t, c, lsp.Layered, func(p *spi.WSAProtocolInfo) { p.ProtocolChain.ChainLen = spi.BASE_PROTOCOL })
	checkLint(t, c, finding(catalog.RuleWrongKind, lsp.Chains[0], lsp.Layered))
}

func TestLintUnusedLayeredEntry(t *testing.T) {
	c := catalog.NewDefault()
	install(t, c, guid(1), "l.dll", layered("orphan", false))
	checkLint(t, c, finding(catalog.RuleUnusedLayer, 1005))
	lspOver(t, c, 2, "used", false, catalog.DefaultUDPIPv4)
	checkLint(t, c, finding(catalog.RuleUnusedLayer, 1005))
}

func TestLintShadowedChain(t *testing.T) {
	t.Run("by its own base", func(t *testing.T) {
		c := catalog.NewDefault()
		install(t, c, guid(1), "l.dll", layered("L", false))
		install(t, c, guid(2), "l.dll", chainOver("L over TCP", entry(t, c, 1001), false, 1005, 1001))
		checkLint(t, c, finding(catalog.RuleShadowedChain, 1006, 1001))
		if f := c.Lint()[0]; !strings.Contains(f.Detail, "its own base entry") {
			t.Errorf("detail %q does not say the base shadows the chain", f.Detail)
		}
		if err := c.WSCWriteProviderOrder([]spi.CatalogEntryId{1006, 1001, 1002, 1003, 1004, 1005}); err != nil {
			t.Fatal(err)
		}
		checkLint(t, c)
	})
	t.Run("by another provider's entry", func(t *testing.T) {
		c := catalog.NewDefault()
		lsp := lspOver(t, c, 1, "L", false, catalog.DefaultTCPIPv4)
		other := tcp4
		other.ProtocolMaxOffset = 10 // covers TCP and more
		install(t, c, guid(2), "o.dll", other)
		order := append([]spi.CatalogEntryId{1007}, idsOf(enum(t, c))[:6]...)
		if err := c.WSCWriteProviderOrder(order); err != nil {
			t.Fatal(err)
		}
		checkLint(t, c, finding(catalog.RuleShadowedChain, lsp.Chains[0], 1007))
	})
	t.Run("not by a narrower entry", func(t *testing.T) {
		c := catalog.NewDefault()
		lsp := lspOver(t, c, 1, "L", false, catalog.DefaultTCPIPv4)
		narrow := tcp4
		narrow.ProviderFlags = 0 // does not match protocol 0, the chain does
		install(t, c, guid(2), "o.dll", narrow)
		if err := c.WSCWriteProviderOrder(append([]spi.CatalogEntryId{1007}, idsOf(enum(t, c))[:6]...)); err != nil {
			t.Fatal(err)
		}
		checkLint(t, c)
		_ = lsp
	})
}
