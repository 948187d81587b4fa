package layered

import (
	"net/netip"
	"time"

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
		WSPAsyncSelect: func(h spi.Socket, hWnd spi.HWND, msg uint32, events int32) error {
			e, s, err := in.resolve(h)
			if err != nil {
				return err
			}
			return e.next.ProcTable.WSPAsyncSelect(s.lower, hWnd, msg, events)
		},
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
		WSPCleanup:     in.wspCleanup,
		WSPCloseSocket: in.closeSocket,
		WSPConnect:     in.connect,
		WSPDuplicateSocket: func(h spi.Socket, pid uint32) (spi.WSAProtocolInfo, error) {
			e, s, err := in.resolve(h)
			if err != nil {
				return spi.WSAProtocolInfo{}, err
			}
			return e.next.ProcTable.WSPDuplicateSocket(s.lower, pid)
		},
		WSPEnumNetworkEvents: func(h spi.Socket, event spi.Handle) (spi.WSANetworkEvents, error) {
			e, s, err := in.resolve(h)
			if err != nil {
				return spi.WSANetworkEvents{}, err
			}
			return e.next.ProcTable.WSPEnumNetworkEvents(s.lower, event)
		},
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
	lower, err := e.next.ProcTable.WSPSocket(af, typ, protocol, &next, g, flags|spi.WSA_FLAG_OVERLAPPED)
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	top := &e.info
	if info != nil && info.CatalogEntryId != e.info.CatalogEntryId {
		c := *info
		top = &c
	}
	return in.newSocket(e, lower, top, flags&spi.WSA_FLAG_OVERLAPPED != 0)
}

// accept serves WSPAccept: the connection the layer below accepts is
// wrapped in a new handle of the layer's own, with the listener's entry
// and overlapped mode.
func (in *Instance) accept(h spi.Socket, condition spi.ConditionFunc, data any) (spi.Socket, netip.AddrPort, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return spi.INVALID_SOCKET, netip.AddrPort{}, err
	}
	lower, addr, err := e.next.ProcTable.WSPAccept(s.lower, condition, data)
	if err != nil {
		return spi.INVALID_SOCKET, netip.AddrPort{}, err
	}
	nh, err := in.newSocket(e, lower, s.info, s.overlapped)
	if err != nil {
		return spi.INVALID_SOCKET, netip.AddrPort{}, err
	}
	return nh, addr, nil
}

// joinLeaf serves WSPJoinLeaf: a new socket from the layer below is
// wrapped as accept does; the same socket comes back as the layer's.
func (in *Instance) joinLeaf(h spi.Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *spi.QOS, flags uint32) (spi.Socket, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	lower, err := e.next.ProcTable.WSPJoinLeaf(s.lower, name, callerData, calleeData, sqos, gqos, flags)
	switch {
	case err != nil:
		return spi.INVALID_SOCKET, err
	case lower == s.lower:
		return h, nil
	}
	return in.newSocket(e, lower, s.info, s.overlapped)
}

// connect serves WSPConnect, through the OnConnect hook.
func (in *Instance) connect(h spi.Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *spi.QOS) error {
	e, s, err := in.resolve(h)
	if err != nil {
		return err
	}
	if hook := in.p.cfg.Hooks.OnConnect; hook != nil {
		if name, err = hook(s, name); err != nil {
			return err
		}
	}
	return e.next.ProcTable.WSPConnect(s.lower, name, callerData, calleeData, sqos, gqos)
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
	e, s, err := in.resolve(h)
	if err != nil {
		return 0, err
	}
	if hook := in.p.cfg.Hooks.OnSend; hook != nil {
		bufs = hook(s, bufs)
	}
	if ov == nil {
		return e.next.ProcTable.WSPSend(s.lower, bufs, flags, nil, nil, thread)
	}
	o, err := in.begin(e, s, ov, cr, thread)
	if err != nil {
		return 0, err
	}
	n, err := e.next.ProcTable.WSPSend(s.lower, bufs, flags, &o.ov, nil, &o.thread)
	return in.issued(e, o, n, err)
}

// sendTo serves WSPSendTo.
func (in *Instance) sendTo(h spi.Socket, bufs [][]byte, flags uint32, to netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return 0, err
	}
	if hook := in.p.cfg.Hooks.OnSend; hook != nil {
		bufs = hook(s, bufs)
	}
	if ov == nil {
		return e.next.ProcTable.WSPSendTo(s.lower, bufs, flags, to, nil, nil, thread)
	}
	o, err := in.begin(e, s, ov, cr, thread)
	if err != nil {
		return 0, err
	}
	n, err := e.next.ProcTable.WSPSendTo(s.lower, bufs, flags, to, &o.ov, nil, &o.thread)
	return in.issued(e, o, n, err)
}

// recv serves WSPRecv (and ReadFile, through the redirector).
func (in *Instance) recv(h spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return 0, err
	}
	if ov == nil {
		n, err := e.next.ProcTable.WSPRecv(s.lower, bufs, flags, nil, nil, thread)
		in.received(s, bufs, n, err)
		return n, err
	}
	o, err := in.begin(e, s, ov, cr, thread)
	if err != nil {
		return 0, err
	}
	in.keepBufs(o, bufs, flags)
	n, err := e.next.ProcTable.WSPRecv(s.lower, bufs, &o.flags, &o.ov, nil, &o.thread)
	if err == nil && flags != nil {
		*flags = o.flags
	}
	return in.issued(e, o, n, err)
}

// recvFrom serves WSPRecvFrom; from is written by the layer below, at
// completion for an operation that pends.
func (in *Instance) recvFrom(h spi.Socket, bufs [][]byte, flags *uint32, from *netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return 0, err
	}
	if ov == nil {
		n, err := e.next.ProcTable.WSPRecvFrom(s.lower, bufs, flags, from, nil, nil, thread)
		in.received(s, bufs, n, err)
		return n, err
	}
	o, err := in.begin(e, s, ov, cr, thread)
	if err != nil {
		return 0, err
	}
	in.keepBufs(o, bufs, flags)
	n, err := e.next.ProcTable.WSPRecvFrom(s.lower, bufs, &o.flags, from, &o.ov, nil, &o.thread)
	if err == nil && flags != nil {
		*flags = o.flags
	}
	return in.issued(e, o, n, err)
}

// keepBufs marks o a receive and records its flags and, for OnRecv, a copy
// of its buffer list (the array is the caller's only for the call, D:wspsend).
func (in *Instance) keepBufs(o *op, bufs [][]byte, flags *uint32) {
	if flags != nil {
		o.flags = *flags
	}
	o.recv = true
	if in.p.cfg.Hooks.OnRecv != nil {
		o.bufs = append(o.bufArr[:0], bufs...)
	}
}

// received runs OnRecv for a receive that completed at once without an
// overlapped.
func (in *Instance) received(s *Socket, bufs [][]byte, n uint32, err error) {
	if hook := in.p.cfg.Hooks.OnRecv; hook != nil && (err == nil || errnoOf(err) == spi.WSAEMSGSIZE) {
		hook(s, bufs, n)
	}
}

// ioctl serves WSPIoctl. Every code goes down unchanged with the lower
// handle; in particular the kit never intercepts SIO_BASE_HANDLE, so the
// base provider answers it through any number of layers, and
// SIO_BSP_HANDLE, SIO_BSP_HANDLE_SELECT and SIO_BSP_HANDLE_POLL get the
// next layer's answer.
func (in *Instance) ioctl(h spi.Socket, code uint32, inBuf, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return 0, err
	}
	if ov == nil {
		return e.next.ProcTable.WSPIoctl(s.lower, code, inBuf, out, nil, nil, thread)
	}
	o, err := in.begin(e, s, ov, cr, thread)
	if err != nil {
		return 0, err
	}
	n, err := e.next.ProcTable.WSPIoctl(s.lower, code, inBuf, out, &o.ov, nil, &o.thread)
	return in.issued(e, o, n, err)
}

// selectSockets serves WSPSelect: each set is mapped to the lower
// sockets, the layer below selects, and the result is mapped back.
func (in *Instance) selectSockets(readfds, writefds, exceptfds *spi.FDSet, timeout *time.Duration) (int, error) {
	e, err := in.current()
	if err != nil {
		return 0, err
	}
	var lower [3]spi.FDSet
	sets := [3]*spi.FDSet{readfds, writefds, exceptfds}
	var args [3]*spi.FDSet
	var socks [3][]*Socket
	for i, set := range sets {
		if set == nil {
			continue
		}
		args[i] = &lower[i]
		for j := uint32(0); j < set.Count && j < spi.FD_SETSIZE; j++ {
			s, err := in.lookup(e, set.Array[j])
			if err != nil {
				return 0, err
			}
			socks[i] = append(socks[i], s)
			lower[i].Set(s.lower)
		}
	}
	n, err := e.next.ProcTable.WSPSelect(args[0], args[1], args[2], timeout)
	if err != nil {
		return n, err
	}
	for i, set := range sets {
		if set == nil {
			continue
		}
		set.Zero()
		for _, s := range socks[i] {
			if lower[i].IsSet(s.lower) {
				set.Set(s.handle)
			}
		}
	}
	return n, nil
}
