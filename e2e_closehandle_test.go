package wsspi_test

import (
	"errors"
	"testing"

	"github.com/wsspi/wsspi/spi"
)

// CloseHandle on an IFS socket ends it at the kernel level, as closesocket
// does: the pending receive completes with STATUS_CONNECTION_ABORTED, the
// peer reads the end of the stream, and the handle is gone; the provider's
// own state goes at WSACleanup.
func TestCloseHandleOnAnIFSSocketEndsItAsClosesocketDoes(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	var ov spi.Overlapped
	pendRecv(t, k.cth, k.c, make([]byte, 4), &ov, nil)
	must(k.cth.WSASend(k.c, [][]byte{[]byte("bye")}, 0, nil, nil))(t)
	check(t, k.client.CloseHandle(k.c))
	e, err := k.cth.GetQueuedCompletionStatus(port, long)
	if e.Overlapped != &ov || !errors.Is(err, spi.ERROR_CONNECTION_ABORTED) || spi.NTStatus(ov.LoadInternal()) != spi.STATUS_CONNECTION_ABORTED {
		t.Errorf("packet %+v, %v, Internal %v; want STATUS_CONNECTION_ABORTED", e, err, spi.NTStatus(ov.LoadInternal()))
	}
	if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("a second packet: %+v", e)
	}
	if got := recvAll(t, k.sth, k.s, 3); string(got) != "bye" {
		t.Errorf("the peer read %q before the end", got)
	}
	if n := must(k.sth.WSARecv(k.s, [][]byte{make([]byte, 1)}, nil, nil, nil))(t); n != 0 {
		t.Errorf("the peer read %d bytes, want the graceful end (0)", n)
	}
	if _, err := k.cth.WSASend(k.c, [][]byte{[]byte("x")}, 0, nil, nil); !errors.Is(err, spi.WSAENOTSOCK) {
		t.Errorf("send on the closed handle: %v, want WSAENOTSOCK", err)
	}
	if err := k.client.CloseHandle(k.c); !errors.Is(err, spi.ERROR_INVALID_HANDLE) {
		t.Errorf("a second CloseHandle: %v, want ERROR_INVALID_HANDLE", err)
	}
	check(t, k.client.CloseHandle(port))
	check(t, k.client.WSACleanup())
	checkNoHandles(t, k.client)
}

// CloseHandle on a non-IFS layer's handle closes only the handle: the
// layer is never told, so the client's pending receive never reaches it,
// and the layer's socket stays until WSACleanup.
func TestCloseHandleOnALayeredHandleBypassesTheLayer(t *testing.T) {
	k, provs, _ := kitConn(t, 1)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	var ov spi.Overlapped
	pendRecv(t, k.cth, k.c, make([]byte, 4), &ov, nil)
	check(t, k.client.CloseHandle(k.c))
	if s := provs[0].Stats(); s.Sockets != 1 || s.Outstanding != 1 {
		t.Errorf("the layer after CloseHandle: %+v; want its socket and operation still there", s)
	}
	// The receive completes below the layer, which cannot tell the client.
	must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
	eventually(t, "the layer to fail forwarding", func() bool { return provs[0].Stats().Failed == 1 })
	if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("the client got a packet through a closed handle: %+v", e)
	}
	if _, err := k.cth.WSASend(k.c, [][]byte{[]byte("x")}, 0, nil, nil); !errors.Is(err, spi.WSAENOTSOCK) {
		t.Errorf("send on the closed handle: %v, want WSAENOTSOCK", err)
	}
	check(t, k.client.CloseHandle(port))
	check(t, k.client.WSACleanup())
	if !quiet(provs...) {
		t.Errorf("the layer after WSACleanup: %+v", provs[0].Stats())
	}
	checkNoHandles(t, k.client)
}
