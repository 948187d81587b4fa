package clienttest_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

func names(cs []clienttest.Config) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// Every provider of package wild is in the matrix alone over each
// protocol set its Over allows and over all of them, with no scheduler
// and with seeds 1 and 2; the stacks are there; names are unique.
func TestConfigsHoldEveryWildProviderAndTheStacks(t *testing.T) {
	cs := clienttest.Configs()
	got := names(cs)
	seen := map[string]bool{}
	for _, n := range got {
		if seen[n] {
			t.Errorf("the name %q appears twice", n)
		}
		seen[n] = true
	}
	var want []string
	for _, l := range wild.All() {
		for _, p := range []struct {
			name string
			on   bool
		}{{"tcp4", l.Over&wild.TCP != 0}, {"tcp6", l.Over&wild.TCP != 0}, {"udp", l.Over&wild.UDP != 0}, {"all", true}} {
			if p.on {
				want = append(want, l.Name+"/"+p.name)
			}
		}
		if !l.IFS && l.Name != "Kit" {
			want = append(want, l.Name+"+Kit/all")
		}
	}
	want = append(want, "NoLSP", "Kit+Kit/all", "Kit+Kit+Kit/all", "Kit+IFSPassThrough/all", "Kit+Kit+IFSPassThrough/all")
	for _, w := range want {
		for _, n := range []string{w, w + "/seed1", w + "/seed2"} {
			if !seen[n] {
				t.Errorf("Configs lacks %q", n)
			}
		}
	}
	if len(got) != 3*len(want) {
		t.Errorf("Configs has %d configurations, want %d: %v", len(got), 3*len(want), got)
	}
}

// Under every configuration the machine's first TCP/IPv4 entry is the
// configuration's chain: as many layers as it names, top first, over the
// base entry, with XP1_IFS_HANDLES exactly when every layer is IFS.
func TestEveryConfigurationInstallsItsLayersInChainOrder(t *testing.T) {
	rs := check(t, func(m *wsspi.Machine) error { return nil })
	for _, r := range rs {
		if !r.Passed() {
			t.Errorf("%s: %v", r.Config.Name, r.Err)
		}
	}
	byName := map[string]clienttest.Config{}
	for _, c := range clienttest.Configs() {
		byName[c.Name] = c
	}
	rs = check(t, func(m *wsspi.Machine) error {
		entries, err := m.Catalog().WSCEnumProtocols(nil)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.AddressFamily == spi.AF_INET && e.Protocol == spi.IPPROTO_TCP && e.ProtocolChain.ChainLen > 0 {
				return fmt.Errorf("chain %d ifs=%v over %d", e.ProtocolChain.ChainLen, e.ServiceFlags1&spi.XP1_IFS_HANDLES != 0,
					e.ProtocolChain.ChainEntries[e.ProtocolChain.ChainLen-1])
			}
		}
		return errors.New("no TCP/IPv4 entry")
	}, clienttest.Seeds(0))
	for _, r := range rs {
		c := r.Config
		n, ifs := 1, true
		if slices.Contains(c.Over, catalog.DefaultTCPIPv4) {
			n += len(c.Layers)
			for _, l := range c.Layers {
				w, _ := wild.Lookup(l)
				ifs = ifs && w.IFS
			}
		}
		want := fmt.Sprintf("chain %d ifs=%v over %d", n, ifs, catalog.DefaultTCPIPv4)
		if got := errText(r.Err); got != want {
			t.Errorf("%s: %s, want %s", c.Name, got, want)
		}
	}
}

func TestSelectNamesConfigurationsByNamePrefixAndPattern(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		want     []string
	}{
		{[]string{"Naive/tcp4/seed1"}, []string{"Naive/tcp4/seed1"}},
		{[]string{"Naive/tcp4"}, []string{"Naive/tcp4", "Naive/tcp4/seed1", "Naive/tcp4/seed2"}},
		{[]string{"Kit+Kit"}, []string{"Kit+Kit/all", "Kit+Kit/all/seed1", "Kit+Kit/all/seed2"}},
		{[]string{"Naive/*/seed2"}, []string{"Naive/tcp4/seed2", "Naive/tcp6/seed2", "Naive/udp/seed2", "Naive/all/seed2"}},
		{[]string{"Kit+*/all/seed1"}, []string{"Kit+Kit/all/seed1", "Kit+Kit+Kit/all/seed1", "Kit+IFSPassThrough/all/seed1", "Kit+Kit+IFSPassThrough/all/seed1"}},
		// Matrix order, each once, however the patterns overlap.
		{[]string{"Kit/tcp6/seed2", "NoLSP", "Kit/tcp6/seed2", "*/tcp6/seed2"}, nil},
		{[]string{"Naive/udp/seed99"}, []string{"Naive/udp/seed99"}},
	} {
		got, err := clienttest.Select(tc.patterns...)
		if err != nil {
			t.Errorf("Select(%q): %v", tc.patterns, err)
			continue
		}
		want := tc.want
		if want == nil { // the overlapping case
			want = []string{"NoLSP", "NoLSP/seed1", "NoLSP/seed2"}
			for _, c := range clienttest.Configs() {
				if strings.HasSuffix(c.Name, "/tcp6/seed2") {
					want = append(want, c.Name)
				}
			}
		}
		if d := cmp.Diff(want, names(got)); d != "" {
			t.Errorf("Select(%q) (-want +got):\n%s", tc.patterns, d)
		}
	}
	var star []clienttest.Config
	for _, c := range clienttest.Configs() {
		if c.Layout() == c.Name && strings.HasSuffix(c.Name, "/tcp6") {
			star = append(star, c)
		}
	}
	if got, _ := clienttest.Select("*/tcp6"); len(got) != 3*len(star) {
		t.Errorf("Select(*/tcp6) gave %d configurations, want %d (each tcp6 layout and its seeds)", len(got), 3*len(star))
	}
}

func TestSelectRejectsAPatternThatNamesNothing(t *testing.T) {
	for _, p := range []string{"Nosuch", "Naive/tcp5", "Naive/tcp4/seed0", "Naive/tcp4/seedx", "Kit/[", "naive/tcp4", ""} {
		if got, err := clienttest.Select("NoLSP", p); err == nil {
			t.Errorf("Select(NoLSP, %q) = %v, want an error", p, names(got))
		}
	}
	if _, err := clienttest.Check(echo, clienttest.Names("Nosuch")); err == nil {
		t.Error("Check with a pattern that names nothing returned no error")
	}
}

// A configuration built by the test runs as given: here the Naive layer
// under two kits over TCP/IPv6, which the matrix does not hold.
func TestOnlyRunsTheConfigurationsGiven(t *testing.T) {
	c := clienttest.Config{Name: "mine", Layers: []string{"Kit", "Kit", "Naive"}, Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv6}}
	rs := check(t, func(m *wsspi.Machine) error {
		entries, err := m.Catalog().WSCEnumProtocols(nil)
		if err != nil {
			return err
		}
		return fmt.Errorf("head %q", entries[0].ProtocolName)
	}, clienttest.Only(c, clienttest.Config{Name: "broken", Layers: []string{"Nosuch"}, Over: c.Over}))
	if len(rs) != 2 || errText(rs[0].Err) != `head "Kit over [Kit 1 over [Naive LSP over [MSAFD Tcpip [TCP/IPv6]]]]"` {
		t.Fatalf("results %v", rs)
	}
	var se *clienttest.SetupError
	if !errors.As(rs[1].Err, &se) {
		t.Errorf("a configuration naming a layer wild lacks: %v, want a *SetupError", rs[1].Err)
	}
	if rs := check(t, echo, clienttest.Only()); len(rs) != 0 {
		t.Errorf("Only() ran %v, want nothing", names(configsOf(rs)))
	}
}

func configsOf(rs []clienttest.Result) []clienttest.Config {
	var cs []clienttest.Config
	for _, r := range rs {
		cs = append(cs, r.Config)
	}
	return cs
}

func FuzzSelect(f *testing.F) {
	for _, s := range []string{"Naive/*", "*/tcp6", "Kit+Kit", "Naive/tcp4/seed7", "[", "**/*", "NoLSP/seed18446744073709551615"} {
		f.Add(s)
	}
	all := map[string]bool{}
	for _, c := range clienttest.Configs() {
		all[c.Layout()] = true
	}
	f.Fuzz(func(t *testing.T, p string) {
		cs, err := clienttest.Select(p)
		if err != nil {
			return
		}
		if len(cs) == 0 {
			t.Fatalf("Select(%q) named nothing and returned no error", p)
		}
		for _, c := range cs {
			if !all[c.Layout()] {
				t.Errorf("Select(%q) gave %q, whose layout is not in the matrix", p, c.Name)
			}
		}
	})
}
