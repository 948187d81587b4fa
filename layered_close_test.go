package wsspi_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// waitAll waits for the completions of ovs, in whatever order they come,
// and returns what the client heard of each.
func (c *lclient) waitAll(tb TB, ovs []*spi.Overlapped) map[*spi.Overlapped]completed {
	tb.Helper()
	got := map[*spi.Overlapped]completed{}
	if c.mech != "port" {
		for _, ov := range ovs {
			got[ov] = c.wait(tb, ov)
		}
		return got
	}
	for range ovs {
		e, err := c.cth.GetQueuedCompletionStatus(c.port, long)
		if e.Overlapped == nil {
			tb.Fatalf("waiting for a packet: %v", err)
		}
		if _, dup := got[e.Overlapped]; dup {
			tb.Errorf("a second packet for %p", e.Overlapped)
		}
		got[e.Overlapped] = completed{spi.NtStatusToWinsockError(spi.NTStatus(e.Internal)), e.NumberOfBytesTransferred}
	}
	return got
}

// pendRecvs posts n overlapped receives on the client socket, each
// pending, and returns their overlapped.
func (c *lclient) pendRecvs(tb TB, n int) []*spi.Overlapped {
	tb.Helper()
	var ovs []*spi.Overlapped
	for range n {
		ov := new(spi.Overlapped)
		if _, err := c.cth.WSARecv(c.c, [][]byte{make([]byte, 8)}, nil, ov, c.arm(tb, ov)); !errors.Is(err, spi.WSA_IO_PENDING) {
			tb.Fatalf("receive with nothing to read: %v, want WSA_IO_PENDING", err)
		}
		ovs = append(ovs, ov)
	}
	return ovs
}

func TestClosesocketWithIOPendingCompletesEachOnceAborted(t *testing.T) {
	eachChain(t, mechanisms, func(t *testing.T, depth int, c *lclient, provs []*layered.Provider) {
		ovs := c.pendRecvs(t, 3)
		check(t, c.cth.Closesocket(c.c))
		want := map[*spi.Overlapped]completed{}
		for _, ov := range ovs {
			want[ov] = completed{spi.WSAECONNABORTED, 0} // a connected socket's I/O, aborted
		}
		if diff := cmp.Diff(want, c.waitAll(t, ovs)); diff != "" {
			t.Errorf("completions (-want +got):\n%s", diff)
		}
		if _, err := c.cth.WSASend(c.c, [][]byte{[]byte("x")}, 0, nil, nil); !errors.Is(err, spi.WSAENOTSOCK) {
			t.Errorf("send after closesocket: %v, want WSAENOTSOCK", err)
		}
		eventually(t, "every layer to close its handles", func() bool {
			return len(socketHandles(c.client)) == 0 && provs[depth-1].Stats().Sockets == 0 && provs[0].Stats().Sockets == 0
		})
		c.none(t)
	})
}

func TestClosesocketOfAnIdleLayeredSocketClosesEveryLayerAtOnce(t *testing.T) {
	for depth := 1; depth <= 2; depth++ {
		t.Run(fmt.Sprintf("%d layers", depth), func(t *testing.T) {
			k, provs, _ := kitConn(t, depth)
			check(t, k.cth.Closesocket(k.c))
			if hs := socketHandles(k.client); len(hs) != 0 {
				t.Errorf("socket handles left after closesocket: %v", hs)
			}
			for i, p := range provs {
				if s := p.Stats(); s.Sockets != 0 {
					t.Errorf("layer %d still holds %d sockets", i, s.Sockets)
				}
			}
			if err := k.cth.Closesocket(k.c); !errors.Is(err, spi.WSAENOTSOCK) {
				t.Errorf("second closesocket: %v, want WSAENOTSOCK", err)
			}
		})
	}
}

func TestWSACleanupNotifiesNothingAndLeavesNothing(t *testing.T) {
	for depth := 1; depth <= 2; depth++ {
		t.Run(fmt.Sprintf("%d layers", depth), func(t *testing.T) {
			checkNoGoroutineLeak(t)
			k, provs, _ := kitConn(t, depth)
			port := must(k.client.CreateIoCompletionPort(k.c, 0, 7, 0))(t)
			ev := must(k.client.WSACreateEvent())(t)
			viaPort, viaEvent, viaRoutine := new(spi.Overlapped), &spi.Overlapped{HEvent: ev | 1}, new(spi.Overlapped)
			ran := 0
			routine := func(spi.Errno, uint32, *spi.Overlapped, uint32) { ran++ }
			for _, r := range []struct {
				ov *spi.Overlapped
				cr spi.CompletionRoutine
			}{{viaPort, nil}, {viaEvent, nil}, {viaRoutine, routine}} {
				if _, err := k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, nil, r.ov, r.cr); !errors.Is(err, spi.WSA_IO_PENDING) {
					t.Fatal(err)
				}
			}
			check(t, k.client.WSACleanup())
			if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
				t.Errorf("port got %+v, %v after WSACleanup", e, err)
			}
			if r, _ := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != uint32(spi.WSA_WAIT_TIMEOUT) {
				t.Errorf("event wait after WSACleanup = %d, want WSA_WAIT_TIMEOUT", r)
			}
			if r, _ := k.cth.SleepEx(0, true); r != 0 || ran != 0 {
				t.Errorf("SleepEx = %d and the routine ran %d times after WSACleanup", r, ran)
			}
			for _, ov := range []*spi.Overlapped{viaPort, viaEvent, viaRoutine} {
				if got := spi.NTStatus(ov.LoadInternal()); got != spi.STATUS_CANCELLED {
					t.Errorf("Internal = %v, want STATUS_CANCELLED", got)
				}
			}
			want := map[spi.Handle]handles.Kind{port: handles.KindPort, ev: handles.KindEvent}
			if diff := cmp.Diff(want, liveObjects(k.client)); diff != "" {
				t.Errorf("live handles after WSACleanup, the client's own port and event only (-want +got):\n%s", diff)
			}
			if !quiet(provs...) {
				t.Errorf("layers still hold something: %+v", provs[depth-1].Stats())
			}
			if s := provs[depth-1].Stats(); s.Abandoned != 3 {
				t.Errorf("the top layer abandoned %d operations, want 3", s.Abandoned)
			}
		})
	}
}

// A closesocket that the layer below fails (WSAEWOULDBLOCK, as a
// nonblocking socket with a linger time gives, whose handle then stays
// valid: docs/facts.md §2.5) leaves the socket open and usable, even when its last pending operation completes during the
// failed close: the layer's handle closes only once the layer below has
// closed the socket.
func TestAFailedClosesocketLeavesTheSocketOpenWhileItsLastOperationCompletes(t *testing.T) {
	for _, depth := range []int{2, 3} { // the layer nearest the base fails the close; every layer above sees it fail
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			var k *lconn
			var fail atomic.Bool
			var port spi.Handle
			bottom := layered.Config{Hooks: layered.Hooks{Before: func(c *layered.Call) layered.Verdict {
				if c.Op != layered.OpClose || !fail.Load() {
					return layered.Pass()
				}
				// The layers above are inside their close: the pending
				// receive completes now, and its operations end (finish)
				// before the close fails.
				must(k.sth.WSASend(k.s, [][]byte{[]byte("x")}, 0, nil, nil))(t)
				if _, err := k.cth.GetQueuedCompletionStatus(port, long); err != nil {
					t.Errorf("the receive's packet: %v", err)
				}
				time.Sleep(10 * time.Millisecond) // the upper workers' finish follows the packet
				return layered.Fail(spi.WSAEWOULDBLOCK)
			}}}
			k, _, _ = kitConn(t, depth, append([]layered.Config{bottom}, make([]layered.Config, depth-1)...)...) // the first config is the layer nearest the base
			port = must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
			var ov spi.Overlapped
			if _, err := k.cth.WSARecv(k.c, [][]byte{make([]byte, 1)}, nil, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
				t.Fatalf("receive: %v, want WSA_IO_PENDING", err)
			}
			fail.Store(true)
			if err := k.cth.Closesocket(k.c); !errors.Is(err, spi.WSAEWOULDBLOCK) {
				t.Fatalf("closesocket: %v, want WSAEWOULDBLOCK", err)
			}
			fail.Store(false)
			if _, err := k.cth.WSASend(k.c, [][]byte{[]byte("y")}, 0, nil, nil); err != nil {
				t.Errorf("send after the failed closesocket: %v", err)
			}
			check(t, k.cth.Closesocket(k.c))
			eventually(t, "every layer to close its handles", func() bool { return len(socketHandles(k.client)) == 0 })
		})
	}
}
