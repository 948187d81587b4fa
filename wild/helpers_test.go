package wild_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// long bounds a wait that must end: a failure, not a hang, when it does
// not.
const long = 10 * time.Second

// client is one process of a machine with a provider installed: its
// thread, which makes the client's sockets through the catalog, and a
// server thread whose sockets are made on the base entries, below every
// layer.
type client struct {
	m       *wsspi.Machine
	p       *wsspi.Process
	th, srv *wsspi.Thread
}

// newClient starts a process on m (which has called WSAStartup), closed
// at the end of the test.
func newClient(t testing.TB, m *wsspi.Machine) *client {
	t.Helper()
	p := m.NewProcess()
	t.Cleanup(func() { _ = p.Close() })
	return &client{m: m, p: p, th: p.NewThread(), srv: p.NewThread()}
}

// pair connects a client socket made through entry (0: the catalog's
// choice) to a server socket on the base TCP/IPv4 entry, with a port the
// client's socket is associated with under key 7.
func (c *client) pair(t testing.TB, entry spi.CatalogEntryId) *wsspi.Pair {
	t.Helper()
	pr, err := c.th.SocketPair(wsspi.PairOptions{Server: c.srv, ClientEntry: entry, ServerEntry: catalog.DefaultTCPIPv4,
		CompletionPort: true, ClientKey: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pr.Close() })
	return pr
}

// socketIoctl asks s for a SOCKET-valued control code, as clients ask for
// SIO_BASE_HANDLE and the SIO_BSP_HANDLE_* codes.
func (c *client) socketIoctl(s spi.Socket, code uint32) (spi.Socket, error) {
	var out [8]byte
	if _, err := c.th.WSAIoctl(s, code, nil, out[:], nil, nil); err != nil {
		return spi.INVALID_SOCKET, err
	}
	return spi.Socket(binary.LittleEndian.Uint64(out[:])), nil
}

// protocolInfo reads getsockopt(SO_PROTOCOL_INFOW) of s.
func (c *client) protocolInfo(t testing.TB, s spi.Socket) spi.WSAProtocolInfo {
	t.Helper()
	buf := make([]byte, spi.WSAProtocolInfoSize)
	if _, err := c.th.Getsockopt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf); err != nil {
		t.Fatal(err)
	}
	var info spi.WSAProtocolInfo
	if err := info.UnmarshalBinary(buf); err != nil {
		t.Fatal(err)
	}
	return info
}

func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func must2[T, U any](v T, u U, err error) func(testing.TB) (T, U) {
	return func(t testing.TB) (T, U) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v, u
	}
}
