package wild

import (
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// InstallStartupFails installs, over the entries over, StartupFails: a
// layer whose WSPStartup fails with WSAEPROVIDERFAILEDINIT in every
// process, having loaded nothing. Creating a socket through any of its
// chains then fails with WSAEPROVIDERFAILEDINIT (10106), as socket() did
// for libuv's uv_winsock_init, which aborted (libuv/libuv#1425;
// docs/facts.md §14.1). Sockets of the entries below it, made through their
// own entries, still work. It counts its WSPStartup calls.
func InstallStartupFails(m layered.Machine, over ...spi.CatalogEntryId) (*Layer, catalog.LSPEntries, error) {
	ids, err := m.Catalog().InstallLSP(catalog.LSP{ProviderId: startupFailsID.guid, Path: startupFailsID.path, Name: startupFailsID.name, Over: over})
	if err != nil {
		return nil, catalog.LSPEntries{}, err
	}
	l := &Layer{}
	m.RegisterProvider(startupFailsID.path, func(uint16, *spi.WSAProtocolInfo, spi.WSPUpcallTable, spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		l.startups.Add(1)
		return spi.WSPData{}, spi.WSPProcTable{}, spi.WSAEPROVIDERFAILEDINIT
	})
	return l, ids, nil
}

// InstallMissingDLL installs, over the entries over, MissingDLL: catalog
// entries whose provider path names a DLL that does not load, because no
// provider is registered at it, as when a security product blocks an
// unsigned LSP's DLL (a review comment on libuv/libuv#2205; docs/facts.md
// §14.1). ws2_32's loader then fails, and so does creating a socket through
// any of its chains, with WSAEPROVIDERFAILEDINIT (10106), the error the
// simulator's loader gives for a path it cannot load (package catalog).
// It returns the entries.
func InstallMissingDLL(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
	return m.Catalog().InstallLSP(catalog.LSP{ProviderId: missingDLLID.guid, Path: missingDLLID.path, Name: missingDLLID.name, Over: over})
}
