package spi_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsspi/wsspi/spi"
)

func TestWSAAliasesHaveWin32Values(t *testing.T) {
	got := []spi.Errno{spi.WSA_INVALID_HANDLE, spi.WSA_NOT_ENOUGH_MEMORY, spi.WSA_INVALID_PARAMETER,
		spi.WSA_OPERATION_ABORTED, spi.WSA_IO_INCOMPLETE, spi.WSA_IO_PENDING, spi.WSA_WAIT_TIMEOUT}
	want := []spi.Errno{6, 8, 87, 995, 996, 997, 258}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}
}

func TestErrnoValuesFollowWSABASEERR(t *testing.T) {
	cases := map[spi.Errno]spi.Errno{
		spi.WSAEINTR: 10004, spi.WSAEFAULT: 10014, spi.WSAEINVAL: 10022, spi.WSAEWOULDBLOCK: 10035,
		spi.WSAENOTSOCK: 10038, spi.WSAEOPNOTSUPP: 10045, spi.WSAENOBUFS: 10055,
		spi.WSANOTINITIALISED: 10093, spi.WSAEINVALIDPROCTABLE: 10104, spi.WSAEINVALIDPROVIDER: 10105,
		spi.WSAEPROVIDERFAILEDINIT: 10106, spi.WSASYSCALLFAILURE: 10107, spi.WSANO_RECOVERY: 11003,
		spi.ERROR_ABANDONED_WAIT_0: 735, spi.WAIT_TIMEOUT: 258,
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("%v = %d, want %d", got, uint32(got), uint32(want))
		}
	}
}

func TestErrnoErrorNamesTheNumber(t *testing.T) {
	if got, want := spi.WSAENOBUFS.Error(), "no buffer space available (10055)"; got != want {
		t.Errorf("WSAENOBUFS.Error() = %q, want %q", got, want)
	}
	if got, want := spi.Errno(12345).Error(), "winsock error 12345"; got != want {
		t.Errorf("Errno(12345).Error() = %q, want %q", got, want)
	}
}

func TestErrnoIsMapsToPortableErrors(t *testing.T) {
	cases := []struct {
		err    spi.Errno
		target error
		want   bool
	}{
		{spi.WSAEOPNOTSUPP, errors.ErrUnsupported, true},
		{spi.WSAEINVAL, errors.ErrUnsupported, false},
		{spi.WAIT_TIMEOUT, os.ErrDeadlineExceeded, true},
		{spi.WSAETIMEDOUT, os.ErrDeadlineExceeded, true},
		{spi.WSAEACCES, fs.ErrPermission, true},
		{spi.WSAEINVAL, fs.ErrInvalid, true},
		{spi.WSAENOTSOCK, fs.ErrClosed, true},
		{spi.WSAENOBUFS, fs.ErrClosed, false},
	}
	for _, c := range cases {
		if got := errors.Is(c.err, c.target); got != c.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", c.err, c.target, got, c.want)
		}
	}
}

func TestErrnoTimeoutAndTemporary(t *testing.T) {
	if !spi.WAIT_TIMEOUT.Timeout() || !spi.WSAEWOULDBLOCK.Timeout() || spi.WSAENOTSOCK.Timeout() {
		t.Error("Timeout() wrong")
	}
	if !spi.WSAENOBUFS.Temporary() || !spi.WSAETIMEDOUT.Temporary() || spi.WSAEINVAL.Temporary() {
		t.Error("Temporary() wrong")
	}
}

func TestOpErrorWrapsAndFormats(t *testing.T) {
	err := spi.NewOpError("WPUCloseSocketHandle", 0x1c, spi.WSAENOTSOCK)
	if diff := cmp.Diff(error(spi.WSAENOTSOCK), err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("errors.Is through OpError (-want +got):\n%s", diff)
	}
	if got, want := err.Error(), "WPUCloseSocketHandle 0x1c: not a socket (10038)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if spi.NewOpError("x", 4, nil) != nil {
		t.Error("NewOpError with nil error is not nil")
	}
	wrapped := fmt.Errorf("outer: %w", err)
	if got := spi.ErrnoOf(wrapped); got != spi.WSAENOTSOCK {
		t.Errorf("ErrnoOf = %v", got)
	}
	if got := spi.ErrnoOf(errors.New("plain")); got != spi.WSASYSCALLFAILURE {
		t.Errorf("ErrnoOf(plain) = %v", got)
	}
	var timeout interface{ Timeout() bool }
	if !errors.As(spi.NewOpError("GetQueuedCompletionStatus", 8, spi.WAIT_TIMEOUT), &timeout) || !timeout.Timeout() {
		t.Error("OpError of WAIT_TIMEOUT is not a timeout")
	}
}

func TestInvalidSocketIsAllOnes(t *testing.T) {
	bits := uint64(spi.INVALID_SOCKET)
	if bits != uint64(^uintptr(0)) || spi.INVALID_SOCKET.String() != "INVALID_SOCKET" { // all ones of the host word
		t.Errorf("INVALID_SOCKET = %#x, want all ones", bits)
	}
}

func TestIoctlCodesMatchTheirMacros(t *testing.T) {
	wsaior := func(class, n uint32) uint32 { return spi.IOC_OUT | class | n }
	cases := map[string][2]uint32{
		"SIO_BASE_HANDLE":       {spi.SIO_BASE_HANDLE, wsaior(spi.IOC_WS2, 34)},
		"SIO_BSP_HANDLE":        {spi.SIO_BSP_HANDLE, wsaior(spi.IOC_WS2, 27)},
		"SIO_BSP_HANDLE_SELECT": {spi.SIO_BSP_HANDLE_SELECT, wsaior(spi.IOC_WS2, 28)},
		"SIO_BSP_HANDLE_POLL":   {spi.SIO_BSP_HANDLE_POLL, wsaior(spi.IOC_WS2, 29)},
		"SIO_GET_EXTENSION_FUNCTION_POINTER": {spi.SIO_GET_EXTENSION_FUNCTION_POINTER,
			spi.IOC_INOUT | spi.IOC_WS2 | 6},
		"FIONBIO":  {spi.FIONBIO, spi.IOC_IN | 4<<16 | 'f'<<8 | 126},
		"FIONREAD": {spi.FIONREAD, spi.IOC_OUT | 4<<16 | 'f'<<8 | 127},
	}
	for name, c := range cases {
		if c[0] != c[1] {
			t.Errorf("%s = %#x, want %#x", name, c[0], c[1])
		}
	}
	if !spi.IoctlOut(spi.SIO_BASE_HANDLE) || spi.IoctlIn(spi.SIO_BASE_HANDLE) || spi.IoctlClass(spi.SIO_BASE_HANDLE) != spi.IOC_WS2 {
		t.Error("SIO_BASE_HANDLE bits")
	}
}

func TestMakewordPacksMajorLow(t *testing.T) {
	if got := spi.MAKEWORD(2, 2); got != 0x0202 {
		t.Errorf("MAKEWORD(2,2) = %#x", got)
	}
	if got := spi.MAKEWORD(2, 0); got != 0x0002 {
		t.Errorf("MAKEWORD(2,0) = %#x", got)
	}
}

func TestGUIDRoundTrips(t *testing.T) {
	const s = "{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}"
	g, err := spi.ParseGUID(s)
	if err != nil {
		t.Fatal(err)
	}
	want := spi.GUID{Data1: 0xE70F1AA0, Data2: 0xAB8B, Data3: 0x11CF, Data4: [8]byte{0x8C, 0xA3, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92}}
	if diff := cmp.Diff(want, g); diff != "" {
		t.Errorf("ParseGUID (-want +got):\n%s", diff)
	}
	if got := g.String(); got != s {
		t.Errorf("String() = %q, want %q", got, s)
	}
	for _, bad := range []string{"", "{}", "E70F1AA0-AB8B-11CF-8CA3-00805F48A19", "X70F1AA0-AB8B-11CF-8CA3-00805F48A192"} {
		if _, err := spi.ParseGUID(bad); err == nil {
			t.Errorf("ParseGUID(%q) succeeded", bad)
		}
	}
}

func sampleInfo() spi.WSAProtocolInfo {
	return spi.WSAProtocolInfo{
		ServiceFlags1:  spi.XP1_GUARANTEED_DELIVERY | spi.XP1_GUARANTEED_ORDER | spi.XP1_GRACEFUL_CLOSE | spi.XP1_IFS_HANDLES,
		ProviderFlags:  spi.PFL_MATCHES_PROTOCOL_ZERO,
		ProviderId:     spi.MustParseGUID("{E70F1AA0-AB8B-11CF-8CA3-00805F48A192}"),
		CatalogEntryId: 1001,
		ProtocolChain:  spi.WSAProtocolChain{ChainLen: 3, ChainEntries: [7]spi.CatalogEntryId{1005, 1004, 1001}},
		Version:        2, AddressFamily: spi.AF_INET, MaxSockAddr: 16, MinSockAddr: 16,
		SocketType: spi.SOCK_STREAM, Protocol: spi.IPPROTO_TCP, NetworkByteOrder: spi.BIGENDIAN,
		ProtocolName: "MSAFD Tcpip [TCP/IP] — ünïcode",
	}
}

func TestProtocolInfoMarshalsToTheWindowsLayout(t *testing.T) {
	p := sampleInfo()
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 628 {
		t.Fatalf("len = %d, want 628", len(b))
	}
	// Spot-check offsets from docs/facts.md §3.1: dwCatalogEntryId at 36,
	// ChainLen at 40, iAddressFamily at 76, szProtocol at 116.
	if b[36] != 0xE9 || b[37] != 0x03 || b[40] != 3 || b[76] != spi.AF_INET || b[116] != 'M' {
		t.Errorf("offsets wrong: % x", b[:120])
	}
	var q spi.WSAProtocolInfo
	if err := q.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, q); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestProtocolInfoRejectsBadBuffers(t *testing.T) {
	var q spi.WSAProtocolInfo
	if err := q.UnmarshalBinary(make([]byte, 627)); !errors.Is(err, spi.WSAEFAULT) {
		t.Errorf("short buffer: %v", err)
	}
	b := make([]byte, 628)
	for i := 116; i < 628; i++ {
		b[i] = 'A'
	}
	if err := q.UnmarshalBinary(b); !errors.Is(err, spi.WSAEINVAL) {
		t.Errorf("unterminated name: %v", err)
	}
	long := sampleInfo()
	long.ProtocolName = string(make([]byte, 256))
	if _, err := long.MarshalBinary(); !errors.Is(err, spi.WSAEINVAL) {
		t.Errorf("long name: %v", err)
	}
	if err := long.PutBinary(make([]byte, 10)); !errors.Is(err, spi.WSAEFAULT) {
		t.Errorf("short PutBinary: %v", err)
	}
}

func TestProtocolChainKinds(t *testing.T) {
	p := sampleInfo()
	if !p.IsChain() || p.IsBase() || p.IsLayered() || !p.IFS() || p.Hidden() {
		t.Error("chain predicates")
	}
	if diff := cmp.Diff([]spi.CatalogEntryId{1005, 1004, 1001}, p.ProtocolChain.Entries()); diff != "" {
		t.Error(diff)
	}
	p.ProtocolChain.ChainLen = 0
	if !p.IsLayered() || p.ProtocolChain.Entries() != nil {
		t.Error("layered predicates")
	}
	p.ProtocolChain.ChainLen = 8
	if p.ProtocolChain.Entries() != nil {
		t.Error("oversized chain has entries")
	}
}

func TestFillNotSupportedCompletesATable(t *testing.T) {
	var pt spi.WSPProcTable
	if got := len(pt.Missing()); got != 30 {
		t.Fatalf("empty table misses %d entries, want 30", got)
	}
	called := false
	pt.WSPCloseSocket = func(spi.Socket) error { called = true; return nil }
	pt.FillNotSupported()
	if m := pt.Missing(); len(m) != 0 {
		t.Fatalf("still missing %v", m)
	}
	if err := pt.WSPCloseSocket(4); err != nil || !called {
		t.Error("FillNotSupported replaced an implemented entry")
	}
	n, err := pt.WSPSend(4, nil, 0, nil, nil, nil)
	if n != 0 || !errors.Is(err, spi.WSAEOPNOTSUPP) {
		t.Errorf("filled WSPSend = %d, %v", n, err)
	}
	addr, err := pt.WSPGetPeerName(4)
	if addr != (netip.AddrPort{}) || !errors.Is(err, spi.WSAEOPNOTSUPP) {
		t.Errorf("filled WSPGetPeerName = %v, %v", addr, err)
	}
	if err := pt.WSPCleanup(); err != nil {
		t.Errorf("filled WSPCleanup = %v, want success", err)
	}
}

func TestUpcallTableHasFifteenEntries(t *testing.T) {
	var ut spi.WSPUpcallTable
	want := []string{"WPUCloseEvent", "WPUCloseSocketHandle", "WPUCreateEvent", "WPUCreateSocketHandle",
		"WPUFDIsSet", "WPUGetProviderPath", "WPUModifyIFSHandle", "WPUPostMessage",
		"WPUQueryBlockingCallback", "WPUQuerySocketHandleContext", "WPUQueueApc", "WPUResetEvent",
		"WPUSetEvent", "WPUOpenCurrentThread", "WPUCloseThread"}
	if diff := cmp.Diff(want, ut.Missing()); diff != "" {
		t.Errorf("upcall table order (-want +got):\n%s", diff)
	}
}

func TestProcTableIsInHeaderOrder(t *testing.T) {
	var pt spi.WSPProcTable
	want := []string{"WSPAccept", "WSPAddressToString", "WSPAsyncSelect", "WSPBind",
		"WSPCancelBlockingCall", "WSPCleanup", "WSPCloseSocket", "WSPConnect",
		"WSPDuplicateSocket", "WSPEnumNetworkEvents", "WSPEventSelect",
		"WSPGetOverlappedResult", "WSPGetPeerName", "WSPGetSockName",
		"WSPGetSockOpt", "WSPGetQOSByName", "WSPIoctl", "WSPJoinLeaf",
		"WSPListen", "WSPRecv", "WSPRecvDisconnect", "WSPRecvFrom",
		"WSPSelect", "WSPSend", "WSPSendDisconnect", "WSPSendTo",
		"WSPSetSockOpt", "WSPShutdown", "WSPSocket", "WSPStringToAddress"}
	if diff := cmp.Diff(want, pt.Missing()); diff != "" {
		t.Errorf("proc table order (-want +got):\n%s", diff)
	}
}

func TestOverlappedConvention(t *testing.T) {
	ov := spi.Overlapped{HEvent: 0x41}
	ov.SetInProgress()
	if !ov.InProgress() || ov.InternalHigh != 0 {
		t.Error("SetInProgress")
	}
	if ov.EventHandle() != 0x40 || !ov.SkipsPort() {
		t.Error("low bit handling")
	}
}

// SetInProgress on an Overlapped a completed operation left (its status and
// byte count written) starts the next one: no bytes yet, pending; on one
// already marked, it leaves it so.
func TestSetInProgressClearsTheLastOperationsResult(t *testing.T) {
	ov := spi.Overlapped{Internal: uintptr(spi.STATUS_SUCCESS), InternalHigh: 7, Offset: 1}
	ov.SetInProgress()
	want := spi.Overlapped{Internal: spi.WSS_OPERATION_IN_PROGRESS, Offset: 1}
	if diff := cmp.Diff(want, ov); diff != "" {
		t.Errorf("after a completed operation (-want +got):\n%s", diff)
	}
	ov.SetInProgress()
	if diff := cmp.Diff(want, ov); diff != "" {
		t.Errorf("marked twice (-want +got):\n%s", diff)
	}
}

func TestFDSet(t *testing.T) {
	var f spi.FDSet
	f.Set(4)
	f.Set(8)
	f.Set(4)
	if f.Count != 2 || !f.IsSet(8) {
		t.Fatal("Set")
	}
	f.Clear(4)
	if f.Count != 1 || f.IsSet(4) || !f.IsSet(8) {
		t.Error("Clear")
	}
	for i := range 100 {
		f.Set(spi.Socket(4 * (i + 10)))
	}
	if f.Count != spi.FD_SETSIZE {
		t.Errorf("Count = %d", f.Count)
	}
	var nilSet *spi.FDSet
	if nilSet.IsSet(4) {
		t.Error("nil set")
	}
}

func TestLingerRoundTrips(t *testing.T) {
	b, _ := spi.Linger{OnOff: 1, Linger: 0}.MarshalBinary()
	var l spi.Linger
	if err := l.UnmarshalBinary(b); err != nil || l != (spi.Linger{OnOff: 1}) {
		t.Errorf("got %v, %v", l, err)
	}
	if err := l.UnmarshalBinary(b[:3]); !errors.Is(err, spi.WSAEFAULT) {
		t.Errorf("short: %v", err)
	}
}
