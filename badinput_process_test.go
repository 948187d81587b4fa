package wsspi_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// Attacks on a process's life: calls racing WSACleanup and Close, waits
// that Close must end, threads used after they exit.

var _ = addAttacks(
	attack{"SocketRacingWSACleanupFailsWithAWinsockError", testSocketRacingWSACleanupFailsWithAWinsockError},
	attack{"ProcessCloseEndsEveryWait", testProcessCloseEndsEveryWait},
	attack{"ProcessCloseClosesEveryHandle", testProcessCloseClosesEveryHandle},
	attack{"ProcessCloseEndsWhileWSAStartupIsCalledAgain", testProcessCloseEndsWhileWSAStartupIsCalledAgain},
	attack{"CompletionRoutineOnAnExitedThreadIsRefused", testCompletionRoutineOnAnExitedThreadIsRefused},
	attack{"WSASetEventErrorsNameWSASetEvent", testWSASetEventErrorsNameWSASetEvent},
	attack{"StaleSocketCallsCarryTheStaleError", testStaleSocketCallsCarryTheStaleError},
)

// socket() while another goroutine runs the process's last WSACleanup
// either succeeds or fails with a Winsock code, never a Win32 one.
func testSocketRacingWSACleanupFailsWithAWinsockError(t *testing.T) {
	for _, depth := range []int{0, 1, 2} {
		for range 40 {
			m := wsspi.NewMachine()
			installKits(t, m, depth)
			p := m.NewProcess()
			th := p.NewThread()
			var wg sync.WaitGroup
			wg.Go(func() {
				for range 5 {
					s, err := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
					if err == nil {
						_ = th.Closesocket(s)
						continue
					}
					if !isWinsockError(err) {
						t.Errorf("depth %d: socket: %v is not a Winsock error", depth, err)
					}
				}
			})
			_ = p.WSACleanup()
			wg.Wait()
			check(t, p.Close())
			checkNoHandles(t, p)
		}
	}
}

// Close ends the process: a thread waiting for ever on a port, on events
// or in an alertable sleep wakes with the documented errors.
func testProcessCloseEndsEveryWait(t *testing.T) {
	m := wsspi.NewMachine()
	p := m.NewProcess()
	port := must(p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
	ev := must(p.WSACreateEvent())(t)
	results := make(chan waitResult, 4)
	var ready sync.WaitGroup
	start := func(what string, wait func(th *wsspi.Thread) error) {
		th := p.NewThread()
		ready.Add(1)
		go func() {
			ready.Done()
			results <- waitResult{what, wait(th)}
		}()
	}
	start("GetQueuedCompletionStatus", func(th *wsspi.Thread) error {
		_, err := th.GetQueuedCompletionStatus(port, spi.Infinite)
		return err
	})
	start("GetQueuedCompletionStatusEx", func(th *wsspi.Thread) error {
		_, err := th.GetQueuedCompletionStatusEx(port, make([]spi.OverlappedEntry, 4), spi.Infinite, true)
		return err
	})
	start("WSAWaitForMultipleEvents", func(th *wsspi.Thread) error {
		_, err := th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, spi.Infinite, true)
		return err
	})
	start("SleepEx", func(th *wsspi.Thread) error {
		_, err := th.SleepEx(spi.Infinite, true)
		return err
	})
	ready.Wait()
	time.Sleep(10 * time.Millisecond) // let them park; Close must end them whether or not they have
	check(t, p.Close())
	wantWaitsEndedByClose(t, results)
}

// waitResult is how one of a thread's waits ended.
type waitResult struct {
	what string // the wait's Win32 name
	err  error
}

// wantWaitsEndedByClose checks that the four waits (on a port, one and
// many packets, on events, and an alertable sleep) end as Process.Close
// ends them: ERROR_ABANDONED_WAIT_0 for a port, ERROR_PROCESS_ABORTED for
// the others.
func wantWaitsEndedByClose(t *testing.T, results <-chan waitResult) {
	t.Helper()
	want := map[string]spi.Errno{
		"GetQueuedCompletionStatus":   spi.ERROR_ABANDONED_WAIT_0,
		"GetQueuedCompletionStatusEx": spi.ERROR_ABANDONED_WAIT_0,
		"WSAWaitForMultipleEvents":    spi.ERROR_PROCESS_ABORTED,
		"SleepEx":                     spi.ERROR_PROCESS_ABORTED,
	}
	for range len(want) {
		select {
		case r := <-results:
			if !errors.Is(r.err, want[r.what]) {
				t.Errorf("%s ended with %v, want %v", r.what, r.err, want[r.what])
			}
		case <-time.After(long):
			t.Fatal("a wait did not end when its process closed")
		}
	}
}

// Close closes every handle of the process: sockets, ports, events and
// threads.
func testProcessCloseClosesEveryHandle(t *testing.T) {
	for _, depth := range []int{0, 1} {
		m := wsspi.NewMachine()
		installKits(t, m, depth)
		p := m.NewProcess()
		th := p.NewThread()
		s := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		must(p.CreateIoCompletionPort(s, 0, 1, 0))(t)
		must(p.WSACreateEvent())(t)
		must(p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
		p.NewThread()
		check(t, p.Close())
		if snap := p.Handles().Snapshot(); len(snap.Live) != 0 || len(snap.Closing) != 0 {
			t.Errorf("depth %d: handles left after Close: %+v", depth, snap)
		}
		if _, err := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP); !errors.Is(err, spi.WSANOTINITIALISED) {
			t.Errorf("depth %d: socket after Close: %v, want WSANOTINITIALISED", depth, err)
		}
		if _, err := th.GetQueuedCompletionStatus(1, 0); !errors.Is(err, spi.ERROR_PROCESS_ABORTED) {
			t.Errorf("depth %d: a wait after Close: %v, want ERROR_PROCESS_ABORTED", depth, err)
		}
		if _, err := p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0); !errors.Is(err, spi.ERROR_PROCESS_ABORTED) {
			t.Errorf("depth %d: a port after Close: %v, want ERROR_PROCESS_ABORTED", depth, err)
		}
		checkNoHandles(t, p)
	}
}

// Close undoes every WSAStartup even while another goroutine keeps calling
// WSAStartup; once Close has begun, WSAStartup fails.
func testProcessCloseEndsWhileWSAStartupIsCalledAgain(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			_, _ = p.WSAStartup(spi.WINSOCK_VERSION)
		}
	})
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case err := <-closed:
		check(t, err)
	case <-time.After(long):
		t.Fatal("Close spins while WSAStartup is called")
	}
	stop.Store(true)
	wg.Wait()
	if _, err := p.WSAStartup(spi.WINSOCK_VERSION); !errors.Is(err, spi.WSASYSNOTREADY) {
		t.Errorf("WSAStartup after Close: %v, want WSASYSNOTREADY", err)
	}
}

// A completion routine can only run in an alertable wait of the thread
// that issued the call; after that thread's Exit the call fails at once
// and nothing is left pending.
func testCompletionRoutineOnAnExitedThreadIsRefused(t *testing.T) {
	for _, depth := range []int{0, 1} {
		m := wsspi.NewMachine()
		installKits(t, m, depth)
		k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
		th := k.client.NewThread()
		th.Exit()
		routine := func(spi.Errno, uint32, *spi.Overlapped, uint32) { t.Error("the routine ran") }
		var ov spi.Overlapped
		_, err := th.WSARecv(k.c, [][]byte{make([]byte, 1)}, nil, &ov, routine)
		wantErr(t, "WSARecv", opErr("WSARecv", k.c, spi.WSAEINVAL), err)
		_, err = th.WSASend(k.c, [][]byte{[]byte("x")}, 0, &ov, routine)
		wantErr(t, "WSASend", opErr("WSASend", k.c, spi.WSAEINVAL), err)
		if ov.InProgress() {
			t.Errorf("depth %d: the overlapped is left in progress", depth)
		}
		// Nothing was sent or queued: the server sees no data, and a receive
		// on the live thread gets the next bytes.
		must(k.sth.WSASend(k.s, [][]byte{[]byte("a")}, 0, nil, nil))(t)
		if got := recvAll(t, k.cth, k.c, 1); string(got) != "a" {
			t.Errorf("depth %d: received %q", depth, got)
		}
		if n := fionread(t, k.sth, k.s); n != 0 {
			t.Errorf("depth %d: the refused send delivered %d bytes", depth, n)
		}
	}
}

func testWSASetEventErrorsNameWSASetEvent(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	port := must(p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
	for name, call := range map[string]func(spi.Handle) error{
		"WSASetEvent":   p.WSASetEvent,
		"WSAResetEvent": p.WSAResetEvent,
		"WSACloseEvent": p.WSACloseEvent,
	} {
		wantErr(t, name, opErr(name, port, spi.WSA_INVALID_HANDLE), call(port))
	}
}

// With DetectStale on, every client call on a closed socket's value
// carries the *handles.StaleError, not only the table's own calls.
func testStaleSocketCallsCarryTheStaleError(t *testing.T) {
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Handles: handles.Options{DetectStale: true}})
	installKits(t, m, 1)
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	for _, typ := range []int32{spi.SOCK_STREAM, spi.SOCK_DGRAM} {
		s := must(th.Socket(spi.AF_INET, typ, 0))(t)
		check(t, th.Closesocket(s))
		var ov spi.Overlapped
		calls := map[string]error{
			"closesocket": th.Closesocket(s),
			"bind":        th.Bind(s, loopbackAddr(spi.AF_INET, 0)),
		}
		_, calls["WSASend"] = th.WSASend(s, [][]byte{[]byte("x")}, 0, &ov, nil)
		_, calls["WSARecv"] = th.WSARecv(s, [][]byte{make([]byte, 1)}, nil, &ov, nil)
		_, calls["ReadFile"] = th.ReadFile(s, make([]byte, 1), &ov)
		_, calls["getsockopt"] = th.Getsockopt(s, spi.SOL_SOCKET, spi.SO_TYPE, make([]byte, 4))
		for name, err := range calls {
			var stale *handles.StaleError
			if !errors.As(err, &stale) || stale.Handle != s {
				t.Errorf("type %d: %s on a closed socket: %v, want a StaleError for %v", typ, name, err, s)
			}
		}
	}
}
