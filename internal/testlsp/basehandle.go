package testlsp

import (
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// The base-handle hider's GUID and "DLL path".
var (
	BaseHandleHiderGUID = spi.MustParseGUID("{7E57A1F0-0004-4000-8000-000000000004}")
	BaseHandleHiderPath = `C:\testlsp\hidebase.dll`
)

// HideBaseHandle is the Before hook of an LSP that refuses SIO_BASE_HANDLE
// with WSAEFAULT, blocking or overlapped, as the Astrill VPN's ASProxy
// does to trio and qproxy64.dll to mio (docs/facts.md §13.4), and lets
// every other code through: SIO_BSP_HANDLE, SIO_BSP_HANDLE_SELECT and
// SIO_BSP_HANDLE_POLL still reach the layer below, the fallbacks mio and
// wepoll use (docs/facts.md §14.1).
func HideBaseHandle(c *layered.Call) layered.Verdict {
	if c.Op == layered.OpIoctl && c.Code == spi.SIO_BASE_HANDLE {
		return layered.Fail(spi.WSAEFAULT)
	}
	return layered.Pass()
}

// InstallBaseHandleHider installs, over the entries over, a non-IFS layer
// built on package layered whose Before hook is [HideBaseHandle], and
// returns the provider (its Stats) and its entries.
func InstallBaseHandleHider(m layered.Machine, over ...spi.CatalogEntryId) (*layered.Provider, catalog.LSPEntries, error) {
	return layered.Install(m, layered.Options{
		Name: "SIO_BASE_HANDLE hider", GUID: BaseHandleHiderGUID, Path: BaseHandleHiderPath, Over: over,
		Config: layered.Config{Hooks: layered.Hooks{Before: HideBaseHandle}},
	})
}
