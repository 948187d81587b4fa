package clienttest_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/spi"
)

// wellBehaved are the configurations of the layers that follow the rules.
var wellBehaved = []string{"NoLSP", "Kit", "IFSPassThrough", "Kit+*"}

// isWellBehaved reports whether every layer of c follows the rules.
func isWellBehaved(c clienttest.Config) bool {
	for _, l := range c.Layers {
		if l != "Kit" && l != "IFSPassThrough" {
			return false
		}
	}
	return true
}

// check runs Check in a bubble of its own.
func check(t *testing.T, s clienttest.Scenario, opts ...clienttest.Option) []clienttest.Result {
	t.Helper()
	var rs []clienttest.Result
	var err error
	synctest.Test(t, func(*testing.T) {
		rs, err = clienttest.Check(s, append(opts, clienttest.Bubble())...)
	})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func TestBlockingEchoPassesUnderEveryWellBehavedConfiguration(t *testing.T) {
	clienttest.Run(t, echo, clienttest.Names(wellBehaved...))
}

func TestBlockingEchoPassesUnderEveryLayerThatKeepsBlockingCalls(t *testing.T) {
	rs := check(t, echo)
	if len(rs) != len(clienttest.Configs()) {
		t.Fatalf("Check ran %d configurations, want the %d of Configs", len(rs), len(clienttest.Configs()))
	}
	for _, r := range rs {
		if isWellBehaved(r.Config) && !r.Passed() {
			t.Errorf("%s: %v", r.Config.Name, r.Err)
		}
	}
	t.Log("\n" + clienttest.Matrix(rs))
}

// Naive passes the client's overlapped down, so the completion of a
// receive never reaches the client's port: the client's wait for ever
// becomes a timeout, which the machine's shutdown ends with
// ERROR_ABANDONED_WAIT_0, under every configuration whose TCP/IPv4 chain
// holds Naive, and only there among the layers of this test.
func TestAPortWaitTimesOutUnderTheNaiveLayerAlone(t *testing.T) {
	rs := check(t, portRecv)
	traced := 0
	for _, r := range rs {
		if r.Trace != "" {
			traced++
		}
		if !slices.ContainsFunc(r.Config.Layers, func(l string) bool { return l == "Kit" || l == "IFSPassThrough" || l == "Naive" }) && len(r.Config.Layers) > 0 {
			continue // a layer of another kind, which this test does not judge
		}
		naive := slices.Contains(r.Config.Layers, "Naive") && slices.Contains(r.Config.Over, catalog.DefaultTCPIPv4)
		if !naive && !isWellBehaved(r.Config) {
			continue
		}
		var te *clienttest.TimeoutError
		switch {
		case !naive && !r.Passed():
			t.Errorf("%s: %v, want a pass", r.Config.Name, r.Err)
		case naive && !errors.As(r.Err, &te):
			t.Errorf("%s: %v, want a *TimeoutError", r.Config.Name, r.Err)
		case naive && (!te.Ended || !errors.Is(te, spi.ERROR_ABANDONED_WAIT_0)):
			t.Errorf("%s: %+v, want a timeout the shutdown ended with ERROR_ABANDONED_WAIT_0", r.Config.Name, te)
		}
	}
	first := slices.IndexFunc(rs, func(r clienttest.Result) bool { return !r.Passed() })
	if first < 0 {
		t.Fatal("no configuration failed")
	}
	if traced != 1 || !strings.Contains(rs[first].Trace, "GetQueuedCompletionStatus") {
		t.Errorf("%d results carry a trace; want 1, the first failure's (%s), showing the wait:\n%s", traced, rs[first].Config.Name, rs[first].Trace)
	}
}

func TestTraceAllTracesEveryFailure(t *testing.T) {
	rs := check(t, portRecv, clienttest.Names("Naive/tcp4"), clienttest.TraceAll())
	for _, r := range rs {
		if r.Passed() || r.Trace == "" {
			t.Errorf("%s: err %v, trace of %d bytes; want a failure with its trace", r.Config.Name, r.Err, len(r.Trace))
		}
	}
}

func TestAPanicIsAFinding(t *testing.T) {
	rs := check(t, panics, clienttest.Names("NoLSP", "Kit/tcp4"))
	for _, r := range rs {
		var pe *clienttest.PanicError
		if !errors.As(r.Err, &pe) || pe.Value != "the client gave up" || !strings.Contains(pe.Stack, "panics") {
			t.Errorf("%s: %v, want a *PanicError with the value and the stack", r.Config.Name, r.Err)
		}
	}
	if len(rs) == 0 || rs[0].Trace == "" || strings.Contains(rs[0].Trace, "ended differently") {
		t.Errorf("the first panic's trace: %q, want the traced run's, the same panic", rs[0].Trace)
	}
}

func TestANilScenarioIsAnError(t *testing.T) {
	if rs, err := clienttest.Check(nil); err == nil {
		t.Errorf("Check(nil) = %v, nil; want an error", rs)
	}
}

func TestAScenarioEndedByGoexitIsAFailure(t *testing.T) {
	rs := check(t, func(*wsspi.Machine) error { runtimeGoexit(); return nil }, clienttest.Names("NoLSP"))
	if len(rs) == 0 || rs[0].Passed() || !strings.Contains(rs[0].Err.Error(), "Goexit") {
		t.Errorf("results %v, want a failure naming Goexit", rs)
	}
}

// A client that sleeps for ever times out within the limit of the
// bubble's clock, and the shutdown ends its sleep with
// ERROR_PROCESS_ABORTED.
func TestAHangInAWaitOfTheMachineIsABoundedTimeout(t *testing.T) {
	rs := check(t, sleepsForEver, clienttest.Names("NoLSP", "Kit/tcp4"))
	for _, r := range rs {
		var te *clienttest.TimeoutError
		if !errors.As(r.Err, &te) || !te.Ended || !errors.Is(te, spi.ERROR_PROCESS_ABORTED) || te.Limit != 10e9 {
			t.Errorf("%s: %v, want a 10s timeout ended by ERROR_PROCESS_ABORTED", r.Config.Name, r.Err)
		}
	}
}

// A client stuck on a channel of its own cannot be ended by the
// machine's shutdown; outside a bubble the kit reports it after the real
// limit and leaves its goroutine, which the test then releases.
func TestAHangOnAChannelOfItsOwnIsATimeoutOutsideABubble(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	rs, err := clienttest.Check(func(*wsspi.Machine) error { <-release; return nil },
		clienttest.Names("NoLSP/seed1"), clienttest.Timeout(20e6))
	if err != nil {
		t.Fatal(err)
	}
	var te *clienttest.TimeoutError
	if len(rs) != 1 || !errors.As(rs[0].Err, &te) || te.Ended {
		t.Fatalf("results %v, want one timeout that did not end", rs)
	}
}

func TestOutsideABubbleTheSeededSchedulerStillRuns(t *testing.T) {
	rs, err := clienttest.Check(portRecv, clienttest.Names("NoLSP", "Kit/tcp4", "Kit+IFSPassThrough/all"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !r.Passed() {
			t.Errorf("%s: %v", r.Config.Name, r.Err)
		}
	}
}

// In a bubble a seed replays the run of a configuration whose layers do
// their work on the goroutines that call them (none, or an IFS layer):
// the same completions in the same order, the same trace.
func TestSeedReplaysTheSameRun(t *testing.T) {
	var names []string
	for s := range 8 {
		names = append(names, "NoLSP/seed"+itoa(s+1), "IFSPassThrough/all/seed"+itoa(s+1))
	}
	first := check(t, completionOrder, clienttest.Names(names...), clienttest.TraceAll())
	again := check(t, completionOrder, clienttest.Names(names...), clienttest.TraceAll())
	orders := map[string]bool{}
	for i := range first {
		a, b := first[i], again[i]
		if errText(a.Err) != errText(b.Err) {
			t.Errorf("%s: %v, then %v", a.Config.Name, a.Err, b.Err)
		}
		if d := cmp.Diff(a.Trace, b.Trace); d != "" {
			t.Errorf("%s: the traces differ (-first +again):\n%s", a.Config.Name, d)
		}
		orders[errText(a.Err)] = true
	}
	if len(orders) < 2 {
		t.Errorf("every seed gave the same outcome %v: the test shows nothing", orders)
	}
}

// A seed outside the default matrix, named in CLIENTTEST_CONFIGS, runs
// alone, the same run as with that many seeds.
func TestTheEnvironmentReplaysASeedOutsideTheMatrix(t *testing.T) {
	wide := check(t, completionOrder, clienttest.Names("Kit/tcp4"), clienttest.Seeds(37))
	t.Setenv("CLIENTTEST_CONFIGS", "Kit/tcp4/seed37")
	alone := check(t, completionOrder, clienttest.Names("NoLSP"))
	if len(alone) != 1 || alone[0].Config.Name != "Kit/tcp4/seed37" {
		t.Fatalf("ran %v, want Kit/tcp4/seed37 alone", alone)
	}
	if got, want := errText(alone[0].Err), errText(wide[len(wide)-1].Err); got != want {
		t.Errorf("seed 37 alone: %s; in the wide run: %s", got, want)
	}
}

func errText(err error) string {
	if err == nil {
		return "pass"
	}
	return err.Error()
}

// A client that polls without ever waiting starves the seeded scheduler
// in a bubble; in real time the kit runs the scheduler's work beside it.
func TestRealTimeRunsAClientThatPollsWithoutWaiting(t *testing.T) {
	clienttest.Run(t, pollsPort, clienttest.RealTime(), clienttest.Timeout(time.Second),
		clienttest.Names("NoLSP", "Kit/tcp4", "Kit+IFSPassThrough/all"))
	rs, err := clienttest.Check(pollsPort, clienttest.Names("Naive/tcp4/seed1"), clienttest.Timeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var te *clienttest.TimeoutError
	if len(rs) != 1 || !errors.As(rs[0].Err, &te) || !te.Ended {
		t.Errorf("results %v, want a timeout the shutdown ended", rs)
	}
}
