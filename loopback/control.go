package loopback

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/wsspi/wsspi/spi"
)

// bind serves WSPBind.
func (s *socket) bind(name netip.AddrPort) error {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case s.closed:
		return spi.WSAENOTSOCK
	case s.bound:
		return spi.WSAEINVAL
	}
	return n.bindLocked(s, name)
}

// sockName serves WSPGetSockName: the local address, WSAEINVAL before the
// socket is bound. A connected socket reports the loopback address it
// sends from even when it was bound to the wildcard.
func (s *socket) sockName() (netip.AddrPort, error) {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case s.closed:
		return netip.AddrPort{}, spi.WSAENOTSOCK
	case !s.bound:
		return netip.AddrPort{}, spi.WSAEINVAL
	}
	return s.local, nil
}

// peerName serves WSPGetPeerName: the peer of a connection (WSAENOTCONN
// once it is reset) or the default peer of a UDP socket.
func (s *socket) peerName() (netip.AddrPort, error) {
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case s.closed:
		return netip.AddrPort{}, spi.WSAENOTSOCK
	case s.state != stateConnected || s.err != 0:
		return netip.AddrPort{}, spi.WSAENOTCONN
	}
	return s.remote, nil
}

// handleSize is the size of a SOCKET in an ioctl output buffer (64-bit).
const handleSize = 8

// malformedIoctl reports whether code has no valid direction: none of
// IOC_VOID, IOC_IN and IOC_OUT, or IOC_VOID together with one of the
// others.
func malformedIoctl(code uint32) bool {
	dir := code & (spi.IOC_VOID | spi.IOC_IN | spi.IOC_OUT)
	return dir == 0 || (dir&spi.IOC_VOID != 0 && dir != spi.IOC_VOID)
}

// ioctl serves WSPIoctl. Every code it knows but SIO_ADDRESS_LIST_CHANGE
// completes at once; an overlapped call still reports its completion
// through the file object. SIO_ADDRESS_LIST_CHANGE waits for a change of
// the local address list (see addrlist.go). A failure returns 0 bytes,
// except SIO_ADDRESS_LIST_QUERY with a short buffer, which returns the
// size it needs with WSAEFAULT, as Windows writes it to
// lpcbBytesReturned.
func (s *socket) ioctl(code uint32, in, out []byte, req spi.IORequest) (uint32, error) {
	if code == spi.SIO_BSP_HANDLE_POLL && req.Overlapped != nil {
		return 0, spi.WSAEFAULT
	}
	if err := s.start(req); err != nil {
		return 0, err
	}
	var extK uint32
	var extErr error
	if code == spi.SIO_GET_EXTENSION_FUNCTION_POINTER {
		extK, extErr = spi.PutExtensionPointer(in, out, s.p.extensionPointer)
	}
	n := s.n
	n.mu.Lock()
	var err error
	var k uint32
	le := binary.LittleEndian
	switch {
	case s.closed:
		err = spi.WSAENOTSOCK
	case code == spi.FIONBIO:
		if len(in) < 4 {
			err = spi.WSAEFAULT
			break
		}
		on := le.Uint32(in) != 0
		if !on && s.sel != nil {
			// A selection holds the socket non-blocking (docs/facts.md §12.3).
			err = spi.WSAEINVAL
			break
		}
		s.nonblocking = on
	case code == spi.FIONREAD:
		if len(out) < 4 {
			err = spi.WSAEFAULT
			break
		}
		avail := s.rx.Len()
		if !s.stream {
			avail = s.dq.Bytes()
		}
		le.PutUint32(out, uint32(avail))
		k = 4
	case code == spi.SIOCATMARK:
		if len(out) < 4 {
			err = spi.WSAEFAULT
			break
		}
		le.PutUint32(out, 1) // no out-of-band data is ever pending
		k = 4
	case code == spi.SIO_BASE_HANDLE, code == spi.SIO_BSP_HANDLE,
		code == spi.SIO_BSP_HANDLE_SELECT, code == spi.SIO_BSP_HANDLE_POLL:
		if len(out) < handleSize {
			err = spi.WSAEFAULT
			break
		}
		le.PutUint64(out, uint64(s.h))
		k = handleSize
	case code == spi.SIO_GET_EXTENSION_FUNCTION_POINTER:
		k, err = extK, extErr
	case code == spi.SIO_ADDRESS_LIST_QUERY:
		k, err = s.addressListQueryLocked(in, out)
	case code == spi.SIO_ADDRESS_LIST_CHANGE:
		s.armed |= spi.FD_ADDRESS_LIST_CHANGE // its re-enabling call (docs/facts.md §11.2)
		return s.addressListChangeAndUnlock(req)
	case malformedIoctl(code):
		err = spi.WSAEINVAL
	default:
		err = spi.WSAEOPNOTSUPP
	}
	if err != nil {
		n.mu.Unlock()
		if code != spi.SIO_ADDRESS_LIST_QUERY {
			k = 0
		}
		return k, err // SIO_ADDRESS_LIST_QUERY: the size it needs
	}
	var fl flushList
	return s.returnAndUnlock(req, 0, k, 0, &fl)
}

// boolSize is the size of a BOOL or int option value.
const boolSize = 4

func putInt(optval []byte, v int32) (int, error) {
	if len(optval) < boolSize {
		return 0, spi.WSAEFAULT
	}
	binary.LittleEndian.PutUint32(optval, uint32(v))
	return boolSize, nil
}

func putBool(optval []byte, v bool) (int, error) {
	if v {
		return putInt(optval, 1)
	}
	return putInt(optval, 0)
}

func getInt(optval []byte) (int32, error) {
	if len(optval) < boolSize {
		return 0, spi.WSAEFAULT
	}
	return int32(binary.LittleEndian.Uint32(optval)), nil
}

// optLevelCheck sorts out levels: SOL_SOCKET and IPPROTO_TCP are served,
// the other IP levels know no option of this provider (WSAENOPROTOOPT),
// anything else is not a level (WSAEINVAL).
func optLevelCheck(level int32) error {
	switch level {
	case spi.SOL_SOCKET, spi.IPPROTO_TCP:
		return nil
	case spi.IPPROTO_IP, spi.IPPROTO_IPV6, spi.IPPROTO_UDP:
		return spi.WSAENOPROTOOPT
	}
	return spi.WSAEINVAL
}

// getSockOpt serves WSPGetSockOpt.
func (s *socket) getSockOpt(level, name int32, optval []byte) (int, error) {
	if err := optLevelCheck(level); err != nil {
		return 0, err
	}
	n := s.n
	n.mu.Lock()
	defer n.mu.Unlock()
	if s.closed {
		return 0, spi.WSAENOTSOCK
	}
	if level == spi.IPPROTO_TCP {
		if name != spi.TCP_NODELAY || !s.stream {
			return 0, spi.WSAENOPROTOOPT
		}
		return putBool(optval, s.opt.noDelay)
	}
	switch name {
	case spi.SO_PROTOCOL_INFOW:
		if err := s.info.PutBinary(optval); err != nil {
			return 0, err
		}
		return spi.WSAProtocolInfoSize, nil
	case spi.SO_TYPE:
		return putInt(optval, s.info.SocketType)
	case spi.SO_RCVBUF:
		return putInt(optval, int32(s.opt.rcvbuf))
	case spi.SO_SNDBUF:
		return putInt(optval, int32(s.opt.sndbuf))
	case spi.SO_REUSEADDR:
		return putBool(optval, s.opt.reuseAddr)
	case spi.SO_ERROR:
		e := s.soError
		k, err := putInt(optval, int32(e))
		if err == nil {
			s.soError = 0
		}
		return k, err
	}
	if !s.stream {
		if name == spi.SO_MAX_MSG_SIZE {
			return putInt(optval, int32(s.maxDatagram()))
		}
		return 0, spi.WSAENOPROTOOPT
	}
	switch name {
	case spi.SO_LINGER:
		if len(optval) < spi.LingerSize {
			return 0, spi.WSAEFAULT
		}
		binary.LittleEndian.PutUint16(optval, s.opt.linger.OnOff)
		binary.LittleEndian.PutUint16(optval[2:], s.opt.linger.Linger)
		return spi.LingerSize, nil
	case spi.SO_DONTLINGER:
		return putBool(optval, s.opt.linger.OnOff == 0)
	case spi.SO_ACCEPTCONN:
		return putBool(optval, s.state == stateListening)
	}
	return 0, spi.WSAENOPROTOOPT
}

// setSockOpt serves WSPSetSockOpt. Buffer sizes take effect at once: a
// larger buffer lets queued sends through.
func (s *socket) setSockOpt(level, name int32, optval []byte) error {
	if err := optLevelCheck(level); err != nil {
		return err
	}
	n := s.n
	var fl flushList
	n.mu.Lock()
	err := s.setSockOptLocked(level, name, optval, &fl)
	n.mu.Unlock()
	fl.flush()
	return err
}

func (s *socket) setSockOptLocked(level, name int32, optval []byte, fl *flushList) error {
	if s.closed {
		return spi.WSAENOTSOCK
	}
	if level == spi.IPPROTO_TCP {
		if name != spi.TCP_NODELAY || !s.stream {
			return spi.WSAENOPROTOOPT
		}
		v, err := getInt(optval)
		s.opt.noDelay = err == nil && v != 0
		return err
	}
	switch name {
	case spi.SO_RCVBUF, spi.SO_SNDBUF:
		v, err := getInt(optval)
		if err != nil {
			return err
		}
		if v < 0 {
			return spi.WSAEINVAL
		}
		if name == spi.SO_RCVBUF {
			s.opt.rcvbuf = int(v)
		} else {
			s.opt.sndbuf = int(v)
		}
		s.n.settleLocked(s, fl)
		return nil
	case spi.SO_REUSEADDR:
		v, err := getInt(optval)
		if err == nil {
			s.opt.reuseAddr = v != 0
		}
		return err
	case spi.SO_UPDATE_ACCEPT_CONTEXT, spi.SO_UPDATE_CONNECT_CONTEXT:
		// The socket is fully usable once AcceptEx or ConnectEx completes;
		// the update only checks that it is connected (and, for accept,
		// takes the listener's handle, of pointer size).
		if !s.stream || s.state != stateConnected {
			return spi.WSAENOTCONN
		}
		if name == spi.SO_UPDATE_ACCEPT_CONTEXT && len(optval) < handleSize {
			return spi.WSAEFAULT
		}
		return nil
	case spi.SO_LINGER, spi.SO_DONTLINGER:
		if !s.stream {
			return spi.WSAENOPROTOOPT
		}
		if name == spi.SO_LINGER {
			var l spi.Linger
			if err := l.UnmarshalBinary(optval); err != nil {
				return err
			}
			s.opt.linger = l
			return nil
		}
		v, err := getInt(optval)
		if err == nil {
			s.opt.linger.OnOff = 0
			if v == 0 {
				s.opt.linger.OnOff = 1
			}
		}
		return err
	}
	return spi.WSAENOPROTOOPT
}

// addressToString serves WSPAddressToString: "127.0.0.1:80" and
// "[::1]:80", or the address alone when the port is 0. The address must be
// of the family of info, when info is given (WSAEINVAL).
func addressToString(addr netip.AddrPort, info *spi.WSAProtocolInfo) (string, error) {
	if !addr.IsValid() {
		return "", spi.WSAEINVAL
	}
	if info != nil && (info.AddressFamily == spi.AF_INET6) != addr.Addr().Is6() {
		return "", spi.WSAEINVAL
	}
	if addr.Port() == 0 {
		return addr.Addr().String(), nil
	}
	return addr.String(), nil
}

// stringToAddress serves WSPStringToAddress for AF_INET ("127.0.0.1",
// "127.0.0.1:80") and AF_INET6 ("::1", "[::1]", "[::1]:80"); af must be
// one of them and match info, when given. Anything else is WSAEINVAL.
func stringToAddress(address string, af int32, info *spi.WSAProtocolInfo) (netip.AddrPort, error) {
	if (af != spi.AF_INET && af != spi.AF_INET6) || (info != nil && info.AddressFamily != af) {
		return netip.AddrPort{}, spi.WSAEINVAL
	}
	v6 := af == spi.AF_INET6
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		bare := address
		if v6 && strings.HasPrefix(bare, "[") && strings.HasSuffix(bare, "]") {
			bare = bare[1 : len(bare)-1]
		}
		a, err := netip.ParseAddr(bare)
		if err != nil {
			return netip.AddrPort{}, spi.WSAEINVAL
		}
		ap = netip.AddrPortFrom(a, 0)
	}
	if ap.Addr().Is6() != v6 {
		return netip.AddrPort{}, spi.WSAEINVAL
	}
	return ap, nil
}
