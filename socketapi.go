package wsspi

import (
	"net/netip"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// WSASocket creates a socket, as WSASocketW does. With info nil the
// provider is the first catalog entry, in catalog order, that matches
// (af, typ, protocol); with info, it is the entry info.CatalogEntryId names.
// The entry's provider is loaded on first use and its WSPSocket called with
// the entry (for a chain, the chain entry, so each layer finds its place).
// Sockets are overlapped only with WSA_FLAG_OVERLAPPED.
//
// Errors: WSANOTINITIALISED; WSAEAFNOSUPPORT, WSAESOCKTNOSUPPORT or
// WSAEPROTONOSUPPORT when no entry matches; WSAEPROVIDERFAILEDINIT and
// friends when the provider does not load; whatever WSPSocket returns.
func (t *Thread) WSASocket(af, typ, protocol int32, info *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
	const op = "WSASocket"
	c := t.traceCall(trace.LayerWinsock, op, 0)
	l, err := t.p.activeLoader(op, 0)
	if err != nil {
		return c.endHandle(spi.INVALID_SOCKET, err)
	}
	entry, err := l.View().Choose(af, typ, protocol, info)
	if err != nil {
		return c.endHandle(spi.INVALID_SOCKET, spi.NewOpError(op, 0, err))
	}
	prov, err := t.p.loadForSocket(l, entry)
	if err != nil {
		return c.endHandle(spi.INVALID_SOCKET, spi.NewOpError(op, 0, err))
	}
	if info != nil {
		// A protocol info from WSADuplicateSocket names the socket to share
		// in ProviderReserved, for the provider to find.
		entry.ProviderReserved = info.ProviderReserved
	}
	s, err := t.p.socketProcs(entry.CatalogEntryId, &prov.ProcTable).WSPSocket(af, typ, protocol, &entry, g, flags)
	if err != nil {
		return c.endHandle(spi.INVALID_SOCKET, spi.NewOpError(op, 0, err))
	}
	if flags&spi.WSA_FLAG_OVERLAPPED == 0 {
		// ws2_32 opens the handles WPUCreateSocketHandle makes during the
		// call synchronous (docs/facts.md §8.1): the open type in force is
		// SO_SYNCHRONOUS_NONALERT. An IFS handle is the provider's own.
		t.p.ifs.MarkSynchronous(s)
	}
	return c.endHandle(s, nil)
}

// Socket creates a socket as socket() does: WSASocket with
// WSA_FLAG_OVERLAPPED, because socket() makes overlapped-capable sockets,
// unless the thread's SO_OPENTYPE is SO_SYNCHRONOUS_ALERT or
// SO_SYNCHRONOUS_NONALERT (see [Thread.Setsockopt]): then without it, and
// the socket is not overlapped (docs/facts.md §2.5, §8.1).
func (t *Thread) Socket(af, typ, protocol int32) (spi.Socket, error) {
	var flags uint32
	if t.openType == 0 {
		flags = spi.WSA_FLAG_OVERLAPPED
	}
	return t.WSASocket(af, typ, protocol, nil, 0, flags)
}

// callIO is call for an overlapped-capable I/O call. A completion routine
// on an IFS socket associated with a completion port is refused with
// WSAEINVAL, as the I/O manager refuses an APC routine on a file object
// that has a completion port (STATUS_INVALID_PARAMETER). A non-IFS layer's
// handle is not refused: the routine goes to the layer in user mode, which
// queues it with WPUQueueApc. A completion routine issued by a thread after
// its Exit is refused with WSAEINVAL too, whatever the socket: it could
// never run, since only the issuing thread's alertable waits run it (on
// Windows an exited thread issues nothing; this is the simulator's code
// for the Go caller that tries).
func (t *Thread) callIO(op string, s spi.Socket, cr spi.CompletionRoutine) (*spi.WSPProcTable, error) {
	if cr != nil {
		if t.th.Snapshot().Exited {
			return nil, spi.NewOpError(op, s, spi.WSAEINVAL)
		}
		if o, err := t.p.ifs.Socket(op, s); err == nil && o.IFS() {
			if port, _ := o.CompletionFile().Port(); port != nil {
				return nil, spi.NewOpError(op, s, spi.WSAEINVAL)
			}
		}
	}
	return t.call(op, s)
}

// call finds the provider of s for operation op.
func (t *Thread) call(op string, s spi.Socket) (*spi.WSPProcTable, error) {
	if t.p.tr != nil {
		return t.p.tracedOwner(winsockLayer, op, s)
	}
	return t.p.socketOwner(op, s)
}

// winsock makes the Winsock call fn on s: it traces the call, finds the
// provider of s, and ends the trace with the error of do, which calls the
// provider, wrapped once with fn and s.
func (t *Thread) winsock(fn string, s spi.Socket, do func(pt *spi.WSPProcTable) error) error {
	c := t.traceCall(trace.LayerWinsock, fn, s)
	pt, err := t.call(fn, s)
	if err != nil {
		return c.end(err)
	}
	return c.end(spi.NewOpError(fn, s, do(pt)))
}

// winsockIO is winsock for an I/O call, which passes bufs (the trace
// records their size), may take a completion routine cr (callIO), and
// returns a byte count.
func (t *Thread) winsockIO(fn string, s spi.Socket, cr spi.CompletionRoutine, bufs [][]byte, do func(pt *spi.WSPProcTable) (uint32, error)) (uint32, error) {
	c := t.traceCall(trace.LayerWinsock, fn, s, bufs...)
	pt, err := t.callIO(fn, s, cr)
	if err != nil {
		return c.endN(0, err)
	}
	n, err := do(pt)
	return c.endN(n, spi.NewOpError(fn, s, err))
}

// Bind binds s to a local address (bind).
func (t *Thread) Bind(s spi.Socket, name netip.AddrPort) error {
	return t.winsock("bind", s, func(pt *spi.WSPProcTable) error { return pt.WSPBind(s, name) })
}

// Listen makes s listen for connections (listen).
func (t *Thread) Listen(s spi.Socket, backlog int32) error {
	return t.winsock("listen", s, func(pt *spi.WSPProcTable) error { return pt.WSPListen(s, backlog) })
}

// Connect connects s to name (connect).
func (t *Thread) Connect(s spi.Socket, name netip.AddrPort) error {
	return t.winsock("connect", s, func(pt *spi.WSPProcTable) error { return pt.WSPConnect(s, name, nil, nil, nil, nil) })
}

// Accept accepts a connection on listening socket s (accept) and returns
// the new socket and the peer's address.
func (t *Thread) Accept(s spi.Socket) (spi.Socket, netip.AddrPort, error) {
	return t.WSAAccept(s, nil, nil)
}

// WSAAccept accepts a connection, consulting condition if it is not nil
// (WSAAccept).
func (t *Thread) WSAAccept(s spi.Socket, condition spi.ConditionFunc, callbackData any) (spi.Socket, netip.AddrPort, error) {
	c := t.traceCall(trace.LayerWinsock, "WSAAccept", s)
	pt, err := t.call("WSAAccept", s)
	if err != nil {
		return spi.INVALID_SOCKET, netip.AddrPort{}, c.end(err)
	}
	ns, addr, err := pt.WSPAccept(s, condition, callbackData)
	if err != nil {
		return spi.INVALID_SOCKET, netip.AddrPort{}, c.end(spi.NewOpError("WSAAccept", s, err))
	}
	c.endHandle(ns, nil)
	return ns, addr, nil
}

// WSASend sends bufs on connected socket s (WSASend). With ov nil and cr
// nil the call is not overlapped. Otherwise a nil error means the send
// completed at once, and its completion is still delivered (unless
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS applies); WSA_IO_PENDING means it
// will complete later through the port the socket is associated with, the
// ov.HEvent event, or cr on this thread in an alertable wait; any other
// error means nothing started and nothing will be delivered.
func (t *Thread) WSASend(s spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine) (uint32, error) {
	return t.winsockIO("WSASend", s, cr, bufs, func(pt *spi.WSPProcTable) (uint32, error) {
		return pt.WSPSend(s, bufs, flags, ov, cr, &t.id)
	})
}

// WSARecv receives into bufs (WSARecv); flags is in/out, as in C. The
// overlapped rules of [Thread.WSASend] apply.
func (t *Thread) WSARecv(s spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine) (uint32, error) {
	var none uint32
	if flags == nil {
		flags = &none
	}
	return t.winsockIO("WSARecv", s, cr, bufs, func(pt *spi.WSPProcTable) (uint32, error) {
		return pt.WSPRecv(s, bufs, flags, ov, cr, &t.id)
	})
}

// WSASendTo sends bufs as one datagram to to (WSASendTo).
func (t *Thread) WSASendTo(s spi.Socket, bufs [][]byte, flags uint32, to netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine) (uint32, error) {
	return t.winsockIO("WSASendTo", s, cr, bufs, func(pt *spi.WSPProcTable) (uint32, error) {
		return pt.WSPSendTo(s, bufs, flags, to, ov, cr, &t.id)
	})
}

// WSARecvFrom receives a datagram into bufs (WSARecvFrom); from, when not
// nil, receives the sender's address, also for an operation that pends.
func (t *Thread) WSARecvFrom(s spi.Socket, bufs [][]byte, flags *uint32, from *netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine) (uint32, error) {
	var none uint32
	if flags == nil {
		flags = &none
	}
	return t.winsockIO("WSARecvFrom", s, cr, bufs, func(pt *spi.WSPProcTable) (uint32, error) {
		return pt.WSPRecvFrom(s, bufs, flags, from, ov, cr, &t.id)
	})
}

// Shutdown disables sends, receives or both on s (shutdown, SD_*).
func (t *Thread) Shutdown(s spi.Socket, how int32) error {
	return t.winsock("shutdown", s, func(pt *spi.WSPProcTable) error { return pt.WSPShutdown(s, how) })
}

// Closesocket closes s (closesocket). Pending overlapped operations on it
// complete once each with WSA_OPERATION_ABORTED through their chosen
// mechanism; later calls on s fail with WSAENOTSOCK.
func (t *Thread) Closesocket(s spi.Socket) error {
	return t.winsock("closesocket", s, func(pt *spi.WSPProcTable) error { return pt.WSPCloseSocket(s) })
}

// WSAIoctl performs a control operation on s (WSAIoctl) and returns how
// many bytes of out it filled. The provider that owns s answers: for
// SIO_BASE_HANDLE, through every layer, the base provider.
func (t *Thread) WSAIoctl(s spi.Socket, code uint32, in, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine) (uint32, error) {
	return t.winsockIO("WSAIoctl", s, cr, [][]byte{in}, func(pt *spi.WSPProcTable) (uint32, error) {
		return pt.WSPIoctl(s, code, in, out, ov, cr, &t.id)
	})
}

// Getsockopt copies an option's value into optval and returns its length
// (getsockopt). SO_PROTOCOL_INFOW fills a WSAPROTOCOL_INFOW; decode it with
// [spi.WSAProtocolInfo.UnmarshalBinary]. SOL_SOCKET's SO_OPENTYPE is the
// calling thread's, whatever s is (see [Thread.Setsockopt]).
func (t *Thread) Getsockopt(s spi.Socket, level, optname int32, optval []byte) (int, error) {
	if level == spi.SOL_SOCKET && optname == spi.SO_OPENTYPE {
		return t.getOpenType(s, optval)
	}
	var n int
	err := t.winsock("getsockopt", s, func(pt *spi.WSPProcTable) (err error) {
		n, err = pt.WSPGetSockOpt(s, level, optname, optval)
		return err
	})
	return n, err
}

// Setsockopt sets an option from optval (setsockopt). SOL_SOCKET's
// SO_OPENTYPE is ws2_32's own and the calling thread's, whatever s is
// (INVALID_SOCKET, usually): SO_SYNCHRONOUS_ALERT or
// SO_SYNCHRONOUS_NONALERT makes the sockets socket() creates in the thread
// from then on non-overlapped, and 0 makes them overlapped again.
func (t *Thread) Setsockopt(s spi.Socket, level, optname int32, optval []byte) error {
	if level == spi.SOL_SOCKET && optname == spi.SO_OPENTYPE {
		return t.setOpenType(s, optval)
	}
	return t.winsock("setsockopt", s, func(pt *spi.WSPProcTable) error { return pt.WSPSetSockOpt(s, level, optname, optval) })
}

// Getsockname returns the local address of s (getsockname).
func (t *Thread) Getsockname(s spi.Socket) (netip.AddrPort, error) {
	var a netip.AddrPort
	err := t.winsock("getsockname", s, func(pt *spi.WSPProcTable) (err error) {
		a, err = pt.WSPGetSockName(s)
		return err
	})
	return a, err
}

// Getpeername returns the address of the peer of s (getpeername).
func (t *Thread) Getpeername(s spi.Socket) (netip.AddrPort, error) {
	var a netip.AddrPort
	err := t.winsock("getpeername", s, func(pt *spi.WSPProcTable) (err error) {
		a, err = pt.WSPGetPeerName(s)
		return err
	})
	return a, err
}

// WSAGetOverlappedResult returns the result of an overlapped operation on s
// (WSAGetOverlappedResult): the bytes transferred and the receive flags. A
// pending operation gives WSA_IO_INCOMPLETE unless wait is set, which
// blocks until it completes.
func (t *Thread) WSAGetOverlappedResult(s spi.Socket, ov *spi.Overlapped, wait bool) (bytes, flags uint32, err error) {
	c := t.traceCall(trace.LayerWinsock, "WSAGetOverlappedResult", s)
	pt, err := t.call("WSAGetOverlappedResult", s)
	if err != nil {
		return 0, 0, c.end(err)
	}
	bytes, flags, err = pt.WSPGetOverlappedResult(s, ov, wait)
	bytes, err = c.endN(bytes, spi.NewOpError("WSAGetOverlappedResult", s, err))
	return bytes, flags, err
}

// WSAEnumProtocols lists the catalog entries the process can use, as
// WSAEnumProtocols does: base and chain entries that are not hidden, in
// catalog order, optionally only those of the given protocols.
func (p *Process) WSAEnumProtocols(protocols []int32) ([]spi.WSAProtocolInfo, error) {
	l, err := p.activeLoader("WSAEnumProtocols", 0)
	if err != nil {
		return nil, err
	}
	return l.View().WSAEnumProtocols(protocols)
}

// WSAEnumProtocolsW is WSAEnumProtocols in its Windows form, for code ported
// line by line from C: it fills buf with the entries [Process.WSAEnumProtocols]
// lists and returns their count. *bufferLength is the buffer's size in
// bytes, as in C (spi.WSAProtocolInfoSize, 628, per entry; buf must have
// room for that many entries, or the smaller of the two is used). When the
// entries do not fit, or buf is nil, it fails with WSAENOBUFS and sets
// *bufferLength to the size needed, so that the usual two calls work:
//
//	var n uint32
//	_, err := p.WSAEnumProtocolsW(nil, nil, &n) // WSAENOBUFS, n = the size needed
//	buf := make([]spi.WSAProtocolInfo, n/spi.WSAProtocolInfoSize)
//	count, err := p.WSAEnumProtocolsW(nil, buf, &n)
//
// A nil bufferLength fails with WSAEFAULT, as a bad lpdwBufferLength does.
func (p *Process) WSAEnumProtocolsW(protocols []int32, buf []spi.WSAProtocolInfo, bufferLength *uint32) (int, error) {
	const op = "WSAEnumProtocols"
	if bufferLength == nil {
		return 0, spi.NewOpError(op, 0, spi.WSAEFAULT)
	}
	all, err := p.WSAEnumProtocols(protocols)
	if err != nil {
		return 0, err
	}
	room := min(len(buf), int(*bufferLength/spi.WSAProtocolInfoSize))
	if need := len(all) * spi.WSAProtocolInfoSize; len(all) > room || (buf == nil && need > 0) {
		*bufferLength = uint32(need)
		return 0, spi.NewOpError(op, 0, spi.WSAENOBUFS)
	}
	return copy(buf, all), nil
}

// Loader returns the process's provider loader, for inspection of
// reference counts in tests (see [catalog.Loader.Snapshot]); nil before
// WSAStartup.
func (p *Process) Loader() *catalog.Loader { return p.loader.Load() }
