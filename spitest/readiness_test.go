package spitest_test

import (
	"encoding/binary"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
)

// hooked installs a kit layer named name over TCP/IPv4 with cfg.
func hooked(name string, n uint16, cfg layered.Config) spitest.Factory {
	return func(m *wsspi.Machine) (spitest.Target, error) {
		g := spi.MustParseGUID("{5EC0A7E1-3333-4000-8000-00000000F0D0}")
		g.Data2 = n
		_, ids, err := layered.Install(m, layered.Options{Name: name, GUID: g, Path: `C:\lsp\` + name + `.dll`, Over: over, Config: cfg})
		return spitest.Target{Entries: ids.Chains}, err
	}
}

// serveSelectStack is a stack of kit layers over TCP/IPv4, the lowest
// first, each answering SIO_BSP_HANDLE_SELECT itself (Config.ServeSelect)
// or passing it down as serve says; calls[i], when calls is not nil,
// counts the WSPSelect calls layer i sees.
func serveSelectStack(calls []atomic.Int64, serve ...bool) spitest.Factory {
	return func(m *wsspi.Machine) (spitest.Target, error) {
		below := over
		for i, sv := range serve {
			g := spi.MustParseGUID("{5EC0A7E1-4444-4000-8000-00000000F0D0}")
			g.Data2 = uint16(i + 1)
			name := "sel" + string(rune('a'+i))
			cfg := layered.Config{ServeSelect: sv}
			if calls != nil {
				cfg.Hooks.After = func(c *layered.Call) layered.Verdict {
					if c.Op == layered.OpSelect {
						calls[i].Add(1)
					}
					return layered.Pass()
				}
			}
			_, ids, err := layered.Install(m, layered.Options{Name: name, GUID: g, Path: `C:\lsp\` + name + `.dll`,
				Over: below, Config: cfg})
			if err != nil {
				return spitest.Target{}, err
			}
			below = ids.Chains
		}
		return spitest.Target{Entries: below}, nil
	}
}

// TestReadinessThroughLayersThatServeSelect: the select case passes when a
// layer answers SIO_BSP_HANDLE_SELECT and serves select itself, alone,
// under a layer that passes the code down (ws2_32 then hands select to the
// lower layer), and under one that serves it too. (The stacks of
// TestCorrectProviders and TestCorrectStacks run every case with the base
// provider serving select; ServeSelect changes nothing else.)
func TestReadinessThroughLayersThatServeSelect(t *testing.T) {
	for _, st := range []struct {
		name string
		f    spitest.Factory
	}{
		{"ServeSelect", serveSelectStack(nil, true)},
		{"PassingOverServeSelect", serveSelectStack(nil, true, false)},
		{"ServeSelectOverServeSelect", serveSelectStack(nil, true, true)},
	} {
		t.Run(st.name, func(t *testing.T) { spitest.Run(t, st.f, spitest.Cases("Readiness/Select")) })
	}
}

// TestSelectReachesTheLayersAsWs2_32RoutesIt: over stacks of kit layers
// (the lowest first) that serve select or pass SIO_BSP_HANDLE_SELECT down,
// the select case reaches the WSPSelect of the highest layer that answers
// the code and of every layer below it, and of no layer above it: with no
// layer answering, the base provider serves select and no layer sees it.
func TestSelectReachesTheLayersAsWs2_32RoutesIt(t *testing.T) {
	for _, c := range []struct {
		serve []bool
		want  []bool // which layers see WSPSelect
	}{
		{[]bool{false}, []bool{false}},
		{[]bool{true}, []bool{true}},
		{[]bool{false, false}, []bool{false, false}},
		{[]bool{true, false}, []bool{true, false}},
		{[]bool{false, true}, []bool{true, true}},
		{[]bool{true, true}, []bool{true, true}},
	} {
		calls := make([]atomic.Int64, len(c.serve))
		if diff := cmp.Diff([]string(nil), ruleNames(t, serveSelectStack(calls, c.serve...), "Readiness/Select")); diff != "" {
			t.Errorf("ServeSelect %v: rules (-want +got):\n%s", c.serve, diff)
		}
		var got []bool
		for i := range calls {
			got = append(got, calls[i].Load() > 0)
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("ServeSelect %v: layers that saw WSPSelect (-want +got):\n%s", c.serve, diff)
		}
	}
}

// afterEnum is an After hook that changes what WSPEnumNetworkEvents
// reports for a socket with change.
func afterEnum(change func(s *layered.Socket, ev *spi.WSANetworkEvents)) layered.Config {
	return layered.Config{Hooks: layered.Hooks{After: func(c *layered.Call) layered.Verdict {
		if c.Op == layered.OpEnumNetworkEvents {
			change(c.Socket, c.NetworkEvents)
		}
		return layered.Pass()
	}}}
}

// postWrapped is a layer whose WPUPostMessage upcall goes through post,
// which is given the real one.
func postWrapped(name string, post func(real func(spi.HWND, uint32, uintptr, uintptr) bool, up spi.WSPUpcallTable, h spi.HWND, msg uint32, w, l uintptr) bool) spitest.Factory {
	return broken(name, false, func(up *spi.WSPUpcallTable, _ spi.Imports, _ *spi.WSPProcTable) {
		if up == nil {
			return
		}
		real, table := up.WPUPostMessage, *up
		up.WPUPostMessage = func(h spi.HWND, msg uint32, w, l uintptr) bool { return post(real, table, h, msg, w, l) }
	})
}

// The readiness mutants, each with the case that catches it and every rule
// it reports.
var readinessMutants = []struct {
	name  string
	cas   string
	rules []string
	f     spitest.Factory
}{
	{"EnumDropsFDRead", "Readiness/EventSelect", []string{"NetworkEventOnce"}, hooked("dropread", 1, afterEnum(func(_ *layered.Socket, ev *spi.WSANetworkEvents) {
		// The mistake: a filter that loses FD_READ.
		ev.NetworkEvents &^= spi.FD_READ
	}))},
	{"EnumReportsFDCloseTwice", "Readiness/EventSelect", []string{"CloseEventOnce"}, hooked("closetwice", 2, afterEnum(func(s *layered.Socket, ev *spi.WSANetworkEvents) {
		// The mistake: a cache of the connection's state that keeps
		// reporting FD_CLOSE once it has seen it.
		if ev.NetworkEvents&spi.FD_CLOSE != 0 {
			s.SetValue(ev.ErrorCode[spi.FD_CLOSE_BIT])
		} else if err, ok := s.Value().(spi.Errno); ok {
			ev.NetworkEvents |= spi.FD_CLOSE
			ev.ErrorCode[spi.FD_CLOSE_BIT] = err
		}
	}))},
	{"AnswersFIONBIO", "Readiness/EventSelect", []string{"SelectNonBlocking"}, hooked("fionbio", 6, layered.Config{Hooks: layered.Hooks{
		Before: func(c *layered.Call) layered.Verdict {
			if c.Op == layered.OpIoctl && c.Code == spi.FIONBIO {
				return layered.Complete(0) // the mistake: the layer answers FIONBIO itself, so a selection no longer pins non-blocking mode
			}
			return layered.Pass()
		}}})},
	{"MessageDropsFDRead", "Readiness/AsyncSelect", []string{"NetworkEventOnce"}, hooked("msgdropread", 3, layered.Config{Hooks: layered.Hooks{
		Before: func(c *layered.Call) layered.Verdict {
			if c.Op == layered.OpAsyncSelectMessage && spi.WSAGETSELECTEVENT(c.LParam) == spi.FD_READ {
				return layered.Fail(spi.WSAENOBUFS) // the mistake: the message is lost
			}
			return layered.Pass()
		}}})},
	{"PostsFDCloseTwice", "Readiness/AsyncSelect", []string{"CloseEventOnce"}, postWrapped("posttwice",
		func(real func(spi.HWND, uint32, uintptr, uintptr) bool, _ spi.WSPUpcallTable, h spi.HWND, msg uint32, w, l uintptr) bool {
			if spi.WSAGETSELECTEVENT(l) == spi.FD_CLOSE {
				real(h, msg, w, l) // the mistake: FD_CLOSE goes out twice
			}
			return real(h, msg, w, l)
		})},
	{"PostsLowerSocket", "Readiness/AsyncSelect", []string{"AsyncSelectHandle"}, postWrapped("postlower",
		func(real func(spi.HWND, uint32, uintptr, uintptr) bool, up spi.WSPUpcallTable, h spi.HWND, msg uint32, w, l uintptr) bool {
			// The mistake: the message names the lower socket, as when a
			// layer passes the client's window down.
			if ctx, err := up.WPUQuerySocketHandleContext(spi.Socket(w)); err == nil {
				if s, ok := ctx.(*layered.Socket); ok {
					w = uintptr(s.Lower())
				}
			}
			return real(h, msg, w, l)
		})},
	{"SelectDropsReadable", "Readiness/Select", []string{"SelectReady"}, hooked("seldrop", 4, layered.Config{ServeSelect: true, Hooks: layered.Hooks{
		After: func(c *layered.Call) layered.Verdict {
			if c.Op == layered.OpSelect && c.Sets[0] != nil {
				c.Sets[0].Zero() // the mistake: readability is lost
			}
			return layered.Pass()
		}}})},
	{"AnswersBSPHandlePoll", "Readiness/Poll", []string{"PollReady"}, broken("bsppoll", false, func(_ *spi.WSPUpcallTable, _ spi.Imports, t *spi.WSPProcTable) {
		if t == nil {
			return
		}
		ioctl := t.WSPIoctl
		t.WSPIoctl = func(s spi.Socket, code uint32, in, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			if code == spi.SIO_BSP_HANDLE_POLL && ov == nil && len(out) >= 8 {
				// The mistake: the sample's answer, its own handle, without
				// the SIO_EXT_POLL that would serve WSAPoll on it.
				binary.LittleEndian.PutUint64(out, uint64(s))
				return 8, nil
			}
			return ioctl(s, code, in, out, ov, cr, th)
		}
	})},
	{"InterceptsBaseHandle", "Readiness/Poll", []string{"AFDPoll"}, brokenProvider("InterceptsBaseHandle")},
}

// brokenProvider returns the factory of the broken provider named name.
func brokenProvider(name string) spitest.Factory {
	for _, b := range brokenProviders {
		if b.name == name {
			return b.f
		}
	}
	panic("no broken provider " + name)
}

// ruleNames runs case cas over f in a bubble and returns the names of the
// rules its findings name, sorted, once each.
func ruleNames(t *testing.T, f spitest.Factory, cas string) []string {
	t.Helper()
	var names []string
	synctest.Test(t, func(t *testing.T) {
		for _, e := range unjoin(spitest.Check(f, spitest.Bubble(), spitest.Cases(cas))) {
			var x *spitest.Finding
			if !errors.As(e, &x) {
				t.Fatalf("Check returned %T, not a *Finding: %v", e, e)
			}
			t.Logf("%v", firstLines(x.Error(), 2))
			names = append(names, x.Rule.Name)
		}
	})
	slices.Sort(names)
	return slices.Compact(names)
}

// TestReadinessMutantsAreCaughtByName: each mutant is caught by its case,
// with exactly the rules it breaks.
func TestReadinessMutantsAreCaughtByName(t *testing.T) {
	for _, mu := range readinessMutants {
		t.Run(mu.name, func(t *testing.T) {
			if diff := cmp.Diff(mu.rules, ruleNames(t, mu.f, mu.cas)); diff != "" {
				t.Errorf("case %s over %s: rules (-want +got):\n%s", mu.cas, mu.name, diff)
			}
		})
	}
}

// TestASelectHookOfALayerThatDoesNotServeSelectNeverRuns: the mutant
// SelectDropsReadable without Config.ServeSelect passes SIO_BSP_HANDLE_SELECT
// down, so ws2_32 hands select to the base provider and the broken hook
// never runs, as on Windows since Vista.
func TestASelectHookOfALayerThatDoesNotServeSelectNeverRuns(t *testing.T) {
	ran := false
	f := hooked("selpass", 5, layered.Config{Hooks: layered.Hooks{After: func(c *layered.Call) layered.Verdict {
		if c.Op == layered.OpSelect {
			ran = true
			c.Sets[0].Zero()
		}
		return layered.Pass()
	}}})
	if diff := cmp.Diff([]string(nil), ruleNames(t, f, "Readiness/Select")); diff != "" || ran {
		t.Errorf("the select hook ran: %v; rules (-want +got):\n%s", ran, diff)
	}
}

var readinessRules = []string{"NetworkEventOnce", "CloseEventOnce", "AsyncSelectHandle", "SelectNonBlocking", "SelectReady", "PollReady", "AFDPoll"}

// TestReadinessCasesAndRulesAreListed: CaseNames and Rules list the
// readiness cases and their rules.
func TestReadinessCasesAndRulesAreListed(t *testing.T) {
	var cases, rules []string
	for _, n := range spitest.CaseNames() {
		if len(n) > 10 && n[:10] == "Readiness/" {
			cases = append(cases, n)
		}
	}
	for _, r := range spitest.Rules() {
		if slices.Contains(readinessRules, r.Name) {
			rules = append(rules, r.Name)
		}
	}
	if diff := cmp.Diff([]string{"Readiness/EventSelect", "Readiness/AsyncSelect", "Readiness/Select", "Readiness/Poll"}, cases); diff != "" {
		t.Errorf("CaseNames (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(readinessRules, rules); diff != "" {
		t.Errorf("Rules (-want +got):\n%s", diff)
	}
}
