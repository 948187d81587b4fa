package layered

import (
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// Machine is what [Install] needs of a simulated machine: its catalog, and
// a place for the provider "DLL". *wsspi.Machine implements it.
type Machine interface {
	// Catalog returns the machine's protocol catalog.
	Catalog() *catalog.Catalog
	// RegisterProvider places a provider "DLL" at path.
	RegisterProvider(path string, startup spi.WSPStartupFunc)
}

// Options describes a layered provider for [Install]: where it goes in the
// catalog, and the kit's configuration. It is a plain value.
type Options struct {
	// Name is the provider's name: its hidden entry's ProtocolName, and
	// the prefix of each chain's, "Name over [lower name]".
	Name string
	// GUID is the provider's GUID, under which its hidden layered entry is
	// installed.
	GUID spi.GUID
	// Path is the provider's "DLL path".
	Path string
	// Over lists the catalog entries to layer over (base entries, or
	// other providers' chains); one chain is installed over each.
	Over []spi.CatalogEntryId
	// Categories, if not zero, are the provider's LSP_* categories.
	Categories uint32
	// Config configures the kit.
	Config Config
}

// Install installs a non-IFS layered provider built on the kit on m, as
// Microsoft's installer does, and returns it with the ids of its entries:
// [catalog.Catalog.InstallLSP] installs the hidden layered entry and one
// chain over each entry of opts.Over (without XP1_IFS_HANDLES) and moves
// the chains to the head of the catalog, so socket() chooses them; then
// the provider, which knows its layered entry from then on, is registered
// at opts.Path. Processes that call WSAStartup afterwards see it.
//
// Errors are those of InstallLSP, and leave the machine unchanged.
func Install(m Machine, opts Options) (*Provider, catalog.LSPEntries, error) {
	ids, err := m.Catalog().InstallLSP(catalog.LSP{
		ProviderId: opts.GUID,
		Path:       opts.Path,
		Name:       opts.Name,
		Over:       opts.Over,
		Categories: opts.Categories,
	})
	if err != nil {
		return nil, catalog.LSPEntries{}, err
	}
	p := New(ids.Layered, opts.Config)
	m.RegisterProvider(opts.Path, p.WSPStartup)
	return p, ids, nil
}
