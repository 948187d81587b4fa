package loopback

import (
	"net/netip"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// procTable builds the provider's WSPPROC_TABLE. Entries the provider
// does not implement (WSPGetQOSByName, WSPJoinLeaf) fail with
// WSAEOPNOTSUPP; WSPCancelBlockingCall succeeds, as there are no Winsock
// 1.1 blocking hooks to cancel.
func (p *Provider) procTable() spi.WSPProcTable {
	t := spi.WSPProcTable{
		WSPAccept: func(s spi.Socket, condition spi.ConditionFunc, callbackData any) (spi.Socket, netip.AddrPort, error) {
			l, err := p.lookup(s)
			if err != nil {
				return spi.INVALID_SOCKET, netip.AddrPort{}, err
			}
			return p.accept(l, condition, callbackData)
		},
		WSPAsyncSelect: func(s spi.Socket, hWnd spi.HWND, msg uint32, events int32) error {
			so, err := p.lookup(s)
			if err != nil {
				return err
			}
			return so.asyncSelect(p, s, hWnd, msg, events)
		},
		WSPEnumNetworkEvents: func(s spi.Socket, event spi.Handle) (spi.WSANetworkEvents, error) {
			so, err := p.lookup(s)
			if err != nil {
				return spi.WSANetworkEvents{}, err
			}
			return so.enumNetworkEvents(p, event)
		},
		WSPEventSelect: func(s spi.Socket, event spi.Handle, events int32) error {
			so, err := p.lookup(s)
			if err != nil {
				return err
			}
			return so.eventSelect(p, s, event, events)
		},
		WSPAddressToString: func(addr netip.AddrPort, info *spi.WSAProtocolInfo) (string, error) {
			if _, _, err := p.services(); err != nil {
				return "", err
			}
			return addressToString(addr, info)
		},
		WSPBind: func(s spi.Socket, name netip.AddrPort) error {
			so, err := p.lookup(s)
			if err != nil {
				return err
			}
			return so.bind(name)
		},
		WSPCleanup: p.wspCleanup,
		WSPCloseSocket: func(s spi.Socket) error {
			if _, _, err := p.services(); err != nil {
				return err
			}
			so := p.unregister(s)
			if so == nil && p.imported(s) != nil {
				so = p.unregister(s) // a DuplicateHandle copy never used before
			}
			if so == nil {
				return spi.WSAENOTSOCK
			}
			if p.release(s) { // the last descriptor of a shared socket
				so.close()
			}
			return nil
		},
		WSPDuplicateSocket: p.duplicate,
		WSPConnect: func(s spi.Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *spi.QOS) error {
			so, err := p.lookup(s)
			if err != nil {
				return err
			}
			if len(callerData) > 0 || sqos != nil || gqos != nil {
				return spi.WSAEOPNOTSUPP // no connect data, no QOS
			}
			return so.connect(name)
		},
		WSPGetOverlappedResult: func(s spi.Socket, ov *spi.Overlapped, wait bool) (uint32, uint32, error) {
			so, err := p.lookup(s)
			if err != nil {
				return 0, 0, err
			}
			return so.getOverlappedResult(ov, wait)
		},
		WSPGetPeerName: func(s spi.Socket) (netip.AddrPort, error) {
			so, err := p.lookup(s)
			if err != nil {
				return netip.AddrPort{}, err
			}
			return so.peerName()
		},
		WSPGetSockName: func(s spi.Socket) (netip.AddrPort, error) {
			so, err := p.lookup(s)
			if err != nil {
				return netip.AddrPort{}, err
			}
			return so.sockName()
		},
		WSPGetSockOpt: func(s spi.Socket, level, optname int32, optval []byte) (int, error) {
			so, err := p.lookup(s)
			if err != nil {
				return 0, err
			}
			return so.getSockOpt(level, optname, optval)
		},
		WSPIoctl: func(s spi.Socket, code uint32, in, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
			so, err := p.lookup(s)
			if err != nil {
				return 0, err
			}
			return so.ioctl(code, in, out, request(ov, cr, thread))
		},
		WSPListen: func(s spi.Socket, backlog int32) error {
			so, err := p.lookup(s)
			if err != nil {
				return err
			}
			return so.listen(backlog)
		},
		WSPRecv: func(s spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
			so, err := p.lookup(s)
			if err != nil {
				return 0, err
			}
			return so.recv(bufs, flags, nil, request(ov, cr, thread))
		},
		WSPRecvDisconnect: func(s spi.Socket) ([]byte, error) {
			so, err := p.lookup(s)
			if err != nil {
				return nil, err
			}
			return nil, so.shutdown(spi.SD_RECEIVE)
		},
		WSPRecvFrom: func(s spi.Socket, bufs [][]byte, flags *uint32, from *netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
			so, err := p.lookup(s)
			if err != nil {
				return 0, err
			}
			if so.stream {
				from = nil // ignored on connection-oriented sockets
			}
			return so.recv(bufs, flags, from, request(ov, cr, thread))
		},
		WSPSelect: p.wspSelect,
		WSPSend: func(s spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
			so, err := p.lookup(s)
			if err != nil {
				return 0, err
			}
			return so.send(bufs, flags, netip.AddrPort{}, false, request(ov, cr, thread))
		},
		WSPSendDisconnect: func(s spi.Socket, data []byte) error {
			so, err := p.lookup(s)
			if err != nil {
				return err
			}
			if len(data) > 0 {
				return spi.WSAENOPROTOOPT // TCP has no disconnect data
			}
			return so.shutdown(spi.SD_SEND)
		},
		WSPSendTo: func(s spi.Socket, bufs [][]byte, flags uint32, to netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, thread *spi.ThreadID) (uint32, error) {
			so, err := p.lookup(s)
			if err != nil {
				return 0, err
			}
			return so.send(bufs, flags, to, true, request(ov, cr, thread))
		},
		WSPSetSockOpt: func(s spi.Socket, level, optname int32, optval []byte) error {
			so, err := p.lookup(s)
			if err != nil {
				return err
			}
			return so.setSockOpt(level, optname, optval)
		},
		WSPShutdown: func(s spi.Socket, how int32) error {
			so, err := p.lookup(s)
			if err != nil {
				return err
			}
			return so.shutdown(how)
		},
		WSPSocket: p.wspSocket,
		WSPStringToAddress: func(address string, af int32, info *spi.WSAProtocolInfo) (netip.AddrPort, error) {
			if _, _, err := p.services(); err != nil {
				return netip.AddrPort{}, err
			}
			return stringToAddress(address, af, info)
		},
	}
	t.FillNotSupported()
	return t
}

// wspSelect serves WSPSelect. Every handle must be one of the process's
// sockets of this provider (WSAENOTSOCK); the sets may not all be empty
// and the timeout may not be negative (WSAEINVAL). A socket is readable
// when a receive would not block (data, a FIN or a reset; for a listener, a
// connection to accept), writable when a send would not block (a connected
// TCP socket with buffer space, any UDP socket), and exceptional when its
// nonblocking connect failed. A socket closed during the wait ends it with
// WSAEINTR. The sets are rewritten to hold the ready sockets; the result
// counts a socket once per set.
func (p *Provider) wspSelect(readfds, writefds, exceptfds *spi.FDSet, timeout *time.Duration) (int, error) {
	if _, _, err := p.services(); err != nil {
		return 0, err
	}
	if timeout != nil && *timeout < 0 {
		return 0, spi.WSAEINVAL
	}
	sets := [3]*spi.FDSet{readfds, writefds, exceptfds}
	var socks [3][]*socket
	total := 0
	for i, set := range sets {
		if set == nil {
			continue
		}
		for j := uint32(0); j < set.Count && j < spi.FD_SETSIZE; j++ {
			s, err := p.lookup(set.Array[j])
			if err != nil {
				return 0, err
			}
			socks[i] = append(socks[i], s)
			total++
		}
	}
	if total == 0 {
		return 0, spi.WSAEINVAL
	}
	n := p.n
	expired := false // network lock
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		count := 0
		var ready [3][]bool
		for i := range socks {
			ready[i] = make([]bool, len(socks[i]))
			for j, s := range socks[i] {
				if s.closed {
					return 0, spi.WSAEINTR
				}
				if s.readyLocked(i) {
					ready[i][j] = true
					count++
				}
			}
		}
		if count > 0 || expired || (timeout != nil && *timeout == 0) {
			for i, set := range sets {
				if set == nil {
					continue
				}
				set.Zero()
				for j, s := range socks[i] {
					if ready[i][j] {
						set.Set(s.h)
					}
				}
			}
			return count, nil
		}
		if timeout != nil && timer == nil {
			timer = time.AfterFunc(*timeout, func() {
				n.mu.Lock()
				expired = true
				n.cond.Broadcast()
				n.mu.Unlock()
			})
		}
		n.cond.Wait()
	}
}

// readyLocked reports readiness for set 0 (read), 1 (write) or 2
// (except), as WSPSelect defines it.
func (s *socket) readyLocked(set int) bool {
	switch set {
	case 0:
		switch {
		case !s.stream:
			return s.dq.Len() > 0
		case s.state == stateListening:
			return len(s.acceptq) > 0
		case s.state == stateConnected:
			return s.rx.Len() > 0 || s.rxFin || s.err != 0
		}
	case 1:
		if !s.stream {
			return true
		}
		return s.state == stateConnected && s.err == 0 && !s.shutSend &&
			s.peer != nil && s.sendq.empty() && s.canSendLocked(1)
	case 2:
		return s.stream && s.state == stateOpen && s.soError != 0
	}
	return false
}
