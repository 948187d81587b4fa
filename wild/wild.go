package wild

import (
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// Protocols says which base protocols an [LSP] of the table is installed
// over in a matrix.
type Protocols uint8

// The protocols of [Protocols].
const (
	TCP Protocols = 1 << iota // IPPROTO_TCP entries, IPv4 and IPv6
	UDP                       // IPPROTO_UDP entries, IPv4 and IPv6
)

// LSP describes one provider of the package: its name, the report it
// models, and how to install it. It is a plain value.
type LSP struct {
	// Name names the provider in configuration names, as in "Naive".
	Name string
	// Report names the public report the provider models, as in
	// "tokio-rs/mio#1315"; empty for the well-behaved layers.
	Report string
	// Summary says in a line what the provider does.
	Summary string
	// IFS says whether the provider's chains carry XP1_IFS_HANDLES.
	IFS bool
	// Over lists the protocols a matrix installs it over.
	Over Protocols
	// Install installs the provider over the catalog entries over, one
	// chain each, at the head of the catalog, and returns its entries.
	Install func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error)
}

// All returns the package's providers, the well-behaved ones first, as a
// fresh slice.
func All() []LSP {
	return append([]LSP(nil), table...)
}

// Lookup returns the provider named name.
func Lookup(name string) (LSP, bool) {
	for _, l := range table {
		if l.Name == name {
			return l, true
		}
	}
	return LSP{}, false
}
