package clienttest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
)

// Matrix formats results as a table, one row per layout and one column
// per scheduler setting ("inline" for none, then each seed), each cell
// "pass", "FAIL", "timeout", "panic" or "setup" ("-" for a configuration
// not run), followed by the first line of each failure's error. It is
// meant to be read in a test's log or pasted into a document.
func Matrix(results []Result) string {
	var layouts []string
	var seeds []uint64
	cell := map[string]map[uint64]string{}
	for _, r := range results {
		l := r.Config.Layout()
		if cell[l] == nil {
			cell[l] = map[uint64]string{}
			layouts = append(layouts, l)
		}
		if !slices.Contains(seeds, r.Config.Seed) {
			seeds = append(seeds, r.Config.Seed)
		}
		cell[l][r.Config.Seed] = verdict(r.Err)
	}
	slices.Sort(seeds)
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprint(w, "layout")
	for _, s := range seeds {
		fmt.Fprintf(w, "\t%s", seedColumn(s))
	}
	fmt.Fprintln(w)
	for _, l := range layouts {
		fmt.Fprint(w, l)
		for _, s := range seeds {
			v, ok := cell[l][s]
			if !ok {
				v = "-"
			}
			fmt.Fprintf(w, "\t%s", v)
		}
		fmt.Fprintln(w)
	}
	_ = w.Flush()
	failed := 0
	for _, r := range results {
		if !r.Passed() {
			failed++
		}
	}
	fmt.Fprintf(&b, "%d of %d configurations failed", failed, len(results))
	if failed > 0 {
		b.WriteString(":")
	}
	b.WriteString("\n")
	for _, r := range results {
		if !r.Passed() {
			fmt.Fprintf(&b, "  %s: %s\n", r.Config.Name, firstLine(r.Err.Error()))
		}
	}
	return b.String()
}

func seedColumn(s uint64) string {
	if s == 0 {
		return "inline"
	}
	return fmt.Sprintf("seed%d", s)
}

// verdict is the cell of a result.
func verdict(err error) string {
	var (
		te *TimeoutError
		pe *PanicError
		se *SetupError
	)
	switch {
	case err == nil:
		return "pass"
	case errors.As(err, &te):
		return "timeout"
	case errors.As(err, &pe):
		return "panic"
	case errors.As(err, &se):
		return "setup"
	}
	return "FAIL"
}
