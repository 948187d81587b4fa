package main

import (
	"errors"
	"net/netip"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/spi"
)

// scenario is one of libuv's policies as a client of the kit.
type scenario struct {
	name string // the matrix's column
	run  clienttest.Scenario
}

var scenarios = []scenario{
	{"detect + fast path", func(m *wsspi.Machine) error { return libuvLoop(m, false, udpChainRule) }},
	{"IOCP emulation", func(m *wsspi.Machine) error { return libuvLoop(m, true, udpChainRule) }},
	{"TCP check for UDP", func(m *wsspi.Machine) error { return libuvLoop(m, false, udpTCPRule) }},
}

// A udpRule decides whether libuv sets skip-on-success on a UDP socket,
// from the socket's own SO_PROTOCOL_INFOW and what start-up detected.
type udpRule func(info spi.WSAProtocolInfo, d nonIFS) bool

// udpChainRule is libuv's uv__udp_set_socket: the mode only on a socket
// whose chain has a length of 1, the base provider's, since no layer's
// handle keeps the mode's promise.
func udpChainRule(info spi.WSAProtocolInfo, _ nonIFS) bool {
	return info.ProtocolChain.ChainLen == 1
}

// udpTCPRule is the mistake libuv#1672 reports the cost of: trusting the
// start-up's TCP/IPv4 detection for UDP sockets, which a layer over UDP
// alone escapes.
func udpTCPRule(_ spi.WSAProtocolInfo, d nonIFS) bool { return !d.ipv4 }

const (
	skipModes   = spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | spi.FILE_SKIP_SET_EVENT_ON_HANDLE
	udpLoopback = "127.0.0.1:0"
)

// libuvLoop runs a libuv loop through start-up (uv_winsock_init's
// detection), a TCP stream of each family and a UDP socket, each doing
// a receive that may finish at once, one that pends, and a send. With
// imported, the TCP sockets come from uv_tcp_open: another port already
// has them, the loop's association fails, and libuv emulates its port;
// libuv has no emulation for UDP, whose uv_udp_open returns the
// association's error, so the UDP socket then only checks that it does.
func libuvLoop(m *wsspi.Machine, imported bool, rule udpRule) error {
	p, srv := m.NewProcess(), m.NewProcess()
	th := p.NewThread()
	d, err := detect(th)
	if err != nil {
		// uv_winsock_init aborts the process (libuv#1425).
		return &sockErr{sock: "detect", err: err, what: "uv_winsock_init's dummy TCP socket"}
	}
	l, err := newLoop(p)
	if err != nil {
		return err
	}
	others := map[string]spi.Handle{}
	for _, fam := range []struct {
		sock string
		af   int32
		base spi.CatalogEntryId
		non  bool
	}{{"tcp4", spi.AF_INET, catalog.DefaultTCPIPv4, d.ipv4}, {"tcp6", spi.AF_INET6, catalog.DefaultTCPIPv6, d.ipv6}} {
		sth := srv.NewThread()
		pair, err := th.SocketPair(wsspi.PairOptions{Server: sth, Family: fam.af, ServerEntry: fam.base})
		if err != nil {
			l.fail(fam.sock, err, "connect")
			continue
		}
		sk := &lsock{name: fam.sock, s: pair.Client, th: th}
		if imported {
			if others[fam.sock], err = p.CreateIoCompletionPort(pair.Client, 0, otherKey, 0); err != nil {
				l.fail(fam.sock, err, "the other port's association")
				continue
			}
		}
		// uv__tcp_set_socket
		if _, err := p.CreateIoCompletionPort(pair.Client, l.port, loopKey, 0); err != nil {
			if !imported {
				l.fail(fam.sock, err, "the loop's association")
				continue
			}
			sk.emulate = true
		}
		if !sk.emulate && !fam.non {
			if sk.bypass, err = setSkip(p, pair.Client); err != nil {
				l.fail(fam.sock, err, "SetFileCompletionNotificationModes")
				continue
			}
		}
		_ = l.exchange(sk, peer{th: sth, s: pair.Server}, netip.AddrPort{})
	}
	l.udp(th, srv.NewThread(), d, rule, imported)
	l.drain(others)
	return l.result()
}

// setSkip sets libuv's modes and says whether the socket now bypasses
// the port on success; ERROR_INVALID_FUNCTION is a handle that does not
// take the modes, which libuv shrugs off.
func setSkip(p *wsspi.Process, s spi.Socket) (bool, error) {
	err := p.SetFileCompletionNotificationModes(s, skipModes)
	if errors.Is(err, spi.ERROR_INVALID_FUNCTION) {
		return false, nil
	}
	return err == nil, err
}

// lsock is a socket of the loop and how libuv drives it.
type lsock struct {
	name    string
	s       spi.Socket
	th      *wsspi.Thread
	bypass  bool           // UV_HANDLE_SYNC_BYPASS_IOCP
	emulate bool           // UV_HANDLE_EMULATE_IOCP
	peer    netip.AddrPort // UDP: where sends go
	inline  int            // requests finished at once under the bypass
}

// io issues one overlapped request as libuv's uv__tcp_queue_read and
// uv__tcp_try_write do, and returns its byte count once the loop has
// processed it: at once for a synchronous success under the bypass
// (UV_SUCCEEDED_WITHOUT_IOCP), else when its packet comes, posted by the
// registered wait of an emulated socket.
func (l *loop) io(sk *lsock, op string, call func(ov *spi.Overlapped) (uint32, error)) (uint32, error) {
	return l.ioStatus(sk, op, call, false)
}

// ioStatus is io; with failing, the request is expected to fail (its
// socket closed under it), and any status its packet brings will do.
func (l *loop) ioStatus(sk *lsock, op string, call func(ov *spi.Overlapped) (uint32, error), failing bool) (uint32, error) {
	ov := new(spi.Overlapped)
	var ev spi.Handle
	if sk.emulate {
		var err error
		if ev, err = l.p.CreateEvent(false, false); err != nil {
			return 0, l.fail(sk.name, err, "%s: CreateEvent", op)
		}
		// The low bit keeps the completion off the port the socket
		// already has.
		ov.HEvent = ev | 1
	}
	n, err := call(ov)
	switch {
	case err == nil && sk.bypass:
		sk.inline++
		l.done(sk.name, op, ov)
		return n, nil
	case err != nil && !errors.Is(err, spi.WSA_IO_PENDING):
		return 0, l.fail(sk.name, err, "%s", op)
	}
	if sk.emulate {
		post := func(bool) {
			_ = l.p.PostQueuedCompletionStatus(l.port, uint32(ov.LoadInternalHigh()), loopKey, ov)
		}
		w, err := l.p.RegisterWaitForSingleObject(ev, post, spi.Infinite, spi.WT_EXECUTEINWAITTHREAD)
		if err != nil {
			return 0, l.fail(sk.name, err, "%s: RegisterWaitForSingleObject", op)
		}
		defer w.Unregister(true)
	}
	return l.await(sk.name, op, ov, failing)
}

// exchange runs a socket's requests against its peer: a receive of data
// already sent ("recv"), which may succeed at once, a receive that pends
// until the peer sends ("pending recv"), a send, and a receive pending
// when the socket is closed ("close"). It stops at the socket's first
// failure, which it returns.
func (l *loop) exchange(sk *lsock, pr peer, to netip.AddrPort) error {
	recv := func(buf []byte) func(*spi.Overlapped) (uint32, error) {
		return func(ov *spi.Overlapped) (uint32, error) {
			var flags uint32
			if sk.peer.IsValid() {
				return sk.th.WSARecvFrom(sk.s, [][]byte{buf}, &flags, nil, ov, nil)
			}
			return sk.th.WSARecv(sk.s, [][]byte{buf}, &flags, ov, nil)
		}
	}
	for _, r := range []struct {
		op   string
		data []byte
	}{{"recv", []byte("queued")}, {"pending recv", []byte("later")}} {
		pend := r.op == "pending recv"
		step := func() error {
			buf := make([]byte, 16)
			var n uint32
			var err error
			if pend {
				// The peer sends while the receive is outstanding.
				n, err = l.ioWhile(sk, r.op, recv(buf), func() error { return pr.send(r.data, to) })
			} else {
				if err := pr.send(r.data, to); err != nil {
					return l.fail(sk.name, err, "the peer's send")
				}
				n, err = l.io(sk, r.op, recv(buf))
			}
			if err != nil {
				return err
			}
			return l.checkBytes(sk.name, r.op, n, buf, r.data)
		}
		if pend {
			if err := step(); err != nil {
				return err
			}
		} else if err := untilInline(sk, step); err != nil {
			return err
		}
	}
	data := []byte("reply")
	err := untilInline(sk, func() error {
		n, err := l.io(sk, "send", func(ov *spi.Overlapped) (uint32, error) {
			if sk.peer.IsValid() {
				return sk.th.WSASendTo(sk.s, [][]byte{data}, 0, sk.peer, ov, nil)
			}
			return sk.th.WSASend(sk.s, [][]byte{data}, 0, ov, nil)
		})
		if err != nil {
			return err
		}
		if err := l.checkBytes(sk.name, "send", n, nil, data); err != nil {
			return err
		}
		got, err := pr.recv(16)
		if err != nil {
			return l.fail(sk.name, err, "the peer's receive")
		}
		return l.checkBytes(sk.name, "the peer's receive", uint32(len(got)), got, data)
	})
	if err != nil {
		return err
	}
	// uv_close with a read outstanding: libuv closes the socket and
	// calls the close callback once the read's packet, aborted, has come
	// back (reqs_pending reaching 0), so a layer that drops it leaves the
	// handle, and the loop, open for ever.
	_, err = l.ioStatus(sk, "close", func(ov *spi.Overlapped) (uint32, error) {
		n, err := recv(make([]byte, 16))(ov)
		if errors.Is(err, spi.WSA_IO_PENDING) {
			if cerr := sk.th.Closesocket(sk.s); cerr != nil {
				return n, cerr
			}
		}
		return n, err
	}, true)
	return err
}

// inlineTries bounds untilInline.
const inlineTries = 8

// untilInline runs step, a request that may finish at once, and with the
// bypass on runs it again until one finishes at once, up to inlineTries
// times in all. A non-IFS layer over another non-IFS layer may report
// pending a request the layer below finished at once (its worker can
// forward the completion first; package layered documents it), and
// whether it does depends on timing: a loop that does enough requests
// meets what an immediate success brings, so the cell does not depend on
// which goroutine ran first.
func untilInline(sk *lsock, step func() error) error {
	for range inlineTries {
		before := sk.inline
		if err := step(); err != nil {
			return err
		}
		if !sk.bypass || sk.inline > before {
			return nil
		}
	}
	return nil
}

// ioWhile is io with then run between the call and the wait, the peer's
// part of a request that pends.
func (l *loop) ioWhile(sk *lsock, op string, call func(*spi.Overlapped) (uint32, error), then func() error) (uint32, error) {
	var thenErr error
	n, err := l.io(sk, op, func(ov *spi.Overlapped) (uint32, error) {
		n, err := call(ov)
		thenErr = then()
		return n, err
	})
	if thenErr != nil && err == nil {
		return 0, l.fail(sk.name, thenErr, "the peer's send")
	}
	return n, err
}

// udp runs the loop's UDP socket (uv__udp_set_socket): made by the
// catalog's choice and bound, associated with the loop's port, and given
// skip-on-success when rule says so. With imported, another port has
// it first, and uv_udp_open must fail.
func (l *loop) udp(th, sth *wsspi.Thread, d nonIFS, rule udpRule, imported bool) {
	const sock = "udp"
	s, err := th.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP)
	if err != nil {
		l.fail(sock, err, "socket")
		return
	}
	if err := th.Bind(s, netip.MustParseAddrPort(udpLoopback)); err != nil {
		l.fail(sock, err, "bind")
		return
	}
	addr, err := th.Getsockname(s)
	if err != nil {
		l.fail(sock, err, "getsockname")
		return
	}
	pr, err := udpPeer(sth)
	if err != nil {
		l.fail(sock, err, "the peer's socket")
		return
	}
	if imported {
		if _, err := l.p.CreateIoCompletionPort(s, 0, otherKey, 0); err != nil {
			l.fail(sock, err, "the other port's association")
			return
		}
		if _, err := l.p.CreateIoCompletionPort(s, l.port, loopKey, 0); err == nil {
			l.fail(sock, errStray, "uv_udp_open: a socket another port has joined the loop's port too")
		}
		return
	}
	if _, err := l.p.CreateIoCompletionPort(s, l.port, loopKey, 0); err != nil {
		l.fail(sock, err, "the loop's association")
		return
	}
	buf := make([]byte, spi.WSAProtocolInfoSize)
	var info spi.WSAProtocolInfo
	if _, err = th.Getsockopt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf); err == nil {
		err = info.UnmarshalBinary(buf)
	}
	if err != nil {
		l.fail(sock, err, "getsockopt(SO_PROTOCOL_INFOW)")
		return
	}
	sk := &lsock{name: sock, s: s, th: th, peer: pr.addr}
	if rule(info, d) {
		if sk.bypass, err = setSkip(l.p, s); err != nil {
			l.fail(sock, err, "SetFileCompletionNotificationModes")
			return
		}
	}
	_ = l.exchange(sk, pr, addr)
}

// udpPeer makes the UDP socket the loop's socket talks to, on the base
// UDP/IPv4 entry.
func udpPeer(th *wsspi.Thread) (peer, error) {
	entries, err := th.Process().WSAEnumProtocols([]int32{spi.IPPROTO_UDP})
	if err != nil {
		return peer{}, err
	}
	for _, e := range entries {
		if e.CatalogEntryId != catalog.DefaultUDPIPv4 {
			continue
		}
		s, err := th.WSASocket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP, &e, 0, spi.WSA_FLAG_OVERLAPPED)
		if err != nil {
			return peer{}, err
		}
		if err := th.Bind(s, netip.MustParseAddrPort(udpLoopback)); err != nil {
			return peer{}, err
		}
		addr, err := th.Getsockname(s)
		return peer{th: th, s: s, addr: addr}, err
	}
	return peer{}, errors.New("no base UDP/IPv4 entry")
}
