package catalog

import (
	"fmt"

	"github.com/wsspi/wsspi/spi"
)

// Choose models how WSASocket picks the catalog entry that serves a new
// socket (docs/facts.md §3.6) and returns a copy of that entry.
//
// With info, the entry is the one whose CatalogEntryId info names (D:wsasocket);
// af, typ and protocol, including FROM_PROTOCOL_INFO, are left for the
// provider's WSPSocket to check. A ChainLen 0 entry cannot be used alone, so
// naming one fails like naming no entry at all: WSAEINVAL.
//
// Without info, the entries are scanned in catalog order, skipping ChainLen 0
// entries, and the first that matches wins. An entry matches when its
// AddressFamily equals af or af is AF_UNSPEC, its SocketType equals typ or
// typ is 0, and protocol lies in [Protocol, Protocol+ProtocolMaxOffset]; a
// protocol of 0 matches only entries with PFL_MATCHES_PROTOCOL_ZERO
// (docs/design.md decisions; ReactOS's WsTcGetEntryFromTriplet lets 0 match
// everything). PFL_HIDDEN entries are not skipped. When nothing matches, the
// error is the mismatch of the last entry scanned, as in ReactOS:
// WSAEAFNOSUPPORT, WSAESOCKTNOSUPPORT or WSAEPROTONOSUPPORT; with no entry
// to scan it is WSAEINVAL, and so is FROM_PROTOCOL_INFO without info
// (simulator decision: there is nothing to take the value from).
//
// Errors are wrapped in an [*spi.OpError] whose Op is "WSASocket".
func (v *View) Choose(af, typ, protocol int32, info *spi.WSAProtocolInfo) (spi.WSAProtocolInfo, error) {
	p, err := v.choose(af, typ, protocol, info)
	return p, spi.NewOpError("WSASocket", 0, err)
}

func (v *View) choose(af, typ, protocol int32, info *spi.WSAProtocolInfo) (spi.WSAProtocolInfo, error) {
	if info != nil {
		p, ok := v.Entry(info.CatalogEntryId)
		switch {
		case !ok:
			return spi.WSAProtocolInfo{}, fmt.Errorf("catalog entry %d is not installed: %w", info.CatalogEntryId, spi.WSAEINVAL)
		case p.IsLayered():
			return spi.WSAProtocolInfo{}, fmt.Errorf("catalog entry %d is a layered entry, which cannot be used alone: %w",
				info.CatalogEntryId, spi.WSAEINVAL)
		}
		return p, nil
	}
	if af == spi.FROM_PROTOCOL_INFO || typ == spi.FROM_PROTOCOL_INFO || protocol == spi.FROM_PROTOCOL_INFO {
		return spi.WSAProtocolInfo{}, fmt.Errorf("FROM_PROTOCOL_INFO without protocol info: %w", spi.WSAEINVAL)
	}
	errno := spi.WSAEINVAL
	for i := range v.entries {
		p := &v.entries[i]
		switch {
		case p.IsLayered():
			continue
		case p.AddressFamily != af && af != spi.AF_UNSPEC:
			errno = spi.WSAEAFNOSUPPORT
		case p.SocketType != typ && typ != 0:
			errno = spi.WSAESOCKTNOSUPPORT
		case !matchesProtocol(p, protocol):
			errno = spi.WSAEPROTONOSUPPORT
		default:
			return *p, nil
		}
	}
	return spi.WSAProtocolInfo{}, fmt.Errorf("no catalog entry for (af %d, type %d, protocol %d): %w", af, typ, protocol, errno)
}

// matchesProtocol applies the protocol part of the triplet rule.
func matchesProtocol(p *spi.WSAProtocolInfo, protocol int32) bool {
	if protocol == 0 {
		return p.ProviderFlags&spi.PFL_MATCHES_PROTOCOL_ZERO != 0
	}
	return inRange(p, protocol)
}
