package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/spi"
)

// families are the sockets each scenario makes, one after the other: a
// layer may be installed over one of them only.
var families = []struct {
	name string
	af   int32
}{
	{"TCP/IPv4", spi.AF_INET},
	{"TCP/IPv6", spi.AF_INET6},
}

// familyError is the failure of one family's client.
type familyError struct {
	family string
	err    error
}

func (e *familyError) Error() string { return e.family + ": " + e.err.Error() }

func (e *familyError) Unwrap() error { return e.err }

// scenario is lk's poller as a client of package clienttest: readable
// over each family, every family run even when one fails, so that the
// error says which of them a layer breaks.
func scenario(lk lookup) clienttest.Scenario {
	return func(m *wsspi.Machine) error {
		var errs []error
		for _, f := range families {
			if err := readable(m, lk, f.af); err != nil {
				errs = append(errs, &familyError{f.name, err})
			}
		}
		return errors.Join(errs...)
	}
}

// kitTimeout bounds a configuration. The scenario's only wait is bounded
// by pollWait, so reaching it means that another call hung, which outside
// a bubble costs this much real time.
const kitTimeout = 5 * time.Second

// runMatrix runs every lookup's scenario over clienttest's matrix, with
// one seed (the options may add others, Bubble inside a synctest bubble),
// and prints one table: a row per layout, a column per lookup.
func runMatrix(w io.Writer, opts ...clienttest.Option) error {
	opts = append([]clienttest.Option{clienttest.Seeds(1), clienttest.Timeout(kitTimeout)}, opts...)
	var layouts []string
	cells := map[string][][]clienttest.Result{} // by layout, then lookup
	for i, lk := range lookups {
		results, err := clienttest.Check(scenario(lk), opts...)
		if err != nil {
			return err
		}
		for _, r := range results {
			l := r.Config.Layout()
			if cells[l] == nil {
				layouts = append(layouts, l)
				cells[l] = make([][]clienttest.Result, len(lookups))
			}
			cells[l][i] = append(cells[l][i], r)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "layout")
	for _, lk := range lookups {
		fmt.Fprintf(tw, "\t%s", lk.name)
	}
	fmt.Fprintln(tw)
	var notes []string
	seen := map[string]bool{}
	broken := make([]tally, len(lookups))
	var noSocket tally
	configs := 0
	var seeds []uint64
	for _, l := range layouts {
		fmt.Fprint(tw, l)
		for i := range lookups {
			rs := cells[l][i]
			c, note := cell(l, lookups[i].name, rs)
			fmt.Fprintf(tw, "\t%s", c)
			if note != "" {
				notes = append(notes, note)
			}
			for _, r := range rs {
				if !slices.Contains(seeds, r.Config.Seed) {
					seeds = append(seeds, r.Config.Seed)
				}
				v := verdict(r)
				seen[v] = true
				switch {
				case v == "no socket":
					if i == 0 {
						noSocket.add(r.Config)
					}
				case v != "pass":
					broken[i].add(r.Config)
				}
			}
			if i == 0 {
				configs += len(rs)
			}
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprint(w, wrap(fmt.Sprintf("%d layouts, each run %s; on each, a TCP/IPv4 and a TCP/IPv6 socket made through the catalog. %s",
		len(layouts), schedulers(seeds), legend(seen)), 96))
	widest := noSocket.n
	for _, t := range broken {
		widest = max(widest, t.n)
	}
	digits := len(strconv.Itoa(widest))
	for i, lk := range lookups {
		fmt.Fprintf(w, "%*d of %d configurations break %s%s\n", digits, broken[i].n, configs, lk.name, broken[i].by())
	}
	if noSocket.n > 0 {
		fmt.Fprintf(w, "%*d of %d configurations make no TCP socket%s, whatever the lookup\n", digits, noSocket.n, configs, noSocket.by())
	}
	return nil
}

// schedulers says how each layout ran, for the summary.
func schedulers(seeds []uint64) string {
	var with []string
	var seeded []string
	for _, s := range seeds {
		if s == 0 {
			with = append(with, "with no scheduler")
		} else {
			seeded = append(seeded, strconv.FormatUint(s, 10))
		}
	}
	switch n := len(seeded); {
	case n == 0:
	case n == 1:
		with = append(with, "with the seeded scheduler (seed "+seeded[0]+")")
	case seeded[0] == "1" && seeded[n-1] == strconv.Itoa(n):
		with = append(with, "with the seeded scheduler (seeds 1 to "+seeded[n-1]+")")
	default:
		with = append(with, "with the seeded scheduler (seeds "+strings.Join(seeded, ", ")+")")
	}
	return strings.Join(with, " and ")
}

// tally counts configurations and the top layers of their machines,
// the layers to blame.
type tally struct {
	n    int
	tops []string
}

func (t *tally) add(c clienttest.Config) {
	t.n++
	if len(c.Layers) > 0 && !slices.Contains(t.tops, c.Layers[0]) {
		t.tops = append(t.tops, c.Layers[0])
	}
}

// by names the layers, for a summary line.
func (t *tally) by() string {
	if len(t.tops) == 0 {
		return ""
	}
	return " (" + strings.Join(t.tops, ", ") + ")"
}

// legends say what a kind of cell means, for the kinds the table shows.
var legends = []struct {
	match   func(cell string) bool
	meaning string
}{
	{func(c string) bool { return strings.HasPrefix(c, "WSA") }, "WSAE...: the lookup fails with that error"},
	{func(c string) bool { return strings.HasPrefix(c, "STATUS_") }, "STATUS_...: IOCTL_AFD_POLL fails on the socket the lookup answered"},
	{func(c string) bool { return strings.HasPrefix(c, "poll: ") }, "poll: ...: the poll's packet carries that error"},
	{func(c string) bool { return c == "no packet" }, fmt.Sprintf("no packet: the poll's packet never comes (waited for %v)", pollWait)},
	{func(c string) bool { return c == "not readable" }, "not readable: the poll completes without AFD_POLL_RECEIVE"},
	{func(c string) bool { return c == "no socket" }, "no socket: socket() fails, before any lookup"},
	{func(c string) bool { return c == "timeout" }, fmt.Sprintf("timeout: a call other than the poll's wait hangs past %v", kitTimeout)},
	{func(c string) bool { return c == "panic" || c == "setup" }, "panic, setup: package clienttest's findings"},
	{func(c string) bool { return c == "FAIL" }, "FAIL: a step other than these fails"},
}

// legend explains the kinds of cell among seen.
func legend(seen map[string]bool) string {
	var out []string
	for _, l := range legends {
		for c := range seen {
			if slices.ContainsFunc(strings.Split(c, ", "), l.match) {
				out = append(out, l.meaning)
				break
			}
		}
	}
	return strings.Join(out, "; ") + "."
}

// wrap breaks text into lines of at most width columns, at spaces.
func wrap(text string, width int) string {
	var b strings.Builder
	line := 0
	for _, word := range strings.Fields(text) {
		switch {
		case line == 0:
		case line+1+len(word) > width:
			b.WriteString("\n")
			line = 0
		default:
			b.WriteString(" ")
			line++
		}
		b.WriteString(word)
		line += len(word)
	}
	b.WriteString("\n")
	return b.String()
}

// cell is the table's cell of one lookup on one layout: its verdict when
// every scheduler setting agrees, else the first one's marked with a "*",
// and a note of each setting's.
func cell(layout, lookup string, rs []clienttest.Result) (string, string) {
	first := verdict(rs[0])
	agree := true
	var each []string
	for _, r := range rs {
		v := verdict(r)
		agree = agree && v == first
		if r.Config.Seed == 0 {
			each = append(each, v+" with no scheduler")
		} else {
			each = append(each, fmt.Sprintf("%s with seed %d", v, r.Config.Seed))
		}
	}
	if agree {
		return first, ""
	}
	return first + "*", fmt.Sprintf("* %s, %s: %s", layout, lookup, strings.Join(each, ", "))
}

// verdict is the short reason a result failed, or "pass": the kit's
// findings by their kind, the scenario's failures by their code, the
// distinct ones of its families joined.
func verdict(r clienttest.Result) string {
	var (
		te *clienttest.TimeoutError
		pe *clienttest.PanicError
		se *clienttest.SetupError
	)
	switch err := r.Err; {
	case err == nil:
		return "pass"
	case errors.As(err, &te):
		return "timeout"
	case errors.As(err, &pe):
		return "panic"
	case errors.As(err, &se):
		return "setup"
	}
	var codes []string
	for _, err := range leaves(r.Err) {
		c := "FAIL"
		if f := (*failure)(nil); errors.As(err, &f) {
			c = f.code()
		}
		if !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	return strings.Join(codes, ", ")
}

// leaves returns the errors errors.Join joined into err, or err alone.
func leaves(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
