package spitest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"pgregory.net/rapid"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
)

// TestBadFactories: bad input gives one clear Factory finding, not a crash.
func TestBadFactories(t *testing.T) {
	for name, tc := range map[string]struct {
		f    spitest.Factory
		want string
	}{
		"panics":  {func(*wsspi.Machine) (spitest.Target, error) { panic("boom") }, "the factory panicked: boom"},
		"fails":   {func(*wsspi.Machine) (spitest.Target, error) { return spitest.Target{}, errors.New("no") }, "the factory failed: no"},
		"nothing": {func(*wsspi.Machine) (spitest.Target, error) { return spitest.Target{}, nil }, "installed nothing"},
		"missing": {func(*wsspi.Machine) (spitest.Target, error) {
			return spitest.Target{Entries: []spi.CatalogEntryId{4242}}, nil
		}, "not in the catalog"},
		"datagram": {func(*wsspi.Machine) (spitest.Target, error) {
			return spitest.Target{Entries: []spi.CatalogEntryId{catalog.DefaultUDPIPv4}}, nil
		}, "stream entries only"},
		"lint": {func(m *wsspi.Machine) (spitest.Target, error) {
			// A hidden layered entry that no chain uses.
			e := catalog.DefaultEntries()[0]
			e.ProtocolChain = spi.WSAProtocolChain{ChainLen: spi.LAYERED_PROTOCOL}
			return spitest.Target{}, m.Catalog().WSCInstallProvider(spi.MustParseGUID("{B0B0B0B0-1111-4000-8000-000000000001}"), `C:\x.dll`, []spi.WSAProtocolInfo{e})
		}, "fails lint"},
	} {
		t.Run(name, func(t *testing.T) {
			err := spitest.Check(tc.f)
			fs := unjoin(err)
			if len(fs) != 1 {
				t.Fatalf("Check = %v; want one finding", err)
			}
			var x *spitest.Finding
			if !errors.As(fs[0], &x) || x.Rule.Name != "Factory" || !strings.Contains(x.Detail, tc.want) {
				t.Fatalf("Check = %v; want a Factory finding saying %q", err, tc.want)
			}
		})
	}
}

// TestSameSeedSameRun: a seeded workload over a broken provider reports
// the same findings, step for step, every time.
func TestSameSeedSameRun(t *testing.T) {
	run := func() string {
		var s string
		synctest.Test(t, func(*testing.T) {
			err := spitest.Check(naive, spitest.Bubble(), spitest.Cases("Workload"), spitest.Seed(7), spitest.Steps(80))
			if err == nil {
				t.Fatal("the seeded workload did not catch the naive LSP")
			}
			s = err.Error()
		})
		return s
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("two runs with seed 7 differ:\n%s\n----\n%s", a, b)
	}
}

// TestScheduler: the same seed makes the same decisions, and work under
// one key runs in order.
func TestScheduler(t *testing.T) {
	trace := func(seed uint64) string {
		s := spitest.NewScheduler(seed)
		var out []string
		for i := range 20 {
			key := i % 3
			s.Defer(key, func() { out = append(out, fmt.Sprint(key, ":", i)) })
			if s.Pend() {
				out = append(out, "pend")
			}
			if i%4 == 0 {
				s.Step()
			}
		}
		s.Drain()
		if s.Len() != 0 || s.Ran() != 20 {
			t.Fatalf("after Drain: Len %d, Ran %d", s.Len(), s.Ran())
		}
		last := map[string]int{}
		for _, o := range out {
			var k, i int
			if _, err := fmt.Sscanf(o, "%d:%d", &k, &i); err == nil {
				if p, ok := last[fmt.Sprint(k)]; ok && p > i {
					t.Fatalf("key %d ran %d after %d: %v", k, i, p, out)
				}
				last[fmt.Sprint(k)] = i
			}
		}
		return strings.Join(out, " ")
	}
	if a, b := trace(3), trace(3); a != b {
		t.Fatalf("seed 3 gave two orders:\n%s\n%s", a, b)
	}
	if a, b := trace(3), trace(4); a == b {
		t.Fatalf("seeds 3 and 4 gave the same order %s", a)
	}
}

// captureTB is a rapid.TB that records a failure instead of failing the
// test, so a test can check that rapid finds and shrinks one.
type captureTB struct {
	name   string
	logs   []string
	failed bool
	msg    string
}

func (c *captureTB) Helper()                   {}
func (c *captureTB) Name() string              { return c.name }
func (c *captureTB) Logf(f string, a ...any)   { c.logs = append(c.logs, fmt.Sprintf(f, a...)) }
func (c *captureTB) Log(a ...any)              { c.logs = append(c.logs, fmt.Sprint(a...)) }
func (c *captureTB) Skipf(string, ...any)      {}
func (c *captureTB) Skip(...any)               {}
func (c *captureTB) SkipNow()                  {}
func (c *captureTB) Errorf(f string, a ...any) { c.failed, c.msg = true, fmt.Sprintf(f, a...) }
func (c *captureTB) Error(a ...any)            { c.failed, c.msg = true, fmt.Sprint(a...) }
func (c *captureTB) Fatalf(f string, a ...any) { c.failed, c.msg = true, fmt.Sprintf(f, a...) }
func (c *captureTB) Fatal(a ...any)            { c.failed, c.msg = true, fmt.Sprint(a...) }
func (c *captureTB) FailNow()                  { c.failed = true }
func (c *captureTB) Fail()                     { c.failed = true }
func (c *captureTB) Failed() bool              { return c.failed }

// TestWorkloadShrinks: rapid, driving the workload through Check and Draw
// in a bubble, catches each broken provider and shrinks the failure to a
// minimal sequence, printed here; the fail files it wrote under
// testdata/rapid/ are committed and replayed first on later runs.
func TestWorkloadShrinks(t *testing.T) {
	for _, b := range brokenProviders {
		t.Run(b.name, func(t *testing.T) {
			tb := &captureTB{name: t.Name()}
			rapid.Check(tb, func(rt *rapid.T) {
				var err error
				var raised any
				synctest.Test(t, func(*testing.T) {
					defer func() { raised = recover() }()
					err = spitest.Check(b.f, spitest.Bubble(), spitest.Cases("Workload"), spitest.Draw(rt))
				})
				if raised != nil {
					panic(raised)
				}
				if err != nil {
					rt.Fatal(err)
				}
			})
			if !tb.failed {
				t.Fatalf("the workload did not catch %s", b.name)
			}
			var draws []string
			for _, l := range tb.logs {
				if strings.Contains(l, "[rapid] draw") {
					draws = append(draws, l)
				}
			}
			t.Logf("minimal reproduction (%d draws):\n%s\n%s", len(draws), strings.Join(draws, "\n"), firstLines(tb.msg, 3))
		})
	}
}
