package wsspi_test

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// readinessStacks are the status tests' stacks and a chain of three kit
// layers.
var readinessStacks = append(append([]stack(nil), stacks...),
	stack{"three kits", func(tb TB, m *wsspi.Machine) { installKits(tb, m, 3) }})

// enumEvents enumerates the network events of s, resetting ev.
func enumEvents(tb TB, th *wsspi.Thread, s spi.Socket, ev spi.Handle) spi.WSANetworkEvents {
	tb.Helper()
	return must(th.WSAEnumNetworkEvents(s, ev))(tb)
}

// awaitEvent waits for ev to be set.
func awaitEvent(tb TB, th *wsspi.Thread, ev spi.Handle) {
	tb.Helper()
	must(th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, long, false))(tb)
}

func TestWSAEventSelectReportsEachEventOnceThroughEveryStack(t *testing.T) {
	for _, st := range readinessStacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			ev := must(k.client.WSACreateEvent())(t)
			check(t, k.cth.WSAEventSelect(k.c, ev, spi.FD_READ|spi.FD_WRITE|spi.FD_CLOSE))
			awaitEvent(t, k.cth, ev)
			var want spi.WSANetworkEvents
			want.NetworkEvents = spi.FD_WRITE
			if diff := cmp.Diff(want, enumEvents(t, k.cth, k.c, ev)); diff != "" {
				t.Fatalf("after WSAEventSelect (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(spi.WSANetworkEvents{}, enumEvents(t, k.cth, k.c, ev)); diff != "" {
				t.Fatalf("FD_WRITE reported twice (-want +got):\n%s", diff)
			}
			must(k.sth.WSASend(k.s, [][]byte{[]byte("abcd")}, 0, nil, nil))(t)
			awaitEvent(t, k.cth, ev)
			want.NetworkEvents = spi.FD_READ
			if diff := cmp.Diff(want, enumEvents(t, k.cth, k.c, ev)); diff != "" {
				t.Fatalf("after the peer sent (-want +got):\n%s", diff)
			}
			must(k.cth.WSARecv(k.c, [][]byte{make([]byte, 2)}, new(uint32), nil, nil))(t)
			awaitEvent(t, k.cth, ev) // level-triggered: 2 bytes remain
			if diff := cmp.Diff(want, enumEvents(t, k.cth, k.c, ev)); diff != "" {
				t.Fatalf("after a partial receive (-want +got):\n%s", diff)
			}
			must(k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, new(uint32), nil, nil))(t)
			check(t, k.sth.Closesocket(k.s))
			awaitEvent(t, k.cth, ev)
			want.NetworkEvents = spi.FD_CLOSE
			if diff := cmp.Diff(want, enumEvents(t, k.cth, k.c, ev)); diff != "" {
				t.Fatalf("after the peer closed (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(spi.WSANetworkEvents{}, enumEvents(t, k.cth, k.c, ev)); diff != "" {
				t.Fatalf("FD_CLOSE reported twice (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAResetIsFDCloseWithWSAECONNRESET(t *testing.T) {
	for _, st := range readinessStacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			ev := must(k.client.WSACreateEvent())(t)
			check(t, k.cth.WSAEventSelect(k.c, ev, spi.FD_CLOSE))
			lin := make([]byte, 4)
			binary.LittleEndian.PutUint16(lin, 1) // l_onoff 1, l_linger 0: a reset
			check(t, k.sth.Setsockopt(k.s, spi.SOL_SOCKET, spi.SO_LINGER, lin))
			check(t, k.sth.Closesocket(k.s))
			awaitEvent(t, k.cth, ev)
			var want spi.WSANetworkEvents
			want.NetworkEvents = spi.FD_CLOSE
			want.ErrorCode[spi.FD_CLOSE_BIT] = spi.WSAECONNRESET
			if diff := cmp.Diff(want, enumEvents(t, k.cth, k.c, ev)); diff != "" {
				t.Fatalf("after the peer's reset (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWSAAsyncSelectMessagesNameTheClientsSocketThroughEveryStack(t *testing.T) {
	const hWnd, msg = spi.HWND(0x100), 0x400 + 1 // WM_USER+1
	for _, st := range readinessStacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			check(t, k.cth.WSAAsyncSelect(k.c, hWnd, msg, spi.FD_READ|spi.FD_WRITE|spi.FD_CLOSE))
			must(k.sth.WSASend(k.s, [][]byte{[]byte("x")}, 0, nil, nil))(t)
			var got []wsspi.PostedMessage
			for range 2 {
				got = append(got, must(k.client.GetMessage(hWnd, long))(t))
			}
			must(k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, new(uint32), nil, nil))(t)
			check(t, k.sth.Closesocket(k.s))
			got = append(got, must(k.client.GetMessage(hWnd, long))(t))
			reply := func(ev uint16) wsspi.PostedMessage {
				return wsspi.PostedMessage{HWnd: hWnd, Msg: msg, WParam: uintptr(k.c), LParam: spi.WSAMAKESELECTREPLY(ev, 0)}
			}
			want := []wsspi.PostedMessage{reply(spi.FD_WRITE), reply(spi.FD_READ), reply(spi.FD_CLOSE)}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("messages (-want +got):\n%s", diff)
			}
			check(t, k.cth.Closesocket(k.c))
			if m, err := k.client.GetMessage(hWnd, time.Millisecond); err == nil {
				t.Fatalf("own closesocket posted %+v", m)
			}
		})
	}
}

func TestFIONBIOCannotMakeASelectedSocketBlocking(t *testing.T) {
	for _, st := range readinessStacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			ev := must(k.client.WSACreateEvent())(t)
			check(t, k.cth.WSAEventSelect(k.c, ev, spi.FD_READ))
			_, err := k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, new(uint32), nil, nil)
			if !errors.Is(err, spi.WSAEWOULDBLOCK) {
				t.Fatalf("recv on a selected socket = %v, want WSAEWOULDBLOCK (non-blocking)", err)
			}
			off := uint32(0)
			if err := k.cth.Ioctlsocket(k.c, spi.FIONBIO, &off); !errors.Is(err, spi.WSAEINVAL) {
				t.Fatalf("FIONBIO 0 while selected = %v, want WSAEINVAL", err)
			}
			check(t, k.cth.WSAEventSelect(k.c, 0, 0))
			check(t, k.cth.Ioctlsocket(k.c, spi.FIONBIO, &off))
		})
	}
}

func TestWSAPollThroughEveryStack(t *testing.T) {
	for _, st := range readinessStacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			fds := []spi.WSAPOLLFD{{Fd: k.c, Events: spi.POLLIN | spi.POLLOUT}, {Fd: spi.INVALID_SOCKET, Events: spi.POLLIN}}
			if n, err := k.cth.WSAPoll(fds, 0); n != 1 || err != nil || fds[0].Revents != spi.POLLWRNORM || fds[1].Revents != 0 {
				t.Fatalf("WSAPoll before data = %d, %v, %+v", n, err, fds)
			}
			must(k.sth.WSASend(k.s, [][]byte{[]byte("x")}, 0, nil, nil))(t)
			fds[0].Events = spi.POLLRDNORM
			if n, err := k.cth.WSAPoll(fds, -1); n != 1 || err != nil || fds[0].Revents != spi.POLLRDNORM {
				t.Fatalf("WSAPoll after data = %d, %v, %+v", n, err, fds)
			}
			must(k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, new(uint32), nil, nil))(t)
			check(t, k.sth.Closesocket(k.s))
			if n, err := k.cth.WSAPoll(fds, -1); n != 1 || err != nil || fds[0].Revents != spi.POLLRDNORM|spi.POLLHUP {
				t.Fatalf("WSAPoll after the peer closed = %d, %v, %+v", n, err, fds)
			}
			_, err := k.cth.WSAPoll([]spi.WSAPOLLFD{{Fd: k.c, Events: spi.POLLPRI}}, 0)
			wantErr(t, "POLLPRI", opErr("WSAPoll", k.c, spi.WSAEINVAL), err)
			check(t, k.cth.Closesocket(k.c))
			if n, err := k.cth.WSAPoll(fds[:1], 0); n != 1 || err != nil || fds[0].Revents != spi.POLLNVAL {
				t.Fatalf("WSAPoll of a closed socket = %d, %v, %+v", n, err, fds)
			}
		})
	}
}

func TestWSAPollTimesOutInVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := stackConn(t, stacks[1])
		start := time.Now()
		fds := []spi.WSAPOLLFD{{Fd: k.c, Events: spi.POLLRDNORM}}
		if n, err := k.cth.WSAPoll(fds, 5000); n != 0 || err != nil {
			t.Fatalf("WSAPoll = %d, %v; want a timeout", n, err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Fatalf("WSAPoll waited %v, want 5s", d)
		}
	})
}

// baseOf returns the SIO_BASE_HANDLE socket of s.
func baseOf(tb TB, th *wsspi.Thread, s spi.Socket) spi.Socket {
	tb.Helper()
	out := make([]byte, 8)
	must(th.WSAIoctl(s, spi.SIO_BASE_HANDLE, nil, out, nil, nil))(tb)
	return spi.Socket(binary.LittleEndian.Uint64(out))
}

func TestAnAFDPollThroughAHelperCompletesOnItsPortAndCancelsOnce(t *testing.T) {
	for _, st := range readinessStacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			port := must(k.client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
			helper := must(k.client.NtCreateFile(`\Device\Afd\Test`))(t)
			must(k.client.CreateIoCompletionPort(helper, port, 9, 0))(t)
			base := baseOf(t, k.cth, k.c)
			info := spi.AFDPollInfo{Timeout: math.MaxInt64, Handles: []spi.AFDPollHandleInfo{{Handle: base, Events: spi.AFD_POLL_RECEIVE | spi.AFD_POLL_LOCAL_CLOSE}}}
			buf := info.Marshal()
			var iosb spi.Overlapped
			if err := k.cth.NtDeviceIoControlFile(helper, 0, &iosb, &iosb, spi.IOCTL_AFD_POLL, buf, buf); !errors.Is(err, spi.STATUS_PENDING) {
				t.Fatalf("poll with no data = %v, want STATUS_PENDING", err)
			}
			must(k.sth.WSASend(k.s, [][]byte{[]byte("x")}, 0, nil, nil))(t)
			e := must(k.cth.GetQueuedCompletionStatus(port, long))(t)
			got := must(spi.ParseAFDPollInfo(buf))(t)
			want := spi.AFDPollInfo{Timeout: math.MaxInt64, Handles: []spi.AFDPollHandleInfo{{Handle: base, Events: spi.AFD_POLL_RECEIVE}}}
			if diff := cmp.Diff(want, got); diff != "" || e.CompletionKey != 9 || e.Overlapped != &iosb {
				t.Fatalf("poll result, key %d (-want +got):\n%s", e.CompletionKey, diff)
			}
			must(k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, new(uint32), nil, nil))(t)
			buf = info.Marshal()
			iosb = spi.Overlapped{}
			if err := k.cth.NtDeviceIoControlFile(helper, 0, &iosb, &iosb, spi.IOCTL_AFD_POLL, buf, buf); !errors.Is(err, spi.STATUS_PENDING) {
				t.Fatalf("second poll = %v, want STATUS_PENDING", err)
			}
			check(t, k.cth.CancelIoEx(helper, &iosb))
			_, err := k.cth.GetQueuedCompletionStatus(port, long)
			if !errors.Is(err, spi.ERROR_OPERATION_ABORTED) || spi.NTStatus(iosb.LoadInternal()) != spi.STATUS_CANCELLED {
				t.Fatalf("cancelled poll = %v, Internal %v", err, spi.NTStatus(iosb.LoadInternal()))
			}
			if err := k.cth.CancelIoEx(helper, &iosb); !errors.Is(err, spi.ERROR_NOT_FOUND) {
				t.Fatalf("second CancelIoEx = %v, want ERROR_NOT_FOUND", err)
			}
			if _, err := k.cth.GetQueuedCompletionStatus(port, time.Millisecond); !errors.Is(err, spi.WAIT_TIMEOUT) {
				t.Fatalf("a second packet came: %v", err)
			}
		})
	}
}

func TestNtCreateFileOpensOnlyAFDHelpers(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	for _, path := range []string{`\Device\Afd\`, `\Device\Afd`, `\Device\Tcp\x`, ``} {
		_, err := p.NtCreateFile(path)
		wantErr(t, path, &spi.OpError{Op: "NtCreateFile", Err: spi.STATUS_OBJECT_NAME_NOT_FOUND}, err)
	}
	h := must(p.NtCreateFile(`\device\afd\Mio`))(t)
	_, err := p.NewThread().Getsockname(h)
	if !errors.Is(err, spi.WSAENOTSOCK) {
		t.Errorf("getsockname on a helper = %v, want WSAENOTSOCK", err)
	}
	check(t, p.CloseHandle(h))
}

func TestSelectMixingALayeredAndABaseSocketIsServedByTheFirstSocketsProvider(t *testing.T) {
	m := wsspi.NewMachine()
	installKits(t, m, 1, layered.Config{ServeSelect: true})
	k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
	udp := must(k.cth.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
	check(t, k.cth.Bind(udp, netip.MustParseAddrPort("127.0.0.1:0")))
	zero := time.Duration(0)
	// The kit's socket first: the kit serves select and passes the base
	// UDP socket down unchanged, which the base provider knows.
	w := fdset(k.c, udp)
	n, err := k.cth.Select(nil, w, nil, &zero)
	if n != 2 || err != nil {
		t.Fatalf("select, kit socket first = %d, %v; want 2 writable", n, err)
	}
	// The UDP socket first: the base provider serves select and does not
	// know the kit's handle, as with a layer over some protocols only.
	w = fdset(udp, k.c)
	_, err = k.cth.Select(nil, w, nil, &zero)
	if !errors.Is(err, spi.WSAENOTSOCK) {
		t.Fatalf("select, base socket first = %v, want WSAENOTSOCK", err)
	}
}
