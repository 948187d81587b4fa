package wsspi_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// End-to-end tests of waits with timeouts, in virtual time: each runs in a
// testing/synctest bubble, and the machine is made inside it, as a
// loopback network used in a bubble must be.

// elapsed runs f and returns how much virtual time it took.
func elapsed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// sendAfter makes the server send msg on k.s after d, from a goroutine of
// the bubble, with a thread of its own.
func sendAfter(k *conn, d time.Duration, msg string) {
	th := k.server.NewThread()
	go func() {
		time.Sleep(d)
		if _, err := th.WSASend(k.s, [][]byte{[]byte(msg)}, 0, nil, nil); err != nil {
			panic(err)
		}
	}()
}

func TestGetQueuedCompletionStatusTimesOutAfterExactlyItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, port, ov := pendingConn(t, false)

		var e spi.OverlappedEntry
		var err error
		d := elapsed(func() { e, err = k.cth.GetQueuedCompletionStatus(port, 250*time.Millisecond) })
		wantErr(t, "GetQueuedCompletionStatus", opErr("GetQueuedCompletionStatus", port, spi.WAIT_TIMEOUT), err)
		if e.Overlapped != nil || d != 250*time.Millisecond {
			t.Errorf("after %v: entry %+v; want a nil overlapped after 250ms", d, e)
		}

		entries := make([]spi.OverlappedEntry, 2)
		var n int
		d = elapsed(func() { n, err = k.cth.GetQueuedCompletionStatusEx(port, entries, time.Second, false) })
		wantErr(t, "GetQueuedCompletionStatusEx", opErr("GetQueuedCompletionStatusEx", port, spi.WAIT_TIMEOUT), err)
		if n != 1 || d != time.Second || entries[0] != (spi.OverlappedEntry{}) {
			t.Errorf("GetQueuedCompletionStatusEx reported %d (entry %+v) after %v; want a count of 1, no entry written, after 1s", n, entries[0], d)
		}
		if !ov.InProgress() {
			t.Error("the receive did not stay pending")
		}
	})
}

func TestGetQueuedCompletionStatusReturnsThePacketWhenItArrives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, port, ov := pendingConn(t, false)
		sendAfter(k, 2*time.Second, "data")
		var e spi.OverlappedEntry
		var err error
		d := elapsed(func() { e, err = k.cth.GetQueuedCompletionStatus(port, time.Hour) })
		if err != nil || e.Overlapped != ov || e.NumberOfBytesTransferred != 4 || d != 2*time.Second {
			t.Errorf("after %v: %+v, %v; want the receive's packet after 2s", d, e, err)
		}
	})
}

func TestWSAWaitForMultipleEventsTimesOutAfterExactlyItsTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, _, ov := pendingConn(t, true)
		var r uint32
		var err error
		d := elapsed(func() {
			r, err = k.cth.WSAWaitForMultipleEvents([]spi.Handle{ov.HEvent}, false, 1500*time.Millisecond, true)
		})
		if r != uint32(spi.WSA_WAIT_TIMEOUT) || err != nil || d != 1500*time.Millisecond {
			t.Errorf("after %v: %#x, %v; want WSA_WAIT_TIMEOUT after 1.5s", d, r, err)
		}
	})
}

func TestAlertableWaitIsWokenByACompletionRoutine(t *testing.T) {
	waits := []struct {
		name string
		wait func(tb testing.TB, k *conn, port spi.Handle) uint32
		want uint32
	}{
		{"SleepEx", func(_ testing.TB, k *conn, _ spi.Handle) uint32 {
			r, _ := k.cth.SleepEx(time.Hour, true)
			return r
		}, spi.WAIT_IO_COMPLETION},
		{"WSAWaitForMultipleEvents", func(tb testing.TB, k *conn, _ spi.Handle) uint32 {
			ev := must(k.client.WSACreateEvent())(tb)
			r, _ := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, time.Hour, true)
			return r
		}, spi.WSA_WAIT_IO_COMPLETION},
		{"GetQueuedCompletionStatusEx", func(_ testing.TB, k *conn, port spi.Handle) uint32 {
			_, err := k.cth.GetQueuedCompletionStatusEx(port, make([]spi.OverlappedEntry, 1), time.Hour, true)
			return uint32(spi.ErrnoOf(err))
		}, spi.WAIT_IO_COMPLETION},
	}
	for _, w := range waits {
		t.Run(w.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
				port := must(k.client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
				var ran []result
				var ov spi.Overlapped
				pendRecv(t, k.cth, k.c, make([]byte, 8), &ov, func(e spi.Errno, n uint32, ov *spi.Overlapped, _ uint32) {
					ran = append(ran, result{ov, n, e})
				})
				sendAfter(k, 3*time.Second, "data")
				var r uint32
				d := elapsed(func() { r = w.wait(t, k, port) })
				if r != w.want || d != 3*time.Second {
					t.Errorf("%s = %#x after %v; want %#x after 3s", w.name, r, d, w.want)
				}
				diffResults(t, []result{{&ov, 4, 0}}, ran)
			})
		})
	}
}

func TestNonAlertableSleepLeavesTheRoutineQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
		runs := 0
		var ov spi.Overlapped
		pendRecv(t, k.cth, k.c, make([]byte, 8), &ov, func(spi.Errno, uint32, *spi.Overlapped, uint32) { runs++ })
		sendAfter(k, time.Second, "data")
		var r uint32
		var err error
		d := elapsed(func() { r, err = k.cth.SleepEx(5*time.Second, false) })
		if r != 0 || err != nil || d != 5*time.Second || runs != 0 {
			t.Errorf("SleepEx(5s, false) = %#x, %v after %v with %d routine runs; want 0 after 5s, no run", r, err, d, runs)
		}
		if r, _ := k.cth.SleepEx(0, true); r != spi.WAIT_IO_COMPLETION || runs != 1 {
			t.Errorf("SleepEx(0, true) = %#x with %d runs; want WAIT_IO_COMPLETION and 1", r, runs)
		}
	})
}
