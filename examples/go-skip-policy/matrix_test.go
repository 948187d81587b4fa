package main

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/examples/internal/demotest"
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

// matrixTable is the -matrix table, made in a bubble.
func matrixTable(t *testing.T) string {
	t.Helper()
	// The golden is the default matrix; the environment must not widen it.
	t.Setenv("CLIENTTEST_SEEDS", "")
	t.Setenv("CLIENTTEST_CONFIGS", "")
	var out strings.Builder
	synctest.Test(t, func(t *testing.T) {
		if err := runMatrix(&out, inBubble); err != nil {
			t.Fatal(err)
		}
	})
	return out.String()
}

func TestPoliciesThroughTheClientKit(t *testing.T) {
	demotest.Golden(t, "matrix.golden", []byte(matrixTable(t)))
}

func TestBadArgumentsGiveTheUsage(t *testing.T) {
	demotest.BadArguments(t, cli, "go-skip-policy", []string{"-bogus"}, []string{"extra"}, []string{"-matrix=maybe"})
}
