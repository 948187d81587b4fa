package loopback_test

import (
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

const forever = math.MaxInt64

func want1(h spi.Socket, ev uint32) spi.AFDPollHandleInfo {
	return spi.AFDPollHandleInfo{Handle: spi.Handle(h), Events: ev}
}

// poll issues IOCTL_AFD_POLL on handle on, with one buffer as input and
// output, as wepoll does.
func (p *proc) poll(on spi.Socket, timeout int64, exclusive bool, hs ...spi.AFDPollHandleInfo) (*spi.Overlapped, []byte, uint32, error) {
	p.t.Helper()
	info := spi.AFDPollInfo{Timeout: timeout, Exclusive: exclusive, Handles: hs}
	b := info.Marshal()
	ov := new(spi.Overlapped)
	n, err := p.controller(on).DeviceIoControl(spi.IOCTL_AFD_POLL, b, b, spi.IORequest{Overlapped: ov})
	return ov, b, n, err
}

func (p *proc) controller(h spi.Socket) spi.DeviceController {
	p.t.Helper()
	dc, ok := p.k.driver(h).(spi.DeviceController)
	if !ok {
		p.t.Fatalf("the driver of %v is no DeviceController", h)
	}
	return dc
}

func parsePoll(t *testing.T, b []byte) spi.AFDPollInfo {
	t.Helper()
	info, err := spi.ParseAFDPollInfo(b)
	if err != nil {
		// NumberOfHandles 0 is what a poll that ended without events writes.
		if len(b) >= 16 && b[8]|b[9]|b[10]|b[11] == 0 {
			return spi.AFDPollInfo{Timeout: int64(leU64(b)), Exclusive: b[12] != 0}
		}
		t.Fatalf("output: %v", err)
	}
	return info
}

func leU64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func TestAFDPollCompletesAtOnceWhenARequestedEventHolds(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			p := newTestProc(t)
			c, _ := p.pairOf(f.af)
			ov, b, n, err := p.poll(c, forever, false, want1(c, spi.AFD_POLL_SEND|spi.AFD_POLL_RECEIVE|spi.AFD_POLL_LOCAL_CLOSE))
			wantErr(t, "DeviceIoControl", err, nil)
			diff(t, "bytes", uint32(spi.AFDPollInfoSize(1)), n)
			diff(t, "completions", []ntCompletion{{c, ov, spi.STATUS_SUCCESS, 32, true}}, p.k.takeNT())
			diff(t, "output", spi.AFDPollInfo{Timeout: forever, Handles: []spi.AFDPollHandleInfo{want1(c, spi.AFD_POLL_SEND)}}, parsePoll(t, b))
		})
	}
}

func TestAFDPollPendsUntilAnEventComes(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET6)
	ov, b, _, err := p.poll(c, forever, false, want1(c, spi.AFD_POLL_RECEIVE|spi.AFD_POLL_LOCAL_CLOSE))
	wantErr(t, "DeviceIoControl", err, spi.STATUS_PENDING)
	if !ov.InProgress() {
		t.Error("a pending poll's Internal is not STATUS_PENDING")
	}
	diff(t, "completions while nothing holds", []ntCompletion(nil), p.k.takeNT())
	p.send(s, "x")
	diff(t, "completions", []ntCompletion{{c, ov, spi.STATUS_SUCCESS, 32, false}}, p.k.takeNT())
	diff(t, "output", spi.AFDPollInfo{Timeout: forever, Handles: []spi.AFDPollHandleInfo{want1(c, spi.AFD_POLL_RECEIVE)}}, parsePoll(t, b))
	diff(t, "Internal", uintptr(spi.STATUS_SUCCESS), ov.LoadInternal())
}

func TestAFDPollOutputListsOnlyTheHandlesWithEventsInInputOrder(t *testing.T) {
	p := newTestProc(t)
	c1, _ := p.pairOf(spi.AF_INET)
	c2, s2 := p.pairOf(spi.AF_INET)
	c3, s3 := p.pairOf(spi.AF_INET)
	p.send(s2, "a")
	p.send(s3, "b")
	all := uint32(spi.AFD_POLL_RECEIVE)
	_, b, n, err := p.poll(c1, forever, true, want1(c3, all), want1(c1, all), want1(c2, all))
	wantErr(t, "DeviceIoControl", err, nil)
	diff(t, "bytes", uint32(spi.AFDPollInfoSize(2)), n)
	diff(t, "output", spi.AFDPollInfo{Timeout: forever, Exclusive: true,
		Handles: []spi.AFDPollHandleInfo{want1(c3, all), want1(c2, all)}}, parsePoll(t, b))
}

// pollNow returns the AFD_POLL_* events that hold on h, polling with
// timeout 0 on h itself.
func (p *proc) pollNow(t *testing.T, h spi.Socket) uint32 {
	t.Helper()
	_, b, _, err := p.poll(h, 0, false, want1(h, spi.AFD_POLL_ALL))
	wantErr(t, "DeviceIoControl", err, nil)
	out := parsePoll(t, b)
	p.k.takeNT()
	if len(out.Handles) == 0 {
		return 0
	}
	return out.Handles[0].Events
}

func TestAFDPollEventsOfEachState(t *testing.T) {
	p := newTestProc(t)
	const connected = spi.AFD_POLL_CONNECT | spi.AFD_POLL_SEND

	fresh := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	diff(t, "an unconnected TCP socket", uint32(0), p.pollNow(t, fresh))

	l, a := p.listener(spi.AF_INET, 0)
	diff(t, "an idle listener", uint32(0), p.pollNow(t, l))
	p.must(p.tab.WSPConnect(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), a, nil, nil, nil, nil))
	diff(t, "a listener with a connection", uint32(spi.AFD_POLL_ACCEPT), p.pollNow(t, l))

	c, s := p.pairOf(spi.AF_INET)
	diff(t, "a connected socket", uint32(connected), p.pollNow(t, c))
	p.send(s, "hi")
	p.must(p.tab.WSPShutdown(s, spi.SD_SEND))
	diff(t, "data before the FIN", uint32(connected|spi.AFD_POLL_RECEIVE), p.pollNow(t, c))
	p.recv(c, 10)
	diff(t, "the FIN, data read", uint32(connected|spi.AFD_POLL_DISCONNECT), p.pollNow(t, c))

	c2, s2 := p.pairOf(spi.AF_INET6)
	p.setLinger(s2, 1, 0)
	p.must(p.tab.WSPCloseSocket(s2))
	diff(t, "a reset connection", uint32(spi.AFD_POLL_ABORT), p.pollNow(t, c2))

	free := p.bind(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), "127.0.0.1:0")
	refused := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.nonblocking(refused, true)
	wantErr(t, "connect", p.tab.WSPConnect(refused, free, nil, nil, nil, nil), spi.WSAEWOULDBLOCK)
	diff(t, "a failed connect", uint32(spi.AFD_POLL_CONNECT_FAIL), p.pollNow(t, refused))

	u := p.socket(spi.AF_INET6, spi.SOCK_DGRAM, 0)
	ua := p.bind(u, "[::1]:0")
	diff(t, "an idle UDP socket", uint32(spi.AFD_POLL_SEND), p.pollNow(t, u))
	_, err := p.tab.WSPSendTo(u, [][]byte{[]byte("d")}, 0, ua, nil, nil, nil)
	p.must(err)
	diff(t, "a UDP socket with a datagram", uint32(spi.AFD_POLL_SEND|spi.AFD_POLL_RECEIVE), p.pollNow(t, u))
}

func TestAFDPollTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		c, _ := p.pairOf(spi.AF_INET)
		ov, b, _, err := p.poll(c, -100_000, false, want1(c, spi.AFD_POLL_RECEIVE)) // 10 ms, relative
		wantErr(t, "relative", err, spi.STATUS_PENDING)
		time.Sleep(9 * time.Millisecond)
		diff(t, "completions before the timeout", []ntCompletion(nil), p.k.takeNT())
		time.Sleep(2 * time.Millisecond)
		diff(t, "completions of the timeout", []ntCompletion{{c, ov, spi.STATUS_TIMEOUT, 16, false}}, p.k.takeNT())
		diff(t, "output", spi.AFDPollInfo{Timeout: -100_000}, parsePoll(t, b))

		deadline := time.Now().Add(time.Second).UnixNano()/100 + 116444736000000000
		ov, _, _, err = p.poll(c, deadline, false, want1(c, spi.AFD_POLL_RECEIVE))
		wantErr(t, "absolute", err, spi.STATUS_PENDING)
		time.Sleep(999 * time.Millisecond)
		diff(t, "completions before the deadline", []ntCompletion(nil), p.k.takeNT())
		time.Sleep(2 * time.Millisecond)
		diff(t, "completions at the deadline", []ntCompletion{{c, ov, spi.STATUS_TIMEOUT, 16, false}}, p.k.takeNT())

		for _, now := range []int64{0, 1} { // do not wait; a deadline passed
			ov, _, n, err := p.poll(c, now, false, want1(c, spi.AFD_POLL_RECEIVE))
			wantErr(t, "no wait", err, nil)
			diff(t, "bytes", uint32(16), n)
			diff(t, "completions", []ntCompletion{{c, ov, spi.STATUS_TIMEOUT, 16, true}}, p.k.takeNT())
		}

		ov, _, _, err = p.poll(c, forever, false, want1(c, spi.AFD_POLL_RECEIVE))
		wantErr(t, "for ever", err, spi.STATUS_PENDING)
		time.Sleep(24 * time.Hour)
		diff(t, "completions after a day", []ntCompletion(nil), p.k.takeNT())
		diff(t, "cancelled", 1, p.k.driver(c).CancelIo(spi.ThreadID{}, true, ov))
		diff(t, "completions", []ntCompletion{{c, ov, spi.STATUS_CANCELLED, 16, false}}, p.k.takeNT())
	})
}

func TestCancelIoCancelsAPollOnce(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET)
	ov, b, _, err := p.poll(c, forever, false, want1(c, spi.AFD_POLL_RECEIVE))
	wantErr(t, "DeviceIoControl", err, spi.STATUS_PENDING)
	diff(t, "cancelled", 1, p.k.driver(c).CancelIo(spi.ThreadID{}, true, ov))
	diff(t, "cancelled again", 0, p.k.driver(c).CancelIo(spi.ThreadID{}, true, ov))
	diff(t, "completions", []ntCompletion{{c, ov, spi.STATUS_CANCELLED, 16, false}}, p.k.takeNT())
	diff(t, "output", spi.AFDPollInfo{Timeout: forever}, parsePoll(t, b))
	p.send(s, "x")
	diff(t, "completions after data", []ntCompletion(nil), p.k.takeNT())
}

func TestAnExclusivePollCancelsTheEarlierExclusivePollsOfItsSockets(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET)
	other, _ := p.pairOf(spi.AF_INET)
	ev := uint32(spi.AFD_POLL_RECEIVE)
	ov1, _, _, err := p.poll(c, forever, true, want1(c, ev))
	wantErr(t, "first exclusive", err, spi.STATUS_PENDING)
	ov2, _, _, err := p.poll(c, forever, false, want1(c, ev))
	wantErr(t, "non-exclusive", err, spi.STATUS_PENDING)
	ov3, _, _, err := p.poll(other, forever, true, want1(other, ev))
	wantErr(t, "exclusive of another socket", err, spi.STATUS_PENDING)
	diff(t, "completions", []ntCompletion(nil), p.k.takeNT())
	ov4, _, _, err := p.poll(s, forever, true, want1(other, ev), want1(c, ev))
	wantErr(t, "second exclusive", err, spi.STATUS_PENDING)
	diff(t, "completions of the replacement, in the order of the new poll's handles", []ntCompletion{
		{other, ov3, spi.STATUS_CANCELLED, 16, false},
		{c, ov1, spi.STATUS_CANCELLED, 16, false},
	}, p.k.takeNT())
	p.send(s, "x")
	diff(t, "completions of data", []ntCompletion{
		{c, ov2, spi.STATUS_SUCCESS, 32, false},
		{s, ov4, spi.STATUS_SUCCESS, 32, false},
	}, p.k.takeNT())
}

func TestClosingAListedSocketReportsLocalClose(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET)
	ov, b, _, err := p.poll(s, forever, false, want1(c, spi.AFD_POLL_RECEIVE|spi.AFD_POLL_LOCAL_CLOSE))
	wantErr(t, "DeviceIoControl", err, spi.STATUS_PENDING)
	p.must(p.tab.WSPCloseSocket(c))
	diff(t, "completions", []ntCompletion{{s, ov, spi.STATUS_SUCCESS, 32, false}}, p.k.takeNT())
	diff(t, "output", spi.AFDPollInfo{Timeout: forever, Handles: []spi.AFDPollHandleInfo{want1(c, spi.AFD_POLL_LOCAL_CLOSE)}}, parsePoll(t, b))

	self, _ := p.pairOf(spi.AF_INET)
	ov, _, _, err = p.poll(self, forever, false, want1(self, spi.AFD_POLL_LOCAL_CLOSE))
	wantErr(t, "a poll of the issuing socket", err, spi.STATUS_PENDING)
	p.k.driver(self).Cleanup() // CloseHandle
	diff(t, "completions of CloseHandle", []ntCompletion{{self, ov, spi.STATUS_SUCCESS, 32, false}}, p.k.takeNT())

	c2, s2 := p.pairOf(spi.AF_INET)
	ov, _, _, err = p.poll(s2, forever, false, want1(c2, spi.AFD_POLL_RECEIVE))
	wantErr(t, "a poll without LOCAL_CLOSE", err, spi.STATUS_PENDING)
	p.must(p.tab.WSPCloseSocket(c2))
	diff(t, "completions without LOCAL_CLOSE", []ntCompletion{{s2, ov, spi.STATUS_CANCELLED, 16, false}}, p.k.takeNT())
}

func TestClosingTheIssuingSocketCancelsItsPolls(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pairOf(spi.AF_INET)
	ov, _, _, err := p.poll(s, forever, false, want1(c, spi.AFD_POLL_RECEIVE|spi.AFD_POLL_LOCAL_CLOSE))
	wantErr(t, "DeviceIoControl", err, spi.STATUS_PENDING)
	p.must(p.tab.WSPCloseSocket(s))
	diff(t, "completions", []ntCompletion{{s, ov, spi.STATUS_CANCELLED, 16, false}}, p.k.takeNT())
	p.send(c, "x") // a socket no poll watches any more
	diff(t, "completions after", []ntCompletion(nil), p.k.takeNT())
}

func TestWSPCleanupEndsPollsSilently(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pairOf(spi.AF_INET)
	ov, _, _, err := p.poll(c, forever, false, want1(c, spi.AFD_POLL_RECEIVE))
	wantErr(t, "DeviceIoControl", err, spi.STATUS_PENDING)
	for range p.entries {
		p.must(p.tab.WSPCleanup())
	}
	diff(t, "completions", []ntCompletion(nil), p.k.takeNT())
	diff(t, "Internal", uintptr(spi.STATUS_CANCELLED), ov.LoadInternal())
}

func TestAFDPollRejectsInvalidInput(t *testing.T) {
	p := newTestProc(t)
	c, _ := p.pairOf(spi.AF_INET)
	closed, _ := p.pairOf(spi.AF_INET)
	p.must(p.tab.WSPCloseSocket(closed))
	p.k.take()
	one := (&spi.AFDPollInfo{Timeout: forever, Handles: []spi.AFDPollHandleInfo{want1(c, spi.AFD_POLL_SEND)}}).Marshal()
	withHandle := func(h spi.Handle) []byte {
		return (&spi.AFDPollInfo{Timeout: forever, Handles: []spi.AFDPollHandleInfo{{Handle: h, Events: spi.AFD_POLL_SEND}}}).Marshal()
	}
	zero := append([]byte(nil), one[:16]...)
	two := append([]byte(nil), one...)
	two[8] = 2
	cases := []struct {
		name    string
		code    uint32
		in, out []byte
		want    spi.NTStatus
	}{
		{"another control code", 0x00012003, one, one, spi.STATUS_NOT_SUPPORTED},
		{"input shorter than the header", spi.IOCTL_AFD_POLL, one[:15], make([]byte, 32), spi.STATUS_INVALID_PARAMETER},
		{"no handle", spi.IOCTL_AFD_POLL, zero, make([]byte, 32), spi.STATUS_INVALID_PARAMETER},
		{"more handles than the buffer holds", spi.IOCTL_AFD_POLL, two, make([]byte, 48), spi.STATUS_INVALID_PARAMETER},
		{"output shorter than the input", spi.IOCTL_AFD_POLL, one, make([]byte, 31), spi.STATUS_INVALID_PARAMETER},
		{"a handle that is no socket", spi.IOCTL_AFD_POLL, withHandle(0x999), make([]byte, 32), spi.STATUS_INVALID_HANDLE},
		{"a closed socket", spi.IOCTL_AFD_POLL, withHandle(spi.Handle(closed)), make([]byte, 32), spi.STATUS_INVALID_HANDLE},
	}
	for _, tc := range cases {
		ov := new(spi.Overlapped)
		n, err := p.controller(c).DeviceIoControl(tc.code, tc.in, tc.out, spi.IORequest{Overlapped: ov})
		wantErr(t, tc.name, err, tc.want)
		diff(t, tc.name+": bytes", uint32(0), n)
		if ov.InProgress() {
			t.Errorf("%s: the operation started", tc.name)
		}
	}
	diff(t, "completions", []ntCompletion(nil), p.k.takeNT())
}

func TestAFDPollUnderAScheduler(t *testing.T) {
	sched := new(heldScheduler)
	p := newProc(t, loopback.NewNetworkWith(loopback.Options{Scheduler: sched}))
	c, s := p.pairOf(spi.AF_INET)
	sched.release()
	ov, _, _, err := p.poll(c, forever, false, want1(c, spi.AFD_POLL_RECEIVE))
	wantErr(t, "DeviceIoControl", err, spi.STATUS_PENDING)
	p.send(s, "x")
	diff(t, "completions before the scheduler runs", []ntCompletion(nil), p.k.takeNT())
	sched.release()
	diff(t, "completions", []ntCompletion{{c, ov, spi.STATUS_SUCCESS, 32, false}}, p.k.takeNT())
}

// FuzzAFDPollDeviceIoControl feeds arbitrary input buffers to
// IOCTL_AFD_POLL: no panic, every failure is an NTSTATUS, and a poll that
// starts ends exactly once.
func FuzzAFDPollDeviceIoControl(f *testing.F) {
	valid := (&spi.AFDPollInfo{Timeout: -1, Handles: []spi.AFDPollHandleInfo{{Handle: 4, Events: spi.AFD_POLL_ALL}}}).Marshal()
	f.Add(valid, uint16(32))
	f.Add(valid[:20], uint16(32))
	f.Add((&spi.AFDPollInfo{Timeout: forever, Exclusive: true, Handles: []spi.AFDPollHandleInfo{{Handle: 12, Events: 1}, {Handle: 4, Events: 0x20}}}).Marshal(), uint16(64))
	f.Add([]byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, outLen uint16) {
		p := newTestProc(t)
		c, _ := p.pairOf(spi.AF_INET) // handles 8 (c) and 12 (the server end)
		ov := new(spi.Overlapped)
		out := make([]byte, outLen)
		_, err := p.controller(c).DeviceIoControl(spi.IOCTL_AFD_POLL, in, out, spi.IORequest{Overlapped: ov})
		var st spi.NTStatus
		if err != nil && !errors.As(err, &st) {
			t.Fatalf("error %v is no NTSTATUS", err)
		}
		switch {
		case err == nil:
		case st == spi.STATUS_PENDING:
			p.k.driver(c).CancelIo(spi.ThreadID{}, true, ov)
			p.tab.WSPGetOverlappedResult(c, ov, true)
		default:
			diff(t, "completions of a failure", []ntCompletion(nil), p.k.takeNT())
			return
		}
		if got := len(p.k.takeNT()); got != 1 {
			t.Fatalf("%d completions, want 1", got)
		}
	})
}
