package layered_test

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// hookedConn is a client socket through a kit layer with cfg, connected to
// a base server socket, and associated with a completion port (key 1).
type hookedConn struct {
	m          *wsspi.Machine
	prov       *layered.Provider
	p, srv     *wsspi.Process
	th, sth    *wsspi.Thread
	c, s, port spi.Handle
}

func newHookedConn(t *testing.T, cfg layered.Config) *hookedConn {
	t.Helper()
	m, prov, _ := install(t, cfg)
	k := &hookedConn{m: m, prov: prov, srv: m.NewProcess(), p: m.NewProcess()}
	t.Cleanup(func() { k.p.Close(); k.srv.Close() })
	k.sth, k.th = k.srv.NewThread(), k.p.NewThread()
	addr := netip.MustParseAddrPort("127.0.0.1:8090")
	base, _ := m.Catalog().View().Entry(catalog.DefaultTCPIPv4)
	l := must(k.sth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &base, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	if err := errors.Join(k.sth.Bind(l, addr), k.sth.Listen(l, 1)); err != nil {
		t.Fatal(err)
	}
	k.c = must(k.th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if err := k.th.Connect(k.c, addr); err != nil {
		t.Fatal(err)
	}
	k.s, _ = must2(k.sth.Accept(l))(t)
	k.port = must(k.p.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	return k
}

func TestVerdictsDescribeThemselves(t *testing.T) {
	got := []string{
		layered.Pass().String(),
		layered.Fail(spi.WSAECONNRESET).String(),
		layered.FailCompletion(spi.WSAEFAULT).Delayed(time.Millisecond).String(),
		layered.Complete(3).String(),
		layered.Delay(2 * time.Second).String(),
		layered.Delay(time.Second).Delayed(time.Second).String(),
		layered.Delay(-time.Second).String(),
	}
	want := []string{"Pass()", "Fail(10054)", "FailCompletion(10014).Delayed(1ms)", "Complete(3)", "Delay(2s)", "Delay(2s)", "Pass()"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if layered.Fail(spi.WSAECONNRESET).Err() != spi.WSAECONNRESET || layered.Complete(1).Err() != 0 {
		t.Error("Err does not report the failure's code")
	}
	if (layered.Verdict{}) != layered.Pass() {
		t.Error("the zero Verdict is not Pass")
	}
}

func TestFailingWithNoErrorOrWSA_IO_PENDINGPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"Fail(0)":                          func() { layered.Fail(0) },
		"Fail(WSA_IO_PENDING)":             func() { layered.Fail(spi.WSA_IO_PENDING) },
		"FailCompletion(0)":                func() { layered.FailCompletion(0) },
		"FailCompletion(WSA_IO_PENDING)":   func() { layered.FailCompletion(spi.WSA_IO_PENDING) },
		"FailCompletion(ERROR_IO_PENDING)": func() { layered.FailCompletion(spi.ERROR_IO_PENDING) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestAHookThatCompletesWithMoreBytesThanTheBuffersPanics(t *testing.T) {
	k := newHookedConn(t, layered.Config{Hooks: layered.Hooks{Before: func(c *layered.Call) layered.Verdict {
		if c.Op == layered.OpSend {
			return layered.Complete(6)
		}
		return layered.Pass()
	}}})
	defer func() {
		if r := recover(); r == nil {
			t.Error("no panic")
		} else if s, _ := r.(string); s != "layered: a hook completed WSPSend with 6 bytes, more than the 5 of its buffers" {
			t.Errorf("panic %q", r)
		}
	}()
	_, _ = k.th.WSASend(k.c, [][]byte{[]byte("hello")}, 0, nil, nil)
}

// manualScheduler queues deferred work until the test runs it, and never
// pends: an spi.Scheduler the test drives by hand.
type manualScheduler struct {
	mu   sync.Mutex
	keys []any
	work []func()
}

func (s *manualScheduler) Defer(key any, fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys, s.work = append(s.keys, key), append(s.work, fn)
}

func (s *manualScheduler) Pend() bool { return false }

// run runs the work queued so far and returns its keys.
func (s *manualScheduler) run() []any {
	s.mu.Lock()
	keys, work := s.keys, s.work
	s.keys, s.work = nil, nil
	s.mu.Unlock()
	for _, fn := range work {
		fn()
	}
	return keys
}

func TestADelayUnderASchedulerEndsWhenTheSchedulerRunsIt(t *testing.T) {
	sched := &manualScheduler{}
	k := newHookedConn(t, layered.Config{Scheduler: sched, Hooks: layered.Hooks{After: func(c *layered.Call) layered.Verdict {
		if c.Op == layered.OpSend {
			return layered.Delay(time.Hour)
		}
		return layered.Pass()
	}}})
	var ov spi.Overlapped
	_, err := k.th.WSASend(k.c, [][]byte{[]byte("hello")}, 0, &ov, nil)
	if !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSASend: %v, want WSA_IO_PENDING: the layer below completed it at once, but the hook holds it", err)
	}
	if e, err := k.th.GetQueuedCompletionStatus(k.port, 0); e.Overlapped != nil || !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Fatalf("a packet before the scheduler ran the delay: %+v, %v", e, err)
	}
	if s := k.prov.Stats(); s.Held != 1 || s.Outstanding != 1 {
		t.Errorf("while held: %+v; want 1 held and outstanding", s)
	}
	keys := sched.run()
	if len(keys) != 1 {
		t.Fatalf("the scheduler got %d pieces of work, want 1", len(keys))
	}
	if s, ok := keys[0].(*layered.Socket); !ok || s.Handle() != k.c {
		t.Errorf("the work's key is %v, want the layer's socket of %#x", keys[0], k.c)
	}
	e := must(k.th.GetQueuedCompletionStatus(k.port, 0))(t)
	if e.Overlapped != &ov || e.NumberOfBytesTransferred != 5 {
		t.Errorf("packet %+v, want the send's 5 bytes", e)
	}
	if s := k.prov.Stats(); s.Held != 0 || s.Outstanding != 0 {
		t.Errorf("once delivered: %+v", s)
	}

	// A blocking call waits for the scheduler too.
	done := make(chan error, 1)
	go func() {
		_, err := k.th.WSASend(k.c, [][]byte{[]byte("again")}, 0, nil, nil)
		done <- err
	}()
	for len(sched.run()) == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Errorf("blocking WSASend: %v", err)
	}
}

func TestTheLastCleanupEndsAHeldCompletionWithoutNotification(t *testing.T) {
	for _, withScheduler := range []bool{false, true} {
		name := "timer"
		if withScheduler {
			name = "scheduler"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sched := &manualScheduler{}
				cfg := layered.Config{Hooks: layered.Hooks{Before: func(c *layered.Call) layered.Verdict {
					if c.Op == layered.OpSend {
						return layered.Delay(time.Hour)
					}
					return layered.Pass()
				}}}
				if withScheduler {
					cfg.Scheduler = sched
				}
				k := newHookedConn(t, cfg)
				ran := false
				ov := new(spi.Overlapped)
				_, err := k.th.WSASend(k.c, [][]byte{[]byte("hello")}, 0, ov, func(spi.Errno, uint32, *spi.Overlapped, uint32) { ran = true })
				if !errors.Is(err, spi.WSA_IO_PENDING) {
					t.Fatal(err)
				}
				synctest.Wait()
				before := k.prov.Stats()
				if err := k.p.WSACleanup(); err != nil {
					t.Fatal(err)
				}
				sched.run() // the delivery, late: it must do nothing
				time.Sleep(2 * time.Hour)
				if r, _ := k.th.SleepEx(0, true); r != 0 || ran {
					t.Errorf("SleepEx = %#x, routine ran: %v; want no notification", r, ran)
				}
				s := k.prov.Stats()
				if s.Outstanding != 0 || s.Held != 0 || s.Abandoned != before.Abandoned+1 || s.APCs != before.APCs {
					t.Errorf("after WSACleanup: %+v (before %+v); want the held send abandoned", s, before)
				}
				if got := spi.NTStatus(ov.LoadInternal()); got != spi.STATUS_CANCELLED {
					t.Errorf("the OVERLAPPED's Internal is %v, want STATUS_CANCELLED", got)
				}
			})
		})
	}
}

func TestAClosedSocketKeepsItsHandleUntilItsHeldCompletionIsDelivered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newHookedConn(t, layered.Config{Hooks: layered.Hooks{After: func(c *layered.Call) layered.Verdict {
			if c.Op == layered.OpSend {
				return layered.Delay(time.Second)
			}
			return layered.Pass()
		}}})
		var ov spi.Overlapped
		if _, err := k.th.WSASend(k.c, [][]byte{[]byte("hello")}, 0, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
			t.Fatal(err)
		}
		if err := k.th.Closesocket(k.c); err != nil {
			t.Fatal(err)
		}
		if s := k.prov.Stats(); s.Sockets != 1 || s.Held != 1 {
			t.Errorf("after closesocket: %+v; want the socket kept for its held completion", s)
		}
		start := time.Now()
		e := must(k.th.GetQueuedCompletionStatus(k.port, time.Hour))(t)
		if e.Overlapped != &ov || e.NumberOfBytesTransferred != 5 || time.Since(start) != time.Second {
			t.Errorf("packet %+v after %v; want the send's 5 bytes after 1s", e, time.Since(start))
		}
		synctest.Wait()
		if s := k.prov.Stats(); s.Sockets != 0 || s.Held != 0 || s.Outstanding != 0 {
			t.Errorf("once delivered: %+v; want the client's socket gone", s)
		}
	})
}
