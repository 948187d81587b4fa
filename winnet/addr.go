package winnet

import (
	"net"
	"net/netip"
	"strconv"

	"github.com/wsspi/wsspi/spi"
)

// resolve turns a "host:port" of network ("tcp", "tcp4" or "tcp6") into an
// address. The host is an IP literal, "localhost" (127.0.0.1, or ::1 for
// tcp6) or empty: the wildcard address to listen on, the loopback address
// to dial, as Go's net package reads it. There is no name resolution: the
// simulated machine has only loopback. An empty host under "tcp" means
// IPv4, where Go would listen dual-stack.
func resolve(network, address string, listen bool) (netip.AddrPort, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return netip.AddrPort{}, net.UnknownNetworkError(network)
	}
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return netip.AddrPort{}, &net.AddrError{Err: "invalid port", Addr: address}
	}
	v6 := network == "tcp6"
	var ip netip.Addr
	switch {
	case host == "" && listen && v6:
		ip = netip.IPv6Unspecified()
	case host == "" && listen:
		ip = netip.IPv4Unspecified()
	case (host == "" || host == "localhost") && v6:
		ip = netip.IPv6Loopback()
	case host == "" || host == "localhost":
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	default:
		if ip, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, &net.AddrError{Err: "no such host (winnet resolves IP literals and localhost only)", Addr: host}
		}
		ip = ip.Unmap()
	}
	if (network == "tcp4" && !ip.Is4()) || (v6 && !ip.Is6()) {
		return netip.AddrPort{}, &net.AddrError{Err: "address of the wrong family for " + network, Addr: address}
	}
	return netip.AddrPortFrom(ip, uint16(port)), nil
}

// familyOf returns the address family of a.
func familyOf(a netip.AddrPort) int32 {
	if a.Addr().Is4() {
		return spi.AF_INET
	}
	return spi.AF_INET6
}

// wildcardOf returns the unspecified address of family af, port 0: what Go
// binds a socket to before ConnectEx.
func wildcardOf(af int32) netip.AddrPort {
	if af == spi.AF_INET {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
}
