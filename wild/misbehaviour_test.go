package wild_test

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// Each provider's misbehaviour, seen by a client through the root
// package's API, against what a well-behaved layer does.

func TestKitDeliversAPendingReceiveToTheClientsPortOnce(t *testing.T) {
	m := wsspi.NewMachine()
	prov, ids := must2(wild.InstallKit(m, catalog.DefaultTCPIPv4))(t)
	c := newClient(t, m)
	pr := c.pair(t, ids.Chains[0])
	var ov spi.Overlapped
	buf := make([]byte, 4)
	if _, err := c.th.WSARecv(pr.Client, [][]byte{buf}, nil, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSARecv: %v, want WSA_IO_PENDING", err)
	}
	must(c.srv.WSASend(pr.Server, [][]byte{[]byte("kit!")}, 0, nil, nil))(t)
	e := must(c.th.GetQueuedCompletionStatus(pr.Port, long))(t)
	if e.Overlapped != &ov || e.CompletionKey != 7 || e.NumberOfBytesTransferred != 4 || string(buf) != "kit!" {
		t.Errorf("packet %+v, data %q; want the receive's, key 7, 4 bytes", e, buf)
	}
	if e, err := c.th.GetQueuedCompletionStatus(pr.Port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("a second packet %+v, %v", e, err)
	}
	// The worker counts a completion once it has posted it: the client may
	// dequeue the packet first.
	deadline := time.Now().Add(long)
	for st := prov.Stats(); st.Completed != 1 || st.Outstanding != 0; st = prov.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("the kit counted %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNaiveLosesThePacketOfTheClientsPort(t *testing.T) {
	m := wsspi.NewMachine()
	lsp, ids := must2(wild.InstallNaive(m, catalog.DefaultTCPIPv4))(t)
	c := newClient(t, m)
	pr := c.pair(t, ids.Chains[0])
	ev := must(c.p.WSACreateEvent())(t)
	ov := spi.Overlapped{HEvent: ev}
	buf := make([]byte, 4)
	if _, err := c.th.WSARecv(pr.Client, [][]byte{buf}, nil, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSARecv: %v, want WSA_IO_PENDING", err)
	}
	must(c.srv.WSASend(pr.Server, [][]byte{[]byte("lost")}, 0, nil, nil))(t)
	// The receive completes below: its event, which travels with the
	// request, fires...
	if r, err := c.th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, long, false); r != spi.WSA_WAIT_EVENT_0 {
		t.Fatalf("the event: %d, %v", r, err)
	}
	// ...but the client's port, associated with the layer's handle, never
	// hears of it.
	if e, err := c.th.GetQueuedCompletionStatus(pr.Port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("the port got %+v, %v; want WAIT_TIMEOUT", e, err)
	}
	if diff := cmp.Diff(wild.Counts{Recvs: 1, Startups: 1}, lsp.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

// Over UDP the naive layer forwards getsockname, WSASendTo and
// WSARecvFrom as it forwards the stream calls, so a datagram client gets
// as far as its receive, whose packet the client's port never sees.
func TestNaiveLosesThePacketOfAReceiveFromOverUDP(t *testing.T) {
	m := wsspi.NewMachine()
	lsp, _ := must2(wild.InstallNaive(m, catalog.DefaultUDPIPv4))(t)
	c := newClient(t, m)
	s := must(c.th.WSASocket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP, nil, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	defer c.th.Closesocket(s)
	check(t, c.th.Bind(s, netip.MustParseAddrPort("127.0.0.1:0")))
	addr := must(c.th.Getsockname(s))(t)
	port := must(c.p.CreateIoCompletionPort(s, 0, 7, 0))(t)
	peer := must(c.srv.WSASocket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP, nil, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	defer c.srv.Closesocket(peer)
	check(t, c.srv.Bind(peer, netip.MustParseAddrPort("127.0.0.1:0")))
	ev := must(c.p.WSACreateEvent())(t)
	ov := spi.Overlapped{HEvent: ev}
	var from netip.AddrPort
	var flags uint32
	if _, err := c.th.WSARecvFrom(s, [][]byte{make([]byte, 8)}, &flags, &from, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSARecvFrom: %v, want WSA_IO_PENDING", err)
	}
	must(c.srv.WSASendTo(peer, [][]byte{[]byte("lost")}, 0, addr, nil, nil))(t)
	if r, err := c.th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, long, false); r != spi.WSA_WAIT_EVENT_0 {
		t.Fatalf("the event: %d, %v", r, err)
	}
	if e, err := c.th.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("the port got %+v, %v; want WAIT_TIMEOUT", e, err)
	}
	if diff := cmp.Diff(wild.Counts{Sends: 1, Recvs: 1, Startups: 1}, lsp.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}

func TestEarlyCloseLosesTheAbortOfAPendingReceive(t *testing.T) {
	m := wsspi.NewMachine()
	lsp, ids := must2(wild.InstallEarlyClose(m, catalog.DefaultTCPIPv4))(t)
	c := newClient(t, m)
	pr := c.pair(t, ids.Chains[0])
	var ov spi.Overlapped
	if _, err := c.th.WSARecv(pr.Client, [][]byte{make([]byte, 4)}, nil, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSARecv: %v, want WSA_IO_PENDING", err)
	}
	check(t, c.th.Closesocket(pr.Client))
	pr.Client = spi.INVALID_SOCKET
	// The layer tries to forward the WSA_OPERATION_ABORTED completion on
	// the handle it already closed: the client never hears of it.
	for lsp.Counts().ForwardFailed == 0 {
		if _, err := c.th.SleepEx(long/1000, false); err != nil {
			t.Fatal(err)
		}
	}
	if e, err := c.th.GetQueuedCompletionStatus(pr.Port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("the port got %+v, %v; want WAIT_TIMEOUT", e, err)
	}
	if !ov.InProgress() {
		t.Errorf("the overlapped is %+v; nobody completed it, so it should still be in progress", ov)
	}
}

func TestIFSPassThroughHandsOutBaseHandlesThatReadFileGoesAround(t *testing.T) {
	m := wsspi.NewMachine()
	lsp, ids := must2(wild.InstallIFSPassThrough(m, catalog.DefaultTCPIPv4))(t)
	c := newClient(t, m)
	pr := c.pair(t, ids.Chains[0])
	if base := must(c.socketIoctl(pr.Client, spi.SIO_BASE_HANDLE))(t); base != pr.Client {
		t.Errorf("SIO_BASE_HANDLE = %v, want the client's own handle %v: an IFS layer hands out the base's", base, pr.Client)
	}
	if info := c.protocolInfo(t, pr.Client); !info.IFS() || info.CatalogEntryId != ids.Chains[0] {
		t.Errorf("SO_PROTOCOL_INFOW: entry %d, IFS %v; want the chain %d, IFS", info.CatalogEntryId, info.IFS(), ids.Chains[0])
	}
	must(c.th.WriteFile(pr.Client, []byte("ab"), nil))(t)
	must(c.srv.WSARecv(pr.Server, [][]byte{make([]byte, 2)}, nil, nil, nil))(t)
	must(c.th.WSASend(pr.Client, [][]byte{[]byte("cd")}, 0, nil, nil))(t)
	if diff := cmp.Diff(wild.Counts{Sends: 1, Startups: 1}, lsp.Counts()); diff != "" {
		t.Errorf("WriteFile reached the IFS layer (-want +got):\n%s", diff)
	}
}
