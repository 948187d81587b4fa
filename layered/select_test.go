package layered_test

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

func timeout(d time.Duration) *time.Duration { return &d }

// selectResult is what a WSPSelect call left: its count and error, and
// the three sets.
type selectResult struct {
	N                   int
	Err                 error
	Read, Write, Except []spi.Socket
}

func wspSelect(t spi.WSPProcTable, r, w, x *spi.FDSet, d *time.Duration) selectResult {
	n, err := t.WSPSelect(r, w, x, d)
	return selectResult{N: n, Err: err, Read: members(r), Write: members(w), Except: members(x)}
}

var equateErrors = cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) || errors.Is(b, a) })

func TestWSPSelectMapsTheSetsBothWays(t *testing.T) {
	for _, depth := range []int{1, 2} {
		t.Run(string(rune('0'+depth))+" layers", func(t *testing.T) {
			k := newStack(t, depth, false)
			ready, sready := k.conn(t)
			idle, _ := k.conn(t)
			base := k.baseSocket(t) // passed down unchanged: loopback knows it
			must(k.sth.WSASend(sready, [][]byte{[]byte("x")}, 0, nil, nil))(t)
			top := k.top(t)

			got := wspSelect(top, set(idle, ready, base), set(ready), set(idle, ready), timeout(time.Second))
			want := selectResult{N: 2, Read: []spi.Socket{ready}, Write: []spi.Socket{ready}}
			if diff := cmp.Diff(want, got, equateErrors); diff != "" {
				t.Errorf("select (-want +got):\n%s", diff)
			}
			// Nothing ready: a poll returns 0 with empty sets.
			got = wspSelect(top, set(idle), nil, nil, timeout(0))
			if diff := cmp.Diff(selectResult{}, got, equateErrors); diff != "" {
				t.Errorf("select on an idle socket (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWSPSelectRefusesWhatTheSampleRefuses(t *testing.T) {
	k := newStack(t, 1, false)
	c, _ := k.conn(t)
	top := k.top(t)
	full := new(spi.FDSet)
	full.Set(c)
	full.Count = spi.FD_SETSIZE + 1
	for name, tc := range map[string]struct {
		r, w, x *spi.FDSet
		want    spi.Errno
	}{
		"all three sets nil":         {want: spi.WSAEINVAL},
		"a set over FD_SETSIZE":      {r: set(c), w: full, want: spi.WSAENOBUFS},
		"no socket of the layer's":   {r: set(k.baseSocket(t)), want: spi.WSAEINVAL},
		"only empty sets":            {r: set(), w: set(), want: spi.WSAEINVAL},
		"a closed socket of a layer": {r: set(closed(t, k)), want: spi.WSAEINVAL},
	} {
		if _, err := top.WSPSelect(tc.r, tc.w, tc.x, timeout(0)); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// closed returns the handle of a kit socket that was closed.
func closed(t *testing.T, k *stack) spi.Socket {
	c := must(k.th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if err := k.th.Closesocket(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestWSPSelectKeepsTheHandleOfASocketClosedDuringTheCall(t *testing.T) {
	var k *stack
	var c spi.Socket
	var open []bool
	live := func() bool {
		for _, e := range k.p.Handles().Snapshot().Live {
			if e.Handle == c && e.Kind == handles.KindSocket {
				return true
			}
		}
		return false
	}
	k = newStack(t, 1, false, layered.Config{Hooks: layered.Hooks{After: func(call *layered.Call) layered.Verdict {
		if call.Op == layered.OpSelect {
			// closesocket from another thread while the select is under way.
			if err := k.p.NewThread().Closesocket(c); err != nil {
				t.Errorf("closesocket during select: %v", err)
			}
			open = append(open, live())
		}
		return layered.Pass()
	}}})
	c, _ = k.conn(t)
	if _, err := k.top(t).WSPSelect(nil, set(c), nil, timeout(time.Second)); err != nil {
		t.Fatal(err)
	}
	open = append(open, live())
	if diff := cmp.Diff([]bool{true, false}, open); diff != "" {
		t.Errorf("the layer's handle open during and after the select (-want +got):\n%s", diff)
	}
	if s := k.provs[0].Stats(); s.Sockets != 0 {
		t.Errorf("after the select: %d sockets, want 0", s.Sockets)
	}
}

func TestSelectHooksSeeAndChangeTheAnswer(t *testing.T) {
	var seen []string
	var hide spi.Socket
	k := newStack(t, 1, false, layered.Config{Hooks: layered.Hooks{
		Before: func(c *layered.Call) layered.Verdict {
			if c.Op != layered.OpSelect {
				return layered.Pass()
			}
			seen = append(seen, "before "+c.Func)
			if c.Sets[2] != nil { // the hook answers itself: the except set as asked
				c.Sets[0].Zero()
				return layered.Complete(0)
			}
			if c.Sets[1] == nil {
				return layered.Fail(spi.WSAENETDOWN)
			}
			return layered.Pass()
		},
		After: func(c *layered.Call) layered.Verdict {
			if c.Op != layered.OpSelect {
				return layered.Pass()
			}
			seen = append(seen, "after", c.Socket.Handle().String())
			if c.Sets[1] != nil {
				c.Sets[1].Clear(hide) // the layer hides one socket's writability
			}
			return layered.Pass()
		},
	}})
	a, _ := k.conn(t)
	b, _ := k.conn(t)
	hide = b
	top := k.top(t)
	got := wspSelect(top, set(a), set(a, b), nil, timeout(time.Second))
	if diff := cmp.Diff(selectResult{N: 1, Read: nil, Write: []spi.Socket{a}}, got, equateErrors); diff != "" {
		t.Errorf("select through After (-want +got):\n%s", diff)
	}
	got = wspSelect(top, set(a), nil, nil, timeout(time.Second))
	if diff := cmp.Diff(selectResult{Err: spi.WSAENETDOWN, Read: []spi.Socket{a}}, got, equateErrors); diff != "" {
		t.Errorf("select Before fails (-want +got):\n%s", diff)
	}
	got = wspSelect(top, set(a), nil, set(a, b), nil)
	if diff := cmp.Diff(selectResult{N: 2, Except: []spi.Socket{a, b}}, got, equateErrors); diff != "" {
		t.Errorf("select Before completes (-want +got):\n%s", diff)
	}
	// A Before that fails has no After; one that completes has.
	want := []string{"before WSPSelect", "after", a.String(), "before WSPSelect", "before WSPSelect", "after", a.String()}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("hook calls (-want +got):\n%s", diff)
	}
}

func TestSIO_BSP_HANDLE_SELECTIsPassedDownUnlessTheLayerServesSelect(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  []layered.Config
		top  bool // the answer is the client's own handle
	}{
		{"default", nil, false},
		{"ServeSelect", []layered.Config{{ServeSelect: true}}, true},
		{"ServeSelect with hooks", []layered.Config{{ServeSelect: true, Hooks: layered.Hooks{After: func(*layered.Call) layered.Verdict { return layered.Pass() }}}}, true},
		{"ServeSelect below a default layer", []layered.Config{{ServeSelect: true}, {}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newStack(t, max(1, len(tc.cfg)), false, tc.cfg...)
			c, _ := k.conn(t)
			var out [8]byte
			n := must(k.th.WSAIoctl(c, spi.SIO_BSP_HANDLE_SELECT, nil, out[:], nil, nil))(t)
			h := spi.Socket(binary.LittleEndian.Uint64(out[:]))
			if n != 8 || (h == c) != tc.top || h == 0 {
				t.Errorf("SIO_BSP_HANDLE_SELECT = %d bytes, %v; want the client's handle %v: %v", n, h, c, tc.top)
			}
			// Overlapped, through the client's completion port.
			port := must(k.p.CreateIoCompletionPort(c, 0, 7, 0))(t)
			var ov spi.Overlapped
			out = [8]byte{}
			if _, err := k.th.WSAIoctl(c, spi.SIO_BSP_HANDLE_SELECT, nil, out[:], &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
				t.Fatal(err)
			}
			e := must(k.th.GetQueuedCompletionStatus(port, time.Second))(t)
			if h2 := spi.Socket(binary.LittleEndian.Uint64(out[:])); e.NumberOfBytesTransferred != 8 || e.CompletionKey != 7 || h2 != h {
				t.Errorf("overlapped SIO_BSP_HANDLE_SELECT: packet %+v, handle %v; want 8 bytes, key 7, %v", e, h2, h)
			}
			if tc.top {
				if _, err := k.th.WSAIoctl(c, spi.SIO_BSP_HANDLE_SELECT, nil, out[:4], nil, nil); !errors.Is(err, spi.WSAEFAULT) {
					t.Errorf("SIO_BSP_HANDLE_SELECT with 4 bytes: %v, want WSAEFAULT", err)
				}
			}
			// SIO_BSP_HANDLE_POLL always goes down: WSAPoll polls the base sockets.
			if got := ioctlSocket(t, k, c, spi.SIO_BSP_HANDLE_POLL); got == c {
				t.Errorf("SIO_BSP_HANDLE_POLL answered with the layer's handle")
			}
		})
	}
}

func ioctlSocket(t *testing.T, k *stack, s spi.Socket, code uint32) spi.Socket {
	t.Helper()
	var out [8]byte
	must(k.th.WSAIoctl(s, code, nil, out[:], nil, nil))(t)
	return spi.Socket(binary.LittleEndian.Uint64(out[:]))
}
