package wsspi_test

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
)

// This file drives a client whose hooked kit layer fails, completes and
// delays its operations at random (a seeded source, drawn by rapid,
// decides each verdict of Before and After): overlapped sends, receives
// and ioctls, notified through a port, an event or a completion routine,
// blocking sends and ioctls, closes, the server's sends. It checks that
// nothing is lost: every call that returned WSA_IO_PENDING or success is
// notified exactly once, every other failure never, the layer ends with
// nothing outstanding or held, and its completion counters match what the
// client heard. It runs with the simulator inline, under a seeded
// spitest.Scheduler given to the machine and to the layer (which then
// decides when delays end), and under a scheduler that runs deferred work
// on goroutines of its own.

// randomVerdicts decides verdicts from a seeded source; safe for
// concurrent use (After runs on workers).
type randomVerdicts struct {
	on  atomic.Bool
	mu  sync.Mutex // guards rng
	rng *rand.Rand
}

func (r *randomVerdicts) intn(n int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rng.IntN(n)
}

// verdict picks one: a pass half the time, else a failure at once or
// through the completion, a completion of the hook's own (in After, with
// at most the bytes below), or a delay of up to 2ms.
func (r *randomVerdicts) verdict(c *layered.Call, after bool) layered.Verdict {
	if !r.on.Load() {
		return layered.Pass()
	}
	delay := time.Duration(r.intn(3)) * time.Millisecond
	switch r.intn(10) {
	case 0:
		return layered.Fail(hookErr).Delayed(delay)
	case 1:
		return layered.FailCompletion(hookErr).Delayed(delay)
	case 2:
		if after {
			return layered.Complete(uint32(r.intn(int(c.N) + 1))).Delayed(delay)
		}
		if c.Op == layered.OpSend {
			return layered.Complete(0).Delayed(delay)
		}
	case 3, 4:
		return layered.Delay(delay + time.Millisecond)
	}
	return layered.Pass()
}

// hop is one client operation as the model sees it.
type hop struct {
	id      int
	mech    string // "port", "event", "routine"
	ov      *spi.Overlapped
	expects bool // the call returned WSA_IO_PENDING or success: one notification must come
	heard   int
}

type hookModel struct {
	sched   *spitest.Scheduler // nil: none, or one the model does not drive
	async   bool               // the scheduler runs work on goroutines of its own: blocking calls are safe
	verdict *randomVerdicts
	provs   []*layered.Provider
	hooked  *layered.Provider
	k       *lconn
	port    spi.Handle
	ops     []*hop
	byOv    map[*spi.Overlapped]*hop
	base    layered.Stats // the hooked layer's counters once set up
}

func newHookModel(t *rapid.T, mode string) *hookModel {
	h := &hookModel{verdict: &randomVerdicts{rng: rand.New(rand.NewPCG(rapid.Uint64().Draw(t, "verdicts"), 1))},
		byOv: map[*spi.Overlapped]*hop{}}
	var opts wsspi.MachineOptions
	var cfg layered.Config
	switch mode {
	case "seeded":
		h.sched = spitest.NewScheduler(rapid.Uint64().Draw(t, "seed"))
		opts.Scheduler, cfg.Scheduler = h.sched, h.sched
	case "async":
		s := newAsyncScheduler(rapid.Uint64().Draw(t, "seed"))
		opts.Scheduler, cfg.Scheduler, h.async = s, s, true
	default:
		h.async = true
	}
	cfg.Hooks = layered.Hooks{
		Before: func(c *layered.Call) layered.Verdict { return h.verdict.verdict(c, false) },
		After:  func(c *layered.Call) layered.Verdict { return h.verdict.verdict(c, true) },
	}
	m := wsspi.NewMachineWith(opts)
	st := rapid.SampledFrom(hookStacks).Draw(t, "stack")
	h.provs, h.hooked = st.build(t, m, cfg)
	h.k = newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
	h.port = must(h.k.client.CreateIoCompletionPort(h.k.c, 0, portKey, 0))(t)
	h.settle(t)
	h.base = h.hooked.Stats()
	h.verdict.on.Store(true)
	return h
}

func (h *hookModel) routine(_ spi.Errno, _ uint32, ov *spi.Overlapped, _ uint32) {
	h.byOv[ov].heard++
}

// issue starts an overlapped operation, drawn by rapid, and records it.
func (h *hookModel) issue(t *rapid.T) {
	o := &hop{id: len(h.ops), ov: new(spi.Overlapped)}
	kind := rapid.SampledFrom([]string{"WSASend", "WriteFile", "WSARecv", "ReadFile", "WSAIoctl"}).Draw(t, "kind")
	mechs := []string{"port", "event", "routine"}
	if kind == "WriteFile" || kind == "ReadFile" {
		mechs = mechs[:2]
	}
	o.mech = rapid.SampledFrom(mechs).Draw(t, "mech")
	var cr spi.CompletionRoutine
	switch o.mech {
	case "event":
		o.ov.HEvent = must(h.k.client.WSACreateEvent())(t) | 1 // the event only, not the port
	case "routine":
		cr = h.routine
	}
	h.byOv[o.ov] = o
	h.ops = append(h.ops, o)
	c := h.k.c
	buf := make([]byte, rapid.IntRange(1, 16).Draw(t, "size"))
	var err error
	switch kind {
	case "WSASend":
		_, err = h.k.cth.WSASend(c, [][]byte{buf}, 0, o.ov, cr)
	case "WriteFile":
		_, err = h.k.cth.WriteFile(c, buf, o.ov)
	case "WSARecv":
		_, err = h.k.cth.WSARecv(c, [][]byte{buf}, new(uint32), o.ov, cr)
	case "ReadFile":
		_, err = h.k.cth.ReadFile(c, buf, o.ov)
	case "WSAIoctl":
		_, err = h.k.cth.WSAIoctl(c, spi.FIONREAD, nil, make([]byte, 4), o.ov, cr)
	}
	o.expects = err == nil || errors.Is(err, spi.WSA_IO_PENDING)
	if !o.expects && !errors.Is(err, spi.WSAENOTSOCK) && spi.ErrnoOf(err) != hookErr &&
		spi.ErrnoOf(err) != spi.RtlNtStatusToDosError(spi.WinsockErrorToNtStatus(hookErr)) {
		t.Fatalf("op %d (%s): %v", o.id, kind, err)
	}
}

// blocking makes a blocking send or ioctl, which must return.
func (h *hookModel) blocking(t *rapid.T) {
	if !h.async {
		t.Skip("a blocking call waits for deferred work that only this goroutine runs")
	}
	var err error
	if rapid.Bool().Draw(t, "send") {
		_, err = h.k.cth.WSASend(h.k.c, [][]byte{[]byte("blocking")}, 0, nil, nil)
	} else {
		_, err = h.k.cth.WSAIoctl(h.k.c, spi.FIONREAD, nil, make([]byte, 4), nil, nil)
	}
	if err != nil && spi.ErrnoOf(err) != hookErr && !errors.Is(err, spi.WSAENOTSOCK) {
		t.Fatal(err)
	}
}

// reconnect closes the client's socket, if a hook lets it, and connects a
// new one.
func (h *hookModel) reconnect(t *rapid.T) {
	if !h.async {
		t.Skip("closesocket may wait for a delay that only this goroutine runs")
	}
	err := h.k.cth.Closesocket(h.k.c)
	if err != nil && spi.ErrnoOf(err) != hookErr {
		t.Fatal(err)
	}
	if _, err := h.k.cth.Getsockopt(h.k.c, spi.SOL_SOCKET, spi.SO_TYPE, make([]byte, 4)); err == nil {
		return // the close failed, and the socket is open
	}
	h.settle(t)
	was := h.verdict.on.Swap(false)
	defer h.verdict.on.Store(was)
	k := h.k
	k.c = must(k.cth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, nil, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	check(t, k.cth.Connect(k.c, hookServerAddr))
	k.s, _ = must2(k.sth.Accept(k.l))(t)
	must(k.client.CreateIoCompletionPort(k.c, h.port, portKey, 0))(t)
}

// poll runs the scheduler's work and collects the notifications.
func (h *hookModel) poll(t *rapid.T) {
	h.settle(t)
	for {
		e, err := h.k.cth.GetQueuedCompletionStatus(h.port, 0)
		if e.Overlapped == nil {
			if !errors.Is(err, spi.WAIT_TIMEOUT) {
				t.Fatal(err)
			}
			break
		}
		o := h.byOv[e.Overlapped]
		if o == nil || o.mech != "port" {
			t.Fatalf("unexpected packet %+v", e)
		}
		o.heard++
	}
	_, _ = h.k.cth.SleepEx(0, true)
	for _, o := range h.ops {
		if o.mech != "event" {
			continue
		}
		ev := o.ov.EventHandle()
		if r, _ := h.k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r == spi.WSA_WAIT_EVENT_0 {
			o.heard++ // a second signal after the reset is a second notification
			check(t, h.k.client.WSAResetEvent(ev))
		}
	}
	h.check(t)
}

// settle runs what the seeded scheduler holds.
func (h *hookModel) settle(*rapid.T) {
	if h.sched != nil {
		h.sched.Drain()
	}
}

// check fails on an operation notified more than once, or notified though
// it failed at once.
func (h *hookModel) check(t *rapid.T) {
	for _, o := range h.ops {
		if o.heard > 1 || (!o.expects && o.heard > 0) {
			t.Fatalf("op %d (%s): notified %d times, expected: %v", o.id, o.mech, o.heard, o.expects)
		}
	}
}

// finish closes the client's socket with the hooks off, waits for every
// notification due, and checks the layer's state and counters.
func (h *hookModel) finish(t *rapid.T) {
	h.verdict.on.Store(false)
	_ = h.k.cth.Closesocket(h.k.c)
	_ = h.k.sth.Closesocket(h.k.s)
	deadline := time.Now().Add(long)
	for {
		h.poll(t)
		missing := 0
		for _, o := range h.ops {
			if o.expects && o.heard == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d operations never notified; the layer holds %+v", missing, h.hooked.Stats())
		}
		time.Sleep(100 * time.Microsecond)
	}
	eventually(t, "the hooked layer holds no operation", func() bool {
		h.settle(t)
		s := h.hooked.Stats()
		return s.Outstanding == 0 && s.Held == 0
	})
	s := h.hooked.Stats()
	if s.Failed != h.base.Failed {
		t.Fatalf("%d forwarding calls failed", s.Failed-h.base.Failed)
	}
	if h.hooked == h.provs[len(h.provs)-1] { // the layer the client calls: its completions are what the client heard
		heard := 0
		for _, o := range h.ops {
			heard += o.heard
		}
		if forwarded := s.Completed + s.APCs - h.base.Completed - h.base.APCs; forwarded != uint64(heard) {
			t.Fatalf("the layer forwarded %d completions, the client heard %d", forwarded, heard)
		}
	}
	_ = h.k.client.Close()
	_ = h.k.server.Close()
	eventually(t, "the kits hold nothing", func() bool { h.settle(t); return quiet(h.provs...) })
}

func (h *hookModel) run(t *rapid.T) {
	t.Repeat(map[string]func(*rapid.T){
		"issue":     h.issue,
		"blocking":  h.blocking,
		"reconnect": h.reconnect,
		"server send": func(t *rapid.T) {
			b := make([]byte, rapid.IntRange(1, 24).Draw(t, "size"))
			if _, err := h.k.sth.WSASend(h.k.s, [][]byte{b}, 0, nil, nil); err != nil && !errors.Is(err, spi.WSAECONNRESET) {
				t.Fatal(err)
			}
		},
		"": h.poll,
	})
	h.finish(t)
}

func TestHooksThatFailCompleteAndDelayAtRandomLoseNothing(t *testing.T) {
	for _, mode := range []string{"inline", "seeded", "async"} {
		t.Run(mode, func(t *testing.T) {
			rapid.Check(t, func(t *rapid.T) {
				h := newHookModel(t, mode)
				defer func() { _ = h.k.client.Close(); _ = h.k.server.Close() }()
				h.run(t)
			})
		})
	}
}
