package catalog

import (
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/wsspi/wsspi/spi"
)

// LoopbackProviderId is the provider GUID of the default base entries, the
// one the loopback provider (package loopback, which cannot import this
// one) declares as its ProviderId; the two values must stay equal. All four
// entries share it, so one loaded provider serves both families. (On
// Windows, MSAFD Tcpip files its IPv4 entries under
// {E70F1AA0-AB8B-11CF-8CA3-00805F48A192} and its IPv6 entries under a
// second GUID.)
var LoopbackProviderId = spi.MustParseGUID("{7A3E5C1D-2B4F-4E6A-9C8D-1F0E2D3C4B5A}")

// LoopbackPath is the "DLL path" of the default base entries, MSAFD's path
// on Windows, unexpanded. The loopback provider registers under it (its
// DLLPath has the same value).
const LoopbackPath = `%SystemRoot%\system32\mswsock.dll`

// The ids [NewDefault] gives the default base entries.
const (
	DefaultTCPIPv4 spi.CatalogEntryId = FirstCatalogEntryId + iota // MSAFD Tcpip [TCP/IP]
	DefaultUDPIPv4                                                 // MSAFD Tcpip [UDP/IP]
	DefaultTCPIPv6                                                 // MSAFD Tcpip [TCP/IPv6]
	DefaultUDPIPv6                                                 // MSAFD Tcpip [UDP/IPv6]
)

// Service flags of the default entries, as MSAFD has them (Windows
// Internals' `netsh winsock show catalog` listing: 0x20066 and 0x20609).
const (
	tcpServiceFlags = spi.XP1_IFS_HANDLES | spi.XP1_EXPEDITED_DATA | spi.XP1_GRACEFUL_CLOSE |
		spi.XP1_GUARANTEED_ORDER | spi.XP1_GUARANTEED_DELIVERY
	udpServiceFlags = spi.XP1_IFS_HANDLES | spi.XP1_SUPPORT_MULTIPOINT | spi.XP1_SUPPORT_BROADCAST |
		spi.XP1_MESSAGE_ORIENTED | spi.XP1_CONNECTIONLESS
)

// DefaultEntries returns the base entries of the common machine, in the
// order [NewDefault] installs them: TCP and UDP over IPv4, then over IPv6.
// Each is an IFS base entry (ChainLen 1) with PFL_MATCHES_PROTOCOL_ZERO and
// MSAFD's name and service flags; sockaddr sizes are those of sockaddr_in
// (16) and sockaddr_in6 (28); the UDP message size is the largest UDP
// payload (a simulator value). ProviderId and the ids are left for the
// catalog to fill in.
func DefaultEntries() []spi.WSAProtocolInfo {
	entry := func(name string, af, addrLen, typ, proto int32, flags, msgSize uint32) spi.WSAProtocolInfo {
		return spi.WSAProtocolInfo{
			ServiceFlags1:    flags,
			ProviderFlags:    spi.PFL_MATCHES_PROTOCOL_ZERO,
			ProtocolChain:    spi.WSAProtocolChain{ChainLen: spi.BASE_PROTOCOL},
			Version:          2,
			AddressFamily:    af,
			MaxSockAddr:      addrLen,
			MinSockAddr:      addrLen,
			SocketType:       typ,
			Protocol:         proto,
			NetworkByteOrder: spi.BIGENDIAN,
			SecurityScheme:   spi.SECURITY_PROTOCOL_NONE,
			MessageSize:      msgSize,
			ProtocolName:     name,
		}
	}
	return []spi.WSAProtocolInfo{
		entry("MSAFD Tcpip [TCP/IP]", spi.AF_INET, 16, spi.SOCK_STREAM, spi.IPPROTO_TCP, tcpServiceFlags, 0),
		entry("MSAFD Tcpip [UDP/IP]", spi.AF_INET, 16, spi.SOCK_DGRAM, spi.IPPROTO_UDP, udpServiceFlags, 65507),
		entry("MSAFD Tcpip [TCP/IPv6]", spi.AF_INET6, 28, spi.SOCK_STREAM, spi.IPPROTO_TCP, tcpServiceFlags, 0),
		entry("MSAFD Tcpip [UDP/IPv6]", spi.AF_INET6, 28, spi.SOCK_DGRAM, spi.IPPROTO_UDP, udpServiceFlags, 65527),
	}
}

// NewDefault returns a new catalog holding [DefaultEntries] as the entries of
// [LoopbackProviderId] at [LoopbackPath], with ids [DefaultTCPIPv4] to
// [DefaultUDPIPv6], at change serial 1.
func NewDefault() *Catalog {
	c := New()
	if err := c.WSCInstallProvider(LoopbackProviderId, LoopbackPath, DefaultEntries()); err != nil {
		panic("catalog: installing the default entries: " + err.Error())
	}
	return c
}

// LSP describes a layered service provider for [Catalog.InstallLSP], what
// Microsoft's installer (instlsp) takes on its command line. It is a plain
// value; InstallLSP does not keep it.
type LSP struct {
	// ProviderId is the LSP's GUID, under which its hidden layered entry
	// is installed.
	ProviderId spi.GUID
	// Path is the LSP's "DLL path"; the chains are installed with it too.
	Path string
	// Name is the LSP's name: the layered entry's ProtocolName, and the
	// prefix of each chain's, "Name over [lower name]".
	Name string
	// IFS says the LSP returns IFS handles (WPUModifyIFSHandle) rather
	// than handles from WPUCreateSocketHandle.
	IFS bool
	// Over lists the entries to layer over, base entries or other LSPs'
	// chains; one chain is installed over each, in this order.
	Over []spi.CatalogEntryId
	// ChainProviderIds, if not nil, holds one GUID per entry of Over for
	// the chain installed over it. Microsoft's installer makes a fresh
	// GUID for each chain; by default InstallLSP derives one from
	// ProviderId and the lower entry's id, so the result is reproducible.
	ChainProviderIds []spi.GUID
	// Categories, if not zero, are set on ProviderId with
	// WSCSetProviderInfo(ProviderInfoLspCategories).
	Categories uint32
}

// LSPEntries are the ids [Catalog.InstallLSP] gave an LSP's entries; a
// plain value the caller owns.
type LSPEntries struct {
	// Layered is the id of the hidden layered (ChainLen 0) entry, the id
	// the LSP looks for in a chain to find its own position.
	Layered spi.CatalogEntryId
	// Chains are the ids of the chains, one per entry of LSP.Over.
	Chains []spi.CatalogEntryId
}

// InstallLSP installs a layered provider the way Microsoft's LSP installer
// does it (instlsp, lspadd.cpp), in one step:
//
//  1. WSCInstallProvider of a hidden dummy entry under lsp.ProviderId: a
//     copy of the first entry of lsp.Over with ChainLen 0
//     (LAYERED_PROTOCOL), SocketType and Protocol 0, PFL_HIDDEN set,
//     PFL_MATCHES_PROTOCOL_ZERO cleared, XP1_IFS_HANDLES as lsp.IFS says,
//     and the LSP's name. Its id is what the chains name.
//  2. For each entry of lsp.Over, WSCInstallProvider of a chain under its
//     own GUID: a copy of the lower entry named "Name over [lower name]",
//     whose ChainEntries are the layered entry's id followed by the lower
//     entry's id and, if the lower entry is a chain, the rest of its
//     chain below its top layer (the installer's convention; a chain
//     holds at most MAX_PROTOCOL_CHAIN entries). The chain advertises
//     XP1_IFS_HANDLES only if the LSP and every entry below it do.
//  3. WSCSetProviderInfo of lsp.Categories, if any.
//  4. WSCWriteProviderOrder moving every entry whose chain names the new
//     layered entry to the head of the catalog, in their present order,
//     so socket() chooses the chains before the entries they layer over.
//
// Unlike the installer, which makes three or more calls and undoes the
// first if a later one fails, InstallLSP is atomic: it succeeds whole, with
// the change serial one higher, or changes nothing. It does not rewrite
// existing chains to keep an IFS LSP below non-IFS layers, as the
// installer's IFS path does; [View.Lint] reports such a chain.
//
// Errors are those of the step that failed, in an [*spi.OpError] named after
// it; a bad lsp.Over (empty, an id that is not installed, a layered entry, a
// chain too long to layer over) or a ChainProviderIds of the wrong length
// gives WSAEINVAL from WSCInstallProvider.
func (c *Catalog) InstallLSP(lsp LSP) (LSPEntries, error) {
	var res LSPEntries
	err := c.change(func(d *View) error {
		const install = "WSCInstallProvider"
		lower, err := d.lowerEntries(lsp)
		if err != nil {
			return spi.NewOpError(install, 0, err)
		}
		ids, err := d.install(lsp.ProviderId, lsp.Path, []spi.WSAProtocolInfo{dummyEntry(lsp, lower[0])})
		if err != nil {
			return spi.NewOpError(install, 0, fmt.Errorf("layered entry: %w", err))
		}
		res.Layered = ids[0]
		for i := range lower {
			guid := chainGUID(lsp, i)
			ids, err := d.install(guid, lsp.Path, []spi.WSAProtocolInfo{d.chainEntry(lsp, res.Layered, lower[i])})
			if err != nil {
				return spi.NewOpError(install, 0, fmt.Errorf("chain over entry %d: %w", lower[i].CatalogEntryId, err))
			}
			res.Chains = append(res.Chains, ids[0])
		}
		if lsp.Categories != 0 {
			if lsp.Categories&^lspCategoryMask != 0 {
				return spi.NewOpError("WSCSetProviderInfo", 0,
					fmt.Errorf("category bits %#x are not LSP_* categories: %w", lsp.Categories&^lspCategoryMask, spi.WSAEINVAL))
			}
			d.categories[lsp.ProviderId] = lsp.Categories
		}
		return spi.NewOpError("WSCWriteProviderOrder", 0, d.reorder(chainsFirst(d, res.Layered)))
	})
	if err != nil {
		return LSPEntries{}, err
	}
	return res, nil
}

// lowerEntries checks lsp.Over and returns the entries it names.
func (d *View) lowerEntries(lsp LSP) ([]spi.WSAProtocolInfo, error) {
	if len(lsp.Over) == 0 {
		return nil, fmt.Errorf("LSP %q layers over no entry: %w", lsp.Name, spi.WSAEINVAL)
	}
	if lsp.ChainProviderIds != nil && len(lsp.ChainProviderIds) != len(lsp.Over) {
		return nil, fmt.Errorf("%d chain GUIDs for %d entries: %w", len(lsp.ChainProviderIds), len(lsp.Over), spi.WSAEINVAL)
	}
	lower := make([]spi.WSAProtocolInfo, len(lsp.Over))
	for i, id := range lsp.Over {
		e, ok := d.Entry(id)
		switch {
		case !ok:
			return nil, fmt.Errorf("entry %d to layer over is not installed: %w", id, spi.WSAEINVAL)
		case e.IsLayered():
			return nil, fmt.Errorf("entry %d to layer over is a layered entry: %w", id, spi.WSAEINVAL)
		case e.ProtocolChain.ChainLen >= spi.MAX_PROTOCOL_CHAIN:
			return nil, fmt.Errorf("chain %d is already MAX_PROTOCOL_CHAIN long: %w", id, spi.WSAEINVAL)
		}
		lower[i] = e
	}
	return lower, nil
}

// dummyEntry builds the LSP's hidden layered entry from the first entry it
// layers over, as the installer's CreateDummyEntry does.
func dummyEntry(lsp LSP, from spi.WSAProtocolInfo) spi.WSAProtocolInfo {
	p := from
	p.ServiceFlags1 = setIFS(p.ServiceFlags1, lsp.IFS)
	p.SocketType, p.Protocol = 0, 0
	p.ProviderFlags = (p.ProviderFlags | spi.PFL_HIDDEN) &^ spi.PFL_MATCHES_PROTOCOL_ZERO
	p.ProtocolChain = spi.WSAProtocolChain{ChainLen: spi.LAYERED_PROTOCOL}
	p.ProtocolName = lsp.Name
	return p
}

// chainEntry builds the chain of the LSP whose layered entry is layered over
// the entry lower.
func (d *View) chainEntry(lsp LSP, layered spi.CatalogEntryId, lower spi.WSAProtocolInfo) spi.WSAProtocolInfo {
	p := lower
	p.ProtocolName = fmt.Sprintf("%s over [%s]", lsp.Name, lower.ProtocolName)
	ids := []spi.CatalogEntryId{layered, lower.CatalogEntryId}
	if lower.IsChain() {
		ids = append(ids, lower.ProtocolChain.Entries()[1:]...)
	}
	ifs := lsp.IFS
	for _, id := range ids[1:] {
		if e, ok := d.Entry(id); !ok || !e.IFS() {
			ifs = false
		}
	}
	p.ServiceFlags1 = setIFS(p.ServiceFlags1, ifs)
	p.ProtocolChain = spi.WSAProtocolChain{ChainLen: int32(len(ids))}
	copy(p.ProtocolChain.ChainEntries[:], ids)
	return p
}

func setIFS(flags uint32, ifs bool) uint32 {
	if ifs {
		return flags | spi.XP1_IFS_HANDLES
	}
	return flags &^ spi.XP1_IFS_HANDLES
}

// chainsFirst returns the catalog order with every entry whose chain names
// layered moved to the head, as the installer's ReorderACatalog does.
func chainsFirst(d *View, layered spi.CatalogEntryId) []spi.CatalogEntryId {
	var head, tail []spi.CatalogEntryId
	for i := range d.entries {
		p := &d.entries[i]
		if slices.Contains(p.ProtocolChain.Entries(), layered) {
			head = append(head, p.CatalogEntryId)
		} else {
			tail = append(tail, p.CatalogEntryId)
		}
	}
	return append(head, tail...)
}

// chainGUID returns the GUID of the i-th chain of lsp: the one given, or a
// name-based (version 5 style) GUID derived from the LSP's GUID and the id
// of the entry the chain layers over.
func chainGUID(lsp LSP, i int) spi.GUID {
	if lsp.ChainProviderIds != nil {
		return lsp.ChainProviderIds[i]
	}
	var name [16 + 4]byte
	g := lsp.ProviderId
	binary.BigEndian.PutUint32(name[0:], g.Data1)
	binary.BigEndian.PutUint16(name[4:], g.Data2)
	binary.BigEndian.PutUint16(name[6:], g.Data3)
	copy(name[8:16], g.Data4[:])
	binary.BigEndian.PutUint32(name[16:], uint32(lsp.Over[i]))
	sum := sha1.Sum(append([]byte("wsspi LSP chain "), name[:]...))
	var out spi.GUID
	out.Data1 = binary.BigEndian.Uint32(sum[0:])
	out.Data2 = binary.BigEndian.Uint16(sum[4:])
	out.Data3 = binary.BigEndian.Uint16(sum[6:])&0x0fff | 0x5000
	copy(out.Data4[:], sum[8:16])
	out.Data4[0] = out.Data4[0]&0x3f | 0x80
	return out
}
