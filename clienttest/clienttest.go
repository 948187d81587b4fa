package clienttest

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi"
)

// Scenario is the client logic under test. It gets a fresh machine, with
// the configuration's layers installed and no process started, and does
// what the client does (starts a process, makes sockets, talks to a peer
// of its own), returning an error when the client fails. The kit shuts
// the machine down after it returns, so it need not close what it
// opened. It must not call t.FailNow or t.Fatal: it runs on a goroutine
// of the kit's.
type Scenario func(m *wsspi.Machine) error

// Result is how a scenario ended under one configuration. It is a plain
// value.
type Result struct {
	Config Config
	// Err is nil when the scenario passed: what it returned, or a
	// [*TimeoutError], a [*PanicError] or a [*SetupError].
	Err error
	// Trace is the machine's trace (package trace's text timeline) of the
	// first failing configuration, from a second, traced run of it with
	// the same seed; of every failing one with [TraceAll]. Empty for the
	// others.
	Trace string
}

// Passed reports whether the scenario passed.
func (r Result) Passed() bool { return r.Err == nil }

// Option configures [Run] and [Check].
type Option func(*options)

type options struct {
	seeds    int
	patterns []string // with named set
	only     []Config // with onlySet set
	named    bool
	onlySet  bool
	timeout  time.Duration
	bubble   bool
	realTime bool
	traceAll bool
}

const defaultSeeds = 2

// Seeds sets how many seeded variants each layout has (seeds 1 to n),
// besides its run with no scheduler; the default is 2.
// CLIENTTEST_SEEDS=N in the environment overrides it.
func Seeds(n int) Option { return func(o *options) { o.seeds = max(n, 0) } }

// Names runs the configurations the patterns name (see [Select]).
// CLIENTTEST_CONFIGS in the environment overrides it.
func Names(patterns ...string) Option {
	return func(o *options) { o.patterns, o.named = patterns, true }
}

// Only runs the configurations given, in that order: a selection of the
// test's own, or configurations it built; none, with no argument.
// CLIENTTEST_CONFIGS in the environment overrides it.
func Only(configs ...Config) Option {
	return func(o *options) { o.only, o.onlySet = configs, true }
}

// Timeout sets how long a scenario may run under one configuration
// before the kit reports a [*TimeoutError]; the default is 10s. In a
// testing/synctest bubble (always in [Run]; in [Check] with [Bubble]) it
// is the bubble's clock, which moves on at once when every goroutine
// waits, so a scenario that hangs costs no real time.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Bubble tells [Check] that it runs inside a testing/synctest bubble: the
// limit is then the bubble's clock, and the seeded scheduler's work runs
// once every other goroutine waits, so a seed replays a run. [Run] runs
// each configuration in a bubble of its own.
func Bubble() Option { return func(o *options) { o.bubble = true } }

// RealTime makes [Run] run each configuration outside a bubble, as
// [Check] does without [Bubble]: the limit is real time, and the seeded
// scheduler's work runs on a goroutine of the kit's as soon as it can.
// It is for scenarios that poll without ever waiting (see "Hangs" in the
// package documentation), which a bubble's clock cannot bound; a seed
// then replays the scheduler's decisions only, and a hang costs the
// limit, so set a short [Timeout] with it.
func RealTime() Option { return func(o *options) { o.realTime = true } }

// TraceAll records the trace of every failing configuration, not only
// the first.
func TraceAll() Option { return func(o *options) { o.traceAll = true } }

func newOptions(s Scenario, opts []Option) (*options, []Config, error) {
	if s == nil {
		return nil, nil, errors.New("clienttest: the scenario is nil")
	}
	o := &options{seeds: defaultSeeds, timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(o)
	}
	o.seeds = envSeeds(o.seeds)
	all := matrix(o.seeds)
	if env := os.Getenv(envConfigsVar); env != "" {
		cs, err := selectFrom(all, strings.FieldsFunc(env, func(r rune) bool { return r == ',' || r == ' ' }))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", envConfigsVar, err)
		}
		return o, cs, nil
	}
	switch {
	case o.onlySet:
		return o, o.only, nil
	case o.named:
		cs, err := selectFrom(all, o.patterns)
		return o, cs, err
	}
	return o, all, nil
}

// The environment variables that widen or narrow a run without an edit
// of the test.
const (
	envSeedsVar   = "CLIENTTEST_SEEDS"
	envConfigsVar = "CLIENTTEST_CONFIGS"
)

// envSeeds returns CLIENTTEST_SEEDS when it is set to a number, else def.
func envSeeds(def int) int {
	if n, err := strconv.Atoi(os.Getenv(envSeedsVar)); err == nil && n >= 0 {
		return n
	}
	return def
}

// Check runs s under each configuration (the default matrix, or those
// the options select) and returns a result for each, in order. The error
// is for the options alone (a pattern that names nothing); the
// scenario's failures are in the results. It calls no testing function,
// so it serves a program or a test that wants to look at the results.
// Without [Bubble] the limit is real time, and a seed decides the
// scheduler's choices but not when its work runs, so a seeded failure may
// not replay.
func Check(s Scenario, opts ...Option) ([]Result, error) {
	o, cs, err := newOptions(s, opts)
	if err != nil {
		return nil, err
	}
	results := make([]Result, 0, len(cs))
	traced := false
	for _, c := range cs {
		r := runConfig(s, c, o, false)
		if !r.Passed() && (o.traceAll || !traced) {
			r = withTrace(s, r, o)
			traced = true
		}
		results = append(results, r)
	}
	return results, nil
}

// withTrace runs r's configuration again with a trace, and returns r with
// the trace, noting when the second run ended differently.
func withTrace(s Scenario, r Result, o *options) Result {
	again := runConfig(s, r.Config, o, true)
	r.Trace = again.Trace
	if firstLine(errText(again.Err)) != firstLine(errText(r.Err)) {
		r.Trace = fmt.Sprintf("(the traced run of the same configuration ended differently: %v)\n%s", errText(again.Err), again.Trace)
	}
	return r
}

// firstLine is what two runs' errors must share to be the same failure:
// a panic's stack, on the lines below, names goroutines of its own.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func errText(err error) string {
	if err == nil {
		return "pass"
	}
	return err.Error()
}

// Run runs s under each configuration as a subtest of t named after it
// ("TestMyClient/Naive/tcp4/seed1"), each in a testing/synctest bubble of
// its own (unless [RealTime]), and reports each failure with t.Error: the configuration, the
// error, how to run it alone, and, for the first, the machine's trace.
// It logs the matrix ([Matrix]) at the end. A bad option fails t.
func Run(t *testing.T, s Scenario, opts ...Option) {
	t.Helper()
	o, cs, err := newOptions(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	o.bubble = !o.realTime
	in := func(t *testing.T, f func() Result) Result {
		if o.realTime {
			return f()
		}
		return runInBubble(t, f)
	}
	results := make([]Result, 0, len(cs))
	traced := false
	for _, c := range cs {
		t.Run(c.Name, func(t *testing.T) {
			r := in(t, func() Result { return runConfig(s, c, o, false) })
			if !r.Passed() && (o.traceAll || !traced) {
				traced = true
				r = in(t, func() Result { return withTrace(s, r, o) })
			}
			results = append(results, r)
			if !r.Passed() {
				t.Error(failureText(r, replayCommand(t.Name(), c.Name)))
			}
		})
	}
	t.Log("clienttest matrix:\n" + Matrix(results))
}

// runInBubble runs f in a testing/synctest bubble. A scenario stuck on
// something of its own stays blocked after the machine's shutdown, and
// the bubble then ends with synctest's deadlock panic, which it recovers:
// the result already says so, and the goroutine is left behind.
func runInBubble(t *testing.T, f func() Result) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			var te *TimeoutError
			if !errors.As(r.Err, &te) || te.Ended {
				panic(p)
			}
		}
	}()
	synctest.Test(t, func(*testing.T) { r = f() })
	return r
}

// failureText says what failed and how to run it again, with the trace
// when the result has one.
func failureText(r Result, replay string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "configuration %s: %v\n\treplay: %s", r.Config.Name, r.Err, replay)
	if r.Trace != "" {
		b.WriteString("\n\ttrace of this configuration:\n" + r.Trace)
	}
	return b.String()
}

// replayCommand returns the command that runs the configuration name of
// the subtest test alone.
func replayCommand(test, name string) string {
	parent := strings.TrimSuffix(test, "/"+name)
	var elems []string
	for _, e := range strings.Split(parent, "/") {
		elems = append(elems, "^"+regexp.QuoteMeta(e)+"$")
	}
	return fmt.Sprintf("%s=%s go test -run '%s'", envConfigsVar, name, strings.Join(elems, "/"))
}
