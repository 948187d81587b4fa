package loopback

import (
	"sync"

	"github.com/wsspi/wsspi/spi"
)

// Versions the provider supports: 2.0 to 2.2.
const (
	lowVersion  = 0x0002 // MAKEWORD(2, 0)
	highVersion = 0x0202 // MAKEWORD(2, 2)
)

// versionLess orders Winsock versions (low byte major, high byte minor).
func versionLess(a, b uint16) bool {
	if a&0xff != b&0xff {
		return a&0xff < b&0xff
	}
	return a>>8 < b>>8
}

// Provider is the loopback provider as loaded into one process (one copy
// of the "DLL", as msafd in mswsock.dll is loaded into each Windows
// process that uses TCP/IP): its WSPStartup reference count, the upcall
// table and kernel services it was last given, and the process's sockets.
// Its [spi.WSPProcTable], which WSPStartup returns, serves the WSP calls. Get one
// from [Network.NewProvider]. A Provider is safe for concurrent use.
type Provider struct {
	n     *Network
	table spi.WSPProcTable // built once; every entry checks startup

	// mu guards the fields below.
	mu      sync.RWMutex
	starts  int // successful WSPStartup calls not yet undone by WSPCleanup
	upcalls spi.WSPUpcallTable
	imports spi.Imports
	entries []spi.WSAProtocolInfo  // the catalog entries WSPStartup was called for
	socks   map[spi.Socket]*socket // the process's open sockets by handle
	cookies map[spi.GUID]uintptr   // extension functions registered, by GUID
}

// WSPStartup loads the provider into its process, or adds a reference if
// it is loaded. It accepts versions from 2.0 and negotiates up to 2.2
// (WSAVERNOTSUPPORTED below 2.0); it keeps the upcall table and imports of
// the latest call and remembers info, the catalog entry being loaded, so
// that WSPSocket can serve a nil protocol info. Each success must be undone
// by one WSPCleanup. The returned table is the same for every call.
//
// The upcall table must provide WPUModifyIFSHandle and imports must provide
// CreateFileObject; WSPStartup panics otherwise (programmer misuse). An
// overlapped operation's event is reset as it starts through the socket's
// file object ([spi.FileObject.ResetEvent]), as the I/O manager does on
// Windows, in the process that issued it.
func (p *Provider) WSPStartup(version uint16, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
	if upcalls.WPUModifyIFSHandle == nil {
		panic("loopback: WSPStartup: the upcall table has no WPUModifyIFSHandle")
	}
	if imports.CreateFileObject == nil {
		panic("loopback: WSPStartup: imports have no CreateFileObject")
	}
	data := spi.WSPData{HighVersion: highVersion, Description: "wsspi loopback TCP/UDP provider"}
	if versionLess(version, lowVersion) {
		return data, spi.WSPProcTable{}, spi.WSAVERNOTSUPPORTED
	}
	if f := p.n.faults; f != nil {
		if err := f.StartupFault(); err != nil {
			return data, spi.WSPProcTable{}, err
		}
	}
	data.Version = version
	if versionLess(highVersion, version) {
		data.Version = highVersion
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.starts++
	p.upcalls, p.imports = upcalls, imports
	if info != nil {
		known := false
		for _, e := range p.entries {
			known = known || e.CatalogEntryId == info.CatalogEntryId
		}
		if !known {
			p.entries = append(p.entries, *info)
		}
	}
	return data, p.table, nil
}

// wspCleanup undoes one WSPStartup. The last one closes every socket of the
// process as an abortive close, cancelling pending operations without any
// notification, and leaves the provider ready for a new WSPStartup.
func (p *Provider) wspCleanup() error {
	p.mu.Lock()
	if p.starts == 0 {
		p.mu.Unlock()
		return spi.WSANOTINITIALISED
	}
	p.starts--
	if p.starts > 0 {
		p.mu.Unlock()
		return nil
	}
	held, imports := p.socks, p.imports
	p.socks = make(map[spi.Socket]*socket)
	p.entries = nil
	p.mu.Unlock()
	p.n.closeAll(releaseAll(imports, held))
	return nil
}

// lookup returns the socket of the process with handle h: WSANOTINITIALISED
// before WSPStartup or after the last WSPCleanup, WSAENOTSOCK for a handle
// that is not one of the provider's open sockets in this process.
func (p *Provider) lookup(h spi.Socket) (*socket, error) {
	p.mu.RLock()
	if p.starts == 0 {
		p.mu.RUnlock()
		return nil, spi.WSANOTINITIALISED
	}
	s := p.socks[h]
	p.mu.RUnlock()
	if s == nil {
		if s = p.imported(h); s == nil {
			return nil, spi.WSAENOTSOCK
		}
	}
	return s, nil
}

// services returns the upcall table and imports of the latest WSPStartup.
func (p *Provider) services() (spi.WSPUpcallTable, spi.Imports, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.starts == 0 {
		return spi.WSPUpcallTable{}, spi.Imports{}, spi.WSANOTINITIALISED
	}
	return p.upcalls, p.imports, nil
}

// register records s under handle h; it fails with WSANOTINITIALISED when
// the provider was cleaned up meanwhile.
func (p *Provider) register(h spi.Socket, s *socket) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.starts == 0 {
		return spi.WSANOTINITIALISED
	}
	p.socks[h] = s
	return nil
}

// unregister removes handle h and returns its socket, or nil when another
// call removed it first.
func (p *Provider) unregister(h spi.Socket) *socket {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.socks[h]
	delete(p.socks, h)
	return s
}

// newHandle gives s, a new socket or an accepted connection, its file
// object and its handle: CreateFileObject, then WPUModifyIFSHandle with the
// socket's catalog entry, then registration in the process.
func (p *Provider) newHandle(s *socket) (spi.Socket, error) {
	upcalls, imports, err := p.services()
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	fo, err := imports.CreateFileObject(s, s.overlapped)
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	s.fo, s.p = fo, p
	h, err := upcalls.WPUModifyIFSHandle(s.info.CatalogEntryId, fo.Handle())
	if err == nil {
		s.h = h
		err = p.register(h, s)
	}
	if err != nil {
		fo.Close()
		return spi.INVALID_SOCKET, err
	}
	return h, nil
}

// resolve picks the protocol of a new socket per the WSPSocket rules: af,
// typ and protocol may be FROM_PROTOCOL_INFO, and af and typ may be 0 and
// protocol 0 (wildcards), each then taken from info; other values must
// match info (WSAEAFNOSUPPORT, WSAESOCKTNOSUPPORT, WSAEPROTONOSUPPORT), and
// the result must be TCP or UDP over IPv4 or IPv6. A nil info is looked up
// among the entries WSPStartup was called for.
//
// The result is one of those entries when it equals one (as the info
// ws2_32 passes does), which the provider's sockets then share: nothing
// writes to the elements of p.entries. Otherwise it is a copy, since the
// caller may reuse its info.
func (p *Provider) resolve(af, typ, protocol int32, info *spi.WSAProtocolInfo) (*spi.WSAProtocolInfo, error) {
	p.mu.RLock()
	entries := p.entries
	p.mu.RUnlock()
	if info != nil {
		if err := matchProtocol(af, typ, protocol, info); err != nil {
			return nil, err
		}
		for i := range entries {
			if entries[i] == *info {
				return &entries[i], nil
			}
		}
		e := *info
		return &e, nil
	}
	err := error(spi.WSAEAFNOSUPPORT)
	for i := range entries {
		err2 := matchProtocol(af, typ, protocol, &entries[i])
		if err2 == nil {
			return &entries[i], nil
		}
		if mismatchRank(err2) > mismatchRank(err) {
			err = err2
		}
	}
	return nil, err
}

// mismatchRank orders the triplet errors by how far the match got.
func mismatchRank(err error) int {
	switch err {
	case spi.WSAESOCKTNOSUPPORT:
		return 1
	case spi.WSAEPROTONOSUPPORT:
		return 2
	}
	return 0
}

// matchProtocol tells whether a socket of af, typ and protocol can be made from
// protocol info e, and if not, why.
func matchProtocol(af, typ, protocol int32, e *spi.WSAProtocolInfo) error {
	if af != spi.FROM_PROTOCOL_INFO && af != spi.AF_UNSPEC && af != e.AddressFamily {
		return spi.WSAEAFNOSUPPORT
	}
	if typ != spi.FROM_PROTOCOL_INFO && typ != 0 && typ != e.SocketType {
		return spi.WSAESOCKTNOSUPPORT
	}
	if protocol != spi.FROM_PROTOCOL_INFO && protocol != 0 &&
		(protocol < e.Protocol || protocol > e.Protocol+e.ProtocolMaxOffset) {
		return spi.WSAEPROTONOSUPPORT
	}
	switch {
	case e.AddressFamily != spi.AF_INET && e.AddressFamily != spi.AF_INET6:
		return spi.WSAEAFNOSUPPORT
	case e.SocketType != spi.SOCK_STREAM && e.SocketType != spi.SOCK_DGRAM:
		return spi.WSAESOCKTNOSUPPORT
	case e.SocketType == spi.SOCK_STREAM && e.Protocol != spi.IPPROTO_TCP,
		e.SocketType == spi.SOCK_DGRAM && e.Protocol != spi.IPPROTO_UDP:
		return spi.WSAEPROTONOSUPPORT
	}
	return nil
}

// multipointFlags are the WSASocket flags the provider rejects.
const multipointFlags = spi.WSA_FLAG_MULTIPOINT_C_ROOT | spi.WSA_FLAG_MULTIPOINT_C_LEAF |
	spi.WSA_FLAG_MULTIPOINT_D_ROOT | spi.WSA_FLAG_MULTIPOINT_D_LEAF

func (p *Provider) wspSocket(af, typ, protocol int32, info *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
	if _, _, err := p.services(); err != nil {
		return spi.INVALID_SOCKET, err
	}
	if info != nil && info.ProviderReserved != 0 {
		return p.takeUp(info.ProviderReserved)
	}
	e, err := p.resolve(af, typ, protocol, info)
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	if g != 0 || flags&multipointFlags != 0 {
		return spi.INVALID_SOCKET, spi.WSAEINVAL
	}
	return p.newHandle(newSocket(p.n, e, flags&spi.WSA_FLAG_OVERLAPPED != 0))
}
