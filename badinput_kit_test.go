package wsspi_test

import (
	"errors"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// Attacks on the layered kit: packets it did not make, handle values that
// changed owner, cleanups racing its workers, one OVERLAPPED for two
// operations.

var _ = addAttacks(
	attack{"StaleSocketHandleDoesNotCrashTheKit", testStaleSocketHandleDoesNotCrashTheKit},
	attack{"KitNeverReadsAForeignOverlappedItsOwnerReuses", testKitNeverReadsAForeignOverlappedItsOwnerReuses},
	attack{"ForeignPacketOnTheKitsPortIsCountedAndDropped", testForeignPacketOnTheKitsPortIsCountedAndDropped},
	attack{"WSACleanupEndsTheKitsWorkersWhenThePortValueIsReused", testWSACleanupEndsTheKitsWorkersWhenThePortValueIsReused},
	attack{"StartupCleanupStormWithAKitNeverHangs", testStartupCleanupStormWithAKitNeverHangs},
	attack{"OneOverlappedForTwoPendingOperationsThroughTheKitDeliversBoth", testOneOverlappedForTwoPendingOperationsThroughTheKitDeliversBoth},
	attack{"KitStatsCountWhatReachedTheClient", testKitStatsCountWhatReachedTheClient},
	attack{"ProcessCloseRacingKitSocketCallsLosesNothing", testProcessCloseRacingKitSocketCallsLosesNothing},
)

// kitPort finds the private completion port of the kit instance loaded in
// p: the one port of p the test did not create.
func kitPort(tb TB, p *wsspi.Process, mine ...spi.Handle) spi.Handle {
	tb.Helper()
	found := portsBut(p, mine...)
	if len(found) != 1 {
		tb.Fatalf("want one private port, found %v", found)
	}
	return found[0]
}

// portsBut lists the live ports of p other than mine.
func portsBut(p *wsspi.Process, mine ...spi.Handle) []spi.Handle {
	var ports []spi.Handle
	for h, kind := range liveObjects(p) {
		if kind == handles.KindPort && !slices.Contains(mine, h) {
			ports = append(ports, h)
		}
	}
	return ports
}

// staleCompletion sets up the case of the two attacks below over depth
// kit layers: a client that uses a closed socket's value after a lower
// socket of a new layered socket b took it issues a receive on the value
// with its own OVERLAPPED, stale, and the peer's send completes it, so
// that the completion reaches a kit's private port carrying an OVERLAPPED
// no kit made. It returns the connection, the providers, b and b's peer.
func staleCompletion(t *testing.T, depth int, stale *spi.Overlapped) (*lconn, []*layered.Provider, spi.Socket, spi.Socket) {
	t.Helper()
	k, provs, _ := kitConn(t, depth)
	a := must(k.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	check(t, k.cth.Closesocket(a))
	b := must(k.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if _, ok := socketHandles(k.client)[a]; !ok || a == b {
		t.Fatalf("no lower socket of %v took the value %v: %v", b, a, socketHandles(k.client))
	}
	check(t, k.cth.Connect(b, netip.MustParseAddrPort("127.0.0.1:7000")))
	bs, _ := must2(k.sth.Accept(k.l))(t)
	pendRecv(t, k.cth, a, make([]byte, 4), stale, nil)
	must(k.sth.WSASend(bs, [][]byte{[]byte("boom")}, 0, nil, nil))(t)
	return k, provs, b, bs
}

// foreign sums the packets the providers counted as foreign.
func foreign(provs []*layered.Provider) uint64 {
	var n uint64
	for _, p := range provs {
		n += p.Stats().Foreign
	}
	return n
}

// The kit must count the stale completion as foreign, not read it as an
// op, and its socket must keep working, over one layer and two.
func testStaleSocketHandleDoesNotCrashTheKit(t *testing.T) {
	for depth := 1; depth <= 2; depth++ {
		var stale spi.Overlapped
		k, provs, b, bs := staleCompletion(t, depth, &stale)
		eventually(t, "the foreign packet to be counted", func() bool { return foreign(provs) == 1 })

		// The layered socket still works, both ways.
		port := must(k.client.CreateIoCompletionPort(b, 0, 5, 0))(t)
		var ov spi.Overlapped
		must(k.sth.WSASend(bs, [][]byte{[]byte("ok")}, 0, nil, nil))(t)
		in := make([]byte, 2)
		if _, err := k.cth.WSARecv(b, [][]byte{in}, nil, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
			t.Fatal(err)
		}
		e := must(k.cth.GetQueuedCompletionStatus(port, long))(t)
		if e.Overlapped != &ov || e.CompletionKey != 5 || string(in[:e.NumberOfBytesTransferred]) != "ok" {
			t.Errorf("%d layers: packet %+v, data %q", depth, e, in)
		}
		check(t, k.cth.Closesocket(b))
		check(t, k.client.CloseHandle(port))
		check(t, k.client.Close())
		check(t, k.server.Close())
		eventually(t, "the layers to be idle", func() bool { return quiet(provs...) })
	}
}

// The same stale completion, with the client reusing its OVERLAPPED as
// soon as the I/O is over, as it may: a kit's worker, dequeuing the packet
// meanwhile, must not read that memory (a -race run reports it if it
// does).
func testKitNeverReadsAForeignOverlappedItsOwnerReuses(t *testing.T) {
	for depth := 1; depth <= 2; depth++ {
		stale := new(spi.Overlapped)
		k, provs, _, _ := staleCompletion(t, depth, stale)
		for stale.InProgress() {
			runtime.Gosched()
		}
		*stale = spi.Overlapped{} // the I/O is over for the client: it reuses its OVERLAPPED
		eventually(t, "the foreign packet to be counted", func() bool { return foreign(provs) == 1 })
		check(t, k.client.Close())
		check(t, k.server.Close())
	}
}

// Any client may post to any port handle of its process, the kit's
// private port included; such a packet is counted and dropped.
func testForeignPacketOnTheKitsPortIsCountedAndDropped(t *testing.T) {
	k, provs, _ := kitConn(t, 1)
	mine := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	private := kitPort(t, k.client, mine)
	var fake spi.Overlapped
	check(t, k.client.PostQueuedCompletionStatus(private, 3, 99, &fake))
	check(t, k.client.PostQueuedCompletionStatus(private, 0, 0, nil))
	eventually(t, "the foreign packets to be counted", func() bool { return provs[0].Stats().Foreign == 2 })
	if fake != (spi.Overlapped{}) {
		t.Errorf("the kit wrote into the foreign overlapped: %+v", fake)
	}
	// The layer still serves its sockets.
	var ov spi.Overlapped
	if _, err := k.cth.WSASend(k.c, [][]byte{[]byte("hi")}, 0, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatal(err)
	}
	if e := must(k.cth.GetQueuedCompletionStatus(mine, long))(t); e.Overlapped != &ov {
		t.Errorf("packet %+v", e)
	}
	check(t, k.client.Close())
	if !quiet(provs...) {
		t.Errorf("the layer holds %+v after the process closed", provs[0].Stats())
	}
}

// WSACleanup closes the kit's private port and waits for its workers. A
// worker that named its port by value on each wait could, once the value
// was freed and taken by a port of the client, wait on the client's port
// for ever.
func testWSACleanupEndsTheKitsWorkersWhenThePortValueIsReused(t *testing.T) {
	for range 50 {
		m := wsspi.NewMachine()
		provs, _ := installKits(t, m, 1)
		p := m.NewProcess()
		th := p.NewThread()
		must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		done := make(chan struct{})
		go func() {
			defer close(done)
			// Take every value cleanup frees, as fast as it frees them.
			var ports []spi.Handle
			for range 20 {
				if h, err := p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0); err == nil {
					ports = append(ports, h)
				}
				runtime.Gosched()
			}
			for _, h := range ports {
				check(t, p.CloseHandle(h))
			}
		}()
		check(t, p.WSACleanup())
		<-done
		check(t, p.Close())
		if !quiet(provs...) {
			t.Fatalf("the layer holds %+v after cleanup", provs[0].Stats())
		}
	}
}

// Many goroutines start and clean Winsock up in one process, each making a
// socket through a kit layer in between, while others make ports.
func testStartupCleanupStormWithAKitNeverHangs(t *testing.T) {
	m := wsspi.NewMachine()
	provs, _ := installKits(t, m, 1)
	p := m.NewProcess()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			th := p.NewThread()
			defer th.Exit()
			for range 30 {
				if g%2 == 1 {
					if h, err := p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0); err == nil {
						_ = p.CloseHandle(h)
					}
					continue
				}
				if _, err := p.WSAStartup(spi.WINSOCK_VERSION); err != nil {
					t.Error(err)
					return
				}
				if s, err := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP); err == nil {
					_ = th.Closesocket(s)
				} else if !errors.Is(err, spi.WSANOTINITIALISED) && !isWinsockError(err) {
					t.Errorf("socket: %v is not a Winsock error", err)
				}
				if err := p.WSACleanup(); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	check(t, p.Close())
	if !quiet(provs...) {
		t.Errorf("the layer holds %+v", provs[0].Stats())
	}
	checkNoHandles(t, p)
}

// isWinsockError reports whether err carries a Windows Sockets code
// (WSABASEERR and up, or one of the WSA_* overlapped codes).
func isWinsockError(err error) bool {
	var e spi.Errno
	if !errors.As(err, &e) {
		return false
	}
	switch e {
	case spi.WSA_INVALID_HANDLE, spi.WSA_NOT_ENOUGH_MEMORY, spi.WSA_INVALID_PARAMETER,
		spi.WSA_OPERATION_ABORTED, spi.WSA_IO_INCOMPLETE, spi.WSA_IO_PENDING:
		return true
	}
	return e >= spi.WSABASEERR
}

// Windows leaves reusing an OVERLAPPED for two operations at once
// undefined; the kit keeps a record per operation, so both complete.
func testOneOverlappedForTwoPendingOperationsThroughTheKitDeliversBoth(t *testing.T) {
	k, provs, _ := kitConn(t, 1)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 3, 0))(t)
	var ov spi.Overlapped
	a, b := make([]byte, 2), make([]byte, 2)
	pendRecv(t, k.cth, k.c, a, &ov, nil)
	pendRecv(t, k.cth, k.c, b, &ov, nil)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("abcd")}, 0, nil, nil))(t)
	total := uint32(0)
	for range 2 {
		e := must(k.cth.GetQueuedCompletionStatus(port, long))(t)
		if e.Overlapped != &ov {
			t.Fatalf("packet %+v", e)
		}
		total += e.NumberOfBytesTransferred
	}
	if total != 4 || string(a)+string(b) != "abcd" {
		t.Errorf("received %d bytes: %q %q", total, a, b)
	}
	if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("a third packet: %+v", e)
	}
	eventually(t, "the layer to count both", func() bool {
		s := provs[0].Stats()
		return s.Completed == 2 && s.Outstanding == 0 && s.Failed == 0
	})
}

// Completed counts completions the client was told of; one whose telling
// failed (its port's handle closed meanwhile is still told: the packet is
// dropped by the kernel, not the layer) and one to an exited thread are
// Failed.
func testKitStatsCountWhatReachedTheClient(t *testing.T) {
	k, provs, _ := kitConn(t, 1)
	var ov spi.Overlapped
	pendRecv(t, k.cth, k.c, make([]byte, 1), &ov, nil)
	ran := 0
	other := k.client.NewThread()
	var ov2 spi.Overlapped
	pendRecv(t, other, k.c, make([]byte, 1), &ov2, func(spi.Errno, uint32, *spi.Overlapped, uint32) { ran++ })
	other.Exit()
	must(k.sth.WSASend(k.s, [][]byte{[]byte("xy")}, 0, nil, nil))(t)
	eventually(t, "both receives to end", func() bool { return !ov.InProgress() && !ov2.InProgress() })
	eventually(t, "the layer to count them", func() bool { s := provs[0].Stats(); return s.Completed+s.Failed == 2 })
	if s := provs[0].Stats(); s.Completed != 1 || s.Failed != 1 || s.APCs != 0 {
		t.Errorf("stats %+v, want 1 completed (event) and 1 failed (an exited thread's routine)", s)
	}
	if ran != 0 {
		t.Errorf("the exited thread's routine ran")
	}
}

// Process.Close while other goroutines keep making sockets and doing I/O
// through a kit layer: every call returns, with a Winsock error or
// success, and nothing is left.
func testProcessCloseRacingKitSocketCallsLosesNothing(t *testing.T) {
	for round := range 10 {
		m := wsspi.NewMachine()
		provs, _ := installKits(t, m, 1)
		k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
		port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
		var wg sync.WaitGroup
		for g := range 3 {
			wg.Go(func() {
				th, err := k.client.CreateThread()
				if err != nil {
					return
				}
				for i := range 200 {
					var ov spi.Overlapped
					switch (g + i) % 3 {
					case 0:
						_, _ = th.WSASend(k.c, [][]byte{[]byte("x")}, 0, &ov, nil)
					case 1:
						_, _ = th.WSARecv(k.c, [][]byte{make([]byte, 1)}, nil, &ov, nil)
					default:
						if s, err := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP); err == nil {
							_ = th.Closesocket(s)
						}
					}
					_, _ = th.GetQueuedCompletionStatus(port, 0)
				}
			})
		}
		if round%2 == 0 {
			runtime.Gosched()
		}
		_ = k.client.Close()
		wg.Wait()
		check(t, k.server.Close())
		eventually(t, "the layer to be idle", func() bool { return quiet(provs...) })
		checkNoHandles(t, k.client)
	}
}
