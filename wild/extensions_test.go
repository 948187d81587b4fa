package wild_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// connectExCookie fetches the ConnectEx "pointer" of s, as a client does.
func (c *client) connectExCookie(t testing.TB, s spi.Socket) uintptr {
	t.Helper()
	in := spi.WSAID_CONNECTEX.Bytes()
	var out [spi.ExtensionPointerSize]byte
	must(c.th.WSAIoctl(s, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, in[:], out[:], nil, nil))(t)
	return uintptr(binary.LittleEndian.Uint64(out[:]))
}

// boundSocket makes a socket through the catalog's first TCP/IPv4 entry,
// bound to an ephemeral loopback port, as ConnectEx needs.
func (c *client) boundSocket(t testing.TB) spi.Socket {
	t.Helper()
	s := must(c.th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	t.Cleanup(func() { _ = c.th.Closesocket(s) })
	check(t, c.th.Bind(s, netip.MustParseAddrPort("127.0.0.1:0")))
	return s
}

func TestOwnExtensionsPointerOfOneSocketFailsOnAnother(t *testing.T) {
	m := wsspi.NewMachine()
	must2(wild.InstallOwnExtensions(m, catalog.DefaultTCPIPv4))(t)
	c := newClient(t, m)
	l := must(c.srv.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"), wsspi.ListenOptions{Entry: catalog.DefaultTCPIPv4}))(t)
	t.Cleanup(func() { _ = l.Close() })
	a, b := c.boundSocket(t), c.boundSocket(t)

	ca, cb := c.connectExCookie(t, a), c.connectExCookie(t, b)
	if ca == cb {
		t.Fatalf("both sockets got ConnectEx %#x; want one function per socket", ca)
	}
	if again := c.connectExCookie(t, a); again != ca {
		t.Errorf("asked again on one socket: %#x, then %#x", ca, again)
	}
	// A client that caches the first pointer for the process calls a's
	// function on b: it fails.
	fn, ok := c.p.ExtensionFunction(ca)
	connectEx, isConnectEx := fn.(spi.ConnectExFunc)
	if !ok || !isConnectEx {
		t.Fatalf("cookie %#x names %T, not a ConnectEx", ca, fn)
	}
	id := c.th.ID()
	var ov spi.Overlapped
	if _, err := connectEx(b, l.Addr, nil, &ov, &id); !errors.Is(err, spi.WSAENOTSOCK) {
		t.Errorf("a's ConnectEx on b: %v, want WSAENOTSOCK", err)
	}
	// Fetched on b, as Thread.ConnectEx does at each call, it works.
	port := must(c.p.CreateIoCompletionPort(b, 0, 9, 0))(t)
	t.Cleanup(func() { _ = c.p.CloseHandle(port) })
	if _, err := c.th.ConnectEx(b, l.Addr, nil, &ov); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("ConnectEx on b: %v", err)
	}
	if e, err := c.th.GetQueuedCompletionStatus(port, long); err != nil || e.Overlapped != &ov || e.CompletionKey != 9 {
		t.Errorf("ConnectEx completion %+v, %v", e, err)
	}
}

func TestKitHandsOutOneConnectExPerProcess(t *testing.T) {
	m := wsspi.NewMachine()
	must2(wild.InstallKit(m, catalog.DefaultTCPIPv4))(t)
	c := newClient(t, m)
	a, b := c.boundSocket(t), c.boundSocket(t)
	if ca, cb := c.connectExCookie(t, a), c.connectExCookie(t, b); ca != cb {
		t.Errorf("the kit gave %#x and %#x; a process-wide cache is safe with it only if they are one", ca, cb)
	}
}
