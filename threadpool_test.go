package wsspi_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

func TestRegisteredWaitCallsBackOncePerSignalOfAnAutoResetEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := wsspi.NewMachine().NewProcess()
		defer p.Close()
		ev := must(p.CreateEvent(false, false))(t)
		calls := make(chan bool, 8)
		w, err := p.RegisterWaitForSingleObject(ev, func(timedOut bool) { calls <- timedOut }, spi.Infinite, 0)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			check(t, p.WSASetEvent(ev))
			synctest.Wait()
		}
		check(t, w.Unregister(true))
		check(t, p.WSASetEvent(ev))
		synctest.Wait()
		close(calls)
		var got []bool
		for c := range calls {
			got = append(got, c)
		}
		if diff := cmp.Diff([]bool{false, false, false}, got); diff != "" {
			t.Errorf("callbacks (timedOut) (-want +got):\n%s", diff)
		}
	})
}

func TestRegisteredWaitTimesOutAndEndsAfterOneCallbackWithExecuteOnlyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := wsspi.NewMachine().NewProcess()
		defer p.Close()
		ev := must(p.CreateEvent(true, false))(t)
		var calls atomic.Int32
		var timedOut atomic.Bool
		w, err := p.RegisterWaitForSingleObject(ev, func(to bool) { calls.Add(1); timedOut.Store(to) }, time.Second, spi.WT_EXECUTEONLYONCE)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if calls.Load() != 1 || !timedOut.Load() {
			t.Errorf("after 5s with a 1s timeout: %d callbacks, timedOut %v; want 1, true", calls.Load(), timedOut.Load())
		}
		check(t, w.Unregister(true))
	})
}

func TestRegisterWaitForSingleObjectRefusesBadInput(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	ev := must(p.CreateEvent(false, false))(t)
	port := must(p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
	cb := func(bool) {}
	for _, tc := range []struct {
		name    string
		object  spi.Handle
		cb      func(bool)
		timeout time.Duration
		flags   uint32
		want    spi.Errno
	}{
		{"not an event", port, cb, spi.Infinite, 0, spi.ERROR_INVALID_HANDLE},
		{"no handle", 0, cb, spi.Infinite, 0, spi.ERROR_INVALID_HANDLE},
		{"nil callback", ev, nil, spi.Infinite, 0, spi.ERROR_INVALID_PARAMETER},
		{"negative timeout", ev, cb, -time.Second, 0, spi.ERROR_INVALID_PARAMETER},
		{"unknown flag", ev, cb, spi.Infinite, 0x1000, spi.ERROR_INVALID_PARAMETER},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.RegisterWaitForSingleObject(tc.object, tc.cb, tc.timeout, tc.flags)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestProcessCloseEndsARegisteredWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := wsspi.NewMachine().NewProcess()
		ev := must(p.CreateEvent(false, false))(t)
		var calls atomic.Int32
		w, err := p.RegisterWaitForSingleObject(ev, func(bool) { calls.Add(1) }, spi.Infinite, 0)
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		synctest.Wait()
		check(t, w.Unregister(true)) // returns: the wait thread has gone
		if calls.Load() != 0 {
			t.Errorf("%d callbacks after Process.Close, want 0", calls.Load())
		}
	})
}
