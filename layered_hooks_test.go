package wsspi_test

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// These tests drive each verdict a kit layer's Before and After hooks can
// give (layered.Fail, FailCompletion, Complete, Delay) on each kind of
// operation a client makes (send, receive, ioctl, connect, accept, close),
// through each way a client hears of an overlapped operation (a port, an
// event, a completion routine) and with blocking calls, over stacks in
// which the hooked layer is the top one, sits over another kit layer or
// over an IFS layer, or sits under another kit layer. Each runs in a
// testing/synctest bubble, so a delay is exact in virtual time. They check
// what the client is told (the call's result and exactly the notifications
// the verdict implies, with the Winsock code wrapped once), whether the
// operation reached the layer below, and that the hooked layer ends with
// nothing outstanding and its completion counters right.

// hookErr is the error the verdicts of these tests fail operations with.
const hookErr = spi.WSAECONNRESET

// hookDelay is the delay the verdicts of these tests ask for.
const hookDelay = 3 * time.Second

// hookStack builds a chain over TCP/IPv4 that contains one kit layer
// configured with cfg, and returns the kit layers and the hooked one.
type hookStack struct {
	name  string
	top   bool // the hooked layer is the one the client calls
	build func(tb TB, m *wsspi.Machine, cfg layered.Config) (provs []*layered.Provider, hooked *layered.Provider)
}

var hookStacks = []hookStack{
	{"kit", true, func(tb TB, m *wsspi.Machine, cfg layered.Config) ([]*layered.Provider, *layered.Provider) {
		provs, _ := installKits(tb, m, 1, cfg)
		return provs, provs[0]
	}},
	{"kit over kit", true, func(tb TB, m *wsspi.Machine, cfg layered.Config) ([]*layered.Provider, *layered.Provider) {
		provs, _ := installKits(tb, m, 2, layered.Config{}, cfg)
		return provs, provs[1]
	}},
	{"kit under kit", false, func(tb TB, m *wsspi.Machine, cfg layered.Config) ([]*layered.Provider, *layered.Provider) {
		provs, _ := installKits(tb, m, 2, cfg)
		return provs, provs[0]
	}},
	{"kit over ifs", true, func(tb TB, m *wsspi.Machine, cfg layered.Config) ([]*layered.Provider, *layered.Provider) {
		_, ids := must2(wild.InstallIFSPassThrough(m, catalog.DefaultTCPIPv4))(tb)
		p, _, err := layered.Install(m, layered.Options{Name: "kit over ifs", GUID: kitGUID(5), Path: `C:\lsp\kitifs.dll`,
			Over: []spi.CatalogEntryId{ids.Chains[0]}, Config: cfg})
		check(tb, err)
		return []*layered.Provider{p}, p
	}},
}

// hookSwitch applies a verb's hooks to the calls of the operation under
// test only, while it is on: the setup and the checks around it pass.
type hookSwitch struct {
	on    atomic.Bool
	match func(*layered.Call) bool
	verb  *hookVerb
}

func (sw *hookSwitch) hooks() layered.Hooks {
	return layered.Hooks{
		Before: func(c *layered.Call) layered.Verdict {
			if sw.on.Load() && sw.match(c) && sw.verb.before != nil {
				return sw.verb.before(c)
			}
			return layered.Pass()
		},
		After: func(c *layered.Call) layered.Verdict {
			if sw.on.Load() && sw.match(c) && sw.verb.after != nil {
				return sw.verb.after(c)
			}
			return layered.Pass()
		},
	}
}

// hookWorld is a client connected through a stack to a base server, with
// what an operation under test needs.
type hookWorld struct {
	*lconn
	provs  []*layered.Provider
	hooked *layered.Provider
	sock   spi.Socket     // the socket the operation is on, whose handle notifies
	accept spi.Socket     // AcceptEx's accept socket
	addr2  netip.AddrPort // the client's listener, for accepts
	buf    []byte         // a receive's buffer
	out    []byte         // an ioctl's output
}

var hookServerAddr = netip.MustParseAddrPort("127.0.0.1:7000")

// hookOp is an operation under test.
type hookOp struct {
	name  string
	n     uint32 // the bytes of its result when nothing intervenes
	noN   bool   // WSPAccept or WSPCloseSocket: Complete is Pass for them
	file  bool   // ReadFile or WriteFile, which report Win32 codes
	match func(*layered.Call) bool
	// styles are the notification styles it is issued with: "port",
	// "event", "routine", "blocking".
	styles []string
	// prepare sets the operation up; issue makes the call (ov nil:
	// blocking); then runs after it, to let it complete below.
	prepare  func(tb TB, w *hookWorld, blocking bool)
	issue    func(w *hookWorld, ov *spi.Overlapped, cr spi.CompletionRoutine) (uint32, error)
	then     func(tb TB, w *hookWorld, blocking bool)
	wentDown func(tb TB, w *hookWorld) bool
}

var allStyles = []string{"port", "event", "routine", "blocking"}

// serverSends makes the server send hello to the client.
func serverSends(tb TB, w *hookWorld) {
	tb.Helper()
	must(w.sth.WSASend(w.s, [][]byte{[]byte("hello")}, 0, nil, nil))(tb)
}

// clientUnread reports whether the server's hello is still unread.
func clientUnread(tb TB, w *hookWorld) bool {
	tb.Helper()
	return fionread(tb, w.cth, w.c) == 5
}

// serverQueued reports whether a connection waits at the server's
// listener, and takes it.
func serverQueued(tb TB, w *hookWorld) bool {
	tb.Helper()
	setNonblocking(tb, w.sth, w.l, true)
	_, _, err := w.sth.Accept(w.l)
	return err == nil
}

// clientListens makes the client listen through the chain on addr2.
func clientListens(tb TB, w *hookWorld) spi.Socket {
	tb.Helper()
	w.addr2 = netip.MustParseAddrPort("127.0.0.1:7001")
	return listen(tb, w.cth, w.addr2, 8)
}

// peerConnects connects a base socket of the server to the client's
// listener, then sends hello on it if send is set.
func peerConnects(tb TB, w *hookWorld, send bool) {
	tb.Helper()
	p := must(w.sth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, baseTCP(tb, w.m), 0, spi.WSA_FLAG_OVERLAPPED))(tb)
	check(tb, w.sth.Connect(p, w.addr2))
	if send {
		must(w.sth.WSASend(p, [][]byte{[]byte("hello")}, 0, nil, nil))(tb)
	}
}

func isFunc(op layered.Op, fn string) func(*layered.Call) bool {
	return func(c *layered.Call) bool { return c.Op == op && c.Func == fn }
}

var hookOps = []hookOp{
	{
		name: "WSASend", n: 5, match: isFunc(layered.OpSend, "WSPSend"), styles: allStyles,
		issue: func(w *hookWorld, ov *spi.Overlapped, cr spi.CompletionRoutine) (uint32, error) {
			return w.cth.WSASend(w.c, [][]byte{[]byte("hello")}, 0, ov, cr)
		},
		wentDown: func(tb TB, w *hookWorld) bool { return fionread(tb, w.sth, w.s) == 5 },
	},
	{
		name: "WriteFile", n: 5, file: true, match: isFunc(layered.OpSend, "WSPSend"), styles: []string{"port", "event"},
		issue: func(w *hookWorld, ov *spi.Overlapped, _ spi.CompletionRoutine) (uint32, error) {
			return w.cth.WriteFile(w.c, []byte("hello"), ov)
		},
		wentDown: func(tb TB, w *hookWorld) bool { return fionread(tb, w.sth, w.s) == 5 },
	},
	{
		// Overlapped, the receive pends below until the server sends; a
		// blocking one finds the data there.
		name: "WSARecv", n: 5, match: isFunc(layered.OpRecv, "WSPRecv"), styles: allStyles,
		prepare: func(tb TB, w *hookWorld, blocking bool) {
			w.buf = make([]byte, 8)
			if blocking {
				serverSends(tb, w)
			}
		},
		issue: func(w *hookWorld, ov *spi.Overlapped, cr spi.CompletionRoutine) (uint32, error) {
			var flags uint32
			return w.cth.WSARecv(w.c, [][]byte{w.buf}, &flags, ov, cr)
		},
		then: func(tb TB, w *hookWorld, blocking bool) {
			if !blocking {
				serverSends(tb, w)
			}
		},
		wentDown: func(tb TB, w *hookWorld) bool { return !clientUnread(tb, w) },
	},
	{
		// The data is there first: the receive completes at once below.
		name: "ReadFile", n: 5, file: true, match: isFunc(layered.OpRecv, "WSPRecv"), styles: []string{"port", "event"},
		prepare: func(tb TB, w *hookWorld, _ bool) { w.buf = make([]byte, 8); serverSends(tb, w) },
		issue: func(w *hookWorld, ov *spi.Overlapped, _ spi.CompletionRoutine) (uint32, error) {
			return w.cth.ReadFile(w.c, w.buf, ov)
		},
		wentDown: func(tb TB, w *hookWorld) bool { return !clientUnread(tb, w) },
	},
	{
		name: "WSAIoctl(FIONREAD)", n: 4, styles: allStyles,
		match: func(c *layered.Call) bool { return c.Op == layered.OpIoctl && c.Code == spi.FIONREAD },
		prepare: func(tb TB, w *hookWorld, _ bool) {
			serverSends(tb, w)
			w.out = []byte{0xff, 0xff, 0xff, 0xff}
		},
		issue: func(w *hookWorld, ov *spi.Overlapped, cr spi.CompletionRoutine) (uint32, error) {
			return w.cth.WSAIoctl(w.c, spi.FIONREAD, nil, w.out, ov, cr)
		},
		wentDown: func(tb TB, w *hookWorld) bool { return w.out[0] == 5 },
	},
	{
		name: "ConnectEx", n: 5, match: isFunc(layered.OpConnect, "ConnectEx"), styles: []string{"port", "event"},
		prepare: func(tb TB, w *hookWorld, _ bool) { w.sock = boundSocket(tb, w.cth, spi.AF_INET) },
		issue: func(w *hookWorld, ov *spi.Overlapped, _ spi.CompletionRoutine) (uint32, error) {
			return w.cth.ConnectEx(w.sock, hookServerAddr, []byte("hello"), ov)
		},
		wentDown: serverQueued,
	},
	{
		name: "connect", match: isFunc(layered.OpConnect, "WSPConnect"), styles: []string{"blocking"},
		prepare: func(tb TB, w *hookWorld, _ bool) {
			w.sock = must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(tb)
		},
		issue: func(w *hookWorld, _ *spi.Overlapped, _ spi.CompletionRoutine) (uint32, error) {
			return 0, w.cth.Connect(w.sock, hookServerAddr)
		},
		wentDown: serverQueued,
	},
	{
		// The peer connects and sends the first data after the call.
		name: "AcceptEx", n: 5, match: isFunc(layered.OpAccept, "AcceptEx"), styles: []string{"port", "event"},
		prepare: func(tb TB, w *hookWorld, _ bool) {
			w.sock = clientListens(tb, w)
			w.accept = must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(tb)
			w.buf = make([]byte, 5)
		},
		issue: func(w *hookWorld, ov *spi.Overlapped, _ spi.CompletionRoutine) (uint32, error) {
			return w.cth.AcceptEx(w.sock, w.accept, w.buf, ov)
		},
		then: func(tb TB, w *hookWorld, _ bool) { peerConnects(tb, w, true) },
		wentDown: func(tb TB, w *hookWorld) bool {
			_, err := w.cth.Getpeername(w.accept)
			return err == nil
		},
	},
	{
		// The connection waits in the backlog first.
		name: "accept", noN: true, match: isFunc(layered.OpAccept, "WSPAccept"), styles: []string{"blocking"},
		prepare: func(tb TB, w *hookWorld, _ bool) {
			w.sock = clientListens(tb, w)
			peerConnects(tb, w, false)
		},
		issue: func(w *hookWorld, _ *spi.Overlapped, _ spi.CompletionRoutine) (uint32, error) {
			s, _, err := w.cth.Accept(w.sock)
			if err == nil && s == spi.INVALID_SOCKET {
				return 0, errors.New("accept returned INVALID_SOCKET and no error")
			}
			if err != nil && s != spi.INVALID_SOCKET {
				return 0, errors.New("a failed accept returned a socket")
			}
			return 0, err
		},
		wentDown: func(tb TB, w *hookWorld) bool { // the backlog is empty
			setNonblocking(tb, w.cth, w.sock, true)
			_, _, err := w.cth.Accept(w.sock)
			return errors.Is(err, spi.WSAEWOULDBLOCK)
		},
	},
	{
		name: "closesocket", noN: true, match: isFunc(layered.OpClose, "WSPCloseSocket"), styles: []string{"blocking"},
		issue: func(w *hookWorld, _ *spi.Overlapped, _ spi.CompletionRoutine) (uint32, error) {
			return 0, w.cth.Closesocket(w.c)
		},
		wentDown: func(tb TB, w *hookWorld) bool {
			_, err := w.cth.WSASend(w.c, [][]byte{[]byte("x")}, 0, nil, nil)
			return errors.Is(err, spi.WSAENOTSOCK)
		},
	},
}

// What a client must see of an operation under a verb.
const (
	seeAtOnce     = iota // the call fails with err at once; no notification
	seeCompletion        // the result {n, err}: the notification of an overlapped call (which returns WSA_IO_PENDING, or success with n when neither err nor a delay says otherwise), the return of a blocking one
	seeEither            // the failure err, at once with no notification, or through the notification
)

type hookWant struct {
	see      int
	n        uint32
	err      spi.Errno
	delay    time.Duration
	wentDown bool
}

// hookVerb is a verdict of Before or After.
type hookVerb struct {
	name          string
	before, after func(*layered.Call) layered.Verdict
	skip          func(op *hookOp) bool // the verdict means nothing for op
	want          func(op *hookOp) hookWant
}

// fillFake writes what a hook that completes a call itself makes of it.
func fillFake(c *layered.Call) {
	switch {
	case c.Op == layered.OpRecv || (c.Op == layered.OpAccept && len(c.Bufs) > 0):
		copy(c.Bufs[0], "fake!")
	case c.Op == layered.OpIoctl:
		copy(c.Out, []byte{42, 0, 0, 0})
	}
}

var hookVerbs = []hookVerb{
	{
		name:   "Before fails at once",
		before: func(*layered.Call) layered.Verdict { return layered.Fail(hookErr) },
		want:   func(*hookOp) hookWant { return hookWant{see: seeAtOnce, err: hookErr} },
	},
	{
		name:   "Before fails through the completion",
		before: func(*layered.Call) layered.Verdict { return layered.FailCompletion(hookErr) },
		want:   func(*hookOp) hookWant { return hookWant{see: seeCompletion, err: hookErr} },
	},
	{
		name: "Before completes without the layer below",
		before: func(c *layered.Call) layered.Verdict {
			fillFake(c)
			n := uint32(0)
			for _, b := range c.Bufs {
				n += uint32(len(b))
			}
			if c.Op == layered.OpRecv || c.Op == layered.OpAccept {
				n = 5
			}
			if c.Op == layered.OpIoctl {
				n = 4
			}
			return layered.Complete(n)
		},
		want: func(op *hookOp) hookWant {
			// WSPAccept and WSPCloseSocket only the layer below can do.
			return hookWant{see: seeCompletion, n: op.n, wentDown: op.noN}
		},
	},
	{
		name:   "Before delays",
		before: func(*layered.Call) layered.Verdict { return layered.Delay(hookDelay) },
		want: func(op *hookOp) hookWant {
			return hookWant{see: seeCompletion, n: op.n, delay: hookDelay, wentDown: true}
		},
	},
	{
		name:  "After delays",
		after: func(*layered.Call) layered.Verdict { return layered.Delay(hookDelay) },
		want: func(op *hookOp) hookWant {
			return hookWant{see: seeCompletion, n: op.n, delay: hookDelay, wentDown: true}
		},
	},
	{
		name: "After completes with fewer bytes",
		after: func(c *layered.Call) layered.Verdict {
			if c.Err != 0 || c.N == 0 {
				return layered.Pass()
			}
			return layered.Complete(c.N - 1)
		},
		skip: func(op *hookOp) bool { return op.n == 0 },
		want: func(op *hookOp) hookWant { return hookWant{see: seeCompletion, n: op.n - 1, wentDown: true} },
	},
	{
		name:  "After fails",
		after: func(*layered.Call) layered.Verdict { return layered.Fail(hookErr) },
		want:  func(*hookOp) hookWant { return hookWant{see: seeEither, err: hookErr, wentDown: true} },
	},
	{
		name:  "After fails through the completion",
		after: func(*layered.Call) layered.Verdict { return layered.FailCompletion(hookErr) },
		want:  func(*hookOp) hookWant { return hookWant{see: seeCompletion, err: hookErr, wentDown: true} },
	},
}

func TestHookVerdictsOnEveryOperationThroughEveryStackAndNotification(t *testing.T) {
	for _, st := range hookStacks {
		t.Run(st.name, func(t *testing.T) {
			for i := range hookOps {
				op := &hookOps[i]
				t.Run(op.name, func(t *testing.T) {
					for _, style := range op.styles {
						t.Run(style, func(t *testing.T) {
							for j := range hookVerbs {
								v := &hookVerbs[j]
								if v.skip != nil && v.skip(op) {
									continue
								}
								t.Run(v.name, func(t *testing.T) {
									synctest.Test(t, func(t *testing.T) { runHookCase(t, st, op, style, v) })
								})
							}
						})
					}
				})
			}
		})
	}
}

// runHookCase runs op with style through st under v and checks what the
// client sees.
func runHookCase(t *testing.T, st hookStack, op *hookOp, style string, v *hookVerb) {
	sw := &hookSwitch{match: op.match, verb: v}
	m := wsspi.NewMachine()
	provs, hooked := st.build(t, m, layered.Config{Hooks: sw.hooks()})
	w := &hookWorld{lconn: newLConn(t, m, spi.WSA_FLAG_OVERLAPPED), provs: provs, hooked: hooked}
	w.sock = w.c
	blocking := style == "blocking"
	if op.prepare != nil {
		op.prepare(t, w, blocking)
	}
	want := v.want(op)
	var nt notifier
	var ov *spi.Overlapped
	var cr spi.CompletionRoutine
	if !blocking {
		for _, s := range styles {
			if s.name == style {
				nt = s.new(t, w.cth, w.sock)
			}
		}
		ov, cr = nt.prepare()
	}
	before := hooked.Stats()
	sw.on.Store(true)
	start := time.Now()
	n, err := op.issue(w, ov, cr)
	took := time.Since(start)
	if op.then != nil {
		op.then(t, w, blocking)
	}
	synctest.Wait()
	notified := 0

	callErr := spi.ErrnoOf(err)
	if err != nil && callErr != spi.WSA_IO_PENDING {
		// The hook's code, wrapped once with the function's name.
		var oe *spi.OpError
		if !errors.As(err, &oe) || oe.Err != callErr {
			t.Errorf("the call's error %#v is not one OpError around the bare code %v", err, callErr)
		}
	}
	switch {
	case blocking && want.see == seeCompletion && want.err == 0:
		if n != want.n || err != nil || took != want.delay {
			t.Errorf("the call returned %d, %v after %v; want %d, nil after %v", n, err, took, want.n, want.delay)
		}
	case blocking:
		if callErr != want.err || took != want.delay {
			t.Errorf("the call returned %d, %v after %v; want %v after %v", n, err, took, want.err, want.delay)
		}
	case want.see == seeAtOnce, want.see == seeEither && callErr != spi.WSA_IO_PENDING:
		if op.file { // ReadFile and WriteFile report the Win32 code of the status
			want.err = spi.RtlNtStatusToDosError(spi.WinsockErrorToNtStatus(want.err))
		}
		if callErr != want.err {
			t.Errorf("the call returned %d, %v; want %v at once", n, err, want.err)
		}
		nt.none(t)
	default:
		atOnce := err == nil && want.err == 0 && want.delay == 0
		if !atOnce && callErr != spi.WSA_IO_PENDING {
			t.Fatalf("the call returned %d, %v; want WSA_IO_PENDING", n, err)
		}
		if atOnce && n != want.n {
			t.Errorf("the call succeeded at once with %d bytes, want %d", n, want.n)
		}
		if want.delay > 0 {
			nt.none(t) // nothing before the delay is over
		}
		got := nt.next(t)
		notified++
		if got != (result{ov, want.n, want.err}) || time.Since(start) != want.delay {
			t.Errorf("notified %+v after %v; want %+v after %v", got, time.Since(start), result{ov, want.n, want.err}, want.delay)
		}
		synctest.Wait()
		nt.none(t)
	}
	sw.on.Store(false)

	eventually(t, "the hooked layer holds no operation", func() bool {
		s := hooked.Stats()
		return s.Outstanding == 0 && s.Held == 0
	})
	after := hooked.Stats()
	if st.top {
		// The layer's completions are the client's notifications.
		if forwarded := after.Completed + after.APCs - before.Completed - before.APCs; forwarded != uint64(notified) {
			t.Errorf("the layer forwarded %d completions, the client heard %d", forwarded, notified)
		}
	}
	if after.Failed != before.Failed {
		t.Errorf("%d forwarding calls failed", after.Failed-before.Failed)
	}
	if got := op.wentDown(t, w); got != want.wentDown {
		t.Errorf("the operation reached the layer below: %v, want %v", got, want.wentDown)
	}
	check(t, w.client.Close())
	check(t, w.server.Close())
	eventually(t, "the kits hold nothing", func() bool { return quiet(provs...) })
}
