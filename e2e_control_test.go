package wsspi_test

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
)

// End-to-end tests of WSAIoctl, getsockopt and setsockopt on loopback
// sockets.

// protocols are the four socket kinds of the default catalog.
var protocols = []struct {
	name     string
	af, typ  int32
	protocol int32
}{
	{"TCP/IPv4", spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP},
	{"UDP/IPv4", spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP},
	{"TCP/IPv6", spi.AF_INET6, spi.SOCK_STREAM, spi.IPPROTO_TCP},
	{"UDP/IPv6", spi.AF_INET6, spi.SOCK_DGRAM, spi.IPPROTO_UDP},
}

func TestFIONREADReportsTheBytesWaiting(t *testing.T) {
	k := newConn(t, spi.AF_INET, 0)
	if got := fionread(t, k.sth, k.s); got != 0 {
		t.Errorf("FIONREAD with nothing sent = %d", got)
	}
	must(k.cth.WSASend(k.c, [][]byte{pattern(0, 10)}, 0, nil, nil))(t)
	if got := fionread(t, k.sth, k.s); got != 10 {
		t.Errorf("FIONREAD = %d, want 10", got)
	}
	recvAll(t, k.sth, k.s, 4)
	if got := fionread(t, k.sth, k.s); got != 6 {
		t.Errorf("FIONREAD after reading 4 = %d, want 6", got)
	}
}

func TestBaseHandleIoctlsReturnTheSocketItself(t *testing.T) {
	w := newWorld(t)
	for _, p := range protocols {
		s := must(w.cth.Socket(p.af, p.typ, p.protocol))(t)
		for _, code := range []uint32{spi.SIO_BASE_HANDLE, spi.SIO_BSP_HANDLE, spi.SIO_BSP_HANDLE_SELECT, spi.SIO_BSP_HANDLE_POLL} {
			out := make([]byte, 16)
			n, err := w.cth.WSAIoctl(s, code, nil, out, nil, nil)
			if got := spi.Socket(binary.LittleEndian.Uint64(out)); n != 8 || err != nil || got != s {
				t.Errorf("%s: WSAIoctl(%#x) = %d bytes (%v), %v; want 8 bytes holding %v", p.name, code, n, got, err, s)
			}
		}
	}
}

func TestSIO_BSP_HANDLE_POLLWithAnOverlappedFailsWithWSAEFAULT(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	var ov spi.Overlapped
	_, err := w.cth.WSAIoctl(s, spi.SIO_BSP_HANDLE_POLL, nil, make([]byte, 8), &ov, nil)
	wantErr(t, "SIO_BSP_HANDLE_POLL", opErr("WSAIoctl", s, spi.WSAEFAULT), err)
}

// ioctlCase is a WSAIoctl call that fails with want.
type ioctlCase struct {
	name    string
	code    uint32
	in, out []byte
	want    spi.Errno
}

// checkIoctls makes each call on a new TCP socket.
func checkIoctls(t *testing.T, cases []ioctlCase) {
	t.Helper()
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	for _, c := range cases {
		_, err := w.cth.WSAIoctl(s, c.code, c.in, c.out, nil, nil)
		wantErr(t, c.name, opErr("WSAIoctl", s, c.want), err)
	}
}

func TestIoctlCodesNobodyServesFail(t *testing.T) {
	in, out := make([]byte, 16), make([]byte, 16)
	checkIoctls(t, []ioctlCase{
		{"SIO_GET_EXTENSION_FUNCTION_POINTER of an unknown GUID", spi.SIO_GET_EXTENSION_FUNCTION_POINTER, in, out, spi.WSAEINVAL},
		{"SIO_FLUSH", spi.SIO_FLUSH, in, out, spi.WSAEOPNOTSUPP},
		{"an unknown WS2 code", spi.IOC_OUT | spi.IOC_WS2 | 0x99, in, out, spi.WSAEOPNOTSUPP},
		{"an unknown vendor code", spi.IOC_IN | spi.IOC_VENDOR | 1, in, out, spi.WSAEOPNOTSUPP},
		{"no direction bits", 0x00000001, in, out, spi.WSAEINVAL},
		{"IOC_VOID with IOC_IN", spi.IOC_VOID | spi.IOC_IN | 1, in, out, spi.WSAEINVAL},
	})
}

func TestIoctlWithAShortBufferFailsWithWSAEFAULT(t *testing.T) {
	checkIoctls(t, []ioctlCase{
		{"FIONBIO, nil input", spi.FIONBIO, nil, nil, spi.WSAEFAULT},
		{"FIONBIO, 2-byte input", spi.FIONBIO, make([]byte, 2), nil, spi.WSAEFAULT},
		{"FIONREAD, nil output", spi.FIONREAD, nil, nil, spi.WSAEFAULT},
		{"FIONREAD, 3-byte output", spi.FIONREAD, nil, make([]byte, 3), spi.WSAEFAULT},
		{"SIO_BASE_HANDLE, nil output", spi.SIO_BASE_HANDLE, nil, nil, spi.WSAEFAULT},
		{"SIO_BASE_HANDLE, 4-byte output", spi.SIO_BASE_HANDLE, nil, make([]byte, 4), spi.WSAEFAULT},
		{"SIO_BSP_HANDLE, 7-byte output", spi.SIO_BSP_HANDLE, nil, make([]byte, 7), spi.WSAEFAULT},
	})
}

func TestSO_PROTOCOL_INFOWDecodesToTheCatalogEntry(t *testing.T) {
	w := newWorld(t)
	entries := must(w.client.WSAEnumProtocols(nil))(t)
	for i, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			s := must(w.cth.Socket(p.af, p.typ, p.protocol))(t)
			buf := make([]byte, spi.WSAProtocolInfoSize)
			if n := must(w.cth.Getsockopt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf))(t); n != spi.WSAProtocolInfoSize {
				t.Errorf("length = %d, want %d", n, spi.WSAProtocolInfoSize)
			}
			var got spi.WSAProtocolInfo
			check(t, got.UnmarshalBinary(buf))
			if diff := cmp.Diff(entries[i], got); diff != "" {
				t.Errorf("SO_PROTOCOL_INFOW (-catalog entry +got):\n%s", diff)
			}
			if got.ServiceFlags1&spi.XP1_IFS_HANDLES == 0 {
				t.Error("the loopback entry lacks XP1_IFS_HANDLES")
			}
			_, err := w.cth.Getsockopt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf[:spi.WSAProtocolInfoSize-1])
			wantErr(t, "short buffer", opErr("getsockopt", s, spi.WSAEFAULT), err)
		})
	}
}

func TestSO_TYPEReportsTheSocketType(t *testing.T) {
	w := newWorld(t)
	for _, p := range protocols {
		s := must(w.cth.Socket(p.af, p.typ, p.protocol))(t)
		if got := getInt(t, w.cth, s, spi.SO_TYPE); got != uint32(p.typ) {
			t.Errorf("%s: SO_TYPE = %d, want %d", p.name, got, p.typ)
		}
		wantErr(t, p.name+": set SO_TYPE", opErr("setsockopt", s, spi.WSAENOPROTOOPT), w.cth.Setsockopt(s, spi.SOL_SOCKET, spi.SO_TYPE, u32(1)))
	}
}

func TestSO_LINGERIsKeptAsSet(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	linger := func() spi.Linger {
		t.Helper()
		b := make([]byte, spi.LingerSize)
		if n := must(w.cth.Getsockopt(s, spi.SOL_SOCKET, spi.SO_LINGER, b))(t); n != spi.LingerSize {
			t.Fatalf("SO_LINGER length %d", n)
		}
		var l spi.Linger
		check(t, l.UnmarshalBinary(b))
		return l
	}
	if got := linger(); got != (spi.Linger{}) {
		t.Errorf("default SO_LINGER = %+v, want {0, 0}", got)
	}
	if got := getInt(t, w.cth, s, spi.SO_DONTLINGER); got != 1 {
		t.Errorf("default SO_DONTLINGER = %d, want 1", got)
	}
	setLinger(t, w.cth, s, 1, 5)
	if got := linger(); got != (spi.Linger{OnOff: 1, Linger: 5}) {
		t.Errorf("SO_LINGER = %+v, want {1, 5}", got)
	}
	if got := getInt(t, w.cth, s, spi.SO_DONTLINGER); got != 0 {
		t.Errorf("SO_DONTLINGER with linger on = %d, want 0", got)
	}
	_, err := w.cth.Getsockopt(s, spi.SOL_SOCKET, spi.SO_LINGER, make([]byte, 3))
	wantErr(t, "short SO_LINGER buffer", opErr("getsockopt", s, spi.WSAEFAULT), err)

	u := must(w.cth.Socket(spi.AF_INET, spi.SOCK_DGRAM, 0))(t)
	_, err = w.cth.Getsockopt(u, spi.SOL_SOCKET, spi.SO_LINGER, make([]byte, spi.LingerSize))
	wantErr(t, "SO_LINGER on UDP", opErr("getsockopt", u, spi.WSAENOPROTOOPT), err)
}

func TestSO_RCVBUFAndSO_SNDBUFAreKeptAsSet(t *testing.T) {
	w := newWorld(t)
	for _, p := range protocols {
		s := must(w.cth.Socket(p.af, p.typ, p.protocol))(t)
		got := []uint32{getInt(t, w.cth, s, spi.SO_RCVBUF), getInt(t, w.cth, s, spi.SO_SNDBUF)}
		setInt(t, w.cth, s, spi.SO_RCVBUF, 1000)
		setInt(t, w.cth, s, spi.SO_SNDBUF, 2000)
		got = append(got, getInt(t, w.cth, s, spi.SO_RCVBUF), getInt(t, w.cth, s, spi.SO_SNDBUF))
		if diff := cmp.Diff([]uint32{65536, 65536, 1000, 2000}, got); diff != "" {
			t.Errorf("%s: SO_RCVBUF, SO_SNDBUF before and after (-want +got):\n%s", p.name, diff)
		}
	}
}

func TestSocketOptionErrors(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	_, err := w.cth.Getsockopt(s, spi.SOL_SOCKET, spi.SO_RCVBUF, make([]byte, 2))
	wantErr(t, "short buffer", opErr("getsockopt", s, spi.WSAEFAULT), err)
	_, err = w.cth.Getsockopt(s, spi.SOL_SOCKET, spi.SO_RCVBUF, nil)
	wantErr(t, "nil buffer", opErr("getsockopt", s, spi.WSAEFAULT), err)
	wantErr(t, "set from a nil buffer", opErr("setsockopt", s, spi.WSAEFAULT), w.cth.Setsockopt(s, spi.SOL_SOCKET, spi.SO_SNDBUF, nil))
	_, err = w.cth.Getsockopt(s, spi.SOL_SOCKET, 0x7777, make([]byte, 4))
	wantErr(t, "unknown option", opErr("getsockopt", s, spi.WSAENOPROTOOPT), err)
	_, err = w.cth.Getsockopt(s, 0x1234, spi.SO_TYPE, make([]byte, 4))
	wantErr(t, "unknown level", opErr("getsockopt", s, spi.WSAEINVAL), err)
}
