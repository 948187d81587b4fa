package spitest

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// Factory installs the providers under test into m, a fresh machine whose
// catalog holds the loopback provider's default entries, and names the
// catalog entries to test. It typically registers a provider "DLL" with
// m.RegisterProvider and installs it with Catalog().InstallLSP (or
// layered.Install). The kit calls it once per run, each time with a new
// machine; it must install the same way every time. A nil Factory tests
// the loopback base provider's TCP entries.
type Factory func(m *wsspi.Machine) (Target, error)

// Target names what a [Factory] installed, and what its layers do to the
// data they carry.
type Target struct {
	// Entries are the catalog entries whose sockets the kit makes: chains
	// of the layered providers under test, or base entries. Empty means
	// every entry the factory added to the catalog that can serve a socket
	// (ChainLen 1 or more). The kit tests the stream (SOCK_STREAM) entries
	// among them; datagram entries are skipped.
	Entries []spi.CatalogEntryId
	// Transform is what the layers of the entries do to the bytes they
	// carry, between the client and the wire: an encrypting or
	// compressing layer declares it, and the kit checks the data of every
	// connection through it. nil: the layers carry the client's bytes
	// unchanged. For a stack of data-changing layers it is the stack's
	// change, the top layer's applied first.
	Transform *Transform
}

// Finding is one rule a provider broke, as the kit saw it. Check joins
// findings into its error; Run reports each with t.Error.
type Finding struct {
	// Case is the name of the case that found it ("Notify/port",
	// "Workload").
	Case string
	// Rule is the rule broken.
	Rule Rule
	// Entry and EntryName name the catalog entry under test.
	Entry     spi.CatalogEntryId
	EntryName string
	// Detail says what happened.
	Detail string
	// Run says how to reproduce it: "inline" (no scheduler), "scheduler
	// seed N", or, for the workload, its seed or the rapid draws.
	Run string
	// Log holds the last steps of the run, oldest first.
	Log []string
}

// Error formats the finding: the case, the entry, what happened, the rule
// quoted with its sources (source keys and sections of docs/facts.md, or
// "spitest"), how to reproduce it, and the last steps.
func (f *Finding) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s", f.Case)
	if f.Entry != 0 {
		fmt.Fprintf(&b, " [entry %d %q]", f.Entry, f.EntryName)
	}
	src := f.Rule.Source
	if f.Rule.Facts != "" {
		src += "; " + f.Rule.Facts
	}
	fmt.Fprintf(&b, ": %s\n\trule %s (%s): %q", f.Detail, f.Rule.Name, src, f.Rule.Quote)
	if f.Run != "" {
		fmt.Fprintf(&b, "\n\treproduce: %s", f.Run)
	}
	if len(f.Log) > 0 {
		b.WriteString("\n\tsteps:")
		for _, l := range f.Log {
			b.WriteString("\n\t\t" + l)
		}
	}
	return b.String()
}

// Option configures [Run] and [Check].
type Option func(*config)

type config struct {
	seeds   int                         // scheduling seeds per scripted case, besides the inline run
	steps   int                         // workload steps for a seeded (not rapid) workload
	seed    uint64                      // the seeded workload's seed
	rt      *rapid.T                    // the workload draws from it when set
	bubble  bool                        // runs inside a synctest bubble
	timeout time.Duration               // outside a bubble, how long to wait for notifications
	only    []string                    // case names to run; nil: all
	ifs     map[spi.CatalogEntryId]bool // target entries with XP1_IFS_HANDLES: their runs record no trace
	logTail int
}

// Seeds sets how many scheduler seeds each scripted case runs with, besides
// one run with no scheduler (work done inline). The default is 3, or 24
// with SPITEST_LONG=1 in the environment.
func Seeds(n int) Option { return func(c *config) { c.seeds = max(n, 0) } }

// Steps sets the number of steps of the workload when [Check] runs it from
// a seed; the default is 60, or 400 with SPITEST_LONG=1. Under rapid
// (Run, or Check with [Draw]) rapid decides: -rapid.steps.
func Steps(n int) Option { return func(c *config) { c.steps = max(n, 1) } }

// Seed sets the seed of the workload when [Check] runs it without rapid;
// the default is 1. The workload's scheduler is seeded from it too, so a
// seed replays a run.
func Seed(s uint64) Option { return func(c *config) { c.seed = s } }

// Draw makes [Check] draw the workload's steps, and its scheduler's seed,
// from t, so rapid shrinks a failing workload to a minimal sequence and
// replays it from -rapid.seed or a fail file.
func Draw(t *rapid.T) Option { return func(c *config) { c.rt = t } }

// Bubble tells [Check] that it runs inside a testing/synctest bubble:
// the kit then waits for the provider's own goroutines with
// synctest.Wait, so a run is deterministic and a lost notification is
// known lost at once, with no timeout. [Run] always runs in bubbles.
func Bubble() Option { return func(c *config) { c.bubble = true } }

// Timeout sets how long [Check], outside a bubble, waits for notifications
// that have not arrived before it reports them lost, and at the end of a
// run for the provider to close its socket handles before it reports them
// left open; the default is 2s.
func Timeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Cases restricts the run to the named cases ("Notify/port",
// "CloseAborts", "Workload", ...; a name also selects the cases under it,
// so "Notify" selects the three Notify cases). See [CaseNames].
func Cases(names ...string) Option { return func(c *config) { c.only = names } }

func newConfig(opts []Option) *config {
	c := &config{seeds: 3, steps: 60, seed: 1, timeout: 2 * time.Second, logTail: defaultLogTail}
	if os.Getenv("SPITEST_LONG") != "" {
		c.seeds, c.steps = 24, 400
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *config) selected(name string) bool {
	if c.only == nil {
		return true
	}
	for _, n := range c.only {
		if n == name || strings.HasPrefix(name, n+"/") {
			return true
		}
	}
	return false
}

// CaseNames returns the names of the kit's cases, in the order they run,
// the workload last.
func CaseNames() []string {
	var names []string
	for _, c := range cases {
		names = append(names, c.name)
	}
	return append(names, workloadName)
}

// Rules returns the rules the kit checks.
func Rules() []Rule {
	return []Rule{ruleCompletesOnce, ruleMechanism, rulePortKey, ruleResult, ruleImmediate, ruleCloseAborts,
		ruleHandleClose, ruleCleanup, ruleContext, ruleIFSFlag, ruleReadFile, ruleBaseHandle, ruleStream,
		ruleStreamData, ruleSocketFails, ruleStartupFails, ruleNetworkEventOnce, ruleCloseEventOnce, ruleAsyncSelectHandle,
		ruleSelectNonBlocking, ruleSelectReady, rulePollReady, ruleAFDPoll, ruleConnect, ruleServes, ruleNoPanic, ruleFactory}
}

// Check runs every case over every target entry of f and returns the
// findings joined with errors.Join (each a [*Finding]), or nil. It calls
// no testing function, so it serves a program, a *testing.T, or a rapid
// property (with [Draw]). Without [Bubble] it waits for notifications in
// real time, up to the [Timeout].
func Check(f Factory, opts ...Option) error {
	cfg := newConfig(opts)
	ids, fs := resolve(cfg, f)
	if fs != nil {
		return joinFindings(fs)
	}
	var all []*Finding
	for _, c := range cases {
		if !cfg.selected(c.name) {
			continue
		}
		for _, id := range ids {
			all = append(all, runVariants(cfg, f, id, c)...)
		}
	}
	if cfg.selected(workloadName) {
		for _, id := range ids {
			var src drawer = newRandDrawer(cfg.seed)
			run := fmt.Sprintf("spitest.Check(f, spitest.Seed(%d), spitest.Steps(%d))", cfg.seed, cfg.steps)
			if cfg.rt != nil {
				src, run = rapidDrawer{cfg.rt}, "rapid: see its report (-rapid.seed or the fail file)"
			}
			all = append(all, runWorkload(cfg, f, id, src, run)...)
		}
	}
	return joinFindings(all)
}

// Run runs every case over every target entry of f as a subtest of t,
// each in a testing/synctest bubble: one subtest per case, and the
// workload under rapid, one subtest per entry ("Workload/entry1005"), so
// that -run selects cases, rapid shrinks a failing workload to a minimal
// sequence, and -rapid.seed or a fail file under testdata/rapid replays
// it. Each finding is reported with t.Error.
func Run(t *testing.T, f Factory, opts ...Option) {
	t.Helper()
	cfg := newConfig(opts)
	cfg.bubble = true
	ids, fs := resolve(cfg, f)
	for _, x := range fs {
		t.Error(x)
	}
	if fs != nil {
		return
	}
	for _, c := range cases {
		if !cfg.selected(c.name) {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			for _, id := range ids {
				var found []*Finding
				synctest.Test(t, func(*testing.T) {
					found = runVariants(cfg, f, id, c)
				})
				for _, x := range found {
					t.Error(x)
				}
			}
		})
	}
	if !cfg.selected(workloadName) {
		return
	}
	t.Run(workloadName, func(t *testing.T) {
		for _, id := range ids {
			t.Run("entry"+strconv.Itoa(int(id)), func(t *testing.T) {
				rapid.Check(t, func(rt *rapid.T) {
					rapid.SyncTest(rt, func(rt *rapid.T) {
						if fs := runWorkload(cfg, f, id, rapidDrawer{rt}, "rapid (see below)"); fs != nil {
							rt.Fatal(joinFindings(fs))
						}
					})
				})
			})
		}
	})
}

// runVariants runs case c over entry id inline and then with each
// scheduler seed, and returns the findings of the first run that has any.
func runVariants(cfg *config, f Factory, id spi.CatalogEntryId, c kase) []*Finding {
	for v := -1; v < cfg.seeds; v++ {
		var sched *Scheduler
		run := "inline (no scheduler)"
		if v >= 0 {
			sched = NewScheduler(uint64(v + 1))
			run = fmt.Sprintf("scheduler seed %d (spitest.NewScheduler(%d))", v+1, v+1)
		}
		if fs := runOnce(cfg, f, id, c.name, sched, run, false, c.run); fs != nil {
			return fs
		}
	}
	return nil
}

// runOnce makes an env, runs body in it, finishes it, and returns its
// findings. A panic in the run becomes a finding; under rapid (reraise
// set) it is raised again once the run is cleaned up, since rapid draws
// signal with panics too.
func runOnce(cfg *config, f Factory, id spi.CatalogEntryId, name string, sched *Scheduler, run string, reraise bool, body func(*env)) []*Finding {
	e, fs := newEnv(cfg, f, id, sched)
	if fs != nil {
		for _, x := range fs {
			x.Case = name
		}
		return fs
	}
	var raised any
	guard := func(fn func()) {
		defer func() {
			if r := recover(); r != nil {
				if raised == nil {
					raised = r
				}
				e.fail(ruleNoPanic, "the run panicked: %v\n%s", r, debug.Stack())
			}
		}()
		fn()
	}
	guard(func() { body(e) })
	guard(e.finish)
	if !e.closed {
		_ = e.p.Close()
	}
	if raised != nil && reraise {
		panic(raised)
	}
	for _, x := range e.findings {
		x.Case, x.Run = name, run
		x.Log = e.logText(cfg.logTail)
	}
	e.releaseLists()
	return e.findings
}

// resolve calls the factory on a probe machine to learn the target
// entries, and checks what it installed and the transform it declared. It notes in cfg which target
// entries have XP1_IFS_HANDLES.
func resolve(cfg *config, f Factory) ([]spi.CatalogEntryId, []*Finding) {
	m := wsspi.NewMachine()
	before := map[spi.CatalogEntryId]bool{}
	if all, err := m.Catalog().WSCEnumProtocols(nil); err == nil {
		for _, e := range all {
			before[e.CatalogEntryId] = true
		}
	}
	target, fs := runFactory(f, m)
	if fs != nil {
		return nil, fs
	}
	bad := func(format string, args ...any) []*Finding {
		return []*Finding{{Case: "Factory", Rule: ruleFactory, Detail: fmt.Sprintf(format, args...)}}
	}
	if lint := m.Catalog().Lint(); len(lint) > 0 {
		var ds []string
		for _, l := range lint {
			ds = append(ds, l.String())
		}
		return nil, bad("the factory's catalog fails lint:\n\t\t%s", strings.Join(ds, "\n\t\t"))
	}
	if target.Transform != nil {
		if why := checkTransform(target.Transform); why != "" {
			return nil, bad("%s", why)
		}
	}
	all, err := m.Catalog().WSCEnumProtocols(nil)
	if err != nil {
		return nil, bad("WSCEnumProtocols: %v", err)
	}
	byID := map[spi.CatalogEntryId]spi.WSAProtocolInfo{}
	for _, e := range all {
		byID[e.CatalogEntryId] = e
	}
	ids := target.Entries
	if len(ids) == 0 {
		for _, e := range all {
			if !before[e.CatalogEntryId] && e.ProtocolChain.ChainLen >= 1 {
				ids = append(ids, e.CatalogEntryId)
			}
		}
		if len(ids) == 0 {
			return nil, bad("the factory installed nothing and named no entry (Target.Entries is empty and the catalog gained no entry that serves sockets)")
		}
	}
	var out []spi.CatalogEntryId
	for _, id := range ids {
		e, ok := byID[id]
		switch {
		case !ok:
			return nil, bad("Target names entry %d, which is not in the catalog", id)
		case e.ProtocolChain.ChainLen < 1:
			return nil, bad("Target names entry %d, a layered (ChainLen 0) entry, which never serves a socket; name its chains", id)
		case e.SocketType == spi.SOCK_STREAM && !slices.Contains(out, id):
			out = append(out, id)
			if e.ServiceFlags1&spi.XP1_IFS_HANDLES != 0 {
				if cfg.ifs == nil {
					cfg.ifs = map[spi.CatalogEntryId]bool{}
				}
				cfg.ifs[id] = true
			}
		}
	}
	if len(out) == 0 {
		return nil, bad("none of the target entries %v is a stream entry; the kit tests stream entries only", ids)
	}
	if fs := serves(m, out, byID); fs != nil {
		return nil, fs
	}
	return out, nil
}

// serves checks the rule Serves on the factory's machine m: a socket
// through each target entry, in a process of its own, closed again. The
// cases skip what they cannot do when WSASocket fails (a fault may make
// it fail), so without this check a provider that never starts would
// pass them all.
func serves(m *wsspi.Machine, ids []spi.CatalogEntryId, byID map[spi.CatalogEntryId]spi.WSAProtocolInfo) []*Finding {
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	var fs []*Finding
	for _, id := range ids {
		e := byID[id]
		h, err := th.WSASocket(e.AddressFamily, e.SocketType, e.Protocol, &e, 0, spi.WSA_FLAG_OVERLAPPED)
		if err != nil {
			fs = append(fs, &Finding{Case: "Serves", Rule: ruleServes, Entry: id, EntryName: e.ProtocolName,
				Detail: fmt.Sprintf("WSASocket through entry %d (%s) fails: %v", id, e.ProtocolName, err)})
			continue
		}
		_ = th.Closesocket(h)
	}
	return fs
}

// runFactory calls f on m, turning a panic or an error into a finding. A
// nil f installs nothing and targets the default TCP entries.
func runFactory(f Factory, m *wsspi.Machine) (t Target, fs []*Finding) {
	if f == nil {
		return Target{Entries: []spi.CatalogEntryId{catalog.DefaultTCPIPv4, catalog.DefaultTCPIPv6}}, nil
	}
	defer func() {
		if r := recover(); r != nil {
			fs = []*Finding{{Case: "Factory", Rule: ruleFactory, Detail: fmt.Sprintf("the factory panicked: %v", r)}}
		}
	}()
	t, err := f(m)
	if err != nil {
		return t, []*Finding{{Case: "Factory", Rule: ruleFactory, Detail: "the factory failed: " + err.Error()}}
	}
	return t, nil
}

func joinFindings(fs []*Finding) error {
	if len(fs) == 0 {
		return nil
	}
	errs := make([]error, len(fs))
	for i, f := range fs {
		errs[i] = f
	}
	return errors.Join(errs...)
}

func itoa(n int) string { return strconv.Itoa(n) }
