package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/wsspi/wsspi/clienttest"
)

// A checker runs each scenario over the matrix and returns, for each, the
// results in matrix order, as clienttest.Check does.
type checker func([]clienttest.Scenario) ([][]clienttest.Result, error)

// matrixOptions are the options of every run: one seed keeps the run
// short, and the inline run and the seeded one already differ in what
// they pend.
var matrixOptions = []clienttest.Option{clienttest.Seeds(1)}

// parallel checks each scenario on each layout of the matrix on a
// goroutine of its own, so that the waits for stray packets, on a real
// clock outside a bubble, overlap. When CLIENTTEST_CONFIGS selects the
// configurations it checks each scenario once, since the selection
// overrides the layout each goroutine names.
func parallel(ss []clienttest.Scenario) ([][]clienttest.Result, error) {
	layouts := []string{""}
	if os.Getenv("CLIENTTEST_CONFIGS") == "" {
		layouts = layouts[:0]
		for _, c := range clienttest.Configs() {
			if c.Seed == 0 {
				layouts = append(layouts, c.Name)
			}
		}
	}
	type run struct {
		rs  []clienttest.Result
		err error
	}
	runs := make([][]run, len(ss))
	var wg sync.WaitGroup
	for i, s := range ss {
		runs[i] = make([]run, len(layouts))
		for j, l := range layouts {
			opts := matrixOptions
			if l != "" {
				opts = append([]clienttest.Option{clienttest.Names(l)}, opts...)
			}
			wg.Go(func() { runs[i][j].rs, runs[i][j].err = clienttest.Check(s, opts...) })
		}
	}
	wg.Wait()
	out := make([][]clienttest.Result, len(ss))
	for i := range runs {
		for _, r := range runs[i] {
			if r.err != nil {
				return nil, r.err
			}
			out[i] = append(out[i], r.rs...)
		}
	}
	return out, nil
}

// runMatrix runs every policy's scenario through check and prints the
// table: a row per layout, a column per policy, then what each failure
// means.
func runMatrix(w io.Writer, check checker) error {
	var ss []clienttest.Scenario
	for _, pol := range policies {
		ss = append(ss, pol.scenario(matrixWaits))
	}
	cols, err := check(ss)
	if err != nil {
		return err
	}
	return table(w, cols)
}

// table prints the results of each policy, in the order of policies.
func table(w io.Writer, cols [][]clienttest.Result) error {
	var layouts []string
	cells := make([]map[string][]clienttest.Result, len(policies))
	for i, rs := range cols {
		cells[i] = map[string][]clienttest.Result{}
		for _, r := range rs {
			l := r.Config.Layout()
			if i == 0 && cells[i][l] == nil {
				layouts = append(layouts, l)
			}
			cells[i][l] = append(cells[i][l], r)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "layout")
	for _, pol := range policies {
		fmt.Fprintf(tw, "\t%s", pol.name)
	}
	fmt.Fprintln(tw)
	for _, l := range layouts {
		fmt.Fprint(tw, l)
		for i := range policies {
			fmt.Fprintf(tw, "\t%s", cell(cells[i][l]))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	keys, long := legend(cols)
	if len(keys) > 0 {
		fmt.Fprintln(w)
	}
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %s\n", k, long[k])
	}
	return nil
}

// cell is the verdict of one policy on one layout: the same for every
// scheduler setting, or the failing settings' verdicts.
func cell(rs []clienttest.Result) string {
	same := true
	for _, r := range rs[1:] {
		same = same && shortOf(r.Err) == shortOf(rs[0].Err)
	}
	if same {
		return shortOf(rs[0].Err)
	}
	var parts []string
	for _, r := range rs {
		if r.Err != nil {
			parts = append(parts, setting(r.Config)+": "+shortOf(r.Err))
		}
	}
	return strings.Join(parts, "; ")
}

// setting names the scheduler setting of c, as clienttest.Matrix does.
func setting(c clienttest.Config) string {
	if c.Seed == 0 {
		return "inline"
	}
	return fmt.Sprintf("seed%d", c.Seed)
}

// legend returns each distinct reason of a failure, in the order the
// table first shows it, and what it means: a socket's reason, or the first
// line of the error of the first result that failed so.
func legend(cols [][]clienttest.Result) ([]string, map[string]string) {
	var keys []string
	long := map[string]string{}
	add := func(k, text string) {
		if _, ok := long[k]; !ok {
			keys = append(keys, k)
			long[k] = text
		}
	}
	for j := range cols[0] {
		for _, rs := range cols {
			r := rs[j]
			var (
				se socketErrors
				fe *familyError
			)
			switch {
			case r.Err == nil:
			case errors.As(r.Err, &se):
				for _, o := range se {
					add(shortOf(o.err), firstLine(o.err.Error()))
				}
			case errors.As(r.Err, &fe):
				add(shortOf(fe.err), firstLine(fe.err.Error()))
			default:
				add(shortOf(r.Err), firstLine(r.Err.Error()))
			}
		}
	}
	return keys, long
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
