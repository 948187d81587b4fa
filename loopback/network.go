package loopback

import (
	"net/netip"
	"sync"

	"github.com/wsspi/wsspi/spi"
)

// Buffer sizes, port range and message size of the simulated transport.
const (
	// DefaultSendBuffer is the initial SO_SNDBUF of every socket, in bytes,
	// as WSPGetSockOpt reports it: 64 KiB, what getsockopt reports on
	// Windows 7 and later (8 KiB on Windows XP and Server 2003).
	DefaultSendBuffer = 65536
	// DefaultReceiveBuffer is the initial SO_RCVBUF of every socket, in
	// bytes, as WSPGetSockOpt reports it (64 KiB, as SO_SNDBUF).
	DefaultReceiveBuffer = 65536
	// EphemeralPortFirst and EphemeralPortLast bound the ports handed out
	// by WSPBind to port 0 and by the implicit binds of WSPConnect,
	// ConnectEx and WSPSendTo: Windows' dynamic port range since Vista.
	EphemeralPortFirst = 49152
	EphemeralPortLast  = 65535
	// MaxDatagramSize is the largest UDP payload WSPSend and WSPSendTo
	// accept when the socket's catalog entry gives no dwMessageSize: 65507,
	// the most an IPv4 datagram carries. Otherwise the entry's MessageSize
	// is the limit (and SO_MAX_MSG_SIZE); larger sends fail with
	// WSAEMSGSIZE.
	MaxDatagramSize = 65507
	// MaxBacklog is the longest WSPListen backlog; larger values, SOMAXCONN
	// included, are clamped to it, as Windows clamps SOMAXCONN to 200.
	MaxBacklog = 200
)

// Network is the loopback network of one simulated machine, what the
// TCP/IP stack under AFD (afd.sys over tcpip.sys) is to a Windows machine:
// the port spaces of TCP and UDP over 127.0.0.0/8 and ::1, the listeners,
// the connections, the datagram endpoints, and the machine's list of local
// addresses (see [Network.AddAddress]). Every process of the machine
// loads the provider through its own [Provider] made by
// [Network.NewProvider], and their sockets meet here, so two processes can
// talk to each other. A Network is safe for concurrent use.
type Network struct {
	// mu guards the port table, nextPort and every field of every socket
	// and connection of the network that is marked as guarded by the
	// network lock. Nothing blocks while holding it.
	mu sync.Mutex
	// cond is broadcast, with mu held, whenever an operation finishes or a
	// socket changes state; blocking calls, WSPSelect and waiting
	// WSPGetOverlappedResult calls wait on it.
	cond sync.Cond

	ports    map[portKey][]*socket // bound sockets by protocol, family and port
	nextPort int                   // next ephemeral port to try

	addrs    []netip.Addr // the local address list, in the order added (see addrlist.go)
	addrWait opQueue      // pending SIO_ADDRESS_LIST_CHANGE ops of every socket, in issue order
	selected []*socket    // sockets with a network event selection, in the order selected

	sched  spi.Scheduler // set once by NewNetworkWith; nil: deliver inline
	faults Faults        // set once by NewNetworkWith; nil: no faults
}

// Options configures [NewNetworkWith]. The zero value gives the network
// [NewNetwork] returns. It is a plain value, read once.
type Options struct {
	// Scheduler, when set, receives the delivery of every completion and
	// the end of every close instead of them running inline, and may make
	// an overlapped operation that could complete at once pend instead (see
	// [spi.Scheduler] and the package documentation, "Scheduling").
	Scheduler spi.Scheduler
	// Faults, when set, is asked at every WSPStartup and at the start of
	// every transfer on a connected stream socket, and may fail or shorten
	// them or reset the connection (see [Faults]).
	Faults Faults
}

// portKey names one port of one port space: TCP and UDP, IPv4 and IPv6
// each have their own.
type portKey struct {
	udp  bool
	v6   bool
	port uint16
}

// NewNetwork returns an empty loopback network, as a machine's TCP/IP
// stack starts: no socket, no port bound, and the local addresses
// 127.0.0.1 and ::1.
func NewNetwork() *Network { return NewNetworkWith(Options{}) }

// NewNetworkWith returns an empty loopback network configured by opts: the
// network of [NewNetwork], with a scheduler or faults injected.
func NewNetworkWith(opts Options) *Network {
	n := &Network{ports: make(map[portKey][]*socket), nextPort: EphemeralPortFirst,
		addrs: defaultAddresses(), sched: opts.Scheduler, faults: opts.Faults}
	n.cond.L = &n.mu
	return n
}

// NewProvider returns a fresh copy of the provider "DLL" for one process
// of the machine, what LoadLibrary of mswsock.dll is when ws2_32 first
// needs one of its catalog entries: its [Provider.WSPStartup] method is the
// [spi.WSPStartupFunc] the process's ws2_32 then calls. Each process must get its own Provider, as each
// Windows process gets its own copy of a DLL's globals: the reference count
// of WSPStartup and WSPCleanup, the upcall table and the handle of every
// socket are per process.
func (n *Network) NewProvider() *Provider {
	p := &Provider{n: n, socks: make(map[spi.Socket]*socket)}
	p.table = p.procTable()
	return p
}

// isLoopback reports whether a is an address of the loopback interface of
// family v6: 127.0.0.0/8 or ::1.
func isLoopback(a netip.Addr, v6 bool) bool {
	if v6 {
		return a.Is6() && a == netip.IPv6Loopback()
	}
	return a.Is4() && a.IsLoopback()
}

// isAny reports whether a is the unspecified address of family v6.
func isAny(a netip.Addr, v6 bool) bool {
	return a.IsUnspecified() && a.Is6() == v6 && !a.Is4In6()
}

// sameFamily reports whether a belongs to family v6 (an IPv4-mapped IPv6
// address is IPv6: sockets are IPV6_V6ONLY, as on Windows).
func sameFamily(a netip.Addr, v6 bool) bool { return a.IsValid() && a.Is6() == v6 }

// sourceAddr returns the address a socket bound to local sends from: local
// itself, or the loopback address 127.0.0.1 or ::1 for a wildcard binding.
func sourceAddr(local netip.Addr, v6 bool) netip.Addr {
	if !local.IsUnspecified() {
		return local
	}
	if v6 {
		return netip.IPv6Loopback()
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// remoteCheck validates a destination of connect or sendto: the family must
// match (WSAEAFNOSUPPORT); the unspecified address and port 0 are not
// destinations (WSAEADDRNOTAVAIL); any other address that is not loopback is
// unreachable (WSAENETUNREACH), for the simulated machine has no other
// network.
func remoteCheck(to netip.AddrPort, v6 bool) error {
	a := to.Addr().WithZone("")
	switch {
	case !sameFamily(a, v6):
		return spi.WSAEAFNOSUPPORT
	case a.IsUnspecified() || to.Port() == 0:
		return spi.WSAEADDRNOTAVAIL
	case !isLoopback(a, v6):
		return spi.WSAENETUNREACH
	}
	return nil
}

// bindLocked binds s to local, choosing an ephemeral port for port 0. The
// family must match (WSAEFAULT, as bind reports a sockaddr of the wrong
// family); the address must be loopback or the wildcard
// (WSAEADDRNOTAVAIL); a port in use gives WSAEADDRINUSE unless s has
// SO_REUSEADDR; running out of ephemeral ports gives WSAENOBUFS.
func (n *Network) bindLocked(s *socket, local netip.AddrPort) error {
	a := local.Addr().WithZone("")
	if !sameFamily(a, s.v6) {
		return spi.WSAEFAULT
	}
	if !isLoopback(a, s.v6) && !isAny(a, s.v6) {
		return spi.WSAEADDRNOTAVAIL
	}
	port := local.Port()
	if port == 0 {
		p, ok := n.ephemeralLocked(s.udp(), s.v6)
		if !ok {
			return spi.WSAENOBUFS
		}
		port = p
	} else if !s.opt.reuseAddr {
		for _, t := range n.ports[portKey{s.udp(), s.v6, port}] {
			ta := t.local.Addr()
			if ta == a || ta.IsUnspecified() || a.IsUnspecified() {
				return spi.WSAEADDRINUSE
			}
		}
	}
	k := portKey{s.udp(), s.v6, port}
	n.ports[k] = append(n.ports[k], s)
	s.local = netip.AddrPortFrom(a, port)
	s.bound = true
	return nil
}

// ephemeralLocked returns a port of the dynamic range that no socket of
// the port space uses, trying them in turn from the last one handed out.
func (n *Network) ephemeralLocked(udp, v6 bool) (uint16, bool) {
	const span = EphemeralPortLast - EphemeralPortFirst + 1
	for range span {
		p := uint16(n.nextPort)
		n.nextPort++
		if n.nextPort > EphemeralPortLast {
			n.nextPort = EphemeralPortFirst
		}
		if len(n.ports[portKey{udp, v6, p}]) == 0 {
			return p, true
		}
	}
	return 0, false
}

// unbindLocked releases the port of s.
func (n *Network) unbindLocked(s *socket) {
	if !s.bound || s.accepted {
		return
	}
	k := portKey{s.udp(), s.v6, s.local.Port()}
	list := n.ports[k]
	for i, t := range list {
		if t == s {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(n.ports, k)
	} else {
		n.ports[k] = list
	}
}

// findLocked returns the socket of the port space that receives what is
// sent to to: one bound to exactly that address if there is one, else one
// bound to the wildcard, else nil. accept filters the candidates.
func (n *Network) findLocked(udp, v6 bool, to netip.AddrPort, accept func(*socket) bool) *socket {
	var wild *socket
	for _, t := range n.ports[portKey{udp, v6, to.Port()}] {
		if t.closed || !accept(t) {
			continue
		}
		if t.local.Addr() == to.Addr() {
			return t
		}
		if wild == nil && t.local.Addr().IsUnspecified() {
			wild = t
		}
	}
	return wild
}
