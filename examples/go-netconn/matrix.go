package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/spi"
)

// matrixTimeout is each configuration's limit under -matrix. Outside a
// synctest bubble a hang costs its limit in real time, and the deadline
// scenario hangs under every non-IFS layer, so the limit is short: the
// scenarios' own waits are a few tens of milliseconds.
const matrixTimeout = 300 * time.Millisecond

// matrixParallel is about how many Checks -matrix runs at once. More
// would overlap more hangs, but the runs that do not hang would then wait
// for a processor long enough to pass their limit.
const matrixParallel = 16

// runMatrix runs every scenario through clienttest.Check, one seed, and
// writes the table (see writeMatrix). With parallel above 1 it runs that
// many Checks at once, each over a share of the configurations: outside a
// bubble the time goes to hangs waiting out their limit, which overlap.
// In a bubble it must be 1, since two seeded runs would call
// synctest.Wait at once.
func runMatrix(w io.Writer, parallel int, opts ...clienttest.Option) error {
	opts = append([]clienttest.Option{clienttest.Timeout(matrixTimeout)}, opts...)
	// The default matrix with seed 1 alone, what clienttest.Seeds(1)
	// runs, as a list that can be shared out.
	configs := slices.DeleteFunc(clienttest.Configs(), func(c clienttest.Config) bool { return c.Seed > 1 })
	type job struct {
		scenario int
		configs  []clienttest.Config
		results  []clienttest.Result
		err      error
	}
	var jobs []*job
	share := len(configs)
	if parallel > len(scenarios) {
		share = (len(configs)*len(scenarios) + parallel - 1) / parallel
	}
	for i := range scenarios {
		for cs := range slices.Chunk(configs, share) {
			jobs = append(jobs, &job{scenario: i, configs: cs})
		}
	}
	run := func(j *job) {
		j.results, j.err = clienttest.Check(scenarios[j.scenario].run, append(opts, clienttest.Only(j.configs...))...)
	}
	if parallel <= 1 {
		for _, j := range jobs {
			run(j)
		}
	} else {
		var wg sync.WaitGroup
		for _, j := range jobs {
			wg.Go(func() { run(j) })
		}
		wg.Wait()
	}
	results := make([][]clienttest.Result, len(scenarios))
	for _, j := range jobs {
		if j.err != nil {
			return j.err
		}
		results[j.scenario] = append(results[j.scenario], j.results...)
	}
	writeMatrix(w, results)
	return nil
}

// writeMatrix writes one row per layout and one column per scenario,
// each cell "pass" or a short reason (see reason), the reasons of a
// layout's scheduler settings joined when they differ; then, for each
// distinct reason, the first full error that gave it.
func writeMatrix(w io.Writer, results [][]clienttest.Result) {
	var layouts []string
	cells := map[string][]string{} // layout → cell per scenario
	var reasons []string
	example := map[string]string{}
	for col, rs := range results {
		for _, r := range rs {
			l := r.Config.Layout()
			if cells[l] == nil {
				cells[l] = make([]string, len(results))
				layouts = append(layouts, l)
			}
			why := reason(r.Err)
			if r.Config.Seed != 0 {
				why = cellWithSeed(cells[l][col], why, r.Config.Seed)
			}
			cells[l][col] = why
			if r.Err != nil {
				key := reason(r.Err)
				if _, ok := example[key]; !ok {
					reasons = append(reasons, key)
					example[key] = r.Config.Name + ": " + detail(r.Err)
				}
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "layout")
	for _, s := range scenarios {
		fmt.Fprintf(tw, "\t%s", s.name)
	}
	fmt.Fprintln(tw)
	for _, l := range layouts {
		fmt.Fprintf(tw, "%s\t%s\n", l, strings.Join(cells[l], "\t"))
	}
	_ = tw.Flush()
	for _, key := range reasons {
		fmt.Fprintf(w, "%s: %s\n", key, example[key])
	}
}

// cellWithSeed adds a seeded run's reason to a cell, which says it once
// when every run of the layout agrees.
func cellWithSeed(cell, why string, seed uint64) string {
	if cell == "" || cell == why || slices.Contains(strings.Split(cell, "; "), why) {
		return cell
	}
	return fmt.Sprintf("%s; seed%d: %s", cell, seed, why)
}

// reason is a result's cell: "pass", or the step that failed and how, as
// short as a cell must be. A scenario the kit stopped is "hang" and the
// step it hung in.
func reason(err error) string {
	var (
		te *clienttest.TimeoutError
		pe *clienttest.PanicError
		se *clienttest.SetupError
		st *stepError
	)
	switch {
	case err == nil:
		return "pass"
	case errors.As(err, &se):
		return "setup"
	case errors.As(err, &pe):
		return "panic"
	case errors.As(err, &te):
		if errors.As(te.Err, &st) {
			return "hang in " + st.step
		}
		return "hang"
	case errors.As(err, &st):
		return st.step + ": " + how(st.err)
	}
	return how(err)
}

// how names an error by its Winsock or Win32 code, or by the portable
// error the net package gives.
func how(err error) string {
	var code spi.Errno
	switch {
	case errors.As(err, &code):
		return code.Name()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, net.ErrClosed):
		return "closed"
	}
	return "failed"
}

// detail is the error behind a reason. Of a hang it says no more than
// the reason: what the scenario returned once the kit shut the machine
// down depends on which process the shutdown ended first.
func detail(err error) string {
	var te *clienttest.TimeoutError
	if errors.As(err, &te) {
		return fmt.Sprintf("the scenario did not return within %v", te.Limit)
	}
	return firstLine(err.Error())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
