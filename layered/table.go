package layered

import (
	"net/netip"

	"github.com/wsspi/wsspi/spi"
)

// procTable builds the instance's proc table. A non-IFS layer implements
// every entry, because each must map the layer's handle to the lower one
// (D:wscgetinfo); entries that name no socket go to the next layer with
// the protocol info LoadNext returned.
func (in *Instance) procTable() spi.WSPProcTable {
	return spi.WSPProcTable{
		WSPAccept: in.accept,
		WSPAddressToString: func(addr netip.AddrPort, _ *spi.WSAProtocolInfo) (string, error) {
			e, err := in.current()
			if err != nil {
				return "", err
			}
			info := e.next.Info
			return e.next.ProcTable.WSPAddressToString(addr, &info)
		},
		WSPAsyncSelect: in.asyncSelect,
		WSPBind: func(h spi.Socket, name netip.AddrPort) error {
			e, s, err := in.resolve(h)
			if err != nil {
				return err
			}
			return e.next.ProcTable.WSPBind(s.lower, name)
		},
		WSPCancelBlockingCall: func() error {
			e, err := in.current()
			if err != nil {
				return err
			}
			return e.next.ProcTable.WSPCancelBlockingCall()
		},
		WSPCleanup:           in.wspCleanup,
		WSPCloseSocket:       in.closeSocket,
		WSPConnect:           in.connect,
		WSPDuplicateSocket:   in.duplicate,
		WSPEnumNetworkEvents: in.enumNetworkEvents,
		WSPEventSelect: func(h spi.Socket, event spi.Handle, events int32) error {
			e, s, err := in.resolve(h)
			if err != nil {
				return err
			}
			return e.next.ProcTable.WSPEventSelect(s.lower, event, events)
		},
		WSPGetOverlappedResult: in.getOverlappedResult,
		WSPGetPeerName: func(h spi.Socket) (netip.AddrPort, error) {
			e, s, err := in.resolve(h)
			if err != nil {
				return netip.AddrPort{}, err
			}
			return e.next.ProcTable.WSPGetPeerName(s.lower)
		},
		WSPGetSockName: func(h spi.Socket) (netip.AddrPort, error) {
			e, s, err := in.resolve(h)
			if err != nil {
				return netip.AddrPort{}, err
			}
			return e.next.ProcTable.WSPGetSockName(s.lower)
		},
		WSPGetSockOpt: in.getSockOpt,
		WSPGetQOSByName: func(h spi.Socket, name []byte) (spi.QOS, error) {
			e, s, err := in.resolve(h)
			if err != nil {
				return spi.QOS{}, err
			}
			return e.next.ProcTable.WSPGetQOSByName(s.lower, name)
		},
		WSPIoctl:    in.ioctl,
		WSPJoinLeaf: in.joinLeaf,
		WSPListen: func(h spi.Socket, backlog int32) error {
			e, s, err := in.resolve(h)
			if err != nil {
				return err
			}
			return e.next.ProcTable.WSPListen(s.lower, backlog)
		},
		WSPRecv: in.recv,
		WSPRecvDisconnect: func(h spi.Socket) ([]byte, error) {
			e, s, err := in.resolve(h)
			if err != nil {
				return nil, err
			}
			return e.next.ProcTable.WSPRecvDisconnect(s.lower)
		},
		WSPRecvFrom: in.recvFrom,
		WSPSelect:   in.selectSockets,
		WSPSend:     in.send,
		WSPSendDisconnect: func(h spi.Socket, data []byte) error {
			e, s, err := in.resolve(h)
			if err != nil {
				return err
			}
			return e.next.ProcTable.WSPSendDisconnect(s.lower, data)
		},
		WSPSendTo: in.sendTo,
		WSPSetSockOpt: func(h spi.Socket, level, optname int32, optval []byte) error {
			e, s, err := in.resolve(h)
			if err != nil {
				return err
			}
			return e.next.ProcTable.WSPSetSockOpt(s.lower, level, optname, optval)
		},
		WSPShutdown: func(h spi.Socket, how int32) error {
			e, s, err := in.resolve(h)
			if err != nil {
				return err
			}
			return e.next.ProcTable.WSPShutdown(s.lower, how)
		},
		WSPSocket: in.socket,
		WSPStringToAddress: func(address string, af int32, _ *spi.WSAProtocolInfo) (netip.AddrPort, error) {
			e, err := in.current()
			if err != nil {
				return netip.AddrPort{}, err
			}
			info := e.next.Info
			return e.next.ProcTable.WSPStringToAddress(address, af, &info)
		},
	}
}

// resolve returns the instance's environment and the socket of handle h.
func (in *Instance) resolve(h spi.Socket) (*env, *Socket, error) {
	e, err := in.current()
	if err != nil {
		return nil, nil, err
	}
	s, err := in.lookup(e, h)
	return e, s, err
}

// socket serves WSPSocket: the lower socket is created through the next
// layer's table with the protocol info LoadNext returned, always
// overlapped so the layer can substitute its own overlapped, then paired
// with a handle of the layer's own. SO_PROTOCOL_INFOW on it reports info,
// the chain entry the client chose.
func (in *Instance) socket(af, typ, protocol int32, info *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
	e, err := in.current()
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	next := e.next.Info
	if info != nil {
		// From WSPDuplicateSocket: the layer below finds its socket by this.
		next.ProviderReserved = info.ProviderReserved
	}
	lower, err := e.next.ProcTable.WSPSocket(af, typ, protocol, &next, g, flags|spi.WSA_FLAG_OVERLAPPED)
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	top := &e.info
	if info != nil && (info.CatalogEntryId != e.info.CatalogEntryId || info.ProviderReserved != 0) {
		c := *info
		c.ProviderReserved = 0
		top = &c
	}
	s, err := in.reserve(e, top, flags&spi.WSA_FLAG_OVERLAPPED != 0)
	if err != nil {
		_ = e.next.ProcTable.WSPCloseSocket(lower)
		return spi.INVALID_SOCKET, err
	}
	s.shared = info != nil && info.ProviderReserved != 0
	return in.attach(e, s, lower)
}

// duplicate serves WSPDuplicateSocket as Microsoft's LSP sample does: the
// layer below duplicates the lower socket for process pid, and the protocol
// info it returns is rewritten to the socket's own entry (the chain the
// client chose, so that the target's WSASocket comes back to this layer)
// around the lower provider's ProviderReserved, which this layer's
// WSPSocket hands down so the layer below finds its socket. The target's
// socket is a new socket of the layer over a new descriptor of the same
// lower socket: closing either cancels nothing of the other's.
func (in *Instance) duplicate(h spi.Socket, pid uint32) (spi.WSAProtocolInfo, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return spi.WSAProtocolInfo{}, err
	}
	lower, err := e.next.ProcTable.WSPDuplicateSocket(s.lower, pid)
	if err != nil {
		return spi.WSAProtocolInfo{}, err
	}
	info := *s.info
	info.ProviderReserved = lower.ProviderReserved
	return info, nil
}

// accept serves WSPAccept: the connection the layer below accepts is
// wrapped in a new handle of the layer's own, with the listener's entry
// and overlapped mode. The handle is made first, so that when the handle
// table is full the accept fails with WSAENOBUFS before the layer below
// takes the connection, which stays queued for a later accept. A
// connection an After hook refuses is closed. The new socket has the
// listener's WSAAsyncSelect (see inherit).
func (in *Instance) accept(h spi.Socket, condition spi.ConditionFunc, data any) (spi.Socket, netip.AddrPort, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return spi.INVALID_SOCKET, netip.AddrPort{}, err
	}
	if !in.p.cfg.Hooks.acts() {
		ns, addr, err := in.acceptBelow(e, s, condition, data)
		if err != nil {
			return spi.INVALID_SOCKET, netip.AddrPort{}, err
		}
		return ns.handle, addr, nil
	}
	var ns *Socket
	c := &Call{Op: OpAccept, Func: fnAccept, Socket: s}
	_, err = in.sync(s, c, func(c *Call) (uint32, error) {
		var err error
		ns, c.Addr, err = in.acceptBelow(e, s, condition, data)
		c.Accepted = ns
		return 0, err
	}, nil)
	if err != nil {
		if ns != nil {
			_ = in.closeLower(e, ns)
		}
		return spi.INVALID_SOCKET, netip.AddrPort{}, err
	}
	return ns.handle, c.Addr, nil
}

// acceptBelow takes a connection from the layer below into a new socket
// of the layer's (see accept).
func (in *Instance) acceptBelow(e *env, s *Socket, condition spi.ConditionFunc, data any) (*Socket, netip.AddrPort, error) {
	ns, err := in.reserve(e, s.info, s.overlapped)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	ns.inherit(s)
	in.beginPairing()
	defer in.endPairing()
	lower, addr, err := e.next.ProcTable.WSPAccept(s.lower, condition, data)
	if err != nil {
		_ = e.upcalls.WPUCloseSocketHandle(ns.handle)
		return nil, netip.AddrPort{}, err
	}
	if _, err := in.attach(e, ns, lower); err != nil {
		return nil, netip.AddrPort{}, err
	}
	return ns, addr, nil
}

// joinLeaf serves WSPJoinLeaf: a new socket from the layer below is
// wrapped as accept does (with s's WSAAsyncSelect, as the sample's
// CreateSockInfo gives it); the same socket comes back as the layer's.
func (in *Instance) joinLeaf(h spi.Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *spi.QOS, flags uint32) (spi.Socket, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	in.beginPairing()
	defer in.endPairing()
	lower, err := e.next.ProcTable.WSPJoinLeaf(s.lower, name, callerData, calleeData, sqos, gqos, flags)
	switch {
	case err != nil:
		return spi.INVALID_SOCKET, err
	case lower == s.lower:
		return h, nil
	}
	return in.newSocket(e, lower, s)
}

// connect serves WSPConnect, through the hooks.
func (in *Instance) connect(h spi.Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *spi.QOS) error {
	e, s, err := in.resolve(h)
	if err != nil {
		return err
	}
	down := func(name netip.AddrPort) error {
		if hook := in.p.cfg.Hooks.OnConnect; hook != nil {
			var err error
			if name, err = hook(s, name); err != nil {
				return err
			}
		}
		return e.next.ProcTable.WSPConnect(s.lower, name, callerData, calleeData, sqos, gqos)
	}
	if !in.p.cfg.Hooks.acts() {
		return down(name)
	}
	c := &Call{Op: OpConnect, Func: fnConnect, Socket: s, Addr: name}
	_, err = in.sync(s, c, func(c *Call) (uint32, error) { return 0, down(c.Addr) }, nil)
	return err
}

// getSockOpt serves WSPGetSockOpt. SO_PROTOCOL_INFOW reports the layer's
// own entry (the chain, with its XP1_IFS_HANDLES bit, clear for a
// non-IFS layer), as the sample reports its LayerProvider; every other
// option is the layer below's.
func (in *Instance) getSockOpt(h spi.Socket, level, optname int32, optval []byte) (int, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return 0, err
	}
	if level == spi.SOL_SOCKET && optname == spi.SO_PROTOCOL_INFOW {
		if err := s.info.PutBinary(optval); err != nil {
			return 0, err
		}
		return spi.WSAProtocolInfoSize, nil
	}
	return e.next.ProcTable.WSPGetSockOpt(s.lower, level, optname, optval)
}

// send serves WSPSend (and WriteFile, through the redirector).
func (in *Instance) send(h spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	return in.io(h, &lowerCall{kind: callSend, bufs: bufs, flags: flags}, ov, cr, thread)
}

// sendTo serves WSPSendTo.
func (in *Instance) sendTo(h spi.Socket, bufs [][]byte, flags uint32, to netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	return in.io(h, &lowerCall{kind: callSendTo, bufs: bufs, flags: flags, to: to}, ov, cr, thread)
}

// recv serves WSPRecv (and ReadFile, through the redirector).
func (in *Instance) recv(h spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	return in.io(h, &lowerCall{kind: callRecv, bufs: bufs, rflags: flags}, ov, cr, thread)
}

// recvFrom serves WSPRecvFrom; from is written by the layer below, at
// completion for an operation that pends.
func (in *Instance) recvFrom(h spi.Socket, bufs [][]byte, flags *uint32, from *netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	return in.io(h, &lowerCall{kind: callRecvFrom, bufs: bufs, rflags: flags, from: from}, ov, cr, thread)
}

// ioctl serves WSPIoctl. Every code goes down unchanged with the lower
// handle, except SIO_GET_EXTENSION_FUNCTION_POINTER for AcceptEx or
// ConnectEx without an overlapped, which returns the layer's own wrapper
// (see extension.go), and SIO_BSP_HANDLE_SELECT under
// [Config.ServeSelect], which the layer answers with its own handle (see
// readiness.go); in particular the kit never intercepts SIO_BASE_HANDLE,
// so the base provider answers it through any number of layers, and
// SIO_BSP_HANDLE, SIO_BSP_HANDLE_POLL (and SIO_BSP_HANDLE_SELECT by
// default) get the next layer's answer. (Hooks may: a Before
// that fails SIO_BASE_HANDLE with WSAEFAULT makes the layer one of those
// that hide the base handle.)
func (in *Instance) ioctl(h spi.Socket, code uint32, inBuf, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	return in.io(h, &lowerCall{kind: callIoctl, code: code, inBuf: inBuf, out: out}, ov, cr, thread)
}

// callKind names the proc-table entry a lowerCall goes to.
type callKind uint8

const (
	callSend callKind = iota
	callSendTo
	callRecv
	callRecvFrom
	callIoctl
)

// lowerCall is a client's I/O call as the layer passes it down: the entry
// it goes to and its arguments but the overlapped ones. It lives on the
// caller's stack.
type lowerCall struct {
	kind       callKind
	bufs       [][]byte
	flags      uint32          // WSPSend, WSPSendTo
	rflags     *uint32         // WSPRecv, WSPRecvFrom: in/out
	to         netip.AddrPort  // WSPSendTo
	from       *netip.AddrPort // WSPRecvFrom
	code       uint32          // WSPIoctl
	inBuf, out []byte          // WSPIoctl
}

func (c *lowerCall) receives() bool { return c.kind == callRecv || c.kind == callRecvFrom }

func (c *lowerCall) sends() bool { return c.kind == callSend || c.kind == callSendTo }

// describe fills call with c, as Before sees it.
func (c *lowerCall) describe(call *Call, s *Socket, overlapped bool) {
	*call = Call{Socket: s, Overlapped: overlapped, Bufs: c.bufs, size: bytesOf(c.bufs), sized: true}
	switch c.kind {
	case callSend:
		call.Op, call.Func, call.Flags = OpSend, fnSend, c.flags
	case callSendTo:
		call.Op, call.Func, call.Flags, call.Addr = OpSend, fnSendTo, c.flags, c.to
	case callRecv, callRecvFrom:
		call.Op, call.Func = OpRecv, fnRecv
		if c.rflags != nil {
			call.Flags = *c.rflags
		}
		if c.kind == callRecvFrom {
			call.Func = fnRecvFrom
			if c.from != nil {
				call.Addr = *c.from
			}
		}
	default:
		call.Op, call.Func, call.Code, call.In, call.Out = OpIoctl, fnIoctl, c.code, c.inBuf, c.out
		call.size = uint32(len(c.out))
	}
}

// adopt takes what Before may change of a call that goes down: the
// buffers, flags and destination of a send, the input of an ioctl.
func (c *lowerCall) adopt(call *Call) {
	switch c.kind {
	case callSend, callSendTo:
		c.bufs, c.flags, c.to = call.Bufs, call.Flags, call.Addr
	case callIoctl:
		c.inBuf = call.In
	}
}

// do makes the call on the lower socket, with ov, the lower call's own
// receive flags, and thread; no completion routine ever goes down.
func (c *lowerCall) do(t *spi.WSPProcTable, lower spi.Socket, rflags *uint32, ov *spi.Overlapped, thread *spi.ThreadID) (uint32, error) {
	switch c.kind {
	case callSend:
		return t.WSPSend(lower, c.bufs, c.flags, ov, nil, thread)
	case callSendTo:
		return t.WSPSendTo(lower, c.bufs, c.flags, c.to, ov, nil, thread)
	case callRecv:
		return t.WSPRecv(lower, c.bufs, rflags, ov, nil, thread)
	case callRecvFrom:
		return t.WSPRecvFrom(lower, c.bufs, rflags, c.from, ov, nil, thread)
	}
	return t.WSPIoctl(lower, c.code, c.inBuf, c.out, ov, nil, thread)
}

// io serves the I/O entries: it maps the handle and passes a call that
// is not overlapped (no overlapped; a completion routine alone does not
// make it so) down through the hooks (sync, lowerSync). An overlapped call
// is substituted: begin, Before, OnSend, the lower call with the op's
// overlapped, then issued; OnRecv and After run when it completes.
func (in *Instance) io(h spi.Socket, c *lowerCall, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return 0, err
	}
	hooks := &in.p.cfg.Hooks
	if ov == nil {
		if hooks.acts() {
			return in.ioSync(e, s, c, thread)
		}
		return in.lowerSync(e, s, c, thread)
	}
	o, err := in.begin(e, s, ov, cr, thread)
	if err != nil {
		return 0, err
	}
	if c.receives() {
		o.recv, o.from = true, c.from
		if c.rflags != nil {
			o.flags = *c.rflags
		}
	}
	if hooks.acts() {
		c.describe(&o.call, s, true)
		if hooks.Before != nil {
			v := hooks.Before(&o.call)
			c.adopt(&o.call)
			if done, n, err := in.before(e, o, v); done {
				return n, err
			}
		}
	}
	if c.kind == callIoctl && in.answers(c.code) {
		n, err := putHandle(c.out, s.handle)
		if err != nil {
			return in.failNow(e, o, errnoOf(err))
		}
		return in.selfComplete(e, o, result{n: n})
	}
	if hooks.OnSend != nil && c.sends() {
		c.bufs = hooks.OnSend(s, c.bufs)
	}
	if hooks.After != nil || (hooks.OnRecv != nil && c.receives()) {
		// The buffer array is the caller's only for the call (D:wspsend):
		// the hooks that run at completion get a copy.
		o.bufs = append(o.bufArr[:0], c.bufs...)
	}
	n, err := c.do(&e.next.ProcTable, s.lower, &o.flags, &o.ov, &o.thread)
	if err == nil && c.rflags != nil {
		*c.rflags = o.flags
	}
	n, err = in.issued(e, o, n, err)
	if err == nil && c.rflags != nil && hooks.After != nil {
		*c.rflags = ov.LoadOffset() // as After left them
	}
	return n, err
}

// lowerSync makes a call that is not overlapped on the lower socket,
// through OnSend and OnRecv; SIO_GET_EXTENSION_FUNCTION_POINTER for AcceptEx
// or ConnectEx gets the layer's own function.
func (in *Instance) lowerSync(e *env, s *Socket, c *lowerCall, thread *spi.ThreadID) (uint32, error) {
	if c.kind == callIoctl {
		if g, ok := extensionIoctl(c.code, c.inBuf, nil); ok {
			return in.extensionPointer(e, s, g, c.inBuf, c.out, thread)
		}
		if in.answers(c.code) {
			return putHandle(c.out, s.handle)
		}
	}
	hooks := &in.p.cfg.Hooks
	if hooks.OnSend != nil && c.sends() {
		c.bufs = hooks.OnSend(s, c.bufs)
	}
	n, err := c.do(&e.next.ProcTable, s.lower, c.rflags, nil, thread)
	if hooks.OnRecv != nil && c.receives() && (err == nil || errnoOf(err) == spi.WSAEMSGSIZE) {
		hooks.OnRecv(s, c.bufs, n)
	}
	return n, err
}

// ioSync is lowerSync through Before and After.
func (in *Instance) ioSync(e *env, s *Socket, c *lowerCall, thread *spi.ThreadID) (uint32, error) {
	call := new(Call)
	c.describe(call, s, false)
	return in.sync(s, call, func(call *Call) (uint32, error) {
		c.adopt(call)
		n, err := in.lowerSync(e, s, c, thread)
		call.Bufs = c.bufs
		if c.rflags != nil {
			call.Flags = *c.rflags
		}
		if c.from != nil {
			call.Addr = *c.from
		}
		return n, err
	}, func(call *Call) {
		if c.rflags != nil {
			*c.rflags = call.Flags
		}
		if c.from != nil && *c.from != call.Addr {
			*c.from = call.Addr
		}
	})
}
