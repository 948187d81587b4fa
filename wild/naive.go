package wild

import (
	"net/netip"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// mappedTable is the proc table of a non-IFS layer that passes every
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
		WSPSendTo: func(h spi.Socket, bufs [][]byte, flags uint32, to netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			s, err := in.lower(h)
			if err != nil {
				return 0, err
			}
			in.l.sends.Add(1)
			return next.WSPSendTo(s.lower, bufs, flags, to, ov, cr, th)
		},
		WSPRecvFrom: func(h spi.Socket, bufs [][]byte, flags *uint32, from *netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			s, err := in.lower(h)
			if err != nil {
				return 0, err
			}
			in.l.recvs.Add(1)
			return next.WSPRecvFrom(s.lower, bufs, flags, from, ov, cr, th)
		},
		WSPGetSockName: func(h spi.Socket) (netip.AddrPort, error) {
			s, err := in.lower(h)
			if err != nil {
				return netip.AddrPort{}, err
			}
			return next.WSPGetSockName(s.lower)
		},
		WSPGetPeerName: func(h spi.Socket) (netip.AddrPort, error) {
			s, err := in.lower(h)
			if err != nil {
				return netip.AddrPort{}, err
			}
			return next.WSPGetPeerName(s.lower)
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
		WSPEventSelect: func(h spi.Socket, event spi.Handle, events int32) error {
			s, err := in.lower(h)
			if err != nil {
				return err
			}
			return next.WSPEventSelect(s.lower, event, events)
		},
		WSPEnumNetworkEvents: func(h spi.Socket, event spi.Handle) (spi.WSANetworkEvents, error) {
			s, err := in.lower(h)
			if err != nil {
				return spi.WSANetworkEvents{}, err
			}
			return next.WSPEnumNetworkEvents(s.lower, event)
		},
		// The client's window goes down as it came, so the messages the
		// layer below posts name the lower socket: the AsyncSelectHandle
		// rule's mistake, made for the same reason as the overlapped one.
		WSPAsyncSelect: func(h spi.Socket, win spi.HWND, msg uint32, events int32) error {
			s, err := in.lower(h)
			if err != nil {
				return err
			}
			return next.WSPAsyncSelect(s.lower, win, msg, events)
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

// InstallNaive installs, over the entries over, Naive: a non-IFS layer
// that gets overlapped I/O wrong in the simplest way, the mistake
// Microsoft's sample exists to avoid (docs/facts.md §1.1, §8.2). It passes
// the client's overlapped, completion routine and thread down unchanged
// with its lower handle. The layer below completes the operation on the
// lower handle, whose port (none) is not the client's, so a client waiting
// on the port it associated with the layer's handle never hears of the
// completion; the event in hEvent still fires, and a completion routine
// still runs, because those travel with the request. WSPEventSelect and
// WSPEnumNetworkEvents go down with the lower handle, which works (the
// event is the client's); WSPAsyncSelect goes down with the client's
// window, so its messages name the lower socket. It counts sends and
// receives.
func InstallNaive(m layered.Machine, over ...spi.CatalogEntryId) (*Layer, catalog.LSPEntries, error) {
	return install(m, naiveID, false, over, func(in *instance) (spi.WSPProcTable, error) {
		return in.mappedTable(), nil
	})
}
