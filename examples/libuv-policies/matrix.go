package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/wsspi/wsspi/clienttest"
)

// checkAll runs every scenario through the kit and returns the results
// by scenario. In a bubble (bubble set) it runs them in turn, so that
// nothing else wakes while the seeded scheduler waits for every
// goroutine of the run to block. Outside one, where a failure costs the
// loop's bounded waits in real time, it runs every configuration of
// every scenario on a goroutine of its own, each a Check of that
// configuration alone, unless CLIENTTEST_CONFIGS, which overrides Only,
// chooses the configurations.
func checkAll(bubble bool, opts ...clienttest.Option) ([][]clienttest.Result, error) {
	results := make([][]clienttest.Result, len(scenarios))
	if bubble || os.Getenv("CLIENTTEST_CONFIGS") != "" {
		for i, sc := range scenarios {
			var err error
			if results[i], err = clienttest.Check(sc.run, opts...); err != nil {
				return nil, err
			}
		}
		return results, nil
	}
	configs := slices.DeleteFunc(clienttest.Configs(), func(c clienttest.Config) bool { return c.Seed > 1 })
	var wg sync.WaitGroup
	sem := make(chan struct{}, concurrent)
	for i, sc := range scenarios {
		results[i] = make([]clienttest.Result, len(configs))
		for j, c := range configs {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				rs, err := clienttest.Check(sc.run, append(opts, clienttest.Only(c))...)
				if err == nil && len(rs) != 1 {
					err = fmt.Errorf("clienttest ran %d configurations for %s", len(rs), c.Name)
				}
				if err != nil {
					rs = []clienttest.Result{{Config: c, Err: err}}
				}
				results[i][j] = rs[0]
			})
		}
	}
	wg.Wait()
	return results, nil
}

// concurrent bounds the configurations -matrix runs at once. Mostly
// they wait, so many fit; but with every one of them started at once
// the CPU they share delays a packet past packetWait, and seeded
// configurations show losses that are the host's, not the layers'.
const concurrent = 32

// printMatrix prints one table for every scenario's results: a row per
// layout, a column per scenario, then a line per distinct failure.
func printMatrix(w io.Writer, results [][]clienttest.Result) error {
	var layouts []string
	// cells[layout][scenario] lists the verdict under each scheduler
	// setting, in the kit's order.
	cells := map[string][][]setting{}
	type reason struct{ tag, text string }
	var reasons []reason
	for i, rs := range results {
		for _, r := range rs {
			l := r.Config.Layout()
			if cells[l] == nil {
				cells[l] = make([][]setting, len(scenarios))
				layouts = append(layouts, l)
			}
			v := verdict(r.Err)
			cells[l][i] = append(cells[l][i], setting{seedName(r.Config.Seed), v})
			for _, part := range parts(r.Err) {
				if r := (reason{part.tag, part.reason}); !slices.Contains(reasons, r) {
					reasons = append(reasons, r)
				}
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "layout")
	for _, sc := range scenarios {
		fmt.Fprintf(tw, "\t%s", sc.name)
	}
	fmt.Fprintln(tw)
	for _, l := range layouts {
		fmt.Fprint(tw, l)
		for _, c := range cells[l] {
			fmt.Fprintf(tw, "\t%s", cell(c))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n(inline), (seedN): a cell whose outcome depends on the scheduler lists each failing setting's; a setting not listed passed")
	for _, r := range reasons {
		fmt.Fprintf(w, "%s: %s\n", r.tag, r.text)
	}
	return nil
}

// setting is one configuration's verdict: the scheduler setting it ran
// under and the cell it would have alone.
type setting struct{ name, verdict string }

func seedName(seed uint64) string {
	if seed == 0 {
		return "inline"
	}
	return fmt.Sprintf("seed%d", seed)
}

// cell is a layout's cell for one scenario: the verdict shared by every
// scheduler setting, or each failing one marked with its setting, the
// seed-dependent outcomes.
func cell(ss []setting) string {
	same := true
	for _, s := range ss {
		same = same && s.verdict == ss[0].verdict
	}
	if same {
		return ss[0].verdict
	}
	var out []string
	for _, s := range ss {
		if s.verdict != "pass" {
			out = append(out, s.verdict+" ("+s.name+")")
		}
	}
	return strings.Join(out, "; ")
}

// part is one failure of a scenario's error: the socket, the tag of its
// cell, and the line of the legend.
type part struct{ sock, op, kind, tag, reason string }

// parts splits a scenario's error into the loop's failures.
func parts(err error) []part {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []part
		for _, e := range j.Unwrap() {
			out = append(out, parts(e)...)
		}
		return out
	}
	var se *sockErr
	if errors.As(err, &se) {
		op, kind := se.opKind()
		return []part{{se.sock, op, kind, se.tag(), se.reason()}}
	}
	var (
		te *clienttest.TimeoutError
		pe *clienttest.PanicError
		ue *clienttest.SetupError
	)
	tag := "FAIL"
	switch {
	case errors.As(err, &te):
		tag = "timeout"
	case errors.As(err, &pe):
		tag = "panic"
	case errors.As(err, &ue):
		tag = "setup"
	}
	return []part{{"", "", tag, tag, firstLine(err.Error())}}
}

// verdict is the cell of one configuration: "pass", or its failures,
// one per socket and kind, the requests that share one joined ("udp
// recv+send doubled").
func verdict(err error) string {
	if err == nil {
		return "pass"
	}
	type key struct{ sock, kind string }
	var keys []key
	ops := map[key][]string{}
	for _, p := range parts(err) {
		k := key{p.sock, p.kind}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
		if p.op != "" && !slices.Contains(ops[k], p.op) {
			ops[k] = append(ops[k], p.op)
		}
	}
	var out []string
	for _, k := range keys {
		words := []string{k.sock, strings.Join(ops[k], "+"), k.kind}
		out = append(out, strings.Join(slices.DeleteFunc(words, func(w string) bool { return w == "" }), " "))
	}
	return strings.Join(out, ", ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
