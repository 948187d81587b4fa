package wild

import (
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/internal/testlsp"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// The kit's GUID and "DLL path" when the table installs it.
var (
	KitGUID = spi.MustParseGUID("{3D5A7F00-0001-4000-8000-00000000AA01}")
	KitPath = `C:\wild\kit.dll`
)

// table is the package's providers, in the order All returns them.
var table = []LSP{
	{Name: "Kit", Summary: "a well-behaved non-IFS layer (package layered)", Over: TCP | UDP,
		Install: func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
			_, ids, err := layered.Install(m, layered.Options{Name: "Kit", GUID: KitGUID, Path: KitPath, Over: over})
			return ids, err
		}},
	{Name: "IFSPassThrough", Summary: "a well-behaved IFS layer that hands out the base provider's handles", IFS: true, Over: TCP | UDP,
		Install: func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
			_, ids, err := testlsp.InstallIFSPassThrough(m, over...)
			return ids, err
		}},
	{Name: "Naive", Summary: "passes the client's overlapped down: completions never reach the client's port", Over: TCP | UDP,
		Install: func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
			_, ids, err := testlsp.InstallNaive(m, over...)
			return ids, err
		}},
	{Name: "EarlyClose", Summary: "closes its lower socket before its completions drain", Over: TCP,
		Install: func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
			_, ids, err := testlsp.InstallEarlyClose(m, over...)
			return ids, err
		}},
	{Name: "FailBaseHandle", Report: "tokio-rs/mio#1314, python-trio/trio#1659", Summary: "fails SIO_BASE_HANDLE with WSAEFAULT, passes SIO_BSP_HANDLE_SELECT and _POLL", Over: TCP | UDP,
		Install: func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
			_, ids, err := testlsp.InstallBaseHandleHider(m, over...)
			return ids, err
		}},
}
