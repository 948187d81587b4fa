package loopback

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/wsspi/wsspi/spi"
)

// The machine's local address list, SIO_ADDRESS_LIST_QUERY and
// SIO_ADDRESS_LIST_CHANGE (docs/facts.md §11).
//
// SIO_ADDRESS_LIST_CHANGE watches the whole list and SIO_ADDRESS_LIST_QUERY
// reports the part of it Windows reports (see listed), nothing more:
// binding and connecting follow the loopback rules of the package
// documentation ("Addresses and ports") whatever the list holds. An added
// address cannot be bound or reached, and removing 127.0.0.1 does not stop
// 127.0.0.1 from working.

// Sizes of the x64 layout of SOCKET_ADDRESS_LIST (ws2def.h; docs/facts.md
// §11.4): INT iAddressCount at 0, then SOCKET_ADDRESS Address[] at 8, each
// an LPSOCKADDR (8 bytes) and an INT iSockaddrLength followed by 4 bytes
// of padding; the sockaddrs follow the array.
const (
	socketAddressListHeader = 8  // offsetof(SOCKET_ADDRESS_LIST, Address[0])
	socketAddressSize       = 16 // sizeof(SOCKET_ADDRESS)
	sockaddrInSize          = 16 // sizeof(struct sockaddr_in)
	sockaddrIn6Size         = 28 // sizeof(struct sockaddr_in6)
)

// defaultAddresses is the list of a new network: the loopback address of
// each family, the addresses the provider serves. SIO_ADDRESS_LIST_QUERY
// lists neither (see listed).
func defaultAddresses() []netip.Addr {
	return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()}
}

// AddAddress adds a to the machine's local addresses, as an address
// appearing on an interface does on Windows (CreateUnicastIpAddressEntry,
// a DHCP lease, an adapter coming up). Every SIO_ADDRESS_LIST_CHANGE
// pending on a socket of a's family completes, with success, whether or
// not SIO_ADDRESS_LIST_QUERY lists a: it leaves out loopback and
// link-local addresses (see listed).
//
// a must be a unicast IPv4 or IPv6 address: the unspecified address, a
// multicast or broadcast address, an IPv4-mapped IPv6 address or an
// address with a zone is ERROR_INVALID_PARAMETER. An address already in
// the list is ERROR_OBJECT_ALREADY_EXISTS, what CreateUnicastIpAddressEntry
// returns for an address the interface already has. The address joins
// the list only: it does not become bindable or reachable (see the package
// documentation).
func (n *Network) AddAddress(a netip.Addr) error {
	if !unicastAddr(a) {
		return spi.ERROR_INVALID_PARAMETER
	}
	var fl flushList
	n.mu.Lock()
	if slices.Contains(n.addrs, a) {
		n.mu.Unlock()
		return spi.ERROR_OBJECT_ALREADY_EXISTS
	}
	n.addrs = append(n.addrs, a)
	n.addressListChangedLocked(a.Is6(), &fl)
	n.mu.Unlock()
	fl.flush()
	return nil
}

// RemoveAddress removes a from the machine's local addresses, as an
// address leaving an interface does on Windows
// (DeleteUnicastIpAddressEntry, a lease expiring, an adapter going down).
// Every SIO_ADDRESS_LIST_CHANGE pending on a socket of a's family
// completes, with success, whether or not SIO_ADDRESS_LIST_QUERY listed a. An address not in the list is ERROR_NOT_FOUND,
// what DeleteUnicastIpAddressEntry returns for an entry it cannot find.
// Sockets bound to a keep working (see the package documentation).
func (n *Network) RemoveAddress(a netip.Addr) error {
	var fl flushList
	n.mu.Lock()
	i := slices.Index(n.addrs, a)
	if i < 0 {
		n.mu.Unlock()
		return spi.ERROR_NOT_FOUND
	}
	n.addrs = slices.Delete(n.addrs, i, i+1)
	n.addressListChangedLocked(a.Is6(), &fl)
	n.mu.Unlock()
	fl.flush()
	return nil
}

// Addresses returns a copy of the machine's local addresses, in the order
// they were added: 127.0.0.1 and ::1 first on a new network. It is the
// machine's unicast address table, as GetUnicastIpAddressTable lists it on
// Windows, so it holds the loopback and link-local addresses
// SIO_ADDRESS_LIST_QUERY leaves out.
func (n *Network) Addresses() []netip.Addr {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.addrs)
}

// unicastAddr reports whether a can be a local unicast address.
func unicastAddr(a netip.Addr) bool {
	return a.IsValid() && a.Zone() == "" && !a.Is4In6() && !a.IsUnspecified() &&
		!a.IsMulticast() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// addressListChangedLocked completes, with success and 0 bytes, every
// pending SIO_ADDRESS_LIST_CHANGE of a socket of family v6, in the order
// they were issued: each completes on the first change after it.
func (n *Network) addressListChangedLocked(v6 bool, fl *flushList) {
	done := n.addrWait.extract(func(o *op) bool { return o.s.v6 == v6 })
	for o := done.pop(); o != nil; o = done.pop() {
		n.finishLocked(o, 0, fl)
	}
	n.addressListEventsLocked(v6, fl)
}

// extract unlinks the ops of q that match, keeping their order, and
// returns them as a queue of their own.
func (q *opQueue) extract(match func(*op) bool) opQueue {
	var out opQueue
	var prev *op
	for o := q.head; o != nil; {
		next := o.next
		if match(o) {
			q.remove(prev, o)
			out.push(o)
		} else {
			prev = o
		}
		o = next
	}
	return out
}

// listed reports whether SIO_ADDRESS_LIST_QUERY on a socket of family v6
// lists a: an address of that family that is not a loopback or link-local
// address, which Windows leaves out (they live on the software loopback
// interface; docs/facts.md §11.3). A machine with only its default
// addresses therefore lists none, as a Windows machine with no network.
func listed(a netip.Addr, v6 bool) bool {
	return a.Is6() == v6 && !a.IsLoopback() && !a.IsLinkLocalUnicast()
}

// addressListQueryLocked serves SIO_ADDRESS_LIST_QUERY (docs/facts.md
// §11.3): it writes into out a SOCKET_ADDRESS_LIST of the local addresses
// that listed keeps for the socket's family (none on a new network: the
// header alone, iAddressCount 0), in the order they were added, in the x64
// layout of docs/facts.md §11.4, and returns its size.
//
// Windows writes in each lpSockaddr the address of the sockaddr, which it
// stores in the same buffer after the array; a Go slice has no address to
// give, so the simulator writes instead the sockaddr's offset in out: the
// sockaddr of Address[i] is out[ptr : ptr+iSockaddrLength]. Each sockaddr
// is encoded as Windows lays it out: sockaddr_in (16 bytes: sin_family
// little-endian, sin_port big-endian, the address, 8 zero bytes) or
// sockaddr_in6 (28 bytes: sin6_family, sin6_port, sin6_flowinfo 0, the
// address, sin6_scope_id 0), with port 0.
//
// The errors follow D-ALQ and Wine's tests of Windows (W-T; docs/facts.md
// §11.3): a non-empty in is WSAEINVAL; an out that is not empty but
// shorter than the header (the offset of Address[0], 8 bytes) is WSAEINVAL
// with 0 bytes returned (Wine's tests pin down a 1-byte buffer; the
// simulator draws the line at the header, the smallest size those tests
// see fail with WSAEFAULT); any other out too short for the list, an
// empty one included, is WSAEFAULT with the size needed returned beside
// the error, as Windows writes it to lpcbBytesReturned. A nil out models
// a NULL buffer of size 0.
func (s *socket) addressListQueryLocked(in, out []byte) (uint32, error) {
	if len(in) != 0 {
		return 0, spi.WSAEINVAL
	}
	if len(out) > 0 && len(out) < socketAddressListHeader {
		return 0, spi.WSAEINVAL
	}
	salen := sockaddrInSize
	if s.v6 {
		salen = sockaddrIn6Size
	}
	count := 0
	for _, a := range s.n.addrs {
		if listed(a, s.v6) {
			count++
		}
	}
	arrayEnd := socketAddressListHeader + count*socketAddressSize
	need := arrayEnd + count*salen
	if len(out) < need {
		return uint32(need), spi.WSAEFAULT
	}
	le := binary.LittleEndian
	out = out[:need]
	clear(out)
	le.PutUint32(out, uint32(count))
	i := 0
	for _, a := range s.n.addrs {
		if !listed(a, s.v6) {
			continue
		}
		entry := out[socketAddressListHeader+i*socketAddressSize:]
		off := arrayEnd + i*salen
		le.PutUint64(entry, uint64(off)) // lpSockaddr: the offset, for a pointer
		le.PutUint32(entry[8:], uint32(salen))
		putSockaddr(out[off:off+salen], a)
		i++
	}
	return uint32(need), nil
}

// putSockaddr writes a, with port 0, as a sockaddr_in or sockaddr_in6 into
// sa, which is zeroed and of the right size.
func putSockaddr(sa []byte, a netip.Addr) {
	if a.Is6() {
		binary.LittleEndian.PutUint16(sa, spi.AF_INET6)
		b := a.As16()
		copy(sa[8:24], b[:]) // after sin6_family, sin6_port and sin6_flowinfo
		return
	}
	binary.LittleEndian.PutUint16(sa, spi.AF_INET)
	b := a.As4()
	copy(sa[4:8], b[:]) // after sin_family and sin_port
}

// addressListChangeAndUnlock serves SIO_ADDRESS_LIST_CHANGE (docs/facts.md
// §11.2) with the network lock held, and releases it. The operation waits
// in the network's queue of them until the local address list of the
// socket's family changes ([Network.AddAddress], [Network.RemoveAddress]),
// then completes with success and 0 bytes: it has no output. Overlapped,
// it returns WSA_IO_PENDING; not overlapped, it fails at once with
// WSAEWOULDBLOCK on a nonblocking socket and otherwise blocks until the
// change, or until the socket closes (WSAEINTR, as every blocked call of
// the provider). closesocket completes a pending one with
// WSA_OPERATION_ABORTED, on every kind of socket (it is no I/O of a
// connection: D-ALQ lists WSA_OPERATION_ABORTED for "cancelled by a
// close"); CancelIo with ERROR_OPERATION_ABORTED. The buffers are ignored.
func (s *socket) addressListChangeAndUnlock(req spi.IORequest) (uint32, error) {
	n := s.n
	overlapped := req.Overlapped != nil
	if !overlapped && s.nonblocking {
		n.mu.Unlock()
		return 0, spi.WSAEWOULDBLOCK
	}
	o := getOp(s, req, nil, 0, false)
	if overlapped {
		req.Overlapped.SetInProgress()
	} else {
		o.wait = true
	}
	n.addrWait.push(o)
	n.mu.Unlock()
	if overlapped {
		return 0, spi.WSA_IO_PENDING // o belongs to the network now
	}
	n.mu.Lock()
	for !o.done {
		n.cond.Wait()
	}
	status := o.status
	n.mu.Unlock()
	putOp(o)
	return 0, errOrNil(status)
}

// abortAddressListChangeLocked ends, as s closes, its pending
// SIO_ADDRESS_LIST_CHANGE operations: a blocked call with WSAEINTR, an
// overlapped one with WSA_OPERATION_ABORTED (silently when silent, see
// abortOpLocked).
func (n *Network) abortAddressListChangeLocked(s *socket, silent bool, fl *flushList) {
	mine := n.addrWait.extract(func(o *op) bool { return o.s == s })
	for o := mine.pop(); o != nil; o = mine.pop() {
		if o.req.Overlapped == nil {
			n.finishLocked(o, spi.WSAEINTR, fl)
			continue
		}
		n.abortOpLocked(o, spi.WSA_OPERATION_ABORTED, silent, fl)
	}
}

// cancelAddressListChangeLocked cancels, for CancelIo on s, its pending
// overlapped SIO_ADDRESS_LIST_CHANGE operations that match, each with
// ERROR_OPERATION_ABORTED; it returns how many.
func (n *Network) cancelAddressListChangeLocked(s *socket, match func(*op) bool, fl *flushList) int {
	mine := n.addrWait.extract(func(o *op) bool {
		return o.s == s && o.req.Overlapped != nil && match(o)
	})
	count := 0
	for o := mine.pop(); o != nil; o = mine.pop() {
		n.finishLocked(o, spi.ERROR_OPERATION_ABORTED, fl)
		count++
	}
	return count
}

// addressListChangePendingLocked reports whether ov belongs to a pending
// SIO_ADDRESS_LIST_CHANGE of s.
func (n *Network) addressListChangePendingLocked(s *socket, ov *spi.Overlapped) bool {
	for o := n.addrWait.head; o != nil; o = o.next {
		if o.s == s && o.req.Overlapped == ov {
			return true
		}
	}
	return false
}
