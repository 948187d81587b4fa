package wild

import (
	"sync"
	"sync/atomic"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// Layer is an installed provider of this package that is not built on
// package layered: what its instances counted, for a test to read.
type Layer struct {
	sends, recvs, forwarded, forwardFailed, startups atomic.Int64
}

// Counts are what a [Layer] counted, summed over its instances (one per
// process that loaded it). It is a plain value.
type Counts struct {
	// Sends and Recvs count the WSPSend and WSPRecv calls the layer's
	// proc table received.
	Sends, Recvs int64
	// Forwarded counts completions forwarded with
	// WPUCompleteOverlappedRequest, and ForwardFailed those calls that
	// failed (EarlyClose only).
	Forwarded, ForwardFailed int64
	// Startups counts the WSPStartup calls the layer received, failed
	// ones included.
	Startups int64
}

// Counts returns what the layer counted so far.
func (l *Layer) Counts() Counts {
	return Counts{Sends: l.sends.Load(), Recvs: l.recvs.Load(),
		Forwarded: l.forwarded.Load(), ForwardFailed: l.forwardFailed.Load(), Startups: l.startups.Load()}
}

// install installs a provider named name over the entries over, the way
// Microsoft's installer does, and registers at path a startup function
// that starts an instance and returns the table table builds for it.
func install(m layered.Machine, id identity, ifs bool, over []spi.CatalogEntryId,
	table func(*instance) (spi.WSPProcTable, error)) (*Layer, catalog.LSPEntries, error) {
	ids, err := m.Catalog().InstallLSP(catalog.LSP{ProviderId: id.guid, Path: id.path, Name: id.name, IFS: ifs, Over: over})
	if err != nil {
		return nil, catalog.LSPEntries{}, err
	}
	l := &Layer{}
	m.RegisterProvider(id.path, func(_ uint16, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		l.startups.Add(1)
		in, err := start(l, ids.Layered, info, upcalls, imports)
		if err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		t, err := table(in)
		if err != nil {
			_ = in.next.Cleanup()
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		return startupData, t, nil
	})
	return l, ids, nil
}

// instance is a provider of the package as loaded into one process: what its WSPStartup
// was given and the next layer it loaded.
type instance struct {
	l       *Layer
	owner   spi.CatalogEntryId
	info    spi.WSAProtocolInfo
	upcalls spi.WSPUpcallTable
	imports spi.Imports
	next    spi.NextLayer

	mu    sync.Mutex             // guards socks
	socks map[spi.Socket]*socket // the layer's open sockets, by its handle
}

// socket is a non-IFS layer's socket: its handle's context.
type socket struct {
	in    *instance
	lower spi.Socket
}

var startupData = spi.WSPData{Version: spi.WINSOCK_VERSION, HighVersion: spi.WINSOCK_VERSION, Description: "wsspi wild LSP"}

// start is the common part of WSPStartup: find the layer's place in info
// and load the next layer.
func start(l *Layer, self spi.CatalogEntryId, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (*instance, error) {
	owner, err := layered.HandleOwner(info, self)
	if err != nil {
		return nil, err
	}
	next, err := imports.LoadNext(info, self)
	if err != nil {
		return nil, err
	}
	return &instance{l: l, owner: owner, info: *info, upcalls: upcalls, imports: imports, next: next,
		socks: map[spi.Socket]*socket{}}, nil
}

// lower maps a handle of the layer to its lower socket (non-IFS layers).
func (in *instance) lower(h spi.Socket) (*socket, error) {
	ctx, err := in.upcalls.WPUQuerySocketHandleContext(h)
	if err != nil {
		return nil, spi.WSAENOTSOCK
	}
	s, ok := ctx.(*socket)
	if !ok || s.in != in {
		return nil, spi.WSAENOTSOCK
	}
	return s, nil
}

// wrap gives a new lower socket a handle of the layer's own.
func (in *instance) wrap(lower spi.Socket) (spi.Socket, error) {
	s := &socket{in: in, lower: lower}
	h, err := in.upcalls.WPUCreateSocketHandle(in.owner, s)
	if err != nil {
		_ = in.next.ProcTable.WSPCloseSocket(lower)
		return spi.INVALID_SOCKET, err
	}
	in.mu.Lock()
	in.socks[h] = s
	in.mu.Unlock()
	return h, nil
}

// forget removes the layer's handle h from its open sockets and closes it.
func (in *instance) forget(h spi.Socket) error {
	in.mu.Lock()
	delete(in.socks, h)
	in.mu.Unlock()
	return in.upcalls.WPUCloseSocketHandle(h)
}

// cleanup closes the sockets left open, then the next layer.
func (in *instance) cleanup() error {
	in.mu.Lock()
	socks := in.socks
	in.socks = map[spi.Socket]*socket{}
	in.mu.Unlock()
	for h, s := range socks {
		_ = in.next.ProcTable.WSPCloseSocket(s.lower)
		_ = in.upcalls.WPUCloseSocketHandle(h)
	}
	return in.next.Cleanup()
}

// lowerInfo is the protocol info for the next layer's WSPSocket: the one
// LoadNext gave, with the ProviderReserved of a protocol info from
// WSPDuplicateSocket (dup), through which the layer below finds the socket
// to share.
func (in *instance) lowerInfo(dup *spi.WSAProtocolInfo) spi.WSAProtocolInfo {
	info := in.next.Info
	if dup != nil {
		info.ProviderReserved = dup.ProviderReserved
	}
	return info
}

// duplicated rewrites the layer below's answer to WSPDuplicateSocket as
// Microsoft's LSP sample does: the layer's own entry around the lower
// provider's ProviderReserved, so that the target's WSASocket comes to
// this layer.
func (in *instance) duplicated(lower spi.WSAProtocolInfo, err error) (spi.WSAProtocolInfo, error) {
	if err != nil {
		return spi.WSAProtocolInfo{}, err
	}
	info := in.info
	info.ProviderReserved = lower.ProviderReserved
	return info, nil
}

// protocolInfo answers getsockopt(SO_PROTOCOL_INFOW) with info.
func protocolInfo(info *spi.WSAProtocolInfo, optval []byte) (int, error) {
	if err := info.PutBinary(optval); err != nil {
		return 0, err
	}
	return spi.WSAProtocolInfoSize, nil
}
