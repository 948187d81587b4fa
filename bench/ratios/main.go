// Command ratios reads `go test -bench -benchmem` output on standard input
// and prints the machine it ran on, then, for every benchmark that carries
// a target, its median ns/op
// and allocs/op, its baseline from the same run, the ratio, its range over
// the rounds, the target, and whether it was met. It exits 1 if any target
// is missed or its benchmark is missing. bench/run feeds it.
//
// When a benchmark and its baseline have the same number of samples, the
// k-th of each came from the k-th round of bench/run, and the ratio is the
// median of the rounds' ratios: a slow minute of a shared machine then
// slows both sides of the ratios it spans. Otherwise the ratio is that of
// the medians.
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// target is one performance target: a metric of a benchmark compared with
// the same metric of a baseline (a ratio), or with a constant (a limit).
type target struct {
	bench    string  // benchmark name without the -N suffix
	metric   string  // "ns/op", "allocs/op", "B/handle", ...
	baseline string  // benchmark compared with; "" for a limit
	bound    float64 // what the ratio (or the value) is held to
	kind     kind    // atMost (the zero value) or atLeast
	// measured names the baseline of a ratio the benchmark measured
	// itself and reports as metric (as the table shows it: "base
	// (interleaved)"); the table shows the value as a ratio. Empty for
	// other targets.
	measured string
	// reference marks a row that is not a target: the same measure of a
	// baseline that bounds what a target can reach on the machine (the
	// scaling of a Go channel for the port's). It is shown with the
	// target's bound and never fails the run.
	reference bool
}

// kind says which side of its bound a target's ratio or value must be:
// costs (ns/op, allocs/op, bytes) have a most, rates (packets/s, ops/s) a
// least.
type kind int

const (
	atMost  kind = iota // ratio or value <= bound
	atLeast             // ratio or value >= bound
)

// met says whether got, the ratio or the value, meets the target.
func (t target) met(got float64) bool {
	if t.kind == atLeast {
		return got >= t.bound
	}
	return got <= t.bound
}

var targets = []target{
	// handles (issue 2)
	{bench: "BenchmarkHandleLookup/table", metric: "ns/op", baseline: "BenchmarkHandleLookup/syncmap", bound: 0.2},
	{bench: "BenchmarkHandleLookup/table", metric: "allocs/op", bound: 0},
	{bench: "BenchmarkHandleCreateCloseRatio", metric: "table/mutexmap", measured: "mutexmap (interleaved)", bound: 1.2},
	// a socket's life (issue 17): create, 16 lookups, close
	{bench: "BenchmarkHandleLifecycleRatio", metric: "table/mutexmap", measured: "mutexmap (interleaved)", bound: 0.5},
	{bench: "BenchmarkHandleCreateClose/table", metric: "allocs/op", bound: 1},
	{bench: "BenchmarkHandleLookupScale/live=1M", metric: "ns/op", baseline: "BenchmarkHandleLookupScale/live=1k", bound: 1.5},
	{bench: "BenchmarkHandleLookupScale/live=1M", metric: "B/handle", bound: 96},
	// iocp (issue 4)
	{bench: "BenchmarkPortPostGet/port", metric: "ns/op", baseline: "BenchmarkPortPostGet/chan", bound: 0.8}, // 1.0 until issue 17
	{bench: "BenchmarkPortPostGet/port", metric: "allocs/op", bound: 0},
	{bench: "BenchmarkPortDequeue/many", metric: "ns/packet", baseline: "BenchmarkPortDequeue/one", bound: 0.5},
	// end to end (issues 5-7): allocations per send of each setup alone,
	// ns/send ratios of the setups interleaved
	{bench: "BenchmarkOverlappedSend/base", metric: "allocs/op", bound: 2},
	{bench: "BenchmarkOverlappedSend/nonifs-lsp", metric: "allocs/op", bound: 4},
	{bench: "BenchmarkSendRatios", metric: "ifs-lsp/base", measured: "base (interleaved)", bound: 1.2},
	{bench: "BenchmarkSendRatios", metric: "nonifs-lsp/base", measured: "base (interleaved)", bound: 2.5},
	{bench: "BenchmarkSendRatios", metric: "kit-lsp/nonifs-lsp", measured: "nonifs-lsp (interleaved)", bound: 1.2},
	{bench: "BenchmarkSendRatios", metric: "chain3/base", measured: "base (interleaved)", bound: 5},
	// scale (issue 9): 100k live sockets against 1k, built side by side
	{bench: "BenchmarkScale", metric: "100k/1k-ns", measured: "live=1k (interleaved)", bound: 1.5},
	{bench: "BenchmarkScale", metric: "100k/1k-B", measured: "live=1k (same process)", bound: 1.5},
	{bench: "BenchmarkPortConsumers/consumers=2", metric: "packets/s", baseline: "BenchmarkPortConsumers/consumers=1", bound: 1.6, kind: atLeast},
	{bench: "BenchmarkPortConsumers/chan,consumers=2", metric: "packets/s", baseline: "BenchmarkPortConsumers/chan,consumers=1", bound: 1.6, kind: atLeast, reference: true},
	// property-testing speed (issue 9, raised by issue 17 from 200k): the
	// spitest workload over the loopback base provider, without a
	// scheduler
	{bench: "BenchmarkWorkload/inline", metric: "ops/s", bound: 1000000, kind: atLeast},
	// issue 17: a run's allocations halved (3466 per run of 500 steps
	// before)
	{bench: "BenchmarkWorkload/inline", metric: "allocs/op", bound: 1733},
}

func main() {
	results, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ratios:", err)
		os.Exit(2)
	}
	if !report(os.Stdout, results) {
		os.Exit(1)
	}
}

// results holds the samples of a run.
type results struct {
	// samples maps benchmark name → metric → samples.
	samples map[string]map[string][]float64
	// pkgs maps benchmark name → the packages ("pkg:" lines) it ran in. A
	// name found in two packages has its samples of both mixed in samples,
	// so no target may use it.
	pkgs map[string][]string
	// machines are the distinct machines the input names, in order:
	// bench/run's "machine:" lines, or go test's "cpu:" lines if it has
	// none.
	machines, cpus []string
}

// parse reads `go test -bench` output: "pkg:" lines, and benchmark lines
// (name-N iterations value unit value unit ...).
func parse(r io.Reader) (results, error) {
	res := results{samples: map[string]map[string][]float64{}, pkgs: map[string][]string{}}
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if m, ok := strings.CutPrefix(line, "machine: "); ok && !slices.Contains(res.machines, m) {
			res.machines = append(res.machines, m)
		}
		if c, ok := strings.CutPrefix(line, "cpu: "); ok && !slices.Contains(res.cpus, c) {
			res.cpus = append(res.cpus, c)
		}
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "pkg:" {
			pkg = f[1]
			continue
		}
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if !slices.Contains(res.pkgs[name], pkg) {
			res.pkgs[name] = append(res.pkgs[name], pkg)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			if res.samples[name] == nil {
				res.samples[name] = map[string][]float64{}
			}
			res.samples[name][f[i+1]] = append(res.samples[name][f[i+1]], v)
		}
	}
	return res, sc.Err()
}

// clash describes the benchmark of t, or its baseline, that ran in more
// than one package ("BenchmarkX in a, b"), and is empty if neither did.
func (r results) clash(t target) string {
	for _, name := range []string{t.bench, t.baseline} {
		if pkgs := r.pkgs[name]; len(pkgs) > 1 {
			return name + " in " + strings.Join(pkgs, ", ")
		}
	}
	return ""
}

// median returns the median of the samples of a benchmark's metric.
func (r results) median(bench, metric string) (float64, bool) {
	s := r.samples[bench][metric]
	if len(s) == 0 {
		return 0, false
	}
	return median(s), true
}

// median returns the median of s, which is not empty, leaving s as it is.
func median(s []float64) float64 {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio returns metric of bench over metric of baseline: the median of
// the ratios of paired samples when both have as many, else the ratio of
// the medians. It reports false if the baseline is missing or zero.
func (r results) ratio(bench, metric, baseline string) (float64, bool) {
	if r.paired(bench, metric, baseline) {
		qs, ok := r.roundRatios(bench, metric, baseline)
		if !ok {
			return 0, false
		}
		return median(qs), true
	}
	x, okx := r.median(bench, metric)
	y, oky := r.median(baseline, metric)
	return x / y, okx && oky && y != 0
}

// paired reports whether metric of bench and of baseline have as many
// samples, at least one: the k-th of each came from round k.
func (r results) paired(bench, metric, baseline string) bool {
	n := len(r.samples[bench][metric])
	return n > 0 && n == len(r.samples[baseline][metric])
}

// roundRatios returns the ratio of metric of bench to metric of baseline
// in each round, and false unless the samples are paired and none of the
// baseline's is zero.
func (r results) roundRatios(bench, metric, baseline string) ([]float64, bool) {
	if !r.paired(bench, metric, baseline) {
		return nil, false
	}
	xs, ys := r.samples[bench][metric], r.samples[baseline][metric]
	qs := make([]float64, len(xs))
	for i := range xs {
		if ys[i] == 0 {
			return nil, false
		}
		qs[i] = xs[i] / ys[i]
	}
	return qs, true
}

// spread is the range over rounds of what a target holds, as the table's
// "rounds" column shows it: the rounds' ratios, or the rounds' values of
// a limit or of a ratio the benchmark measured itself. It is one figure
// when every round gave the same, "-" for a single round or when the
// samples of a ratio do not pair, and it ends with how many rounds missed
// the target, if any did: "0.91-1.10x, 1 of 5 missed". A median can meet
// its target while a round misses it; another run may then miss it too.
func (r results) spread(t target) string {
	s, x := r.samples[t.bench][t.metric], ""
	if t.baseline != "" {
		s, _ = r.roundRatios(t.bench, t.metric, t.baseline)
	}
	if t.baseline != "" || t.measured != "" {
		x = "x"
	}
	if len(s) < 2 {
		return "-"
	}
	lo, hi := slices.Min(s), slices.Max(s)
	text := figure(lo, x) + x
	if lo != hi {
		a, b := figure(lo, x), figure(hi, x)
		if a == b { // rounded to the same figure: show the difference
			a, b = fmt.Sprintf("%.4g", lo), fmt.Sprintf("%.4g", hi)
		}
		text = a + "-" + b + x
	}
	missed := 0
	for _, v := range s {
		if !t.met(v) {
			missed++
		}
	}
	if missed > 0 {
		text += fmt.Sprintf(", %d of %d missed", missed, len(s))
	}
	return text
}

// figure formats one value of the rounds column: a ratio (x is "x") to two
// decimals, a large value in full, any other to four digits.
func figure(v float64, x string) string {
	switch {
	case x != "":
		return fmt.Sprintf("%.2f", v)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.4g", v)
	}
}

// machine is the machine line of the table: the machines the run names,
// "unknown" if it names none.
func (r results) machine() string {
	m := r.machines
	if len(m) == 0 {
		m = r.cpus
	}
	if len(m) == 0 {
		return "unknown"
	}
	return strings.Join(m, "; ")
}

// report prints the machine and the table, and says whether every target
// was met.
func report(w io.Writer, r results) bool {
	fmt.Fprintf(w, "machine: %s\n", r.machine())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tmetric\tvalue\tallocs/op\tbaseline\tratio\trounds\ttarget\tmet")
	all := true
	for _, t := range targets {
		if clash := r.clash(t); clash != "" {
			failRow(tw, t, "-", "-", "AMBIGUOUS: "+clash)
			all = false
			continue
		}
		v, ok := r.median(t.bench, t.metric)
		allocs, _ := r.median(t.bench, "allocs/op")
		if !ok {
			failRow(tw, t, "-", "-", "MISSING")
			all = false
			continue
		}
		got, ratio := v, "-"
		if t.baseline != "" {
			q, ok := r.ratio(t.bench, t.metric, t.baseline)
			if !ok {
				failRow(tw, t, fmt.Sprintf("%.4g", v), fmt.Sprintf("%.4g", allocs), "MISSING BASELINE")
				all = false
				continue
			}
			got = q
			ratio = fmt.Sprintf("%.2fx", got)
		}
		base, allocsCol := orDash(t.baseline), fmt.Sprintf("%.4g", allocs)
		if t.measured != "" {
			// Such a benchmark's op is a round of thousands of calls of
			// each side: its allocs/op say nothing per call.
			base, ratio, allocsCol = t.measured, fmt.Sprintf("%.2fx", got), "-"
		}
		met := yesNo(t.met(got))
		if t.reference {
			met = "reference"
		} else {
			all = all && t.met(got)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.4g\t%s\t%s\t%s\t%s\t%s\t%s\n", t.bench, t.metric, v, allocsCol, base, ratio, r.spread(t), limit(t), met)
	}
	tw.Flush()
	return all
}

// failRow prints the row of a target that could not be judged, with the
// value and allocs/op columns as given and why in the last.
func failRow(w io.Writer, t target, value, allocs, why string) {
	fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t-\t-\t%s\t%s\n", t.bench, t.metric, value, allocs, orDash(t.baseline), limit(t), why)
}

// limit is the target as the table shows it: "<= 1.5x", ">= 200000".
func limit(t target) string {
	op, x := "<=", ""
	if t.kind == atLeast {
		op = ">="
	}
	if t.baseline != "" || t.measured != "" {
		x = "x"
	}
	return fmt.Sprintf("%s %g%s", op, t.bound, x)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
