package wild

import (
	"fmt"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// InstallUDPOnly installs UDPOnly: the kit of package layered, a correct
// non-IFS layer, over UDP entries alone (over, or with over empty every
// base entry of the catalog whose protocol is IPPROTO_UDP), the machine of
// libuv/libuv#1672, whose UDP chain had a length of 2 while its TCP
// entries were the base provider's. A client that judges the machine by
// its TCP entries, as Go's check of every IPPROTO_TCP entry and libuv's
// dummy TCP socket do (docs/facts.md §15.1, §15.2), finds no non-IFS layer,
// yet its UDP sockets are this layer's handles, on which
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS does not hold: the immediate
// success a client is told of comes from the layer, and the packet from
// its WPUCompleteOverlappedRequest, which the mode cannot keep off the port
// (KB 2568167; docs/facts.md §5.7, §14.2). That is why Go sets the mode on
// TCP sockets only and libuv on UDP sockets whose chain has a length of 1.
// An entry over that is not a UDP one fails with WSAEINVAL. It returns the
// provider (its Stats) and its entries.
func InstallUDPOnly(m layered.Machine, over ...spi.CatalogEntryId) (*layered.Provider, catalog.LSPEntries, error) {
	entries, err := m.Catalog().WSCEnumProtocols(nil)
	if err != nil {
		return nil, catalog.LSPEntries{}, err
	}
	udp := map[spi.CatalogEntryId]bool{}
	var base []spi.CatalogEntryId
	for _, e := range entries {
		if e.Protocol == spi.IPPROTO_UDP {
			udp[e.CatalogEntryId] = true
			if e.ProtocolChain.ChainLen == spi.BASE_PROTOCOL {
				base = append(base, e.CatalogEntryId)
			}
		}
	}
	if len(over) == 0 {
		over = base
	}
	for _, id := range over {
		if !udp[id] {
			return nil, catalog.LSPEntries{}, spi.NewOpError("InstallUDPOnly", 0,
				spi.Because(spi.WSAEINVAL, fmt.Sprintf("catalog entry %d is not a UDP entry", id)))
		}
	}
	return layered.Install(m, layered.Options{Name: udpOnlyID.name, GUID: udpOnlyID.guid, Path: udpOnlyID.path, Over: over})
}
