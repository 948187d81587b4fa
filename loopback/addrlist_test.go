package loopback_test

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

// Tests of the local address list, SIO_ADDRESS_LIST_QUERY and
// SIO_ADDRESS_LIST_CHANGE (docs/facts.md §11).

// diffA is diff for values holding netip.Addr.
func diffA(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// socketAddress is one decoded SOCKET_ADDRESS of a SOCKET_ADDRESS_LIST
// and the sockaddr it points to (by its offset in the buffer).
type socketAddress struct {
	Pointer  uint64 // lpSockaddr: the sockaddr's offset in the buffer
	Length   int32  // iSockaddrLength
	Padding  uint32 // the 4 bytes after iSockaddrLength
	Family   uint16 // sin_family, little-endian
	Port     uint16 // sin_port, big-endian
	Flowinfo uint32 // sockaddr_in6 only
	Addr     netip.Addr
	ScopeID  uint32  // sockaddr_in6 only
	Zero     [8]byte // sin_zero, sockaddr_in only
}

// addressList is a decoded SOCKET_ADDRESS_LIST, x64 layout.
type addressList struct {
	Count     int32  // iAddressCount, at 0
	Padding   uint32 // bytes 4 to 7, before Address[0] at 8
	Addresses []socketAddress
}

// decodeAddressList decodes b field by field as docs/facts.md §11.4 lays
// it out.
func decodeAddressList(t *testing.T, b []byte) addressList {
	t.Helper()
	le := binary.LittleEndian
	if len(b) < 8 {
		t.Fatalf("list of %d bytes, shorter than its header", len(b))
	}
	l := addressList{Count: int32(le.Uint32(b)), Padding: le.Uint32(b[4:])}
	for i := range int(l.Count) {
		e := b[8+16*i:]
		a := socketAddress{Pointer: le.Uint64(e), Length: int32(le.Uint32(e[8:])), Padding: le.Uint32(e[12:])}
		sa := b[a.Pointer : a.Pointer+uint64(a.Length)]
		a.Family, a.Port = le.Uint16(sa), binary.BigEndian.Uint16(sa[2:])
		switch a.Length {
		case 16:
			a.Addr = netip.AddrFrom4([4]byte(sa[4:8]))
			a.Zero = [8]byte(sa[8:16])
		case 28:
			a.Flowinfo = le.Uint32(sa[4:])
			a.Addr = netip.AddrFrom16([16]byte(sa[8:24]))
			a.ScopeID = le.Uint32(sa[24:])
		default:
			t.Fatalf("Address[%d]: iSockaddrLength %d", i, a.Length)
		}
		l.Addresses = append(l.Addresses, a)
	}
	return l
}

// returned is out[:n], the list a query wrote; it stops the test if n is
// more than out holds (the size needed of a query that failed), which the
// checks of the query's error and byte count have already reported.
func returned(t *testing.T, out []byte, n uint32) []byte {
	t.Helper()
	if int(n) > len(out) {
		t.Fatalf("%d bytes returned in a buffer of %d", n, len(out))
	}
	return out[:n]
}

// query asks SIO_ADDRESS_LIST_QUERY on s with an output buffer of size
// bytes.
func (p *proc) query(s spi.Socket, size int) ([]byte, uint32, error) {
	out := make([]byte, size)
	n, err := p.tab.WSPIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, out, nil, nil, nil)
	return out, n, err
}

// change issues SIO_ADDRESS_LIST_CHANGE on s, overlapped when ov is set.
func (p *proc) change(s spi.Socket, ov *spi.Overlapped) error {
	_, err := p.tab.WSPIoctl(s, spi.SIO_ADDRESS_LIST_CHANGE, nil, nil, ov, nil, nil)
	return err
}

// pendChange issues an overlapped SIO_ADDRESS_LIST_CHANGE on s that must
// pend.
func (p *proc) pendChange(t *testing.T, s spi.Socket) *spi.Overlapped {
	t.Helper()
	ov := new(spi.Overlapped)
	wantErr(t, "SIO_ADDRESS_LIST_CHANGE", p.change(s, ov), spi.WSA_IO_PENDING)
	if !ov.InProgress() {
		t.Errorf("Internal = %#x after WSA_IO_PENDING, want WSS_OPERATION_IN_PROGRESS", ov.LoadInternal())
	}
	return ov
}

var (
	lo4    = netip.MustParseAddr("127.0.0.1")
	lo6    = netip.IPv6Loopback()
	host4  = netip.MustParseAddr("192.0.2.7")
	host6  = netip.MustParseAddr("2001:db8::7")
	other4 = netip.MustParseAddr("198.51.100.1")
	other6 = netip.MustParseAddr("2001:db8::1")
)

// Addresses is the machine's whole list, loopback addresses included;
// SIO_ADDRESS_LIST_QUERY lists only some of it (see
// TestAFreshNetworksAddressListQueryListsNoAddressOfEitherFamily).
func TestANewNetworkHoldsTheLoopbackAddresses(t *testing.T) {
	diffA(t, "Addresses", []netip.Addr{lo4, lo6}, loopback.NewNetwork().Addresses())
}

func TestAddAndRemoveAddressKeepTheListInOrderAndReportWindowsErrors(t *testing.T) {
	n := loopback.NewNetwork()
	wantErr(t, "add", n.AddAddress(host6), nil)
	wantErr(t, "add", n.AddAddress(host4), nil)
	wantErr(t, "add again", n.AddAddress(host4), spi.ERROR_OBJECT_ALREADY_EXISTS)
	wantErr(t, "add a default again", n.AddAddress(lo6), spi.ERROR_OBJECT_ALREADY_EXISTS)
	for _, bad := range []netip.Addr{{}, netip.IPv4Unspecified(), netip.IPv6Unspecified(),
		netip.MustParseAddr("224.0.0.1"), netip.MustParseAddr("ff02::1"), netip.MustParseAddr("255.255.255.255"),
		netip.MustParseAddr("::ffff:192.0.2.7"), netip.MustParseAddr("fe80::1%eth0")} {
		wantErr(t, "add "+bad.String(), n.AddAddress(bad), spi.ERROR_INVALID_PARAMETER)
	}
	diffA(t, "after adding", []netip.Addr{lo4, lo6, host6, host4}, n.Addresses())
	wantErr(t, "remove", n.RemoveAddress(lo4), nil)
	wantErr(t, "remove again", n.RemoveAddress(lo4), spi.ERROR_NOT_FOUND)
	wantErr(t, "remove one never added", n.RemoveAddress(netip.MustParseAddr("198.51.100.1")), spi.ERROR_NOT_FOUND)
	diffA(t, "after removing", []netip.Addr{lo6, host6, host4}, n.Addresses())
	list := n.Addresses()
	list[0] = host4
	diffA(t, "Addresses is a copy", []netip.Addr{lo6, host6, host4}, n.Addresses())
}

// The network also holds 127.0.0.1 and ::1, which are not listed: each
// family lists its two added addresses, in the order they were added.
func TestAddressListQueryWritesTheAddressesOfTheSocketsFamilyInTheX64Layout(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	p.must(net.AddAddress(host6))
	p.must(net.AddAddress(host4))
	p.must(net.AddAddress(other4))
	p.must(net.AddAddress(other6))
	t.Run("IPv4", func(t *testing.T) {
		s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
		out, n, err := p.query(s, 100)
		wantErr(t, "query", err, nil)
		// 8 (header) + 2×16 (SOCKET_ADDRESS) + 2×16 (sockaddr_in).
		diff(t, "bytes returned", uint32(72), n)
		diffA(t, "list", addressList{Count: 2, Addresses: []socketAddress{
			{Pointer: 40, Length: 16, Family: spi.AF_INET, Addr: host4},
			{Pointer: 56, Length: 16, Family: spi.AF_INET, Addr: other4},
		}}, decodeAddressList(t, returned(t, out, n)))
		diff(t, "sockaddr_in of 192.0.2.7", []byte{2, 0, 0, 0, 192, 0, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0}, out[40:56])
		diff(t, "sockaddr_in of 198.51.100.1", []byte{2, 0, 0, 0, 198, 51, 100, 1, 0, 0, 0, 0, 0, 0, 0, 0}, out[56:72])
	})
	t.Run("IPv6", func(t *testing.T) {
		s := p.socket(spi.AF_INET6, spi.SOCK_STREAM, 0)
		out, n, err := p.query(s, 100)
		wantErr(t, "query", err, nil)
		// 8 + 2×16 + 2×28 (sockaddr_in6).
		diff(t, "bytes returned", uint32(96), n)
		diffA(t, "list", addressList{Count: 2, Addresses: []socketAddress{
			{Pointer: 40, Length: 28, Family: spi.AF_INET6, Addr: host6},
			{Pointer: 68, Length: 28, Family: spi.AF_INET6, Addr: other6},
		}}, decodeAddressList(t, returned(t, out, n)))
		diff(t, "family of 2001:db8::7, little-endian", []byte{23, 0}, out[40:42])
		diff(t, "sockaddr_in6 of 2001:db8::1", []byte{
			23, 0, // sin6_family
			0, 0, // sin6_port
			0, 0, 0, 0, // sin6_flowinfo
			0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
			0, 0, 0, 0, // sin6_scope_id
		}, out[68:96])
	})
	diff(t, "completions", []completion(nil), p.k.completions(t))
}

// A fresh network holds 127.0.0.1 and ::1 only, which Windows leaves out
// of the list (docs/facts.md §11.3): each family's list is the header
// alone, iAddressCount 0, as on a Windows machine with no network.
func TestAFreshNetworksAddressListQueryListsNoAddressOfEitherFamily(t *testing.T) {
	p := newTestProc(t)
	for _, af := range []int32{spi.AF_INET, spi.AF_INET6} {
		s := p.socket(af, spi.SOCK_DGRAM, 0)
		_, n, err := p.query(s, 0)
		wantErr(t, "empty buffer", err, spi.WSAEFAULT)
		diff(t, "size needed", uint32(8), n)
		out, n, err := p.query(s, 8)
		wantErr(t, "header-sized buffer", err, nil)
		diff(t, "bytes returned", uint32(8), n)
		diffA(t, "list", addressList{}, decodeAddressList(t, out))
		out, n, err = p.query(s, 100)
		wantErr(t, "larger buffer", err, nil)
		diff(t, "bytes returned", uint32(8), n)
		diffA(t, "list", addressList{}, decodeAddressList(t, returned(t, out, n)))
	}
	diff(t, "completions", []completion(nil), p.k.completions(t))
}

// An address of the other family does not count: the IPv4 list is empty
// while the IPv6 one has an address.
func TestAddressListQueryOfAFamilyWithNoAddressIsTheHeaderAlone(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	p.must(net.AddAddress(host6))
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	_, n, err := p.query(s, 0)
	wantErr(t, "empty buffer", err, spi.WSAEFAULT)
	diff(t, "size needed", uint32(8), n)
	out, n, err := p.query(s, 8)
	wantErr(t, "header-sized buffer", err, nil)
	diff(t, "bytes returned", uint32(8), n)
	diffA(t, "list", addressList{}, decodeAddressList(t, out))
}

// Windows leaves out loopback and link-local addresses (docs/facts.md
// §11.3), so adding them leaves both lists empty; but they are changes of
// the machine's address list all the same, and each completes the
// SIO_ADDRESS_LIST_CHANGE pending on a socket of its family (addrlist.go
// completes CHANGE on every addition or removal, listed or not), as does
// removing one.
func TestLoopbackAndLinkLocalAddressesAreNotListedButCompleteAddressListChange(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	s4 := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	s6 := p.socket(spi.AF_INET6, spi.SOCK_DGRAM, ovFlag)
	loopback2 := netip.MustParseAddr("127.0.0.2")
	linkLocal4 := netip.MustParseAddr("169.254.1.1")
	linkLocal6 := netip.MustParseAddr("fe80::1")

	for _, c := range []struct {
		name      string
		a         netip.Addr
		s, other  spi.Socket
		otherName string
	}{
		{"127.0.0.2", loopback2, s4, s6, "IPv6"},
		{"169.254.1.1", linkLocal4, s4, s6, "IPv6"},
		{"fe80::1", linkLocal6, s6, s4, "IPv4"},
	} {
		ov, otherOv := p.pendChange(t, c.s), p.pendChange(t, c.other)
		p.must(net.AddAddress(c.a))
		diff(t, "completions of adding "+c.name, []completion{{c.s, ov, 0, 0, 0, false}}, p.k.completions(t))
		if !otherOv.InProgress() {
			t.Errorf("adding %s completed the %s socket's change: Internal %#x", c.name, c.otherName, otherOv.LoadInternal())
		}
		// The other family's change completes on a change of its own.
		if c.other == s4 {
			p.must(net.AddAddress(host4))
			p.must(net.RemoveAddress(host4))
		} else {
			p.must(net.AddAddress(host6))
			p.must(net.RemoveAddress(host6))
		}
		diff(t, "completions of the other family's change", []completion{{c.other, otherOv, 0, 0, 0, false}}, p.k.completions(t))
	}
	diffA(t, "Addresses", []netip.Addr{lo4, lo6, loopback2, linkLocal4, linkLocal6}, net.Addresses())

	for _, c := range []struct {
		name string
		s    spi.Socket
	}{{"IPv4", s4}, {"IPv6", s6}} {
		_, n, err := p.query(c.s, 0)
		wantErr(t, c.name+": empty buffer", err, spi.WSAEFAULT)
		diff(t, c.name+": size needed", uint32(8), n)
		out, n, err := p.query(c.s, 100)
		wantErr(t, c.name+": query", err, nil)
		diff(t, c.name+": bytes returned", uint32(8), n)
		diffA(t, c.name+": list", addressList{}, decodeAddressList(t, returned(t, out, n)))
	}

	// Among unlisted addresses, a listed one is the only entry.
	p.must(net.AddAddress(host4))
	out, n, err := p.query(s4, 100)
	wantErr(t, "query with 192.0.2.7", err, nil)
	diff(t, "bytes returned", uint32(40), n)
	diffA(t, "list", addressList{Count: 1, Addresses: []socketAddress{
		{Pointer: 24, Length: 16, Family: spi.AF_INET, Addr: host4},
	}}, decodeAddressList(t, returned(t, out, n)))

	ov := p.pendChange(t, s4)
	p.must(net.RemoveAddress(linkLocal4))
	diff(t, "completions of removing 169.254.1.1", []completion{{s4, ov, 0, 0, 0, false}}, p.k.completions(t))
	ov = p.pendChange(t, s6)
	p.must(net.RemoveAddress(linkLocal6))
	diff(t, "completions of removing fe80::1", []completion{{s6, ov, 0, 0, 0, false}}, p.k.completions(t))
}

// The edge cases of Wine's test_address_list_query, which runs against
// Windows (docs/facts.md §11.3), on a socket whose family has one listed
// address, 192.0.2.7 (127.0.0.1 is not listed): the list needs 8 + 16 + 16
// = 40 bytes.
func TestAddressListQueryBufferEdgeCases(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	p.must(net.AddAddress(host4))
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	const need = 40
	cases := []struct {
		name  string
		in    []byte
		out   []byte
		n     uint32
		err   error
		valid bool
	}{
		{"no buffer (NULL, 0): the size needed", nil, nil, need, spi.WSAEFAULT, false},
		{"a buffer of the header only", nil, make([]byte, 8), need, spi.WSAEFAULT, false},
		{"one byte short", nil, make([]byte, need-1), need, spi.WSAEFAULT, false},
		{"a 1-byte buffer", nil, make([]byte, 1), 0, spi.WSAEINVAL, false},
		{"a buffer shorter than the header", nil, make([]byte, 7), 0, spi.WSAEINVAL, false},
		{"exactly the size needed", nil, make([]byte, need), need, nil, true},
		{"more than needed", nil, make([]byte, need+24), need, nil, true},
		{"an input buffer", make([]byte, 4), make([]byte, need), 0, spi.WSAEINVAL, false},
	}
	for _, c := range cases {
		n, err := p.tab.WSPIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, c.in, c.out, nil, nil, nil)
		wantErr(t, c.name, err, c.err)
		diff(t, c.name+": bytes returned", c.n, n)
		if c.valid {
			diffA(t, c.name+": list", addressList{Count: 1, Addresses: []socketAddress{
				{Pointer: 24, Length: 16, Family: spi.AF_INET, Addr: host4},
			}}, decodeAddressList(t, returned(t, c.out, n)))
		}
	}
	diff(t, "completions of calls that were not overlapped", []completion(nil), p.k.completions(t))

	ov := new(spi.Overlapped)
	n, err := p.tab.WSPIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, make([]byte, 4), ov, nil, nil)
	wantErr(t, "overlapped, short buffer", err, spi.WSAEINVAL)
	diff(t, "bytes returned", uint32(0), n)
	n, err = p.tab.WSPIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, make([]byte, 8), ov, nil, nil)
	wantErr(t, "overlapped, header only", err, spi.WSAEFAULT)
	diff(t, "bytes needed", uint32(need), n)
	diff(t, "a failure notifies nothing", []completion(nil), p.k.completions(t))
	n, err = p.tab.WSPIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, make([]byte, need), ov, nil, nil)
	wantErr(t, "overlapped", err, nil)
	diff(t, "bytes returned", uint32(need), n)
	diff(t, "completions", []completion{{s, ov, 0, need, 0, true}}, p.k.completions(t))
}

func TestAddressListQueryOnAClosedSocketIsWSAENOTSOCK(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	p.must(p.tab.WSPCloseSocket(s))
	_, n, err := p.query(s, 100)
	wantErr(t, "query", err, spi.WSAENOTSOCK)
	diff(t, "bytes returned", uint32(0), n)
}

func TestAddressListChangeCompletesOnceOnTheFirstChangeOfItsFamily(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	s4 := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	s6 := p.socket(spi.AF_INET6, spi.SOCK_STREAM, ovFlag)
	first, second := p.pendChange(t, s4), p.pendChange(t, s4)
	other := p.pendChange(t, s6)
	diff(t, "completions while nothing changed", []completion(nil), p.k.completions(t))

	p.must(net.AddAddress(host4))
	diff(t, "completions of the IPv4 change, in issue order", []completion{
		{s4, first, 0, 0, 0, false},
		{s4, second, 0, 0, 0, false},
	}, p.k.completions(t))
	if !other.InProgress() {
		t.Errorf("the IPv6 socket's change completed on an IPv4 change: Internal %#x", other.LoadInternal())
	}

	p.must(net.AddAddress(netip.MustParseAddr("192.0.2.8")))
	diff(t, "completions of a later change", []completion(nil), p.k.completions(t))
	third := p.pendChange(t, s4)
	p.must(net.RemoveAddress(lo6))
	p.must(net.RemoveAddress(host4))
	diff(t, "completions of the removals, in the order of the changes", []completion{
		{s6, other, 0, 0, 0, false},
		{s4, third, 0, 0, 0, false},
	}, p.k.completions(t))
	bytes, flags, err := p.tab.WSPGetOverlappedResult(s4, third, false)
	wantErr(t, "result", err, nil)
	diff(t, "bytes and flags", [2]uint32{0, 0}, [2]uint32{bytes, flags})
}

func TestAddressListChangeIsSeenByEveryProcessOfTheNetwork(t *testing.T) {
	net := loopback.NewNetwork()
	a, b := newProc(t, net), newProc(t, net)
	sa := a.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	sb := b.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	ova, ovb := a.pendChange(t, sa), b.pendChange(t, sb)
	a.must(net.AddAddress(host4))
	diff(t, "process a", []completion{{sa, ova, 0, 0, 0, false}}, a.k.completions(t))
	diff(t, "process b", []completion{{sb, ovb, 0, 0, 0, false}}, b.k.completions(t))
}

func TestClosingASocketAbortsItsPendingAddressListChangeOnce(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	c, _ := p.pair(ovFlag)
	u := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	onConn, onUDP := p.pendChange(t, c), p.pendChange(t, u)
	aborted := spi.WSA_OPERATION_ABORTED
	p.must(p.tab.WSPCloseSocket(c))
	diff(t, "close of a connected TCP socket", []event{
		{Complete: &completion{c, onConn, aborted, 0, 0, false}},
		{Closed: c},
	}, p.k.take())
	p.must(p.tab.WSPCloseSocket(u))
	diff(t, "close of a UDP socket", []event{
		{Complete: &completion{u, onUDP, aborted, 0, 0, false}},
		{Closed: u},
	}, p.k.take())
	p.must(net.AddAddress(host4))
	diff(t, "a change after the close", []event(nil), p.k.take())
	wantErr(t, "CHANGE on the closed socket", p.change(u, new(spi.Overlapped)), spi.WSAENOTSOCK)
}

func TestCancelIoCancelsAPendingAddressListChange(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	t1 := spi.ThreadID{ThreadHandle: 100}
	ov := new(spi.Overlapped)
	_, err := p.tab.WSPIoctl(s, spi.SIO_ADDRESS_LIST_CHANGE, nil, nil, ov, nil, &t1)
	wantErr(t, "CHANGE", err, spi.WSA_IO_PENDING)
	kept := p.pendChange(t, s)
	drv := p.k.driver(s)
	if n := drv.CancelIo(spi.ThreadID{ThreadHandle: 200}, false, nil); n != 0 {
		t.Errorf("CancelIo of another thread = %d, want 0", n)
	}
	if n := drv.CancelIo(t1, false, nil); n != 1 {
		t.Errorf("CancelIo = %d, want 1", n)
	}
	diff(t, "completions", []completion{{s, ov, spi.ERROR_OPERATION_ABORTED, 0, 0, false}}, p.k.completions(t))
	p.must(net.AddAddress(host4))
	diff(t, "the other one completes on the change", []completion{{s, kept, 0, 0, 0, false}}, p.k.completions(t))
}

func TestNonblockingAddressListChangeWithoutAnOverlappedWouldBlock(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	p.nonblocking(s, true)
	wantErr(t, "CHANGE", p.change(s, nil), spi.WSAEWOULDBLOCK)
	// Nothing was left waiting: a change completes nothing.
	p.must(net.AddAddress(host4))
	diff(t, "completions", []completion(nil), p.k.completions(t))
	// The nonblocking mode does not affect overlapped calls.
	ov := p.pendChange(t, s)
	p.must(net.RemoveAddress(host4))
	diff(t, "overlapped", []completion{{s, ov, 0, 0, 0, false}}, p.k.completions(t))
}

func TestOverlappedAddressListChangeOnANonOverlappedSocketIsWSAEINVAL(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	wantErr(t, "CHANGE", p.change(s, new(spi.Overlapped)), spi.WSAEINVAL)
	diff(t, "completions", []completion(nil), p.k.completions(t))
}

func TestBlockingAddressListChangeWaitsForAChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := loopback.NewNetwork()
		p := newProc(t, net)
		s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
		done := make(chan error, 1)
		go func() { done <- p.change(s, nil) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("blocking CHANGE returned at once: %v", err)
		default:
		}
		p.must(net.AddAddress(host6)) // another family: still waiting
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("blocking CHANGE returned on an IPv6 change: %v", err)
		default:
		}
		p.must(net.AddAddress(host4))
		wantErr(t, "blocking CHANGE", <-done, nil)
		diff(t, "completions", []completion(nil), p.k.completions(t))
	})
}

func TestClosingASocketInterruptsABlockedAddressListChangeWithWSAEINTR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		s := p.socket(spi.AF_INET6, spi.SOCK_STREAM, 0)
		done := make(chan error, 1)
		go func() { done <- p.change(s, nil) }()
		synctest.Wait()
		p.must(p.tab.WSPCloseSocket(s))
		wantErr(t, "blocking CHANGE", <-done, spi.WSAEINTR)
	})
}

func TestGetOverlappedResultWaitsForAPendingAddressListChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := loopback.NewNetwork()
		p := newProc(t, net)
		s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
		ov := p.pendChange(t, s)
		_, _, err := p.tab.WSPGetOverlappedResult(s, ov, false)
		wantErr(t, "without wait", err, spi.WSA_IO_INCOMPLETE)
		done := make(chan error, 1)
		go func() {
			_, _, err := p.tab.WSPGetOverlappedResult(s, ov, true)
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("waiting WSPGetOverlappedResult returned at once: %v", err)
		default:
		}
		p.must(net.AddAddress(host4))
		wantErr(t, "with wait", <-done, nil)
	})
}

func TestLastCleanupCancelsAPendingAddressListChangeWithoutNotification(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	ov := p.pendChange(t, s)
	for range p.entries {
		p.must(p.tab.WSPCleanup())
	}
	diff(t, "events", []event{{Closed: s}}, p.k.take())
	if spi.NTStatus(ov.LoadInternal()) != spi.STATUS_CANCELLED || spi.Errno(ov.OffsetHigh) != spi.WSA_OPERATION_ABORTED {
		t.Errorf("cancelled CHANGE: Internal %#x, OffsetHigh %d", ov.LoadInternal(), ov.OffsetHigh)
	}
	p.must(net.AddAddress(host4))
	diff(t, "events of a later change", []event(nil), p.k.take())
}

// heldScheduler runs nothing until release: every deferred function waits
// in a list.
type heldScheduler struct {
	mu   sync.Mutex
	held []func()
}

func (h *heldScheduler) Defer(_ any, fn func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.held = append(h.held, fn)
}

func (h *heldScheduler) Pend() bool { return false }

func (h *heldScheduler) release() {
	for {
		h.mu.Lock()
		if len(h.held) == 0 {
			h.mu.Unlock()
			return
		}
		fn := h.held[0]
		h.held = h.held[1:]
		h.mu.Unlock()
		fn()
	}
}

func TestAddressListChangeCompletionsGoThroughTheScheduler(t *testing.T) {
	sched := new(heldScheduler)
	net := loopback.NewNetworkWith(loopback.Options{Scheduler: sched})
	p := newProc(t, net)
	s := p.socket(spi.AF_INET, spi.SOCK_DGRAM, ovFlag)
	ov := p.pendChange(t, s)
	p.must(net.AddAddress(host4))
	diff(t, "completions before the scheduler runs", []completion(nil), p.k.completions(t))
	sched.release()
	diff(t, "completions", []completion{{s, ov, 0, 0, 0, false}}, p.k.completions(t))
}

func TestTheAddressListDoesNotGovernBinding(t *testing.T) {
	net := loopback.NewNetwork()
	p := newProc(t, net)
	p.must(net.AddAddress(host4))
	p.must(net.RemoveAddress(lo4))
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	wantErr(t, "bind to an added address", p.tab.WSPBind(s, netip.AddrPortFrom(host4, 0)), spi.WSAEADDRNOTAVAIL)
	wantErr(t, "bind to a removed loopback address", p.tab.WSPBind(s, netip.AddrPortFrom(lo4, 0)), nil)
}
