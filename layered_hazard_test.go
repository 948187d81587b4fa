package wsspi_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// The four hazards of non-IFS layering (issue 6), each against the
// correct kit.

func TestHazardNaiveLSPLosesTheClientsPortPacket(t *testing.T) {
	m := wsspi.NewMachine()
	must2(wild.InstallNaive(m, catalog.DefaultTCPIPv4))(t)
	k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 7, 0))(t)
	ev := must(k.client.WSACreateEvent())(t)
	ov := spi.Overlapped{HEvent: ev}
	buf := make([]byte, 8)
	if _, err := k.cth.WSARecv(k.c, [][]byte{buf}, nil, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatal(err)
	}
	must(k.sth.WSASend(k.s, [][]byte{[]byte("lost")}, 0, nil, nil))(t)
	// The event travels with the request, so it fires...
	if r, err := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, long, false); r != spi.WSA_WAIT_EVENT_0 {
		t.Fatalf("event: %d, %v", r, err)
	}
	if ov.InProgress() || ov.LoadInternalHigh() != 4 || string(buf[:4]) != "lost" {
		t.Errorf("overlapped %+v, data %q: the receive did complete below", ov, buf[:4])
	}
	// ...but the port the client associated with the layer's handle is not
	// the lower handle's, and hears nothing.
	if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("the port got %+v, %v; the naive layer should lose the packet", e, err)
	}

	t.Run("a completion routine still runs", func(t *testing.T) {
		var rov spi.Overlapped
		ran := 0
		routine := func(status spi.Errno, n uint32, _ *spi.Overlapped, _ uint32) { ran++ }
		if _, err := k.cth.WSARecv(k.c, [][]byte{buf}, nil, &rov, routine); !errors.Is(err, spi.WSA_IO_PENDING) {
			t.Fatal(err)
		}
		must(k.sth.WSASend(k.s, [][]byte{[]byte("apc")}, 0, nil, nil))(t)
		eventually(t, "the routine", func() bool { _, _ = k.cth.SleepEx(long/100, true); return ran > 0 })
	})
}

func TestHazardSkipOnSuccessOverANonIFSLSPStillPostsAPacket(t *testing.T) {
	k, _, _ := kitConn(t, 1)
	// The check Go and libuv make before they set the mode: every TCP
	// entry must have XP1_IFS_HANDLES. The layered chain has not.
	tcp := must(k.client.WSAEnumProtocols([]int32{spi.IPPROTO_TCP}))(t)
	if tcp[0].IFS() {
		t.Fatalf("first TCP entry %q advertises XP1_IFS_HANDLES", tcp[0].ProtocolName)
	}
	cport := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	sport := must(k.server.CreateIoCompletionPort(k.s, 0, 1, 0))(t)
	check(t, k.client.SetFileCompletionNotificationModes(k.c, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))
	check(t, k.server.SetFileCompletionNotificationModes(k.s, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))

	// The base socket (IFS): an immediate success posts nothing.
	var sov spi.Overlapped
	if _, err := k.sth.WSASend(k.s, [][]byte{[]byte("base")}, 0, &sov, nil); err != nil {
		t.Fatalf("base WSASend: %v, want immediate success", err)
	}
	if e, err := k.sth.GetQueuedCompletionStatus(sport, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("the base socket's port got %+v despite skip-on-success", e)
	}

	// The layered socket: the same call also succeeds at once, yet the
	// layer's WPUCompleteOverlappedRequest posts a packet all the same
	// (KB 2568167). A client that trusted the mode would handle the
	// result twice, or, reusing the overlapped, mistake the packet for
	// another operation's.
	var cov spi.Overlapped
	if _, err := k.cth.WSASend(k.c, [][]byte{[]byte("layered")}, 0, &cov, nil); err != nil {
		t.Fatalf("layered WSASend: %v, want immediate success", err)
	}
	e, err := k.cth.GetQueuedCompletionStatus(cport, long)
	if err != nil || e.Overlapped != &cov || e.NumberOfBytesTransferred != 7 {
		t.Errorf("packet %+v, %v; want the send's, despite skip-on-success", e, err)
	}
}

func TestHazardIFSPassThroughIsBlindToReadFileAndWriteFile(t *testing.T) {
	m := wsspi.NewMachine()
	lsp, _ := must2(wild.InstallIFSPassThrough(m, catalog.DefaultTCPIPv4))(t)
	k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
	buf := make([]byte, 8)

	must(k.cth.WSASend(k.c, [][]byte{[]byte("ab")}, 0, nil, nil))(t)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("cd")}, 0, nil, nil))(t)
	must(k.cth.WSARecv(k.c, [][]byte{buf[:2]}, nil, nil, nil))(t)
	if diff := cmp.Diff(wild.Counts{Sends: 1, Recvs: 1, Startups: 1}, lsp.Counts()); diff != "" {
		t.Errorf("after WSASend and WSARecv (-want +got):\n%s", diff)
	}

	must(k.cth.WriteFile(k.c, []byte("ef"), nil))(t)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("gh")}, 0, nil, nil))(t)
	if n := must(k.cth.ReadFile(k.c, buf[:2], nil))(t); n != 2 || string(buf[:2]) != "gh" {
		t.Errorf("ReadFile read %q", buf[:n])
	}
	if got := recvAll(t, k.sth, k.s, 4); string(got) != "abef" {
		t.Errorf("server read %q", got)
	}
	if diff := cmp.Diff(wild.Counts{Sends: 1, Recvs: 1, Startups: 1}, lsp.Counts()); diff != "" {
		t.Errorf("ReadFile and WriteFile reached the IFS layer (-want +got):\n%s", diff)
	}
}

func TestHazardEarlyCloseLosesCompletions(t *testing.T) {
	m := wsspi.NewMachine()
	lsp, _ := must2(wild.InstallEarlyClose(m, catalog.DefaultTCPIPv4))(t)
	k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 7, 0))(t)

	// While the handle lives, the layer forwards correctly.
	var ov spi.Overlapped
	if _, err := k.cth.WSASend(k.c, [][]byte{[]byte("x")}, 0, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatal(err)
	}
	if e, err := k.cth.GetQueuedCompletionStatus(port, long); e.Overlapped != &ov {
		t.Fatalf("send: %+v, %v", e, err)
	}

	var recv spi.Overlapped
	if _, err := k.cth.WSARecv(k.c, [][]byte{make([]byte, 4)}, nil, &recv, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatal(err)
	}
	check(t, k.cth.Closesocket(k.c))
	eventually(t, "the layer to try forwarding the aborted receive", func() bool { return lsp.Counts().ForwardFailed == 1 })
	if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("port got %+v, %v; the early close should lose the completion", e, err)
	}
	if !recv.InProgress() {
		t.Errorf("the client's overlapped is %+v; nobody completed it, so it should still be in progress", recv)
	}
	if diff := cmp.Diff(wild.Counts{Sends: 1, Recvs: 1, Forwarded: 1, ForwardFailed: 1, Startups: 1}, lsp.Counts()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestReadFileAndWriteFileOnALayeredHandleReachTheKit(t *testing.T) {
	var mu sync.Mutex
	var sent, received []string
	k, provs, _ := kitConn(t, 1, layered.Config{Hooks: layered.Hooks{
		OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte {
			mu.Lock()
			defer mu.Unlock()
			for _, b := range bufs {
				sent = append(sent, string(b))
			}
			return bufs
		},
		OnRecv: func(_ *layered.Socket, bufs [][]byte, n uint32) {
			mu.Lock()
			defer mu.Unlock()
			received = append(received, string(bufs[0][:n]))
		},
	}})
	c := newLClient(t, k, "port")
	var wov, rov spi.Overlapped
	if _, err := k.cth.WriteFile(k.c, []byte("write"), &wov); err != nil && !errors.Is(err, spi.ERROR_IO_PENDING) {
		t.Fatal(err)
	}
	c.sent(t, &wov, "write")
	buf := make([]byte, 8)
	if _, err := k.cth.ReadFile(k.c, buf, &rov); !errors.Is(err, spi.ERROR_IO_PENDING) {
		t.Fatalf("ReadFile with nothing to read: %v", err)
	}
	must(k.sth.WSASend(k.s, [][]byte{[]byte("read")}, 0, nil, nil))(t)
	if got := c.wait(t, &rov); got != (completed{0, 4}) || string(buf[:4]) != "read" {
		t.Errorf("ReadFile completed with %+v, %q", got, buf[:4])
	}
	eventually(t, "the layer to settle", func() bool { return provs[0].Stats().Outstanding == 0 })
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"write"}, sent); diff != "" {
		t.Errorf("OnSend saw (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"read"}, received); diff != "" {
		t.Errorf("OnRecv saw (-want +got):\n%s", diff)
	}
	c.none(t)
}

func TestCancelIoOnALayeredHandleDoesNotReachTheLowerIO(t *testing.T) {
	k, provs, _ := kitConn(t, 1)
	c := newLClient(t, k, "port")
	ovs := c.pendRecvs(t, 1)
	check(t, k.cth.CancelIo(k.c))
	if err := k.cth.CancelIoEx(k.c, nil); !errors.Is(err, spi.ERROR_NOT_FOUND) {
		t.Errorf("CancelIoEx on the layered handle: %v, want ERROR_NOT_FOUND", err)
	}
	if e, err := k.cth.GetQueuedCompletionStatus(c.port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("CancelIo reached the lower I/O: %+v, %v", e, err)
	}
	if s := provs[0].Stats(); s.Outstanding != 1 {
		t.Errorf("outstanding operations after CancelIo: %d, want 1", s.Outstanding)
	}
	// What libuv does: cancel on the base handle too. The layer forwards
	// the abort.
	base := ioctlHandle(t, k.cth, k.c, spi.SIO_BASE_HANDLE)
	check(t, k.cth.CancelIoEx(base, nil))
	if got := c.wait(t, ovs[0]); got.Status != spi.WSA_OPERATION_ABORTED {
		t.Errorf("after CancelIoEx on the base handle: %+v, want ERROR_OPERATION_ABORTED", got)
	}
}
