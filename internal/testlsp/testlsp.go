// Package testlsp holds small layered service providers for tests: the
// deliberately broken ones whose failures the hazard tests reproduce
// (Naive, EarlyClose), a minimal IFS pass-through one (IFSPassThrough),
// and a kit layer that hides the base handle as some LSPs of the wild do
// (BaseHandleHider).
// Each has an install helper and counters a test can read. They implement
// only the proc-table entries the tests use, and fill the rest with
// WSAEOPNOTSUPP; the correct non-IFS layer is package layered.
//
// Like a layered.Provider, each makes a fresh instance per WSPStartup call
// (the provider as loaded into one process; see package layered,
// "Per-process state"). Every type here is safe for concurrent use.
package testlsp

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// LSP is an installed test LSP: what its instances counted.
type LSP struct {
	sends, recvs, forwarded, forwardFailed atomic.Int64
}

// Counts are what a test LSP counted, summed over its instances. It is a
// plain value.
type Counts struct {
	// Sends and Recvs count the WSPSend and WSPRecv calls the layer's
	// proc table received.
	Sends, Recvs int64
	// Forwarded counts completions forwarded with
	// WPUCompleteOverlappedRequest, and ForwardFailed those calls that
	// failed (EarlyClose only).
	Forwarded, ForwardFailed int64
}

// Counts returns what the LSP counted so far.
func (l *LSP) Counts() Counts {
	return Counts{Sends: l.sends.Load(), Recvs: l.recvs.Load(),
		Forwarded: l.forwarded.Load(), ForwardFailed: l.forwardFailed.Load()}
}

// The test LSPs' GUIDs and "DLL paths".
var (
	NaiveGUID          = spi.MustParseGUID("{7E57A1F0-0001-4000-8000-000000000001}")
	EarlyCloseGUID     = spi.MustParseGUID("{7E57A1F0-0002-4000-8000-000000000002}")
	IFSPassThroughGUID = spi.MustParseGUID("{7E57A1F0-0003-4000-8000-000000000003}")
)

const (
	NaivePath          = `C:\testlsp\naive.dll`
	EarlyClosePath     = `C:\testlsp\earlyclose.dll`
	IFSPassThroughPath = `C:\testlsp\ifspassthrough.dll`
)

// install installs an LSP named name over the entries over, the way
// Microsoft's installer does, and registers at path a startup function
// that starts an instance and returns the table table builds for it.
func install(m layered.Machine, guid spi.GUID, path, name string, ifs bool, over []spi.CatalogEntryId,
	table func(*instance) (spi.WSPProcTable, error)) (*LSP, catalog.LSPEntries, error) {
	ids, err := m.Catalog().InstallLSP(catalog.LSP{ProviderId: guid, Path: path, Name: name, IFS: ifs, Over: over})
	if err != nil {
		return nil, catalog.LSPEntries{}, err
	}
	l := &LSP{}
	m.RegisterProvider(path, func(_ uint16, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
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

// instance is a test LSP as loaded into one process: what its WSPStartup
// was given and the next layer it loaded.
type instance struct {
	l       *LSP
	owner   spi.CatalogEntryId
	info    spi.WSAProtocolInfo
	upcalls spi.WSPUpcallTable
	imports spi.Imports
	next    spi.NextLayer

	mu    sync.Mutex             // guards socks
	socks map[spi.Socket]*socket // the layer's open sockets, by its handle
}

// socket is a non-IFS test LSP's socket: its handle's context.
type socket struct {
	in    *instance
	lower spi.Socket
}

var startupData = spi.WSPData{Version: spi.WINSOCK_VERSION, HighVersion: spi.WINSOCK_VERSION, Description: "wsspi test LSP"}

// start is the common part of WSPStartup: find the layer's place in info
// and load the next layer.
func start(l *LSP, self spi.CatalogEntryId, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (*instance, error) {
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

// mappedTable is the proc table of a non-IFS test LSP that passes every
// call down with the lower handle and the client's own overlapped,
// completion routine and thread: what Naive is, and what EarlyClose
// starts from.
func (in *instance) mappedTable() spi.WSPProcTable {
	next := &in.next.ProcTable
	t := spi.WSPProcTable{
		WSPSocket: func(af, typ, protocol int32, dup *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
			info := in.lowerInfo(dup)
			lower, err := next.WSPSocket(af, typ, protocol, &info, g, flags)
			if err != nil {
				return spi.INVALID_SOCKET, err
			}
			return in.wrap(lower)
		},
		WSPDuplicateSocket: func(h spi.Socket, pid uint32) (spi.WSAProtocolInfo, error) {
			s, err := in.lower(h)
			if err != nil {
				return spi.WSAProtocolInfo{}, err
			}
			return in.duplicated(next.WSPDuplicateSocket(s.lower, pid))
		},
		WSPAccept: func(h spi.Socket, cond spi.ConditionFunc, data any) (spi.Socket, netip.AddrPort, error) {
			s, err := in.lower(h)
			if err != nil {
				return spi.INVALID_SOCKET, netip.AddrPort{}, err
			}
			lower, addr, err := next.WSPAccept(s.lower, cond, data)
			if err != nil {
				return spi.INVALID_SOCKET, netip.AddrPort{}, err
			}
			nh, err := in.wrap(lower)
			return nh, addr, err
		},
		WSPCloseSocket: func(h spi.Socket) error {
			s, err := in.lower(h)
			if err != nil {
				return err
			}
			_ = next.WSPCloseSocket(s.lower)
			return in.forget(h)
		},
		WSPCleanup: in.cleanup,
		WSPBind: func(h spi.Socket, name netip.AddrPort) error {
			s, err := in.lower(h)
			if err != nil {
				return err
			}
			return next.WSPBind(s.lower, name)
		},
		WSPListen: func(h spi.Socket, backlog int32) error {
			s, err := in.lower(h)
			if err != nil {
				return err
			}
			return next.WSPListen(s.lower, backlog)
		},
		WSPConnect: func(h spi.Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *spi.QOS) error {
			s, err := in.lower(h)
			if err != nil {
				return err
			}
			return next.WSPConnect(s.lower, name, callerData, calleeData, sqos, gqos)
		},
		WSPSend: func(h spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			s, err := in.lower(h)
			if err != nil {
				return 0, err
			}
			in.l.sends.Add(1)
			return next.WSPSend(s.lower, bufs, flags, ov, cr, th)
		},
		WSPRecv: func(h spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			s, err := in.lower(h)
			if err != nil {
				return 0, err
			}
			in.l.recvs.Add(1)
			return next.WSPRecv(s.lower, bufs, flags, ov, cr, th)
		},
		WSPIoctl: func(h spi.Socket, code uint32, inBuf, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			s, err := in.lower(h)
			if err != nil {
				return 0, err
			}
			return next.WSPIoctl(s.lower, code, inBuf, out, ov, cr, th)
		},
		WSPGetOverlappedResult: func(h spi.Socket, ov *spi.Overlapped, wait bool) (uint32, uint32, error) {
			s, err := in.lower(h)
			if err != nil {
				return 0, 0, err
			}
			return next.WSPGetOverlappedResult(s.lower, ov, wait)
		},
		WSPGetSockOpt: func(h spi.Socket, level, optname int32, optval []byte) (int, error) {
			s, err := in.lower(h)
			if err != nil {
				return 0, err
			}
			if level == spi.SOL_SOCKET && optname == spi.SO_PROTOCOL_INFOW {
				return protocolInfo(&in.info, optval)
			}
			return next.WSPGetSockOpt(s.lower, level, optname, optval)
		},
		WSPSetSockOpt: func(h spi.Socket, level, optname int32, optval []byte) error {
			s, err := in.lower(h)
			if err != nil {
				return err
			}
			return next.WSPSetSockOpt(s.lower, level, optname, optval)
		},
		WSPShutdown: func(h spi.Socket, how int32) error {
			s, err := in.lower(h)
			if err != nil {
				return err
			}
			return next.WSPShutdown(s.lower, how)
		},
	}
	t.FillNotSupported()
	return t
}

// InstallNaive installs, over the entries over, a non-IFS LSP that gets
// overlapped I/O wrong in the simplest way: it passes the client's
// overlapped, completion routine and thread down unchanged with the lower
// handle. The layer below completes the operation on the lower handle,
// whose port (none) is not the client's, so a client waiting on the port it
// associated with the layer's handle never hears of the completion; the
// event in hEvent still fires, and a completion routine still runs,
// because those travel with the request. It counts sends and receives.
func InstallNaive(m layered.Machine, over ...spi.CatalogEntryId) (*LSP, catalog.LSPEntries, error) {
	return install(m, NaiveGUID, NaivePath, "Naive LSP", false, over, func(in *instance) (spi.WSPProcTable, error) {
		return in.mappedTable(), nil
	})
}
