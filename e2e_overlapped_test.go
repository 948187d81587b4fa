package wsspi_test

import (
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// End-to-end tests of overlapped I/O on loopback sockets through each of
// the three notification styles (see notifier).

// forEachStyle runs f on a fresh connection, overlapped on the client
// side, once with a notifier of each style for the client's socket.
func forEachStyle(t *testing.T, f func(t *testing.T, k *conn, n notifier)) {
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
			f(t, k, st.new(t, k.cth, k.c))
		})
	}
}

// diffResults compares notifications with those expected.
func diffResults(t *testing.T, want, got []result) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
}

// fill makes the client's sends pend: it shrinks the buffers and sends
// until an overlapped send pends, then returns that send's overlapped.
func fill(t *testing.T, k *conn, n notifier) *spi.Overlapped {
	t.Helper()
	setInt(t, k.cth, k.c, spi.SO_SNDBUF, 1)
	setInt(t, k.sth, k.s, spi.SO_RCVBUF, 1)
	must(k.cth.WSASend(k.c, [][]byte{pattern(0, 8)}, 0, nil, nil))(t) // 8 bytes buffered: full
	ov, cr := n.prepare()
	_, err := k.cth.WSASend(k.c, [][]byte{pattern(8, 8)}, 0, ov, cr)
	wantErr(t, "send into full buffers", opErr("WSASend", k.c, spi.WSA_IO_PENDING), err)
	return ov
}

func TestOverlappedPendingCompletionIsNotified(t *testing.T) {
	forEachStyle(t, func(t *testing.T, k *conn, n notifier) {
		ov, cr := n.prepare()
		buf := make([]byte, 8)
		pendRecv(t, k.cth, k.c, buf, ov, cr)
		if !ov.InProgress() {
			t.Errorf("Internal = %#x while pending, want WSS_OPERATION_IN_PROGRESS", ov.LoadInternal())
		}
		n.none(t)
		must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
		diffResults(t, []result{{ov, 4, 0}}, []result{n.next(t)})
		if string(buf[:4]) != "data" {
			t.Errorf("buffer = %q", buf)
		}
		n.none(t)
	})
}

func TestOverlappedImmediateSuccessIsStillNotified(t *testing.T) {
	forEachStyle(t, func(t *testing.T, k *conn, n notifier) {
		must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
		recvOv, cr := n.prepare()
		if got := must(k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, nil, recvOv, cr))(t); got != 4 {
			t.Errorf("immediate recv = %d bytes, want 4", got)
		}
		sendOv, cr := n.prepare()
		if got := must(k.cth.WSASend(k.c, [][]byte{[]byte("abc")}, 0, sendOv, cr))(t); got != 3 {
			t.Errorf("immediate send = %d bytes, want 3", got)
		}
		ioctlOv, cr := n.prepare()
		if got := must(k.cth.WSAIoctl(k.c, spi.FIONREAD, nil, make([]byte, 4), ioctlOv, cr))(t); got != 4 {
			t.Errorf("immediate FIONREAD = %d bytes, want 4", got)
		}
		diffResults(t, []result{{recvOv, 4, 0}, {sendOv, 3, 0}, {ioctlOv, 4, 0}}, []result{n.next(t), n.next(t), n.next(t)})
		n.none(t)
	})
}

func TestOverlappedImmediateFailureNotifiesNothing(t *testing.T) {
	forEachStyle(t, func(t *testing.T, k *conn, n notifier) {
		ov, cr := n.prepare()
		flags := uint32(spi.MSG_OOB)
		_, err := k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, &flags, ov, cr)
		wantErr(t, "recv with MSG_OOB", opErr("WSARecv", k.c, spi.WSAEOPNOTSUPP), err)
		_, err = k.cth.WSAIoctl(k.c, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, make([]byte, 16), make([]byte, 8), ov, cr)
		wantErr(t, "extension function of an unknown GUID", opErr("WSAIoctl", k.c, spi.WSAEINVAL), err)
		check(t, k.cth.Shutdown(k.c, spi.SD_SEND))
		_, err = k.cth.WSASend(k.c, [][]byte{[]byte("x")}, 0, ov, cr)
		wantErr(t, "send after shutdown", opErr("WSASend", k.c, spi.WSAESHUTDOWN), err)
		if ov.LoadInternal() != 0 || ov.LoadInternalHigh() != 0 {
			t.Errorf("failed calls wrote the status block: %+v", ov)
		}
		n.none(t)
	})
}

// On a connected stream socket the close aborts the connection's I/O:
// STATUS_CONNECTION_ABORTED, WSAECONNABORTED to Winsock (what Windows since
// Vista reports, docs/facts.md §9.4).
func TestClosesocketCompletesEachPendingOperationOnceWithWSAECONNABORTED(t *testing.T) {
	forEachStyle(t, func(t *testing.T, k *conn, n notifier) {
		send1 := fill(t, k, n)
		send2, cr := n.prepare()
		_, err := k.cth.WSASend(k.c, [][]byte{[]byte("queued")}, 0, send2, cr)
		wantErr(t, "second send", opErr("WSASend", k.c, spi.WSA_IO_PENDING), err)
		var recvs []*spi.Overlapped
		for range 2 {
			ov, cr := n.prepare()
			pendRecv(t, k.cth, k.c, make([]byte, 8), ov, cr)
			recvs = append(recvs, ov)
		}
		check(t, k.cth.Closesocket(k.c))

		got := map[*spi.Overlapped]result{}
		for range 4 {
			r := n.next(t)
			if _, dup := got[r.Ov]; dup {
				t.Errorf("operation notified twice: %+v", r)
			}
			got[r.Ov] = r
		}
		n.none(t)
		want := map[*spi.Overlapped]result{}
		for _, ov := range []*spi.Overlapped{send1, send2, recvs[0], recvs[1]} {
			want[ov] = result{ov, 0, spi.WSAECONNABORTED}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("notifications (-want +got):\n%s", diff)
		}
		_, err = k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, nil, nil, nil)
		wantErr(t, "recv after close", opErr("WSARecv", k.c, spi.WSAENOTSOCK), err)
	})
}

func TestWSACleanupCancelsPendingOperationsSilently(t *testing.T) {
	forEachStyle(t, func(t *testing.T, k *conn, n notifier) {
		send := fill(t, k, n)
		recv, cr := n.prepare()
		pendRecv(t, k.cth, k.c, make([]byte, 8), recv, cr)
		check(t, k.client.WSACleanup())
		n.none(t)
		for _, ov := range []*spi.Overlapped{send, recv} {
			if got := spi.NTStatus(ov.LoadInternal()); got != spi.STATUS_CANCELLED {
				t.Errorf("Internal after WSACleanup = %v, want STATUS_CANCELLED", got)
			}
		}
		for h, kind := range liveObjects(k.client) {
			if kind != handles.KindPort && kind != handles.KindEvent {
				t.Errorf("handle %v (%v) survives WSACleanup", h, kind)
			}
		}
		// The server sees its connection reset.
		_, err := k.sth.WSARecv(k.s, [][]byte{make([]byte, 8)}, nil, nil, nil)
		wantErr(t, "server recv", opErr("WSARecv", k.s, spi.WSAECONNRESET), err)
	})
}

func TestCancelIoAbortsOnlyTheCallingThreadsOperations(t *testing.T) {
	forEachStyle(t, func(t *testing.T, k *conn, n notifier) {
		ov1, cr := n.prepare()
		pendRecv(t, k.cth, k.c, make([]byte, 4), ov1, cr)
		ov2, cr := n.prepare()
		if cr != nil {
			ov2 = nil // ReadFile takes no completion routine
		} else {
			_, err := k.cth.ReadFile(k.c, make([]byte, 4), ov2)
			wantErr(t, "ReadFile", opErr("ReadFile", k.c, spi.WSA_IO_PENDING), err)
		}

		other := k.client.NewThread()
		check(t, other.CancelIo(k.c))
		n.none(t)
		check(t, k.cth.CancelIo(k.c))
		want := []result{{ov1, 0, spi.ERROR_OPERATION_ABORTED}}
		got := []result{n.next(t)}
		if ov2 != nil {
			want = append(want, result{ov2, 0, spi.ERROR_OPERATION_ABORTED})
			got = append(got, n.next(t))
		}
		diffResults(t, want, got)
		n.none(t)
		check(t, k.cth.CancelIo(k.c)) // nothing left: still success

		// The socket still works.
		ov3, cr := n.prepare()
		pendRecv(t, k.cth, k.c, make([]byte, 4), ov3, cr)
		must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
		diffResults(t, []result{{ov3, 4, 0}}, []result{n.next(t)})
	})
}

func TestCancelIoExAbortsTheNamedOperationOfAnyThread(t *testing.T) {
	forEachStyle(t, func(t *testing.T, k *conn, n notifier) {
		var ovs []*spi.Overlapped
		for range 2 {
			ov, cr := n.prepare()
			pendRecv(t, k.cth, k.c, make([]byte, 4), ov, cr)
			ovs = append(ovs, ov)
		}
		other := k.client.NewThread()
		check(t, other.CancelIoEx(k.c, ovs[1]))
		diffResults(t, []result{{ovs[1], 0, spi.ERROR_OPERATION_ABORTED}}, []result{n.next(t)})
		n.none(t)
		wantErr(t, "CancelIoEx again", opErr("CancelIoEx", k.c, spi.ERROR_NOT_FOUND), other.CancelIoEx(k.c, ovs[1]))
		check(t, other.CancelIoEx(k.c, nil))
		diffResults(t, []result{{ovs[0], 0, spi.ERROR_OPERATION_ABORTED}}, []result{n.next(t)})
		n.none(t)
	})
}

func TestCancelIoExWithNothingToCancelFailsWithERROR_NOT_FOUND(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	var ov spi.Overlapped
	wantErr(t, "CancelIoEx(nil)", opErr("CancelIoEx", k.c, spi.ERROR_NOT_FOUND), k.cth.CancelIoEx(k.c, nil))
	wantErr(t, "CancelIoEx(ov)", opErr("CancelIoEx", k.c, spi.ERROR_NOT_FOUND), k.cth.CancelIoEx(k.c, &ov))
	// An operation that already completed is not there to cancel.
	must(k.sth.WSASend(k.s, [][]byte{[]byte("x")}, 0, nil, nil))(t)
	must(k.cth.WSARecv(k.c, [][]byte{make([]byte, 4)}, nil, &ov, nil))(t)
	wantErr(t, "CancelIoEx of a completed operation", opErr("CancelIoEx", k.c, spi.ERROR_NOT_FOUND), k.cth.CancelIoEx(k.c, &ov))
}

func TestWSAGetOverlappedResultReportsWSA_IO_INCOMPLETEUntilDone(t *testing.T) {
	k, _, ov := pendingConn(t, true)
	_, _, err := k.cth.WSAGetOverlappedResult(k.c, ov, false)
	wantErr(t, "while pending", opErr("WSAGetOverlappedResult", k.c, spi.WSA_IO_INCOMPLETE), err)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("abc")}, 0, nil, nil))(t)
	bytes, flags, err := k.cth.WSAGetOverlappedResult(k.c, ov, false)
	if bytes != 3 || flags != 0 || err != nil {
		t.Errorf("once done = %d, %#x, %v; want 3, 0, nil", bytes, flags, err)
	}
}

func TestWSAGetOverlappedResultWithWaitBlocksUntilDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, _, ov := pendingConn(t, true)
		done := blocks(t, "WSAGetOverlappedResult", func() result {
			bytes, _, err := k.cth.WSAGetOverlappedResult(k.c, ov, true)
			return result{ov, bytes, spi.ErrnoOf(err)}
		})
		must(k.sth.WSASend(k.s, [][]byte{[]byte("abc")}, 0, nil, nil))(t)
		diffResults(t, []result{{ov, 3, 0}}, []result{<-done})
	})
}

func TestFileSkipCompletionPortOnSuccessSkipsOnlyImmediateSuccesses(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	n := newPortNotifier(t, k.cth, k.c)
	check(t, k.client.SetFileCompletionNotificationModes(k.c, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))

	ev := must(k.client.WSACreateEvent())(t)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
	immediate := spi.Overlapped{HEvent: ev}
	if got := must(k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, nil, &immediate, nil))(t); got != 4 {
		t.Errorf("immediate recv = %d", got)
	}
	n.none(t)
	if r, err := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != spi.WSA_WAIT_EVENT_0 || err != nil {
		t.Errorf("the event of a skipped packet is not signalled: %#x, %v", r, err)
	}
	if immediate.LoadInternal() != 0 || immediate.LoadInternalHigh() != 4 {
		t.Errorf("status block %+v", immediate)
	}

	var pending spi.Overlapped
	pendRecv(t, k.cth, k.c, make([]byte, 8), &pending, nil)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("more")}, 0, nil, nil))(t)
	diffResults(t, []result{{&pending, 4, 0}}, []result{n.next(t)})

	setLinger(t, k.sth, k.s, 1, 0)
	check(t, k.sth.Closesocket(k.s))
	var failed spi.Overlapped
	_, err := k.cth.WSARecv(k.c, [][]byte{make([]byte, 8)}, nil, &failed, nil)
	wantErr(t, "recv on a reset connection", opErr("WSARecv", k.c, spi.WSAECONNRESET), err)
	n.none(t)
}

func TestFileSkipCompletionPortOnSuccessSkipsATruncatedDatagram(t *testing.T) {
	w, c, s, saddr := udpPair(t, spi.AF_INET)
	n := newPortNotifier(t, w.sth, s)
	check(t, w.server.SetFileCompletionNotificationModes(s, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))
	must(w.cth.WSASendTo(c, [][]byte{[]byte("0123456789")}, 0, saddr, nil, nil))(t)
	var ov spi.Overlapped
	n2, err := w.sth.WSARecvFrom(s, [][]byte{make([]byte, 4)}, nil, nil, &ov, nil)
	wantErr(t, "recvfrom", opErr("WSARecvFrom", s, spi.WSAEMSGSIZE), err)
	if n2 != 4 {
		t.Errorf("truncating recvfrom = %d bytes, want 4", n2)
	}
	n.none(t)
}

func TestEventLowBitKeepsThePacketOffThePortButSignalsTheEvent(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	n := newPortNotifier(t, k.cth, k.c)
	ev := must(k.client.WSACreateEvent())(t)
	wait := func(what string) {
		t.Helper()
		if r, err := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != spi.WSA_WAIT_EVENT_0 || err != nil {
			t.Errorf("%s: event not signalled: %#x, %v", what, r, err)
		}
		check(t, k.client.WSAResetEvent(ev))
	}

	pending := spi.Overlapped{HEvent: ev | 1}
	pendRecv(t, k.cth, k.c, make([]byte, 8), &pending, nil)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
	wait("pending recv")
	n.none(t)
	if bytes, _, err := k.cth.WSAGetOverlappedResult(k.c, &pending, false); bytes != 4 || err != nil {
		t.Errorf("WSAGetOverlappedResult = %d, %v", bytes, err)
	}

	immediate := spi.Overlapped{HEvent: ev | 1}
	must(k.cth.WSASend(k.c, [][]byte{[]byte("abc")}, 0, &immediate, nil))(t)
	wait("immediate send")
	n.none(t)
}

func TestCompletionRoutineRunsOnlyInAnAlertableWaitOfTheIssuingThread(t *testing.T) {
	waits := []struct {
		name string
		wait func(k *conn, ev, port spi.Handle) (uint32, error)
		want uint32
		err  func(port spi.Handle) error
	}{
		{"SleepEx", func(k *conn, _, _ spi.Handle) (uint32, error) { return k.cth.SleepEx(long, true) }, spi.WAIT_IO_COMPLETION, nil},
		{"WSAWaitForMultipleEvents", func(k *conn, ev, _ spi.Handle) (uint32, error) {
			return k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, long, true)
		}, spi.WSA_WAIT_IO_COMPLETION, nil},
		{"GetQueuedCompletionStatusEx", func(k *conn, _, port spi.Handle) (uint32, error) {
			n, err := k.cth.GetQueuedCompletionStatusEx(port, make([]spi.OverlappedEntry, 4), long, true)
			return uint32(n), err
		}, 0, func(port spi.Handle) error {
			return opErr("GetQueuedCompletionStatusEx", port, spi.WAIT_IO_COMPLETION)
		}},
	}
	for _, w := range waits {
		t.Run(w.name, func(t *testing.T) {
			k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
			ev := must(k.client.WSACreateEvent())(t)
			port := must(k.client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
			var ran []result
			var ov spi.Overlapped
			routine := func(e spi.Errno, bytes uint32, ov *spi.Overlapped, flags uint32) {
				ran = append(ran, result{ov, bytes, e})
			}
			pendRecv(t, k.cth, k.c, make([]byte, 8), &ov, routine)
			must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
			if ov.InProgress() {
				t.Fatal("the receive has not completed")
			}

			// Waits that are not alertable, and the alertable waits of
			// another thread, leave the routine queued.
			if r, err := k.cth.SleepEx(0, false); r != 0 || err != nil {
				t.Errorf("SleepEx(0, false) = %#x, %v", r, err)
			}
			if r, err := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != uint32(spi.WSA_WAIT_TIMEOUT) || err != nil {
				t.Errorf("WSAWaitForMultipleEvents(not alertable) = %#x, %v", r, err)
			}
			_, err := k.cth.GetQueuedCompletionStatusEx(port, make([]spi.OverlappedEntry, 4), 0, false)
			wantErr(t, "GetQueuedCompletionStatusEx(not alertable)", opErr("GetQueuedCompletionStatusEx", port, spi.WAIT_TIMEOUT), err)
			_, err = k.cth.GetQueuedCompletionStatus(port, 0)
			wantErr(t, "GetQueuedCompletionStatus", opErr("GetQueuedCompletionStatus", port, spi.WAIT_TIMEOUT), err)
			if r, err := k.client.NewThread().SleepEx(0, true); r != 0 || err != nil {
				t.Errorf("another thread's SleepEx(0, true) = %#x, %v", r, err)
			}
			if len(ran) != 0 {
				t.Fatalf("routine ran outside an alertable wait of its thread: %+v", ran)
			}

			r, err := w.wait(k, ev, port)
			if r != w.want {
				t.Errorf("%s = %#x, want %#x", w.name, r, w.want)
			}
			var want error
			if w.err != nil {
				want = w.err(port)
			}
			wantErr(t, w.name, want, err)
			diffResults(t, []result{{&ov, 4, 0}}, ran)
			if r, _ := k.cth.SleepEx(0, true); r != 0 || len(ran) != 1 {
				t.Errorf("the routine ran again: SleepEx = %#x, runs %d", r, len(ran))
			}
		})
	}
}

func TestThreadExitCancelsTheIOItIssued(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	th := k.client.NewThread()
	withEvent := spi.Overlapped{HEvent: must(k.client.WSACreateEvent())(t)}
	pendRecv(t, th, k.c, make([]byte, 8), &withEvent, nil)
	var withRoutine spi.Overlapped
	pendRecv(t, th, k.c, make([]byte, 8), &withRoutine, func(spi.Errno, uint32, *spi.Overlapped, uint32) {
		t.Error("the routine of an exited thread ran")
	})
	th.Exit()

	if r, err := k.cth.WSAWaitForMultipleEvents([]spi.Handle{withEvent.HEvent}, false, 0, false); r != spi.WSA_WAIT_EVENT_0 || err != nil {
		t.Errorf("event of the cancelled receive not signalled: %#x, %v", r, err)
	}
	for _, ov := range []*spi.Overlapped{&withEvent, &withRoutine} {
		_, _, err := k.cth.WSAGetOverlappedResult(k.c, ov, false)
		wantErr(t, "WSAGetOverlappedResult", opErr("WSAGetOverlappedResult", k.c, spi.ERROR_OPERATION_ABORTED), err)
	}
	must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
	if got := fionread(t, k.cth, k.c); got != 4 {
		t.Errorf("FIONREAD = %d, want 4: the exited thread's receives took the data", got)
	}
}

func TestThreadExitLeavesTheIOOfAHandleWithAPort(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	n := newPortNotifier(t, k.cth, k.c)
	th := k.client.NewThread()
	ov, _ := n.prepare()
	pendRecv(t, th, k.c, make([]byte, 8), ov, nil)
	th.Exit()
	n.none(t)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
	diffResults(t, []result{{ov, 4, 0}}, []result{n.next(t)})
}
