package loopback_test

import (
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

func TestOverlappedCallsOnANonOverlappedSocketAreWSAEINVAL(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pair(0)
	_, _, err := p.ovSend(c, "x")
	wantErr(t, "send", err, spi.WSAEINVAL)
	_, _, _, err = p.ovRecv(c, 1, 0)
	wantErr(t, "recv", err, spi.WSAEINVAL)
	_, err = p.tab.WSPIoctl(c, spi.FIONREAD, nil, make([]byte, 4), new(spi.Overlapped), nil, nil)
	wantErr(t, "ioctl", err, spi.WSAEINVAL)
	diff(t, "completions", []completion(nil), p.k.completions(t))
	// A completion routine without an overlapped is not an overlapped call.
	cr := func(spi.Errno, uint32, *spi.Overlapped, uint32) { t.Error("routine called") }
	_, err = p.tab.WSPSend(c, [][]byte{[]byte("x")}, 0, nil, cr, nil)
	wantErr(t, "send with a routine only", err, nil)
}

func TestReadFileAndWriteFileWithAnOverlappedOnANonOverlappedSocketAreSynchronous(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	// With nothing to read the call fails as a nonblocking call does,
	// rather than pending, and notifies nothing.
	if _, err := p.tab.WSPIoctl(c, spi.FIONBIO, []byte{1, 0, 0, 0}, nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	read := &spi.Overlapped{}
	_, err := p.k.driver(c).ReadFile(make([]byte, 8), spi.IORequest{Overlapped: read})
	wantErr(t, "ReadFile with nothing to read", err, spi.WSAEWOULDBLOCK)
	diff(t, "completions of a failure", []completion(nil), p.k.completions(t))

	if _, err := p.tab.WSPSend(s, [][]byte{[]byte("abc")}, 0, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := p.k.driver(c).ReadFile(make([]byte, 8), spi.IORequest{Overlapped: read}); n != 3 || err != nil {
		t.Errorf("ReadFile = %d, %v; want 3, nil", n, err)
	}
	write := &spi.Overlapped{}
	if n, err := p.k.driver(c).WriteFile([]byte("xy"), spi.IORequest{Overlapped: write}); n != 2 || err != nil {
		t.Errorf("WriteFile = %d, %v; want 2, nil", n, err)
	}
	diff(t, "completions", []completion{{c, read, 0, 3, 0, true}, {c, write, 0, 2, 0, true}}, p.k.completions(t))
}

func TestImmediateSuccessStillCallsCompleteWithTheProviderConvention(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pair(ovFlag)
	ov := &spi.Overlapped{Offset: 77, OffsetHigh: 88}
	n, err := p.tab.WSPSend(c, [][]byte{[]byte("now")}, 0, ov, nil, &spi.ThreadID{ThreadHandle: 40})
	if err != nil || n != 3 {
		t.Fatalf("send = %d, %v", n, err)
	}
	diff(t, "completions", []completion{{c, ov, 0, 3, 0, true}}, p.k.completions(t))
	if ov.Offset != 0 || ov.OffsetHigh != 0 {
		t.Errorf("Offset, OffsetHigh = %d, %d; want flags 0 and error 0", ov.Offset, ov.OffsetHigh)
	}
	bytes, flags, err := p.tab.WSPGetOverlappedResult(c, ov, false)
	if bytes != 3 || flags != 0 || err != nil {
		t.Errorf("WSPGetOverlappedResult = %d, %d, %v", bytes, flags, err)
	}
}

func TestImmediateFailureNotifiesNothing(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pair(ovFlag)
	p.must(p.tab.WSPShutdown(c, spi.SD_SEND))
	ov := new(spi.Overlapped)
	_, err := p.tab.WSPSend(c, [][]byte{[]byte("x")}, 0, ov, nil, nil)
	wantErr(t, "send", err, spi.WSAESHUTDOWN)
	diff(t, "completions", []completion(nil), p.k.completions(t))
	if ov.InProgress() {
		t.Error("a failed call left Internal in progress")
	}
}

func TestPendingOperationCompletesLaterThroughComplete(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	ov, buf, n, err := p.ovRecv(s, 10, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	if n != 0 || !ov.InProgress() {
		t.Errorf("pending recv: n = %d, Internal = %#x", n, ov.LoadInternal())
	}
	_, _, err = p.tab.WSPGetOverlappedResult(s, ov, false)
	wantErr(t, "WSPGetOverlappedResult while pending", err, spi.WSA_IO_INCOMPLETE)
	p.send(c, "later")
	diff(t, "completions", []completion{{s, ov, 0, 5, 0, false}}, p.k.completions(t))
	diff(t, "data", "later", string(buf[:5]))
	bytes, _, err := p.tab.WSPGetOverlappedResult(s, ov, false)
	if bytes != 5 || err != nil {
		t.Errorf("WSPGetOverlappedResult = %d, %v", bytes, err)
	}
}

func TestGetOverlappedResultWaitsForThePendingOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		c, s := p.pair(ovFlag)
		ov, _, _, err := p.ovRecv(s, 10, 0)
		wantErr(t, "recv", err, spi.WSA_IO_PENDING)
		type result struct {
			bytes uint32
			err   error
		}
		got := make(chan result)
		go func() {
			b, _, err := p.tab.WSPGetOverlappedResult(s, ov, true)
			got <- result{b, err}
		}()
		synctest.Wait()
		select {
		case r := <-got:
			t.Fatalf("WSPGetOverlappedResult returned %v while pending", r)
		default:
		}
		p.send(c, "wake")
		r := <-got
		if r.bytes != 4 || r.err != nil {
			t.Errorf("WSPGetOverlappedResult = %d, %v", r.bytes, r.err)
		}
	})
}

func TestGetOverlappedResultRejectsUnknownOperations(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	ov, _, _, err := p.ovRecv(s, 10, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	_, _, err = p.tab.WSPGetOverlappedResult(c, ov, true)
	wantErr(t, "waiting on another socket's operation", err, spi.WSAEINVAL)
	stray := new(spi.Overlapped)
	stray.SetInProgress()
	_, _, err = p.tab.WSPGetOverlappedResult(s, stray, true)
	wantErr(t, "waiting on an unknown operation", err, spi.WSAEINVAL)
	_, _, err = p.tab.WSPGetOverlappedResult(s, nil, false)
	wantErr(t, "nil overlapped", err, spi.WSAEFAULT)
}

func TestClosingASocketAbortsEachPendingOperationOnceThenClosesTheFileObject(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	p.limit(c, s, 0, 0)
	p.send(c, "fill")
	send, _, err := p.ovSend(c, "queued")
	wantErr(t, "send", err, spi.WSA_IO_PENDING)
	recv1, _, _, err := p.ovRecv(c, 4, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	recv2, _, _, err := p.ovRecv(c, 4, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	p.must(p.tab.WSPCloseSocket(c))
	aborted := spi.WSAECONNABORTED // a connected stream socket's I/O
	diff(t, "events", []event{
		{Complete: &completion{c, send, aborted, 0, 0, false}},
		{Complete: &completion{c, recv1, aborted, 0, 0, false}},
		{Complete: &completion{c, recv2, aborted, 0, 0, false}},
		{Closed: c},
	}, p.k.take())
	_, _, err = p.tab.WSPGetOverlappedResult(s, recv1, false)
	wantErr(t, "result of an aborted operation", err, aborted)
	if send.OffsetHigh != uint32(aborted) {
		t.Errorf("OffsetHigh = %d, want WSAECONNABORTED", send.OffsetHigh)
	}
	got, _ := p.recv(s, 100)
	diff(t, "the peer gets what was accepted, not the aborted send", "fill", got)
}

func TestLastCleanupCancelsPendingOperationsWithoutNotification(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	ov, _, _, err := p.ovRecv(c, 4, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	ov2, _, _, err := p.ovRecv(s, 4, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	for range p.entries {
		p.must(p.tab.WSPCleanup())
	}
	var closed []spi.Handle
	for _, e := range p.k.take() {
		if e.Complete != nil {
			t.Errorf("Complete called during cleanup: %+v", *e.Complete)
			continue
		}
		closed = append(closed, e.Closed)
	}
	if len(closed) != 2 {
		t.Errorf("closed %v, want both sockets", closed)
	}
	for _, o := range []*spi.Overlapped{ov, ov2} {
		if spi.NTStatus(o.LoadInternal()) != spi.STATUS_CANCELLED || o.OffsetHigh != uint32(spi.WSA_OPERATION_ABORTED) {
			t.Errorf("cancelled operation: Internal %#x OffsetHigh %d", o.LoadInternal(), o.OffsetHigh)
		}
	}
}

func TestCleanupResetsConnectionsToOtherProcesses(t *testing.T) {
	net := loopback.NewNetwork()
	server, client := newProc(t, net), newProc(t, net)
	l, a := server.listener(spi.AF_INET, 0)
	c := client.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	client.must(client.tab.WSPConnect(c, a, nil, nil, nil, nil))
	_, _, err := server.tab.WSPAccept(l, nil, nil)
	server.must(err)
	for range server.entries {
		server.must(server.tab.WSPCleanup())
	}
	_, err = client.recv(c, 1)
	wantErr(t, "client recv", err, spi.WSAECONNRESET)
}

func TestAnOverlappedOperationResetsItsEventWhenItStarts(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pair(ovFlag)
	ov := &spi.Overlapped{HEvent: 0x41} // low bit set: the event is 0x40
	_, err := p.tab.WSPSend(c, [][]byte{[]byte("x")}, 0, ov, nil, nil)
	p.must(err)
	cr := func(spi.Errno, uint32, *spi.Overlapped, uint32) {}
	_, err = p.tab.WSPSend(c, [][]byte{[]byte("x")}, 0, &spi.Overlapped{HEvent: 0x80}, cr, nil)
	p.must(err)
	diff(t, "events reset", []spi.Handle{0x40}, p.k.resets)
	p.k.resetErr = spi.ERROR_INVALID_HANDLE
	_, err = p.tab.WSPSend(c, [][]byte{[]byte("x")}, 0, &spi.Overlapped{HEvent: 0x44}, nil, nil)
	wantErr(t, "send with a bad event", err, spi.WSA_INVALID_HANDLE)
}

func TestReadFileAndWriteFileMoveBytes(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	w, r := p.k.driver(c), p.k.driver(s)
	n, err := w.WriteFile([]byte("via the driver"), spi.IORequest{})
	if n != 14 || err != nil {
		t.Fatalf("WriteFile = %d, %v", n, err)
	}
	buf := make([]byte, 3)
	n, err = r.ReadFile(buf, spi.IORequest{})
	if n != 3 || err != nil || string(buf) != "via" {
		t.Errorf("ReadFile = %d %q, %v", n, buf, err)
	}
	ov := new(spi.Overlapped)
	big := make([]byte, 100)
	n, err = r.ReadFile(big, spi.IORequest{Overlapped: ov})
	if n != 11 || err != nil {
		t.Errorf("overlapped ReadFile = %d, %v", n, err)
	}
	diff(t, "completions", []completion{{s, ov, 0, 11, 0, true}}, p.k.completions(t))
	ov2 := new(spi.Overlapped)
	_, err = r.ReadFile(big, spi.IORequest{Overlapped: ov2})
	wantErr(t, "pending ReadFile", err, spi.WSA_IO_PENDING)
	p.send(c, "!")
	diff(t, "pending completion", []completion{{s, ov2, 0, 1, 0, false}}, p.k.completions(t))
}

func TestCancelIoCancelsMatchingOperationsOnce(t *testing.T) {
	p := newTestProc(t)
	_, s := p.pair(ovFlag)
	t1, t2 := spi.ThreadID{ThreadHandle: 100}, spi.ThreadID{ThreadHandle: 200}
	start := func(th spi.ThreadID) *spi.Overlapped {
		ov := new(spi.Overlapped)
		var flags uint32
		_, err := p.tab.WSPRecv(s, [][]byte{make([]byte, 1)}, &flags, ov, nil, &th)
		wantErr(t, "recv", err, spi.WSA_IO_PENDING)
		return ov
	}
	a, b, c, d := start(t1), start(t2), start(t1), start(t2)
	drv := p.k.driver(s)
	abort := spi.ERROR_OPERATION_ABORTED
	if n := drv.CancelIo(t1, false, c); n != 1 {
		t.Errorf("CancelIo(t1, c) = %d, want 1", n)
	}
	diff(t, "one op", []completion{{s, c, abort, 0, 0, false}}, p.k.completions(t))
	if n := drv.CancelIo(t1, false, nil); n != 1 {
		t.Errorf("CancelIo(t1) = %d, want 1", n)
	}
	diff(t, "thread's ops", []completion{{s, a, abort, 0, 0, false}}, p.k.completions(t))
	if n := drv.CancelIo(t1, true, nil); n != 2 {
		t.Errorf("CancelIoEx(all) = %d, want 2", n)
	}
	diff(t, "all ops", []completion{{s, b, abort, 0, 0, false}, {s, d, abort, 0, 0, false}}, p.k.completions(t))
	if n := drv.CancelIo(t1, true, nil); n != 0 {
		t.Errorf("CancelIo with nothing pending = %d", n)
	}
}

func TestCancellingAHeadReceiveLetsTheNextOneHaveTheData(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	p.send(c, "ab")
	first, _, _, err := p.ovRecv(s, 4, spi.MSG_WAITALL) // takes "ab", waits for more
	wantErr(t, "waitall", err, spi.WSA_IO_PENDING)
	second, buf, _, err := p.ovRecv(s, 4, 0)
	wantErr(t, "second", err, spi.WSA_IO_PENDING)
	p.k.driver(s).CancelIo(spi.ThreadID{}, true, first)
	diff(t, "completions", []completion{{s, first, spi.ERROR_OPERATION_ABORTED, 2, 0, false}}, p.k.completions(t))
	p.send(c, "cd")
	diff(t, "second", []completion{{s, second, 0, 2, 0, false}}, p.k.completions(t))
	diff(t, "second's data", "cd", string(buf[:2]))
}

func TestCompleteIsCalledWithoutTheNetworkLock(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	calls := 0
	p.k.onComplete = func(completion) {
		calls++
		if _, err := p.tab.WSPGetPeerName(c); err != nil { // takes the network lock
			t.Error(err)
		}
	}
	_, _, _, err := p.ovRecv(s, 4, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	p.ovSend(c, "ab")
	if calls != 2 {
		t.Errorf("%d Complete calls, want 2", calls)
	}
}

func TestAnImmediateCompletionWaitsBehindEarlierCompletionsOfItsSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		c, s := p.pair(ovFlag)
		recv, _, _, err := p.ovRecv(s, 4, 0)
		wantErr(t, "recv", err, spi.WSA_IO_PENDING)
		release := make(chan struct{})
		p.k.onComplete = func(k completion) {
			if k.Ov == recv {
				<-release // the receive's Complete call is slow
			}
		}
		go p.send(c, "ab") // completes s's receive, and delivers it
		synctest.Wait()
		returned := make(chan struct{})
		send := new(spi.Overlapped)
		go func() {
			_, err := p.tab.WSPSend(s, [][]byte{[]byte("x")}, 0, send, nil, nil)
			wantErr(t, "immediate send", err, nil)
			close(returned)
		}()
		synctest.Wait()
		select {
		case <-returned:
			t.Fatal("the immediate send returned before its Complete call")
		default:
		}
		close(release)
		<-returned
		diff(t, "completions in order", []completion{
			{s, recv, 0, 2, 0, false},
			{s, send, 0, 1, 0, true},
		}, p.k.completions(t))
	})
}

func TestCancelIoLeavesBlockingCallsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		c, s := p.pair(ovFlag)
		got := make(chan string)
		go func() {
			data, err := p.recv(s, 10)
			p.must(err)
			got <- data
		}()
		synctest.Wait()
		if n := p.k.driver(s).CancelIo(spi.ThreadID{}, true, nil); n != 0 {
			t.Errorf("CancelIo = %d, want 0", n)
		}
		p.send(c, "still")
		diff(t, "blocked receive", "still", <-got)
	})
}

func TestDisconnectEntriesShutDownTheConnection(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	wantErr(t, "disconnect data", p.tab.WSPSendDisconnect(c, []byte("bye")), spi.WSAENOPROTOOPT)
	p.must(p.tab.WSPSendDisconnect(c, nil))
	eof, err := p.recv(s, 10)
	if eof != "" || err != nil {
		t.Errorf("peer recv after WSPSendDisconnect = %q, %v; want 0 bytes", eof, err)
	}
	data, err := p.tab.WSPRecvDisconnect(s)
	if data != nil || err != nil {
		t.Errorf("WSPRecvDisconnect = %q, %v", data, err)
	}
	_, err = p.recv(s, 1)
	wantErr(t, "recv after WSPRecvDisconnect", err, spi.WSAESHUTDOWN)
}

func TestCleanupInterruptsBlockedCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		u := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
		p.bind(u, "127.0.0.1:0")
		l, _ := p.listener(spi.AF_INET, 0)
		errs := make(chan error, 2)
		go func() {
			_, _, _, err := p.recvFrom(u, 10)
			errs <- err
		}()
		go func() {
			_, _, err := p.tab.WSPAccept(l, nil, nil)
			errs <- err
		}()
		synctest.Wait()
		for range p.entries {
			p.must(p.tab.WSPCleanup())
		}
		wantErr(t, "first", <-errs, spi.WSAEINTR)
		wantErr(t, "second", <-errs, spi.WSAEINTR)
	})
}
