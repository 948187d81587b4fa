package wsspi_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// lclient is the client side of an lconn that hears of its overlapped
// operations through one mechanism: "port" (a completion port associated
// with the socket, key 7), "event" (an event per operation, no port) or
// "routine" (a completion routine run by the client thread's alertable
// waits).
type lclient struct {
	*lconn
	mech  string
	port  spi.Handle
	calls map[*spi.Overlapped]int       // completion routine calls, on cth's goroutine
	last  map[*spi.Overlapped]completed // what the routine was told
}

// completed is what a client heard of one operation.
type completed struct {
	Status spi.Errno
	Bytes  uint32
}

var mechanisms = []string{"port", "event", "routine"}

func newLClient(tb TB, k *lconn, mech string) *lclient {
	tb.Helper()
	c := &lclient{lconn: k, mech: mech, calls: map[*spi.Overlapped]int{}, last: map[*spi.Overlapped]completed{}}
	if mech == "port" {
		c.port = must(k.client.CreateIoCompletionPort(k.c, 0, 7, 0))(tb)
	}
	return c
}

// arm prepares ov for an operation and returns the routine to pass.
func (c *lclient) arm(tb TB, ov *spi.Overlapped) spi.CompletionRoutine {
	tb.Helper()
	switch c.mech {
	case "event":
		ov.HEvent = must(c.client.WSACreateEvent())(tb)
	case "routine":
		return c.routine
	}
	return nil
}

func (c *lclient) routine(status spi.Errno, n uint32, ov *spi.Overlapped, _ uint32) {
	c.calls[ov]++
	c.last[ov] = completed{status, n}
}

// wait waits for the completion of ov and returns what the client heard,
// as Winsock reports it: the Winsock code of the NTSTATUS in the packet or
// the OVERLAPPED (a routine gets it directly).
func (c *lclient) wait(tb TB, ov *spi.Overlapped) completed {
	tb.Helper()
	switch c.mech {
	case "port":
		e, err := c.cth.GetQueuedCompletionStatus(c.port, long)
		if e.Overlapped != ov || e.CompletionKey != 7 {
			tb.Fatalf("packet %+v (%v), want one for %p with key 7", e, err, ov)
		}
		if win32 := spi.RtlNtStatusToDosError(spi.NTStatus(e.Internal)); spi.ErrnoOf(err) != win32 {
			tb.Errorf("GetQueuedCompletionStatus reported %v for a packet of status %#x, want %v", err, e.Internal, win32)
		}
		return completed{spi.NtStatusToWinsockError(spi.NTStatus(e.Internal)), e.NumberOfBytesTransferred}
	case "event":
		r, err := c.cth.WSAWaitForMultipleEvents([]spi.Handle{ov.EventHandle()}, false, long, false)
		if err != nil || r != spi.WSA_WAIT_EVENT_0 {
			tb.Fatalf("event wait = %d, %v", r, err)
		}
		return completed{spi.NtStatusToWinsockError(spi.NTStatus(ov.LoadInternal())), uint32(ov.LoadInternalHigh())}
	}
	eventually(tb, "the completion routine", func() bool {
		_, _ = c.cth.SleepEx(long/100, true)
		return c.calls[ov] > 0
	})
	return c.last[ov]
}

// none checks that the client hears nothing more: no packet, no routine
// call beyond one per operation.
func (c *lclient) none(tb TB) {
	tb.Helper()
	switch c.mech {
	case "port":
		if e, err := c.cth.GetQueuedCompletionStatus(c.port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
			tb.Errorf("an extra packet arrived: %+v, %v", e, err)
		}
	case "routine":
		_, _ = c.cth.SleepEx(0, true)
		for ov, n := range c.calls {
			if n != 1 {
				tb.Errorf("routine ran %d times for %p", n, ov)
			}
		}
	}
}

// sent waits for the send ov of data to complete whole, and for the
// server to read data.
func (c *lclient) sent(tb TB, ov *spi.Overlapped, data string) {
	tb.Helper()
	if got := c.wait(tb, ov); got != (completed{0, uint32(len(data))}) {
		tb.Errorf("send completed with %+v", got)
	}
	if got := recvAll(tb, c.sth, c.s, len(data)); string(got) != data {
		tb.Errorf("server read %q, want %q", got, data)
	}
}

// eachChain runs f as a subtest over one and over two kit layers, for
// each of mechs.
func eachChain(t *testing.T, mechs []string, f func(t *testing.T, depth int, c *lclient, provs []*layered.Provider)) {
	for depth := 1; depth <= 2; depth++ {
		for _, mech := range mechs {
			t.Run(fmt.Sprintf("%d layers, %s", depth, mech), func(t *testing.T) {
				k, provs, _ := kitConn(t, depth)
				f(t, depth, newLClient(t, k, mech), provs)
			})
		}
	}
}

func TestLayeredSocketLoadsTheLSPWhichLoadsTheLayerBelow(t *testing.T) {
	for depth := 1; depth <= 2; depth++ {
		t.Run(fmt.Sprintf("%d layers", depth), func(t *testing.T) {
			m := wsspi.NewMachine()
			provs, ids := installKits(t, m, depth)
			p := m.NewProcess()
			defer p.Close()
			th := p.NewThread()
			if got := p.Loader().Snapshot().Providers; len(got) != 0 {
				t.Fatalf("loaded before any socket: %+v", got)
			}
			must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			want := []catalog.LoadedProvider{{ProviderId: catalog.LoopbackProviderId, Path: catalog.LoopbackPath,
				StartedFor: catalog.DefaultTCPIPv4, Version: spi.WINSOCK_VERSION, Refs: 1}}
			for i := range depth {
				chain := entry(t, m, ids[i].Chains[0])
				path, _ := m.Catalog().WSCGetProviderPath(chain.ProviderId)
				want = append(want, catalog.LoadedProvider{ProviderId: chain.ProviderId, Path: path,
					StartedFor: chain.CatalogEntryId, Version: spi.WINSOCK_VERSION, Refs: 1})
			}
			if diff := cmp.Diff(want, p.Loader().Snapshot().Providers); diff != "" {
				t.Errorf("loaded providers, bottom first (-want +got):\n%s", diff)
			}
			for i, prov := range provs {
				if s := prov.Stats(); s.Instances != 1 || s.Sockets != 2 || s.Workers != 1 {
					t.Errorf("layer %d: %+v, want one instance with two sockets and one worker", i, s)
				}
			}
			check(t, p.WSACleanup())
			if p.Loader() != nil || !quiet(provs...) {
				t.Errorf("after WSACleanup: loader %v, layers %+v", p.Loader(), provs[0].Stats())
			}
		})
	}
}

func TestLayeredHandleIsNotTheBaseHandleWhichSIOBaseHandleReturns(t *testing.T) {
	for depth := 1; depth <= 2; depth++ {
		t.Run(fmt.Sprintf("%d layers", depth), func(t *testing.T) {
			k, _, ids := kitConn(t, depth)
			base := baseHandles(k.client)
			if len(base) != 1 {
				t.Fatalf("base sockets in the client: %v, want one", base)
			}
			var owners []spi.CatalogEntryId
			for _, o := range socketHandles(k.client) {
				owners = append(owners, o)
			}
			want := []spi.CatalogEntryId{catalog.DefaultTCPIPv4}
			for i := range depth {
				want = append(want, ids[i].Chains[0])
			}
			slices.Sort(owners)
			slices.Sort(want)
			if diff := cmp.Diff(want, owners); diff != "" {
				t.Errorf("owners of the client's socket handles (-want +got):\n%s", diff)
			}
			if got := socketHandles(k.client)[k.c]; got != ids[depth-1].Chains[0] {
				t.Errorf("the client's socket is owned by %d, want the top chain %d", got, ids[depth-1].Chains[0])
			}
			if k.c == base[0] {
				t.Fatal("the layered socket is the base socket")
			}
			if got := ioctlHandle(t, k.cth, k.c, spi.SIO_BASE_HANDLE); got != base[0] {
				t.Errorf("SIO_BASE_HANDLE = %v, want the base socket %v", got, base[0])
			}
			// Every kit passes SIO_BSP_HANDLE_POLL down, so the next layer's
			// answer is, in the end, the base's.
			if got := ioctlHandle(t, k.cth, k.c, spi.SIO_BSP_HANDLE_POLL); got != base[0] {
				t.Errorf("SIO_BSP_HANDLE_POLL = %v, want %v", got, base[0])
			}
		})
	}
}

func TestSOProtocolInfoReportsTheTopEntryAndItsIFSBit(t *testing.T) {
	for depth := 1; depth <= 2; depth++ {
		t.Run(fmt.Sprintf("kit, %d layers", depth), func(t *testing.T) {
			k, _, ids := kitConn(t, depth)
			got := protocolInfo(t, k.cth, k.c)
			if diff := cmp.Diff(entry(t, k.m, ids[depth-1].Chains[0]), got); diff != "" {
				t.Errorf("SO_PROTOCOL_INFOW (-want +got):\n%s", diff)
			}
			if got.IFS() {
				t.Error("a non-IFS layer's chain advertises XP1_IFS_HANDLES")
			}
			if diff := cmp.Diff(*baseTCP(t, k.m), protocolInfo(t, k.sth, k.s)); diff != "" {
				t.Errorf("the base socket's SO_PROTOCOL_INFOW (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("IFS pass-through", func(t *testing.T) {
		m := wsspi.NewMachine()
		_, ids := must2(wild.InstallIFSPassThrough(m, catalog.DefaultTCPIPv4))(t)
		k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
		got := protocolInfo(t, k.cth, k.c)
		if diff := cmp.Diff(entry(t, m, ids.Chains[0]), got); diff != "" {
			t.Errorf("SO_PROTOCOL_INFOW (-want +got):\n%s", diff)
		}
		if !got.IFS() {
			t.Error("an IFS layer's chain lacks XP1_IFS_HANDLES")
		}
		if base := baseHandles(k.client); len(base) != 1 || base[0] != k.c {
			t.Errorf("the pass-through socket %v is not the base socket %v", k.c, base)
		}
	})
}

func TestLayeredOverlappedIOReachesTheClientsMechanism(t *testing.T) {
	eachChain(t, mechanisms, func(t *testing.T, depth int, c *lclient, provs []*layered.Provider) {
		var send, recv spi.Overlapped
		if _, err := c.cth.WSASend(c.c, [][]byte{[]byte("ping")}, 0, &send, c.arm(t, &send)); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
			t.Fatal(err)
		}
		c.sent(t, &send, "ping")
		buf := make([]byte, 16)
		_, err := c.cth.WSARecv(c.c, [][]byte{buf}, nil, &recv, c.arm(t, &recv))
		if !errors.Is(err, spi.WSA_IO_PENDING) {
			t.Fatalf("receive with nothing to read: %v, want WSA_IO_PENDING", err)
		}
		must(c.sth.WSASend(c.s, [][]byte{[]byte("pong")}, 0, nil, nil))(t)
		if got := c.wait(t, &recv); got != (completed{0, 4}) || string(buf[:4]) != "pong" {
			t.Errorf("receive completed with %+v, %q", got, buf[:4])
		}
		eventually(t, "the layers to settle", func() bool { return provs[depth-1].Stats().Outstanding == 0 })
		c.none(t)
	})
}

func TestImmediateSuccessIsForwardedAtOnceOverEitherKindOfLayer(t *testing.T) {
	eachChain(t, []string{"port"}, func(t *testing.T, depth int, c *lclient, provs []*layered.Provider) {
		var ov spi.Overlapped
		n, err := c.cth.WSASend(c.c, [][]byte{[]byte("x")}, 0, &ov, nil)
		immediate := n == 1 && err == nil
		// Over an IFS layer (depth 1) no packet of the layer below comes,
		// so the call forwards the success itself, every time. Over a
		// non-IFS layer the lower packet may reach the top layer's worker
		// first; the worker forwards it and the call reports pending.
		if !immediate && (depth == 1 || !errors.Is(err, spi.WSA_IO_PENDING)) {
			t.Fatalf("WSASend = %d, %v; want an immediate success (or, over a non-IFS layer, WSA_IO_PENDING)", n, err)
		}
		timeout := time.Duration(0) // an immediate success was notified before the call returned
		if !immediate {
			timeout = long
		}
		e, err := c.cth.GetQueuedCompletionStatus(c.port, timeout)
		if err != nil || e.Overlapped != &ov || e.NumberOfBytesTransferred != 1 {
			t.Errorf("packet %+v, %v", e, err)
		}
		// Over a non-IFS layer, the layer below's packet still comes to
		// the top layer's port; it is forwarded once, by whoever wins.
		eventually(t, "the layers to settle", func() bool { return provs[depth-1].Stats().Outstanding == 0 })
		top := provs[depth-1].Stats()
		wantInline := uint64(0)
		if immediate {
			wantInline = 1
		}
		if top.Inline != wantInline || top.Completed != 1 {
			t.Errorf("top layer: %d forwarded, %d inline; want 1 and %d", top.Completed, top.Inline, wantInline)
		}
		c.none(t)
	})
}

func TestImmediateSuccessBehindAnOutstandingOperationPends(t *testing.T) {
	eachChain(t, []string{"port"}, func(t *testing.T, _ int, c *lclient, _ []*layered.Provider) {
		recv := c.pendRecvs(t, 1)[0]
		var send spi.Overlapped
		if _, err := c.cth.WSASend(c.c, [][]byte{[]byte("xy")}, 0, &send, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
			t.Errorf("WSASend with a receive outstanding: %v, want WSA_IO_PENDING", err)
		}
		c.sent(t, &send, "xy")
		must(c.sth.WSASend(c.s, [][]byte{[]byte("z")}, 0, nil, nil))(t)
		if got := c.wait(t, recv); got != (completed{0, 1}) {
			t.Errorf("receive: %+v", got)
		}
		c.none(t)
	})
}

func TestLayeredGetOverlappedResult(t *testing.T) {
	k, _, _ := kitConn(t, 1)
	ev := must(k.client.WSACreateEvent())(t)
	ov := spi.Overlapped{HEvent: ev}
	buf := make([]byte, 8)
	if _, err := k.cth.WSARecv(k.c, [][]byte{buf}, nil, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatal(err)
	}
	if _, _, err := k.cth.WSAGetOverlappedResult(k.c, &ov, false); !errors.Is(err, spi.WSA_IO_INCOMPLETE) {
		t.Errorf("pending, no wait: %v, want WSA_IO_INCOMPLETE", err)
	}
	var stranger spi.Overlapped
	stranger.SetInProgress()
	if _, _, err := k.cth.WSAGetOverlappedResult(k.c, &stranger, true); !errors.Is(err, spi.WSAEINVAL) {
		t.Errorf("waiting on an overlapped of no operation: %v, want WSAEINVAL", err)
	}
	if _, _, err := k.cth.WSAGetOverlappedResult(k.c, nil, false); !errors.Is(err, spi.WSAEFAULT) {
		t.Errorf("nil overlapped: %v, want WSAEFAULT", err)
	}
	type result struct {
		n   uint32
		err error
	}
	done := make(chan result)
	waiter := k.client.NewThread()
	go func() {
		n, _, err := waiter.WSAGetOverlappedResult(k.c, &ov, true)
		done <- result{n, err}
	}()
	must(k.sth.WSASend(k.s, [][]byte{[]byte("abc")}, 0, nil, nil))(t)
	if got := <-done; got.n != 3 || got.err != nil {
		t.Errorf("waiting: %d bytes, %v; want 3, nil", got.n, got.err)
	}
	if string(buf[:3]) != "abc" {
		t.Errorf("received %q", buf[:3])
	}
}

func TestLayeredAcceptWrapsTheLowerConnection(t *testing.T) {
	m := wsspi.NewMachine()
	_, ids := installKits(t, m, 1)
	server, client := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()
	sth, cth := server.NewThread(), client.NewThread()
	l := listen(t, sth, loopbackAddr(spi.AF_INET, 7001), 4) // through the chain
	c := must(cth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, baseTCP(t, m), 0, spi.WSA_FLAG_OVERLAPPED))(t)
	check(t, cth.Connect(c, loopbackAddr(spi.AF_INET, 7001)))
	s, _ := must2(sth.Accept(l))(t)
	e, _ := server.Handles().Lookup(s)
	if e.Kind != handles.KindSocket || e.Owner != ids[0].Chains[0] {
		t.Errorf("accepted socket: kind %v owner %d, want a non-IFS handle of chain %d", e.Kind, e.Owner, ids[0].Chains[0])
	}
	must(cth.WSASend(c, [][]byte{[]byte("hello")}, 0, nil, nil))(t)
	if got := recvAll(t, sth, s, 5); string(got) != "hello" {
		t.Errorf("accepted socket read %q", got)
	}
}

func TestLayeredCallWithoutAThreadIdUsesTheCurrentThread(t *testing.T) {
	k, provs, ids := kitConn(t, 1)
	prov, ok := k.client.Loader().Provider(ids[0].Chains[0])
	if !ok {
		t.Fatal("the layer is not loaded")
	}
	threads := func() int {
		n := 0
		for _, e := range k.client.Handles().Snapshot().Live {
			if e.Kind == handles.KindThread {
				n++
			}
		}
		return n
	}
	ran := make(chan completed, 1)
	routine := func(status spi.Errno, n uint32, _ *spi.Overlapped, _ uint32) { ran <- completed{status, n} }
	var ov spi.Overlapped
	var flags uint32
	buf := make([]byte, 4)
	// As the redirector does for ReadFile: no thread id.
	if _, err := prov.ProcTable.WSPRecv(k.c, [][]byte{buf}, &flags, &ov, routine, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatal(err)
	}
	opened := threads()
	must(k.sth.WSASend(k.s, [][]byte{[]byte("ok")}, 0, nil, nil))(t)
	if got := <-ran; got != (completed{0, 2}) {
		t.Errorf("routine got %+v", got)
	}
	eventually(t, "the opened thread handle to close", func() bool {
		return provs[0].Stats().Outstanding == 0 && threads() == opened-1
	})
}

// Stats counts each completion forwarded once, by the way it went (a
// packet or event, Completed; a completion routine, APCs) and, when it was
// forwarded before the call returned, in Inline too.
func TestKitStatsCountEachWayOfForwardingAndInline(t *testing.T) {
	for _, mech := range mechanisms {
		t.Run(mech, func(t *testing.T) {
			k, provs, _ := kitConn(t, 1) // over the IFS base: an immediate success is forwarded inline
			c := newLClient(t, k, mech)
			var ov spi.Overlapped
			if n, err := c.cth.WSASend(c.c, [][]byte{[]byte("x")}, 0, &ov, c.arm(t, &ov)); n != 1 || err != nil {
				t.Fatalf("WSASend = %d, %v; want an immediate success", n, err)
			}
			if got := c.wait(t, &ov); got != (completed{0, 1}) {
				t.Errorf("completed with %+v", got)
			}
			eventually(t, "the layer to settle", func() bool { return provs[0].Stats().Outstanding == 0 })
			want := layered.Stats{Instances: 1, Sockets: provs[0].Stats().Sockets, Workers: 1, Completed: 1, Inline: 1}
			if mech == "routine" {
				want.Completed, want.APCs = 0, 1
			}
			if diff := cmp.Diff(want, provs[0].Stats()); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
		})
	}
}
