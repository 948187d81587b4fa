package wsspi_test

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// Attacks that race: closesocket against overlapped I/O issued from other
// threads, WSAStartup and WSACleanup against sockets with I/O pending,
// Process.Close against threads parked in every kind of wait with layered
// I/O pending, and packets posted to a layer's private port while its I/O
// runs. Each counts what it started and checks that every operation that
// started is notified exactly once (or, when Winsock or the process ends,
// ended without notification), and that nothing is left.

var _ = addAttacks(
	attack{"ClosesocketRacingOverlappedIONotifiesEachOperationOnce", testClosesocketRacingOverlappedIONotifiesEachOperationOnce},
	attack{"StartupCleanupStormWithLayeredIOEndsEveryOperation", testStartupCleanupStormWithLayeredIOEndsEveryOperation},
	attack{"ProcessCloseEndsEveryWaitWithLayeredIOPending", testProcessCloseEndsEveryWaitWithLayeredIOPending},
	attack{"PacketsPostedToTheKitsPortsDuringIOAreForeignAndLoseNothing", testPacketsPostedToTheKitsPortsDuringIOAreForeignAndLoseNothing},
	attack{"WaitingWSAGetOverlappedResultEndsOnCloseCleanupAndProcessClose", testWaitingWSAGetOverlappedResultEndsOnCloseCleanupAndProcessClose},
	attack{"ClosingTheClientsPortRacingLayeredCompletionsEndsEveryOperation", testClosingTheClientsPortRacingLayeredCompletionsEndsEveryOperation},
)

// started reports whether an overlapped call's result means that its
// completion will be notified: WSA_IO_PENDING (ERROR_IO_PENDING for the
// file calls), or success on a handle without skip-on-success.
func started(err error) bool { return err == nil || errors.Is(err, spi.WSA_IO_PENDING) }

// drainOnce reads packets off port until want holds as many as it expects,
// then for a moment more, and fails for any packet of an operation that
// was not started, or a second one of one that was.
func drainOnce(t *testing.T, th *wsspi.Thread, port spi.Handle, want map[*spi.Overlapped]string) {
	t.Helper()
	got := map[*spi.Overlapped]int{}
	for n := 0; n < len(want); {
		e, err := th.GetQueuedCompletionStatus(port, long)
		if e.Overlapped == nil {
			for ov, what := range want {
				if got[ov] == 0 {
					t.Errorf("no packet for %s: its overlapped is %+v", what, *ov)
				}
			}
			t.Fatalf("%d of %d completions arrived, then: %v", n, len(want), err)
		}
		got[e.Overlapped]++
		if _, ok := want[e.Overlapped]; ok && got[e.Overlapped] == 1 {
			n++
		}
	}
	for {
		e, _ := th.GetQueuedCompletionStatus(port, 20*time.Millisecond)
		if e.Overlapped == nil {
			break
		}
		got[e.Overlapped]++
	}
	for ov, n := range got {
		what, ok := want[ov]
		switch {
		case !ok:
			t.Errorf("a packet (%d) for an operation that did not start", n)
		case n != 1:
			t.Errorf("%s completed %d times", what, n)
		}
	}
}

// closeRaceOps are the overlapped calls the close races with: sends,
// receives, and on the same handle ReadFile and WriteFile, which a layer
// sees as WSPRecv and WSPSend.
var closeRaceOps = []struct {
	name string
	call func(th *wsspi.Thread, s spi.Socket, ov *spi.Overlapped) error
	gone spi.Errno // the code once s is closed
}{
	{"WSASend", func(th *wsspi.Thread, s spi.Socket, ov *spi.Overlapped) error {
		_, err := th.WSASend(s, [][]byte{[]byte("s")}, 0, ov, nil)
		return err
	}, spi.WSAENOTSOCK},
	{"WSARecv", func(th *wsspi.Thread, s spi.Socket, ov *spi.Overlapped) error {
		_, err := th.WSARecv(s, [][]byte{make([]byte, 1)}, nil, ov, nil)
		return err
	}, spi.WSAENOTSOCK},
	{"ReadFile", func(th *wsspi.Thread, s spi.Socket, ov *spi.Overlapped) error {
		_, err := th.ReadFile(s, make([]byte, 1), ov)
		return err
	}, spi.ERROR_INVALID_HANDLE},
	{"WriteFile", func(th *wsspi.Thread, s spi.Socket, ov *spi.Overlapped) error {
		_, err := th.WriteFile(s, []byte("w"), ov)
		return err
	}, spi.ERROR_INVALID_HANDLE},
}

// closesocket on one thread while three others issue overlapped sends,
// receives, ReadFile and WriteFile on the socket: every call that started
// gets exactly one packet (data, or the abort), no call that failed gets
// one, a call after the close fails with WSAENOTSOCK or
// ERROR_INVALID_HANDLE, and once every packet is in, the layers have
// closed their handles and hold nothing.
func testClosesocketRacingOverlappedIONotifiesEachOperationOnce(t *testing.T) {
	for _, depth := range depths {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			for round := range 12 {
				closeRace(t, depth, round)
				if t.Failed() {
					return
				}
			}
		})
	}
}

func closeRace(t *testing.T, depth, round int) {
	m := wsspi.NewMachine()
	provs, _ := installKits(t, m, depth)
	k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	// Some receives complete with data, the rest pend until the close.
	must(k.sth.WSASend(k.s, [][]byte{pattern(0, 24)}, 0, nil, nil))(t)

	var mu sync.Mutex
	want := map[*spi.Overlapped]string{}
	var issued atomic.Int32
	closeAt := int32(8 + 9*(round%5))
	var wg sync.WaitGroup
	for g := range 3 {
		th := must(k.client.CreateThread())(t)
		wg.Go(func() {
			defer th.Exit()
			closed := false
			for i := range 40 {
				op := closeRaceOps[(g+i)%len(closeRaceOps)]
				ov := new(spi.Overlapped)
				err := op.call(th, k.c, ov)
				issued.Add(1)
				switch {
				case started(err):
					if closed {
						t.Errorf("round %d: %s started after the close had been seen: %v", round, op.name, err)
					}
					mu.Lock()
					want[ov] = fmt.Sprintf("round %d: %s %d of thread %d", round, op.name, i, g)
					mu.Unlock()
				case errors.Is(err, op.gone):
					closed = true
				default:
					t.Errorf("round %d: %s racing closesocket: %v, want WSA_IO_PENDING or %v", round, op.name, err, op.gone)
				}
				if ov.InProgress() && !started(err) {
					t.Errorf("round %d: a failed %s left its overlapped in progress", round, op.name)
				}
				if i%4 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Go(func() {
		for issued.Load() < closeAt {
			runtime.Gosched()
		}
		check(t, k.cth.Closesocket(k.c))
	})
	wg.Wait()
	t.Logf("round %d: %d of %d calls started", round, len(want), issued.Load())
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range provs {
				t.Logf("layer %d: %+v", i, p.Stats())
			}
		}
	})
	drainOnce(t, k.cth, port, want)
	// Every operation is forwarded: the layers closed the handle they
	// kept for the last of them, and hold no socket or operation.
	eventually(t, "the layers to close their sockets", func() bool {
		for _, p := range provs {
			if s := p.Stats(); s.Sockets != 0 || s.Outstanding != 0 {
				return false
			}
		}
		return len(socketHandles(k.client)) == 0
	})
	for _, p := range provs {
		if s := p.Stats(); s.Foreign != 0 || s.Failed != 0 || s.Abandoned != 0 {
			t.Errorf("round %d: layer stats %+v", round, s)
		}
	}
	check(t, k.client.CloseHandle(port))
	if depth == 0 {
		checkNoHandles(t, k.client)
	}
	closeAndCheck(t, provs, k.client, k.server)
}

// tracked is an overlapped operation the storm started, with what must be
// true of it in the end.
type tracked struct {
	ov   *spi.Overlapped
	what string
}

// Goroutines of one process start and clean Winsock up over and over,
// through one or two layers; in between each makes a socket, connects it,
// sends, and leaves a receive pending, closing the socket itself only
// every other time. Every call returns success or a Winsock error; every
// operation that started ends (notified, or ended without notification by
// the cleanup, which writes its overlapped all the same); and once the
// process closes nothing is left.
func testStartupCleanupStormWithLayeredIOEndsEveryOperation(t *testing.T) {
	for _, depth := range depths {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			m := wsspi.NewMachine()
			provs, _ := installKits(t, m, depth)
			server := m.NewProcess()
			sth := server.NewThread()
			l := must(sth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, baseTCP(t, m), 0, spi.WSA_FLAG_OVERLAPPED))(t)
			check(t, sth.Bind(l, loopbackAddr(spi.AF_INET, 7200)))
			check(t, sth.Listen(l, 64))
			setNonblocking(t, sth, l, true)
			stop := make(chan struct{})
			var accepted []spi.Socket
			acceptor := make(chan struct{})
			go func() {
				defer close(acceptor)
				for {
					s, _, err := sth.Accept(l)
					switch {
					case err == nil:
						accepted = append(accepted, s)
						_, _ = sth.WSASend(s, [][]byte{[]byte("hi")}, 0, nil, nil)
						continue
					case !errors.Is(err, spi.WSAEWOULDBLOCK):
						t.Errorf("server accept: %v", err)
						return
					}
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Microsecond):
					}
				}
			}()

			p := m.NewProcess()
			var mu sync.Mutex
			var ops []tracked
			var wg sync.WaitGroup
			for g := range 3 {
				wg.Go(func() {
					th := p.NewThread()
					defer th.Exit()
					winsock := func(what string, err error) bool {
						if err != nil && !isWinsockError(err) {
							t.Errorf("depth %d: %s: %v is not a Winsock error", depth, what, err)
						}
						return err == nil
					}
					for i := range 12 {
						if _, err := p.WSAStartup(spi.WINSOCK_VERSION); err != nil {
							t.Error(err)
							return
						}
						s, err := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
						if winsock("socket", err) {
							if winsock("connect", th.Connect(s, loopbackAddr(spi.AF_INET, 7200))) {
								var sov, rov spi.Overlapped
								if _, err := th.WSASend(s, [][]byte{[]byte("x")}, 0, &sov, nil); started(err) {
									mu.Lock()
									ops = append(ops, tracked{&sov, fmt.Sprintf("send %d of %d", i, g)})
									mu.Unlock()
								} else {
									winsock("WSASend", err)
								}
								if _, err := th.WSARecv(s, [][]byte{make([]byte, 8)}, nil, &rov, nil); started(err) {
									mu.Lock()
									ops = append(ops, tracked{&rov, fmt.Sprintf("receive %d of %d", i, g)})
									mu.Unlock()
								} else {
									winsock("WSARecv", err)
								}
							}
							if i%2 == 0 {
								winsock("closesocket", th.Closesocket(s))
							}
						}
						if err := p.WSACleanup(); err != nil {
							t.Errorf("depth %d: WSACleanup: %v", depth, err)
						}
					}
				})
			}
			wg.Wait()
			close(stop)
			<-acceptor
			check(t, p.Close())
			t.Logf("depth %d: %d operations started, %d connections accepted", depth, len(ops), len(accepted))
			for _, o := range ops {
				if o.ov.InProgress() {
					t.Errorf("depth %d: %s never ended", depth, o.what)
				}
			}
			for _, s := range accepted {
				check(t, sth.Closesocket(s))
			}
			check(t, sth.Closesocket(l))
			checkNoHandles(t, server)
			closeAndCheck(t, provs, p, server)
		})
	}
}

// Close while one thread waits for ever on a port a layered socket with a
// receive pending is associated with, one in GetQueuedCompletionStatusEx
// (alertable), one in WSAWaitForMultipleEvents on the event of a pending
// receive of a second socket, and one in an alertable SleepEx after
// issuing a receive with a completion routine on a third: every wait ends
// with its documented error, no routine runs, every pending operation is
// ended (its overlapped written), and nothing is left.
func testProcessCloseEndsEveryWaitWithLayeredIOPending(t *testing.T) {
	for _, depth := range depths {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			m := wsspi.NewMachine()
			provs, _ := installKits(t, m, depth)
			k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
			second := must(k.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			check(t, k.cth.Connect(second, loopbackAddr(spi.AF_INET, 7000)))
			third := must(k.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			check(t, k.cth.Connect(third, loopbackAddr(spi.AF_INET, 7000)))
			port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
			ev := must(k.client.WSACreateEvent())(t)

			var portOv, evOv, routineOv spi.Overlapped
			pendRecv(t, k.cth, k.c, make([]byte, 4), &portOv, nil)
			evOv.HEvent = ev
			pendRecv(t, k.cth, second, make([]byte, 4), &evOv, nil)
			sleeper := k.client.NewThread()
			var ran atomic.Int32
			pendRecv(t, sleeper, third, make([]byte, 4), &routineOv, func(spi.Errno, uint32, *spi.Overlapped, uint32) { ran.Add(1) })

			results := make(chan waitResult, 4)
			start := func(what string, th *wsspi.Thread, wait func(th *wsspi.Thread) error) {
				go func() { results <- waitResult{what, wait(th)} }()
			}
			start("GetQueuedCompletionStatus", k.client.NewThread(), func(th *wsspi.Thread) error {
				_, err := th.GetQueuedCompletionStatus(port, spi.Infinite)
				return err
			})
			start("GetQueuedCompletionStatusEx", k.client.NewThread(), func(th *wsspi.Thread) error {
				_, err := th.GetQueuedCompletionStatusEx(port, make([]spi.OverlappedEntry, 4), spi.Infinite, true)
				return err
			})
			start("WSAWaitForMultipleEvents", k.client.NewThread(), func(th *wsspi.Thread) error {
				_, err := th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, spi.Infinite, true)
				return err
			})
			start("SleepEx", sleeper, func(th *wsspi.Thread) error {
				_, err := th.SleepEx(spi.Infinite, true)
				return err
			})
			time.Sleep(10 * time.Millisecond) // let them park; Close must end them whether or not they have
			check(t, k.client.Close())
			wantWaitsEndedByClose(t, results)
			if n := ran.Load(); n != 0 {
				t.Errorf("a completion routine ran %d times after the process closed", n)
			}
			for name, ov := range map[string]*spi.Overlapped{"port": &portOv, "event": &evOv, "routine": &routineOv} {
				if ov.InProgress() {
					t.Errorf("the %s receive never ended", name)
				}
			}
			closeAndCheck(t, provs, k.client, k.server)
		})
	}
}

// privatePorts finds the private port of each kit layer loaded in p: it
// posts one packet to each port the test did not make and sees whose
// Foreign count it raises. The packets stay counted.
func privatePorts(t *testing.T, p *wsspi.Process, provs []*layered.Provider, mine ...spi.Handle) []spi.Handle {
	t.Helper()
	ports := portsBut(p, mine...)
	if len(ports) != len(provs) {
		t.Fatalf("%d private ports for %d layers: %v", len(ports), len(provs), ports)
	}
	byLayer := make([]spi.Handle, len(provs))
	for _, h := range ports {
		before := make([]uint64, len(provs))
		for i, pr := range provs {
			before[i] = pr.Stats().Foreign
		}
		check(t, p.PostQueuedCompletionStatus(h, 0, 0, nil))
		eventually(t, "the probe to be counted", func() bool {
			for i, pr := range provs {
				if pr.Stats().Foreign != before[i] {
					byLayer[i] = h
					return true
				}
			}
			return false
		})
	}
	return byLayer
}

// A client posts packets to every layer's private port while its I/O
// through the layers runs: packets with no overlapped, with overlapped
// records of its own, and with the very overlapped records of its
// operations in flight, under the key the layer uses. Each is counted as
// foreign by the layer whose port it reached, none is written into, and
// every real operation completes once, with its data.
func testPacketsPostedToTheKitsPortsDuringIOAreForeignAndLoseNothing(t *testing.T) {
	for _, depth := range []int{1, 2} {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			k, provs, _ := kitConn(t, depth)
			port := must(k.client.CreateIoCompletionPort(k.c, 0, 4, 0))(t)
			private := privatePorts(t, k.client, provs, port)

			const n = 40
			recvs := make([]spi.Overlapped, n)
			sends := make([]spi.Overlapped, n)
			bufs := make([][]byte, n)
			want := map[*spi.Overlapped]string{}
			posted := make([]atomic.Int32, depth)
			var fakes [8]spi.Overlapped
			stop := make(chan struct{})
			var poster sync.WaitGroup
			poster.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					layer := i % depth
					var ov *spi.Overlapped
					switch i % 4 {
					case 1:
						ov = &fakes[i%len(fakes)]
					case 2:
						ov = &recvs[i%n] // a client record in flight
					case 3:
						ov = &sends[i%n]
					}
					if err := k.client.PostQueuedCompletionStatus(private[layer], uint32(i), uintptr(k.c), ov); err != nil {
						t.Errorf("post to the private port: %v", err)
						return
					}
					posted[layer].Add(1)
					runtime.Gosched()
				}
			})
			for i := range n {
				bufs[i] = make([]byte, 1)
				pendRecv(t, k.cth, k.c, bufs[i], &recvs[i], nil)
				want[&recvs[i]] = fmt.Sprintf("receive %d", i)
				if _, err := k.cth.WSASend(k.c, [][]byte{{byte(i)}}, 0, &sends[i], nil); !started(err) {
					t.Fatalf("send %d: %v", i, err)
				}
				want[&sends[i]] = fmt.Sprintf("send %d", i)
				if i%8 == 7 {
					must(k.sth.WSASend(k.s, [][]byte{pattern(i-7, 8)}, 0, nil, nil))(t)
				}
			}
			drainOnce(t, k.cth, port, want)
			close(stop)
			poster.Wait()
			if got := recvAll(t, k.sth, k.s, n); len(got) != n {
				t.Errorf("the server read %d bytes", len(got))
			} else {
				for i, b := range got {
					if b != byte(i) {
						t.Errorf("the server read %v", got)
						break
					}
				}
			}
			var all []byte
			for _, b := range bufs {
				all = append(all, b...)
			}
			if string(all) != string(pattern(0, n)) {
				t.Errorf("received %v, want %v", all, pattern(0, n))
			}
			// A layer counts and unlinks an operation just after it tells
			// the client: wait for the counts to settle.
			for i, pr := range provs {
				wantForeign := uint64(posted[i].Load()) + 1 // the probe
				eventually(t, fmt.Sprintf("layer %d to count %d foreign packets and %d completions", i, wantForeign, 2*n), func() bool {
					s := pr.Stats()
					return s.Foreign == wantForeign && s.Outstanding == 0 && s.Completed == 2*n
				})
				if s := pr.Stats(); s.Failed != 0 || s.Foreign != uint64(posted[i].Load())+1 {
					t.Errorf("layer %d stats %+v", i, s)
				}
			}
			for i := range fakes {
				if fakes[i] != (spi.Overlapped{}) {
					t.Errorf("a layer wrote into a posted overlapped: %+v", fakes[i])
				}
			}
			check(t, k.cth.Closesocket(k.c))
			check(t, k.client.CloseHandle(port))
			closeAndCheck(t, provs, k.client, k.server)
		})
	}
}

// A thread blocked in WSAGetOverlappedResult(wait) on a pending receive
// wakes when another thread closes the socket (WSAECONNABORTED, the
// receive's abort on a connection), runs the last WSACleanup or closes
// the process (WSA_OPERATION_ABORTED, which the cleanup writes into the
// overlapped without notifying), at every layer count.
func testWaitingWSAGetOverlappedResultEndsOnCloseCleanupAndProcessClose(t *testing.T) {
	ends := []struct {
		name string
		end  func(k *lconn) error
		want spi.Errno
	}{
		{"closesocket", func(k *lconn) error { return k.cth.Closesocket(k.c) }, spi.WSAECONNABORTED},
		{"WSACleanup", func(k *lconn) error { return k.client.WSACleanup() }, spi.WSA_OPERATION_ABORTED},
		{"Process.Close", func(k *lconn) error { return k.client.Close() }, spi.WSA_OPERATION_ABORTED},
	}
	for _, depth := range depths {
		for _, end := range ends {
			t.Run(fmt.Sprintf("depth%d/%s", depth, end.name), func(t *testing.T) {
				for try := 1; ; try++ {
					if endWaitingGetOverlappedResult(t, depth, end.end, end.want, try) {
						return
					}
				}
			})
		}
	}
}

// endWaitingGetOverlappedResult runs one round of
// testWaitingWSAGetOverlappedResultEndsOnCloseCleanupAndProcessClose and
// reports whether it is over. The waiter must be parked before the end
// comes: a WSAGetOverlappedResult begun after the last WSACleanup rightly
// fails with WSANOTINITIALISED instead, and one begun after closesocket
// with WSAENOTSOCK. Neither the base provider nor the kit parks where a
// test can see it, so the round sleeps (longer at each try), and a round
// whose waiter came late is run again, up to five tries.
func endWaitingGetOverlappedResult(t *testing.T, depth int, end func(k *lconn) error, want spi.Errno, try int) bool {
	t.Helper()
	k, provs, _ := kitConn(t, depth)
	var ov spi.Overlapped
	ov.HEvent = must(k.client.WSACreateEvent())(t)
	pendRecv(t, k.cth, k.c, make([]byte, 1), &ov, nil)
	waiter := k.client.NewThread()
	done := make(chan error, 1)
	go func() {
		_, _, err := waiter.WSAGetOverlappedResult(k.c, &ov, true)
		done <- err
	}()
	time.Sleep(time.Duration(try) * 2 * time.Millisecond)
	check(t, end(k))
	var err error
	select {
	case err = <-done:
	case <-time.After(long):
		t.Fatal("WSAGetOverlappedResult still waits")
	}
	defer closeAndCheck(t, provs, k.client, k.server)
	if try < 5 && (errors.Is(err, spi.WSANOTINITIALISED) || errors.Is(err, spi.WSAENOTSOCK)) {
		return false
	}
	if !errors.Is(err, want) {
		t.Errorf("WSAGetOverlappedResult ended with %v, want %v", err, want)
	}
	if ov.InProgress() || spi.Errno(ov.LoadOffsetHigh()) != want {
		t.Errorf("the overlapped is %+v, want ended with %v", ov, want)
	}
	return true
}

// The client closes its completion port while receives and sends through
// the layers complete to it: the packets that find the port gone are
// dropped, as Windows drops them, but every operation still ends (its
// overlapped written), the layers count each as told, and closesocket
// then leaves no socket, operation or handle behind.
func testClosingTheClientsPortRacingLayeredCompletionsEndsEveryOperation(t *testing.T) {
	for _, depth := range depths {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			for round := range 6 {
				k, provs, _ := kitConn(t, depth)
				port := must(k.client.CreateIoCompletionPort(k.c, 0, 4, 0))(t)
				const n = 24
				recvs := make([]spi.Overlapped, n)
				for i := range recvs {
					pendRecv(t, k.cth, k.c, make([]byte, 1), &recvs[i], nil)
				}
				var wg sync.WaitGroup
				wg.Go(func() {
					for i := range n {
						must(k.sth.WSASend(k.s, [][]byte{{byte(i)}}, 0, nil, nil))(t)
						if i == 3*round {
							check(t, k.client.CloseHandle(port))
						}
						runtime.Gosched()
					}
				})
				sends := make([]spi.Overlapped, n)
				for i := range sends {
					if _, err := k.cth.WSASend(k.c, [][]byte{{byte(i)}}, 0, &sends[i], nil); !started(err) {
						t.Fatalf("send %d: %v", i, err)
					}
				}
				wg.Wait()
				eventually(t, "every operation to end", func() bool {
					for i := range n {
						if recvs[i].InProgress() || sends[i].InProgress() {
							return false
						}
					}
					return true
				})
				for i := range n {
					if e := spi.Errno(recvs[i].LoadOffsetHigh()); recvs[i].LoadInternalHigh() != 1 || e != 0 && depth > 0 {
						t.Errorf("round %d: receive %d ended with %+v", round, i, recvs[i])
					}
				}
				if got := recvAll(t, k.sth, k.s, n); len(got) != n {
					t.Errorf("round %d: the server read %d bytes", round, len(got))
				}
				check(t, k.cth.Closesocket(k.c))
				eventually(t, "the layers to let the socket go", func() bool {
					for _, p := range provs {
						if s := p.Stats(); s.Sockets != 0 || s.Outstanding != 0 || s.Completed != 2*n {
							return false
						}
					}
					return len(socketHandles(k.client)) == 0
				})
				for _, p := range provs {
					if s := p.Stats(); s.Failed != 0 || s.Foreign != 0 || s.Abandoned != 0 {
						t.Errorf("round %d: layer stats %+v", round, s)
					}
				}
				closeAndCheck(t, provs, k.client, k.server)
			}
		})
	}
}
