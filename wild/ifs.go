package wild

import (
	"net/netip"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// InstallIFSPassThrough installs, over the entries over, IFSPassThrough:
// a well-behaved IFS layer of the pass-through kind (D:wpumodify), as
// Proxifier is an IFS LSP seen in the wild (docs/facts.md §14.1): its sockets are the layer below's IFS
// handles, registered as its own with WPUModifyIFSHandle, and its proc
// table is a copy of the next layer's with WSPRecv and WSPSend wrapped to
// count calls, WSPSocket and WSPAccept wrapped to register handles, and
// getsockopt(SO_PROTOCOL_INFOW) answering with its chain (XP1_IFS_HANDLES
// set). ReadFile and WriteFile on its handles go straight to the base
// provider's driver, so its counters never see them.
func InstallIFSPassThrough(m layered.Machine, over ...spi.CatalogEntryId) (*Layer, catalog.LSPEntries, error) {
	return install(m, ifsPassThroughID, true, over, ifsTable)
}

// ifsTable builds an IFSPassThrough instance's table.
func ifsTable(in *instance) (spi.WSPProcTable, error) {
	next := in.next.ProcTable
	t := next
	adopt := func(lower spi.Socket) (spi.Socket, error) {
		h, err := in.upcalls.WPUModifyIFSHandle(in.owner, lower)
		if err != nil {
			_ = next.WSPCloseSocket(lower)
			return spi.INVALID_SOCKET, err
		}
		return h, nil
	}
	t.WSPSocket = func(af, typ, protocol int32, dup *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
		info := in.lowerInfo(dup)
		lower, err := next.WSPSocket(af, typ, protocol, &info, g, flags)
		if err != nil {
			return spi.INVALID_SOCKET, err
		}
		return adopt(lower)
	}
	t.WSPDuplicateSocket = func(h spi.Socket, pid uint32) (spi.WSAProtocolInfo, error) {
		return in.duplicated(next.WSPDuplicateSocket(h, pid))
	}
	t.WSPAccept = func(h spi.Socket, cond spi.ConditionFunc, data any) (spi.Socket, netip.AddrPort, error) {
		lower, addr, err := next.WSPAccept(h, cond, data)
		if err != nil {
			return spi.INVALID_SOCKET, netip.AddrPort{}, err
		}
		nh, err := adopt(lower)
		return nh, addr, err
	}
	t.WSPSend = func(h spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		in.l.sends.Add(1)
		return next.WSPSend(h, bufs, flags, ov, cr, th)
	}
	t.WSPRecv = func(h spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		in.l.recvs.Add(1)
		return next.WSPRecv(h, bufs, flags, ov, cr, th)
	}
	t.WSPGetSockOpt = func(h spi.Socket, level, optname int32, optval []byte) (int, error) {
		if level == spi.SOL_SOCKET && optname == spi.SO_PROTOCOL_INFOW {
			return protocolInfo(&in.info, optval)
		}
		return next.WSPGetSockOpt(h, level, optname, optval)
	}
	t.WSPCleanup = in.next.Cleanup
	return t, nil
}
