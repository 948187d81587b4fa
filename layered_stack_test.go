package wsspi_test

import (
	"errors"
	"testing"

	"github.com/wsspi/wsspi/spi"
)

// A send that the layer below fails at once, through two kit layers, fails
// at once at the top too, with the same error and no notification: the
// lower kit writes its failure into the upper kit's OVERLAPPED (as the
// sample does), which must not read as "completed, a packet will come".
func TestAnImmediateFailureBelowTwoKitLayersFailsAtOnceAtTheTop(t *testing.T) {
	for depth := 1; depth <= 3; depth++ {
		k, provs, _ := kitConn(t, depth)
		port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
		setLinger(t, k.sth, k.s, 1, 0)
		check(t, k.sth.Closesocket(k.s)) // the peer resets the connection, at once on loopback
		var ov spi.Overlapped
		_, err := k.cth.WSASend(k.c, [][]byte{[]byte("x")}, 0, &ov, nil)
		if !errors.Is(err, spi.WSAECONNRESET) {
			t.Errorf("depth %d: send after the reset: %v, want WSAECONNRESET at once", depth, err)
		}
		if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
			t.Errorf("depth %d: the failed send was notified: %+v, %v", depth, e, err)
		}
		check(t, k.cth.Closesocket(k.c))
		check(t, k.client.CloseHandle(port))
		check(t, k.client.WSACleanup())
		if !quiet(provs...) {
			t.Errorf("depth %d: the layers hold %+v", depth, provs[len(provs)-1].Stats())
		}
		checkNoHandles(t, k.client)
	}
}
