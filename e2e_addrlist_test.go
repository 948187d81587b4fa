package wsspi_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// End-to-end tests of the machine's local address list,
// SIO_ADDRESS_LIST_QUERY and SIO_ADDRESS_LIST_CHANGE (docs/facts.md §11).

var (
	testAddr4      = netip.MustParseAddr("192.0.2.7")
	testAddr6      = netip.MustParseAddr("2001:db8::7")
	testOtherAddr4 = netip.MustParseAddr("198.51.100.1")
	testOtherAddr6 = netip.MustParseAddr("2001:db8::1")
)

// listedAddress is one SOCKET_ADDRESS of a SOCKET_ADDRESS_LIST (x64
// layout) and its sockaddr, decoded field by field.
type listedAddress struct {
	Pointer  uint64 // lpSockaddr: in the simulator, the sockaddr's offset in the buffer
	Length   int32  // iSockaddrLength
	Padding  uint32
	Family   uint16 // little-endian
	Port     uint16 // big-endian
	Flowinfo uint32 // sockaddr_in6 only
	Addr     netip.Addr
	ScopeID  uint32 // sockaddr_in6 only
}

type listedAddresses struct {
	Count     int32 // iAddressCount at 0; Address[0] at 8
	Padding   uint32
	Addresses []listedAddress
}

func decodeSocketAddressList(tb TB, b []byte) listedAddresses {
	tb.Helper()
	le := binary.LittleEndian
	if len(b) < 8 {
		tb.Fatalf("a SOCKET_ADDRESS_LIST of %d bytes", len(b))
	}
	l := listedAddresses{Count: int32(le.Uint32(b)), Padding: le.Uint32(b[4:])}
	for i := range int(l.Count) {
		e := b[8+16*i:]
		a := listedAddress{Pointer: le.Uint64(e), Length: int32(le.Uint32(e[8:])), Padding: le.Uint32(e[12:])}
		sa := b[a.Pointer : a.Pointer+uint64(a.Length)]
		a.Family, a.Port = le.Uint16(sa), binary.BigEndian.Uint16(sa[2:])
		if a.Length == 28 {
			a.Flowinfo = le.Uint32(sa[4:])
			a.Addr = netip.AddrFrom16([16]byte(sa[8:24]))
			a.ScopeID = le.Uint32(sa[24:])
		} else {
			a.Addr = netip.AddrFrom4([4]byte(sa[4:8]))
		}
		l.Addresses = append(l.Addresses, a)
	}
	return l
}

// addrCmp compares netip.Addr values in cmp.Diff.
var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// packet is what GetQueuedCompletionStatus returned, in the fields these
// tests check.
type packet struct {
	Key      uintptr
	Ov       *spi.Overlapped
	Bytes    uint32
	Internal spi.NTStatus
	Err      error
}

var samePointer = cmp.Comparer(func(a, b *spi.Overlapped) bool { return a == b })

// nextPacket waits for a packet on port.
func nextPacket(tb TB, th *wsspi.Thread, port spi.Handle) packet {
	tb.Helper()
	e, err := th.GetQueuedCompletionStatus(port, long)
	if e.Overlapped == nil {
		tb.Fatalf("no packet: %v", err)
	}
	return packet{e.CompletionKey, e.Overlapped, e.NumberOfBytesTransferred, spi.NTStatus(e.Internal), err}
}

// noPacket fails if a packet waits on port.
func noPacket(tb TB, th *wsspi.Thread, port spi.Handle) {
	tb.Helper()
	e, err := th.GetQueuedCompletionStatus(port, 0)
	if e.Overlapped != nil {
		tb.Errorf("unexpected packet %+v (%v)", e, err)
	}
}

// pendAddressListChange issues an overlapped SIO_ADDRESS_LIST_CHANGE that
// must pend.
func pendAddressListChange(tb TB, th *wsspi.Thread, s spi.Socket) *spi.Overlapped {
	tb.Helper()
	ov := new(spi.Overlapped)
	_, err := th.WSAIoctl(s, spi.SIO_ADDRESS_LIST_CHANGE, nil, nil, ov, nil)
	wantErr(tb, "SIO_ADDRESS_LIST_CHANGE", opErr("WSAIoctl", s, spi.WSA_IO_PENDING), err)
	return ov
}

func TestMachineAddressesChangeWithAddAndRemoveAddress(t *testing.T) {
	m := wsspi.NewMachine()
	lo4, lo6 := netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()
	if d := cmp.Diff([]netip.Addr{lo4, lo6}, m.Addresses(), addrCmp); d != "" {
		t.Errorf("addresses of a new machine (-want +got):\n%s", d)
	}
	check(t, m.AddAddress(testAddr4))
	wantErr(t, "adding it again",
		opErr("CreateUnicastIpAddressEntry", 0, spi.ERROR_OBJECT_ALREADY_EXISTS), m.AddAddress(testAddr4))
	wantErr(t, "adding a multicast address",
		opErr("CreateUnicastIpAddressEntry", 0, spi.ERROR_INVALID_PARAMETER), m.AddAddress(netip.MustParseAddr("224.0.0.1")))
	check(t, m.RemoveAddress(lo4))
	wantErr(t, "removing it again",
		opErr("DeleteUnicastIpAddressEntry", 0, spi.ERROR_NOT_FOUND), m.RemoveAddress(lo4))
	if d := cmp.Diff([]netip.Addr{lo6, testAddr4}, m.Addresses(), addrCmp); d != "" {
		t.Errorf("addresses (-want +got):\n%s", d)
	}
}

// The machine also holds 127.0.0.1 and ::1, which are not listed
// (docs/facts.md §11.3): each family lists its two added addresses, in the
// order they were added.
func TestAddressListQueryListsTheMachinesAddressesOfTheSocketsFamily(t *testing.T) {
	w := newWorld(t)
	check(t, w.m.AddAddress(testAddr6))
	check(t, w.m.AddAddress(testAddr4))
	check(t, w.m.AddAddress(testOtherAddr4))
	check(t, w.m.AddAddress(testOtherAddr6))
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			s := must(w.cth.Socket(f.af, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
			want := listedAddresses{Count: 2, Addresses: []listedAddress{
				{Pointer: 40, Length: 16, Family: spi.AF_INET, Addr: testAddr4},
				{Pointer: 56, Length: 16, Family: spi.AF_INET, Addr: testOtherAddr4},
			}}
			size := uint32(8 + 2*16 + 2*16)
			if f.af == spi.AF_INET6 {
				want.Addresses = []listedAddress{
					{Pointer: 40, Length: 28, Family: spi.AF_INET6, Addr: testAddr6},
					{Pointer: 68, Length: 28, Family: spi.AF_INET6, Addr: testOtherAddr6},
				}
				size = 8 + 2*16 + 2*28
			}
			// The size first, with an empty buffer, as the documented loop
			// does; then the list, in a buffer of exactly that size.
			n, err := w.cth.WSAIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, nil, nil, nil)
			wantErr(t, "size query", opErr("WSAIoctl", s, spi.WSAEFAULT), err)
			if n != size {
				t.Fatalf("size needed = %d, want %d", n, size)
			}
			out := make([]byte, n)
			n, err = w.cth.WSAIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, out, nil, nil)
			check(t, err)
			if n != size {
				t.Errorf("bytes returned = %d, want %d", n, size)
			}
			if d := cmp.Diff(want, decodeSocketAddressList(t, out), addrCmp); d != "" {
				t.Errorf("SOCKET_ADDRESS_LIST (-want +got):\n%s", d)
			}
		})
	}
}

// The edge cases of Wine's test_address_list_query (docs/facts.md §11.3),
// on a machine whose IPv4 list is 192.0.2.7 alone (127.0.0.1 is not
// listed): 40 bytes.
func TestAddressListQueryBufferEdgeCasesThroughWSAIoctl(t *testing.T) {
	w := newWorld(t)
	check(t, w.m.AddAddress(testAddr4))
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	const need = 40
	cases := []struct {
		name    string
		in, out []byte
		n       uint32
		err     spi.Errno
	}{
		{"no buffer", nil, nil, need, spi.WSAEFAULT},
		{"the header only", nil, make([]byte, 8), need, spi.WSAEFAULT},
		{"one byte short", nil, make([]byte, need-1), need, spi.WSAEFAULT},
		{"a 1-byte buffer", nil, make([]byte, 1), 0, spi.WSAEINVAL},
		{"an input buffer", make([]byte, 1), make([]byte, need), 0, spi.WSAEINVAL},
		{"exactly the size", nil, make([]byte, need), need, 0},
	}
	for _, c := range cases {
		n, err := w.cth.WSAIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, c.in, c.out, nil, nil)
		var want error
		if c.err != 0 {
			want = opErr("WSAIoctl", s, c.err)
		}
		wantErr(t, c.name, want, err)
		if n != c.n {
			t.Errorf("%s: bytes returned = %d, want %d", c.name, n, c.n)
		}
	}
}

// queryHeaderAlone checks that SIO_ADDRESS_LIST_QUERY on s lists no
// address: 8 bytes needed, and an 8-byte SOCKET_ADDRESS_LIST with
// iAddressCount 0.
func queryHeaderAlone(tb TB, th *wsspi.Thread, s spi.Socket) {
	tb.Helper()
	n, err := th.WSAIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, nil, nil, nil)
	wantErr(tb, "size query", opErr("WSAIoctl", s, spi.WSAEFAULT), err)
	if n != 8 {
		tb.Errorf("size needed = %d, want 8 (the header alone)", n)
	}
	out := make([]byte, 8)
	n, err = th.WSAIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, out, nil, nil)
	check(tb, err)
	if n != 8 {
		tb.Errorf("bytes returned = %d, want 8", n)
	}
	if d := cmp.Diff(listedAddresses{}, decodeSocketAddressList(tb, out), addrCmp); d != "" {
		tb.Errorf("SOCKET_ADDRESS_LIST (-want +got):\n%s", d)
	}
}

// A new machine holds 127.0.0.1 and ::1 only, which Windows leaves out of
// the list (docs/facts.md §11.3): each family lists no address, as a
// Windows machine with no network.
func TestAFreshMachinesAddressListQueryListsNoAddressOfEitherFamily(t *testing.T) {
	w := newWorld(t)
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			for _, typ := range []int32{spi.SOCK_STREAM, spi.SOCK_DGRAM} {
				proto := int32(spi.IPPROTO_TCP)
				if typ == spi.SOCK_DGRAM {
					proto = spi.IPPROTO_UDP
				}
				s := must(w.cth.Socket(f.af, typ, proto))(t)
				queryHeaderAlone(t, w.cth, s)
			}
		})
	}
}

// Loopback and link-local addresses are not listed (docs/facts.md §11.3),
// but adding one is a change of the machine's address list all the same:
// it completes the SIO_ADDRESS_LIST_CHANGE pending on a socket of its
// family (loopback/addrlist.go completes CHANGE on every addition or
// removal, listed or not), with one packet.
func TestLoopbackAndLinkLocalAddressesAreNotListedButCompleteAddressListChange(t *testing.T) {
	w := newWorld(t)
	s4 := must(w.cth.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
	s6 := must(w.cth.Socket(spi.AF_INET6, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	port := must(w.client.CreateIoCompletionPort(s4, 0, portKey, 0))(t)
	t.Cleanup(func() { w.client.CloseHandle(port) })
	must(w.client.CreateIoCompletionPort(s6, port, portKey+1, 0))(t)

	for _, c := range []struct {
		addr string
		s    spi.Socket
		key  uintptr
	}{
		{"127.0.0.2", s4, portKey},
		{"169.254.1.1", s4, portKey},
		{"fe80::1", s6, portKey + 1},
	} {
		ov := pendAddressListChange(t, w.cth, c.s)
		noPacket(t, w.cth, port)
		check(t, w.m.AddAddress(netip.MustParseAddr(c.addr)))
		if d := cmp.Diff(packet{Key: c.key, Ov: ov}, nextPacket(t, w.cth, port), samePointer); d != "" {
			t.Errorf("packet of adding %s (-want +got):\n%s", c.addr, d)
		}
		noPacket(t, w.cth, port)
	}
	want := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback(),
		netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("169.254.1.1"), netip.MustParseAddr("fe80::1")}
	if d := cmp.Diff(want, w.m.Addresses(), addrCmp); d != "" {
		t.Errorf("addresses (-want +got):\n%s", d)
	}
	queryHeaderAlone(t, w.cth, s4)
	queryHeaderAlone(t, w.cth, s6)
}

func TestAddressListChangePostsOnePacketWhenAnAddressIsAddedOrRemoved(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
	port := must(w.client.CreateIoCompletionPort(s, 0, portKey, 0))(t)
	t.Cleanup(func() { w.client.CloseHandle(port) })

	ov := pendAddressListChange(t, w.cth, s)
	noPacket(t, w.cth, port)
	check(t, w.m.AddAddress(testAddr6)) // another family
	noPacket(t, w.cth, port)
	check(t, w.m.AddAddress(testAddr4))
	if d := cmp.Diff(packet{Key: portKey, Ov: ov}, nextPacket(t, w.cth, port), samePointer); d != "" {
		t.Errorf("packet of the addition (-want +got):\n%s", d)
	}
	check(t, w.m.RemoveAddress(netip.MustParseAddr("127.0.0.1")))
	noPacket(t, w.cth, port) // the operation completed once, on the first change

	ov = pendAddressListChange(t, w.cth, s)
	check(t, w.m.RemoveAddress(testAddr4))
	if d := cmp.Diff(packet{Key: portKey, Ov: ov}, nextPacket(t, w.cth, port), samePointer); d != "" {
		t.Errorf("packet of the removal (-want +got):\n%s", d)
	}
	bytes, _, err := w.cth.WSAGetOverlappedResult(s, ov, false)
	if bytes != 0 || err != nil {
		t.Errorf("WSAGetOverlappedResult = %d, %v; want 0 bytes, success", bytes, err)
	}
	noPacket(t, w.cth, port)
}

func TestAddressListChangeCompletesItsRoutineOnTheChange(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET6, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	var ran []spi.Errno
	ov := new(spi.Overlapped)
	_, err := w.cth.WSAIoctl(s, spi.SIO_ADDRESS_LIST_CHANGE, nil, nil, ov,
		func(e spi.Errno, bytes uint32, _ *spi.Overlapped, _ uint32) { ran = append(ran, e) })
	wantErr(t, "SIO_ADDRESS_LIST_CHANGE", opErr("WSAIoctl", s, spi.WSA_IO_PENDING), err)
	check(t, w.m.AddAddress(testAddr6))
	if r, err := w.cth.SleepEx(long, true); r != spi.WAIT_IO_COMPLETION || err != nil {
		t.Fatalf("SleepEx = %#x, %v; want WAIT_IO_COMPLETION", r, err)
	}
	if d := cmp.Diff([]spi.Errno{0}, ran); d != "" {
		t.Errorf("routine runs (-want +got):\n%s", d)
	}
}

func TestClosesocketWithAnAddressListChangePendingPostsOneAbortPacket(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED) // a connected TCP socket
	port := must(k.client.CreateIoCompletionPort(k.c, 0, portKey, 0))(t)
	t.Cleanup(func() { k.client.CloseHandle(port) })
	ov := pendAddressListChange(t, k.cth, k.c)
	check(t, k.cth.Closesocket(k.c))
	want := packet{Key: portKey, Ov: ov, Internal: spi.STATUS_CANCELLED,
		Err: opErr("GetQueuedCompletionStatus", port, spi.ERROR_OPERATION_ABORTED)}
	if d := cmp.Diff(want, nextPacket(t, k.cth, port), samePointer); d != "" {
		t.Errorf("packet (-want +got):\n%s", d)
	}
	check(t, k.m.AddAddress(testAddr4))
	noPacket(t, k.cth, port)
}

func TestCancelIoExCancelsAPendingAddressListChange(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
	port := must(w.client.CreateIoCompletionPort(s, 0, portKey, 0))(t)
	t.Cleanup(func() { w.client.CloseHandle(port) })
	ov := pendAddressListChange(t, w.cth, s)
	check(t, w.cth.CancelIoEx(s, ov))
	got := nextPacket(t, w.cth, port)
	if got.Ov != ov || spi.ErrnoOf(got.Err) != spi.ERROR_OPERATION_ABORTED {
		t.Errorf("packet %+v, want the cancelled CHANGE with ERROR_OPERATION_ABORTED", got)
	}
	check(t, w.m.AddAddress(testAddr4))
	noPacket(t, w.cth, port)
}

func TestNonblockingAddressListChangeFailsWithWSAEWOULDBLOCK(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
	setNonblocking(t, w.cth, s, true)
	_, err := w.cth.WSAIoctl(s, spi.SIO_ADDRESS_LIST_CHANGE, nil, nil, nil, nil)
	wantErr(t, "SIO_ADDRESS_LIST_CHANGE", opErr("WSAIoctl", s, spi.WSAEWOULDBLOCK), err)
}

func TestBlockingAddressListChangeReturnsWhenTheListChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		waiter := w.client.NewThread()
		done := blocks(t, "SIO_ADDRESS_LIST_CHANGE", func() error {
			_, err := waiter.WSAIoctl(s, spi.SIO_ADDRESS_LIST_CHANGE, nil, nil, nil, nil)
			return err
		})
		check(t, w.m.AddAddress(testAddr4))
		select {
		case err := <-done:
			check(t, err)
		case <-time.After(long):
			t.Fatal("the blocked SIO_ADDRESS_LIST_CHANGE did not return after the change")
		}
	})
}

func TestClosesocketEndsABlockedAddressListChangeWithWSAEINTR(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		s := must(w.cth.Socket(spi.AF_INET6, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
		waiter := w.client.NewThread()
		done := blocks(t, "SIO_ADDRESS_LIST_CHANGE", func() error {
			_, err := waiter.WSAIoctl(s, spi.SIO_ADDRESS_LIST_CHANGE, nil, nil, nil, nil)
			return err
		})
		check(t, w.cth.Closesocket(s))
		select {
		case err := <-done:
			wantErr(t, "blocked SIO_ADDRESS_LIST_CHANGE", opErr("WSAIoctl", s, spi.WSAEINTR), err)
		case <-time.After(long):
			t.Fatal("the blocked SIO_ADDRESS_LIST_CHANGE did not return after closesocket")
		}
	})
}

// Through one kit layer: the kit passes WSPIoctl down, substitutes its
// overlapped, and forwards the completion to the client's port.
func TestAddressListIoctlsThroughAKitLayer(t *testing.T) {
	m := wsspi.NewMachine()
	installKits(t, m, 1)
	p := m.NewProcess()
	t.Cleanup(func() { p.Close() })
	th := p.NewThread()
	s := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if base := ioctlHandle(t, th, s, spi.SIO_BASE_HANDLE); base == s {
		t.Fatal("the socket is the base provider's: the kit layer is not in the way")
	}

	check(t, m.AddAddress(testAddr4))
	n, err := th.WSAIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, make([]byte, 8), nil, nil)
	wantErr(t, "short query", opErr("WSAIoctl", s, spi.WSAEFAULT), err)
	if n != 40 {
		t.Errorf("size needed through the layer = %d, want 40", n)
	}
	out := make([]byte, n)
	_, err = th.WSAIoctl(s, spi.SIO_ADDRESS_LIST_QUERY, nil, out, nil, nil)
	check(t, err)
	want := listedAddresses{Count: 1, Addresses: []listedAddress{
		{Pointer: 24, Length: 16, Family: spi.AF_INET, Addr: testAddr4},
	}}
	if d := cmp.Diff(want, decodeSocketAddressList(t, out), addrCmp); d != "" {
		t.Errorf("SOCKET_ADDRESS_LIST (-want +got):\n%s", d)
	}

	port := must(p.CreateIoCompletionPort(s, 0, portKey, 0))(t)
	t.Cleanup(func() { p.CloseHandle(port) })
	ov := pendAddressListChange(t, th, s)
	noPacket(t, th, port)
	check(t, m.AddAddress(testOtherAddr4))
	if d := cmp.Diff(packet{Key: portKey, Ov: ov}, nextPacket(t, th, port), samePointer); d != "" {
		t.Errorf("packet of the change (-want +got):\n%s", d)
	}
	noPacket(t, th, port)

	ov = pendAddressListChange(t, th, s)
	check(t, th.Closesocket(s))
	got := nextPacket(t, th, port)
	if got.Ov != ov || spi.ErrnoOf(got.Err) != spi.ERROR_OPERATION_ABORTED {
		t.Errorf("packet at closesocket %+v, want the CHANGE aborted with ERROR_OPERATION_ABORTED", got)
	}
	noPacket(t, th, port)
}
