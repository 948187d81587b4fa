package main

import (
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/examples/internal/demotest"
	"github.com/wsspi/wsspi/wild"
)

// inBubble checks each scenario in turn in the caller's bubble: the
// kit's seeded scheduler then runs its work only when every goroutine
// waits, and a wait for a stray packet ends only once nothing else can
// happen, so the table is the same on every run.
func inBubble(ss []clienttest.Scenario) ([][]clienttest.Result, error) {
	var out [][]clienttest.Result
	for _, s := range ss {
		rs, err := clienttest.Check(s, append([]clienttest.Option{clienttest.Bubble()}, matrixOptions...)...)
		if err != nil {
			return nil, err
		}
		out = append(out, rs)
	}
	return out, nil
}

// matrixResults runs the -matrix run's scenarios in a bubble and returns
// each policy's results.
func matrixResults(t *testing.T) [][]clienttest.Result {
	t.Helper()
	// The tests pin the default matrix; the environment must not widen it.
	t.Setenv("CLIENTTEST_SEEDS", "")
	t.Setenv("CLIENTTEST_CONFIGS", "")
	var ss []clienttest.Scenario
	for _, pol := range policies {
		ss = append(ss, pol.scenario(matrixWaits))
	}
	var cols [][]clienttest.Result
	synctest.Test(t, func(t *testing.T) {
		var err error
		if cols, err = inBubble(ss); err != nil {
			t.Fatal(err)
		}
	})
	return cols
}

func TestPoliciesThroughTheClientKit(t *testing.T) {
	var out strings.Builder
	if err := table(&out, matrixResults(t)); err != nil {
		t.Fatal(err)
	}
	demotest.Golden(t, "matrix.golden", []byte(out.String()))
}

// The golden alone would take any result an update wrote; these are the
// ones Windows' semantics demand whatever the layers do in detail.
func TestPoliciesFailAsWindowsSemanticsSay(t *testing.T) {
	cols := matrixResults(t)
	for j, r := range cols[0] {
		c := r.Config
		got := [3]string{shortOf(r.Err), shortOf(cols[1][j].Err), shortOf(cols[2][j].Err)} // always, process-wide, per-socket
		// Both checks leave the mode off wherever a layer would post a
		// packet for an immediate success.
		for _, v := range got[1:] {
			if strings.Contains(v, errStrayPacket.short) {
				t.Errorf("%s: a checking policy got %q", c.Name, v)
			}
		}
		// They differ in where they keep the shortcut, never in whether
		// the client works.
		if got[1] != got[2] {
			t.Errorf("%s: process-wide %q, per-socket %q", c.Name, got[1], got[2])
		}
		if !nonIFSOverTCP(c) && got != [3]string{"pass", "pass", "pass"} {
			t.Errorf("%s: no non-IFS layer over TCP, yet %q", c.Name, got)
		}
	}
}

// nonIFSOverTCP reports whether c puts a non-IFS layer under a TCP socket.
func nonIFSOverTCP(c clienttest.Config) bool {
	if !slices.Contains(c.Over, catalog.DefaultTCPIPv4) && !slices.Contains(c.Over, catalog.DefaultTCPIPv6) {
		return false
	}
	for _, name := range c.Layers {
		if l, _ := wild.Lookup(name); !l.IFS {
			return true
		}
	}
	return false
}

func TestBadArgumentsGiveTheUsage(t *testing.T) {
	demotest.BadArguments(t, cli, "go-skip-policy", []string{"-bogus"}, []string{"extra"}, []string{"-matrix=maybe"})
}
