package wild

import (
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// installWrappedKit installs, under id over the entries over, a layer of
// package layered whose proc table wrap rewrites in each process that
// loads it: wrap gets the kit's table, as WSPStartup returned it, and the
// process's imports, and changes entries of the table in place. It is how
// the providers that differ from the kit in one entry point are built,
// as a layer is built on Microsoft's sample by editing its spi.cpp.
func installWrappedKit(m layered.Machine, id identity, over []spi.CatalogEntryId, config layered.Config,
	wrap func(t *spi.WSPProcTable, im spi.Imports)) (*layered.Provider, catalog.LSPEntries, error) {
	ids, err := m.Catalog().InstallLSP(catalog.LSP{ProviderId: id.guid, Path: id.path, Name: id.name, Over: over})
	if err != nil {
		return nil, catalog.LSPEntries{}, err
	}
	p := layered.New(ids.Layered, config)
	m.RegisterProvider(id.path, func(v uint16, info *spi.WSAProtocolInfo, up spi.WSPUpcallTable, im spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		data, t, err := p.WSPStartup(v, info, up, im)
		if err == nil {
			wrap(&t, im)
		}
		return data, t, err
	})
	return p, ids, nil
}
