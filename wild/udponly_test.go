package wild_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// udpReceiver is a UDP socket of the catalog's choice (the layer's chain,
// when one is installed over UDP/IPv4), bound, associated with a port
// under key 5, with the skip mode set, and a base-entry sender.
type udpReceiver struct {
	s, sender, port spi.Handle
	addr            netip.AddrPort
}

func (c *client) udpReceiver(t *testing.T) udpReceiver {
	t.Helper()
	var r udpReceiver
	r.s = must(c.th.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
	t.Cleanup(func() { _ = c.th.Closesocket(r.s) })
	check(t, c.th.Bind(r.s, netip.MustParseAddrPort("127.0.0.1:0")))
	r.addr = must(c.th.Getsockname(r.s))(t)
	r.port = must(c.p.CreateIoCompletionPort(r.s, 0, 5, 0))(t)
	t.Cleanup(func() { _ = c.p.CloseHandle(r.port) })
	base := baseEntry(t, c, catalog.DefaultUDPIPv4)
	r.sender = must(c.srv.WSASocket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP, &base, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	t.Cleanup(func() { _ = c.srv.Closesocket(r.sender) })
	return r
}

func baseEntry(t *testing.T, c *client, id spi.CatalogEntryId) spi.WSAProtocolInfo {
	t.Helper()
	for _, e := range must(c.p.WSAEnumProtocols(nil))(t) {
		if e.CatalogEntryId == id {
			return e
		}
	}
	t.Fatalf("no entry %d", id)
	return spi.WSAProtocolInfo{}
}

// everyTCPEntryIFS is Go's process-wide check (docs/facts.md §15.1).
func everyTCPEntryIFS(t *testing.T, c *client) bool {
	for _, e := range must(c.p.WSAEnumProtocols([]int32{spi.IPPROTO_TCP}))(t) {
		if !e.IFS() {
			return false
		}
	}
	return true
}

// receiveQueued sets the skip mode on r's socket, queues a datagram, and
// receives it with an overlapped WSARecvFrom: it returns the packets the
// port then holds and what the call returned.
func receiveQueued(t *testing.T, c *client, r udpReceiver) ([]spi.OverlappedEntry, error) {
	check(t, c.p.SetFileCompletionNotificationModes(r.s, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))
	must(c.srv.WSASendTo(r.sender, [][]byte{[]byte("dgram")}, 0, r.addr, nil, nil))(t)
	var ov spi.Overlapped
	buf := make([]byte, 16)
	_, err := c.th.WSARecvFrom(r.s, [][]byte{buf}, nil, nil, &ov, nil)
	var packets []spi.OverlappedEntry
	wait := long
	if err == nil {
		wait = long / 100 // a packet of an immediate success is forwarded before the call returns
	}
	for {
		e, perr := c.th.GetQueuedCompletionStatus(r.port, wait)
		if errors.Is(perr, spi.WAIT_TIMEOUT) {
			return packets, err
		}
		packets = append(packets, e)
		wait = 0
	}
}

func TestUDPOnlyEscapesTheTCPChecksAndBreaksSkipOnSuccess(t *testing.T) {
	m := wsspi.NewMachine()
	_, ids := must2(wild.InstallUDPOnly(m))(t)
	if len(ids.Chains) != 2 {
		t.Fatalf("chains %v, want one over UDP/IPv4 and one over UDP/IPv6", ids.Chains)
	}
	c := newClient(t, m)
	// Go's check and libuv's dummy TCP socket see only base entries.
	if !everyTCPEntryIFS(t, c) {
		t.Fatal("a TCP entry lacks XP1_IFS_HANDLES; the layer is over UDP only")
	}
	tcp := must(c.th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if info := c.protocolInfo(t, tcp); !info.IFS() {
		t.Error("libuv's dummy TCP socket is not IFS")
	}
	check(t, c.th.Closesocket(tcp))

	r := c.udpReceiver(t)
	info := c.protocolInfo(t, r.s)
	if info.IFS() || info.ProtocolChain.ChainLen != 2 {
		t.Fatalf("the UDP socket's entry: IFS %v, chain length %d; want the layer's chain, 2, not IFS", info.IFS(), info.ProtocolChain.ChainLen)
	}
	// A client that trusted the TCP checks sets the mode on its UDP socket.
	// The receive succeeds at once, and the layer's forwarding posts a
	// packet all the same: the promise of the mode is broken (KB 2568167).
	packets, err := receiveQueued(t, c, r)
	if err != nil || len(packets) != 1 || packets[0].CompletionKey != 5 || packets[0].NumberOfBytesTransferred != 5 {
		t.Errorf("WSARecvFrom: %v, packets %+v; want an immediate success and yet one packet", err, packets)
	}
	// libuv's rule for UDP since #1672: the mode only on a chain of
	// length 1. It declines here.
	if info.ProtocolChain.ChainLen == 1 {
		t.Error("libuv's rule would set the mode")
	}
}

func TestUDPWithoutALayerKeepsSkipOnSuccess(t *testing.T) {
	c := newClient(t, wsspi.NewMachine())
	r := c.udpReceiver(t)
	if n := c.protocolInfo(t, r.s).ProtocolChain.ChainLen; n != 1 {
		t.Fatalf("chain length %d, want 1", n)
	}
	if packets, err := receiveQueued(t, c, r); err != nil || len(packets) != 0 {
		t.Errorf("WSARecvFrom: %v, packets %+v; want an immediate success and no packet", err, packets)
	}
}

func TestUDPOnlyRefusesATCPEntry(t *testing.T) {
	if _, _, err := wild.InstallUDPOnly(wsspi.NewMachine(), catalog.DefaultTCPIPv4); !errors.Is(err, spi.WSAEINVAL) {
		t.Errorf("over TCP/IPv4: %v, want WSAEINVAL", err)
	}
}
