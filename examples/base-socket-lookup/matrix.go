package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
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

// kitTimeout bounds a configuration. No wait of a scenario is longer than
// pollWait, so reaching it is a bug of the simulator, and outside a
// bubble it costs real time.
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
	broken := make([]int, len(lookups))
	noSocket, configs := 0, 0
	for _, l := range layouts {
		fmt.Fprint(tw, l)
		for i := range lookups {
			rs := cells[l][i]
			c, note := cell(l, rs)
			fmt.Fprintf(tw, "\t%s", c)
			if note != "" {
				notes = append(notes, note)
			}
			for _, r := range rs {
				switch v := verdict(r); {
				case v == "no socket":
					if i == 0 {
						noSocket++
					}
				case v != "pass":
					broken[i]++
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
	fmt.Fprintf(w, "%d layouts, %d configurations with no scheduler and seeded; over each, a TCP/IPv4\n", len(layouts), configs)
	fmt.Fprintln(w, "and a TCP/IPv6 socket. WSAE...: the lookup fails; STATUS_...: IOCTL_AFD_POLL on its answer")
	fmt.Fprintln(w, "fails; no packet: the poll never completes; no socket: socket() fails, before any lookup.")
	var parts []string
	for i, lk := range lookups {
		parts = append(parts, fmt.Sprintf("%d of %d configurations break %s", broken[i], configs, lk.name))
	}
	fmt.Fprintf(w, "%s,\n%s; %d make no socket.\n", strings.Join(parts[:len(parts)-1], ", "), parts[len(parts)-1], noSocket)
	return nil
}

// cell is the table's cell of one lookup on one layout: its verdict when
// every scheduler setting agrees, else the first one's marked with a "*"
// and a note of the others.
func cell(layout string, rs []clienttest.Result) (string, string) {
	first := verdict(rs[0])
	var others []string
	for _, r := range rs[1:] {
		if v := verdict(r); v != first {
			others = append(others, fmt.Sprintf("%s: %s", r.Config.Name, v))
		}
	}
	if len(others) == 0 {
		return first, ""
	}
	return first + "*", fmt.Sprintf("* %s with no scheduler; %s", layout, strings.Join(others, "; "))
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
