package wild

import (
	"github.com/wsspi/wsspi/catalog"
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
		Install: kitEntries(InstallKit)},
	{Name: "IFSPassThrough", Report: "python-trio/trio#52 (Proxifier)",
		Summary: "a well-behaved IFS layer that hands out the base provider's handles", IFS: true, Over: TCP | UDP,
		Install: layerEntries(InstallIFSPassThrough)},
	{Name: "Naive", Summary: "passes the client's overlapped down: completions never reach the client's port", Over: TCP | UDP,
		Install: layerEntries(InstallNaive)},
	{Name: "EarlyClose", Summary: "closes its lower socket before its completions drain", Over: TCP,
		Install: layerEntries(InstallEarlyClose)},
	{Name: "FailBaseHandle", Report: "tokio-rs/mio#1314, python-trio/trio#1659",
		Summary: "fails SIO_BASE_HANDLE with WSAEFAULT, passes SIO_BSP_HANDLE_SELECT and _POLL", Over: TCP | UDP,
		Install: func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
			_, ids, err := InstallFailBaseHandle(m, spi.WSAEFAULT, over...)
			return ids, err
		}},
	{Name: "OwnBaseHandle", Report: "none found (wepoll's Komodia comment describes a failure)",
		Summary: "answers SIO_BASE_HANDLE with its own handle, passes SIO_BSP_HANDLE_POLL", Over: TCP | UDP,
		Install: kitEntries(InstallOwnBaseHandle)},
	{Name: "StartupFails", Report: "libuv/libuv#1425",
		Summary: "WSPStartup fails with WSAEPROVIDERFAILEDINIT: no socket of its chains can be made", Over: TCP | UDP,
		Install: layerEntries(InstallStartupFails)},
	{Name: "MissingDLL", Report: "libuv/libuv#2205",
		Summary: "its DLL does not load: no socket of its chains can be made", Over: TCP | UDP,
		Install: InstallMissingDLL},
	{Name: "OwnExtensions", Report: "python-trio/trio#52",
		Summary: "hands out its own AcceptEx and ConnectEx for each socket", Over: TCP,
		Install: kitEntries(InstallOwnExtensions)},
	{Name: "UDPOnly", Report: "libuv/libuv#1672",
		Summary: "a non-IFS layer over UDP alone: TCP-based checks miss it", Over: UDP,
		Install: kitEntries(InstallUDPOnly)},
	{Name: "SyncHang", Report: "Perl/perl5#6860",
		Summary: "ignores the overlapped on sockets made without WSA_FLAG_OVERLAPPED: ReadFile and WriteFile hang", Over: TCP | UDP,
		Install: kitEntries(InstallSyncHang)},
}

// kitEntries adapts the Install function of a provider built on package
// layered to [LSP.Install].
func kitEntries(install func(layered.Machine, ...spi.CatalogEntryId) (*layered.Provider, catalog.LSPEntries, error)) func(layered.Machine, ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
	return func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
		_, ids, err := install(m, over...)
		return ids, err
	}
}

// layerEntries adapts the Install function of a [Layer] to [LSP.Install].
func layerEntries(install func(layered.Machine, ...spi.CatalogEntryId) (*Layer, catalog.LSPEntries, error)) func(layered.Machine, ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
	return func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
		_, ids, err := install(m, over...)
		return ids, err
	}
}
