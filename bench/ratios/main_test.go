package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkHandleLookup/table-2   	100	 2.0 ns/op	 0 B/op	 0 allocs/op
BenchmarkHandleLookup/table-2   	100	 3.0 ns/op	 0 B/op	 0 allocs/op
BenchmarkHandleLookup/table-2   	100	 2.5 ns/op	 0 B/op	 0 allocs/op
BenchmarkHandleLookup/syncmap-2 	100	 15 ns/op	 0 B/op	 0 allocs/op
BenchmarkPortDequeue/many-2     	100	 118.4 ns/op	 1.85 ns/packet	 0 B/op	 0 allocs/op
BenchmarkPortDequeue/one-2      	100	 40 ns/op	 40 ns/packet	 0 B/op	 0 allocs/op
BenchmarkPortPostGet/port-2     	100	 40 ns/op	 0 B/op	 0 allocs/op
`

func TestParseTakesMediansPerMetric(t *testing.T) {
	r, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.median("BenchmarkHandleLookup/table", "ns/op"); got != 2.5 {
		t.Errorf("median ns/op = %v, want 2.5", got)
	}
	if got, _ := r.median("BenchmarkPortDequeue/many", "ns/packet"); got != 1.85 {
		t.Errorf("ns/packet = %v, want 1.85", got)
	}
	if _, ok := r.median("BenchmarkNope", "ns/op"); ok {
		t.Error("median of a missing benchmark")
	}
}

func TestReportFailsOnMissingOrMissedTargets(t *testing.T) {
	met, out := reportOf(sample)
	if met {
		t.Error("report passed with most benchmarks missing")
	}
	reportHas(t, out, "0.17x", "MISSING", "0.05x", "MISSING BASELINE")
}

func TestAtLeastTargets(t *testing.T) {
	ratio := target{bench: "B/two", metric: "packets/s", baseline: "B/one", bound: 1.6, kind: atLeast}
	floor := target{bench: "B/w", metric: "ops/s", bound: 200000, kind: atLeast}
	for _, c := range []struct {
		t    target
		got  float64
		want bool
	}{
		{ratio, 1.59, false},
		{ratio, 1.6, true},
		{ratio, 1.9, true},
		{floor, 199999, false},
		{floor, 250000, true},
	} {
		if got := c.t.met(c.got); got != c.want {
			t.Errorf("%s met(%v) = %v, want %v", limit(c.t), c.got, got, c.want)
		}
	}
}

func TestReportAtLeastRatio(t *testing.T) {
	useTargets(t, []target{{bench: "BenchmarkC/two", metric: "packets/s", baseline: "BenchmarkC/one", bound: 1.6, kind: atLeast}})
	const run = `BenchmarkC/one-2 	100	 1000 ns/op	 1000000 packets/s
BenchmarkC/two-2 	100	 500 ns/op	 1800000 packets/s
`
	met, out := reportOf(run)
	if !met {
		t.Errorf("1.8x did not meet >= 1.6x:\n%s", out)
	}
	reportHas(t, out, "1.80x", ">= 1.6x", "yes")
	if met, out := reportOf(strings.Replace(run, "1800000", "1500000", 1)); met {
		t.Errorf("1.5x met >= 1.6x:\n%s", out)
	}
}

func TestRatioPairsSamplesOfTheSameRound(t *testing.T) {
	// Three rounds; the machine was twice as slow in the last two, for
	// both benchmarks. Each round's ratio is 0.5; the ratio of the medians
	// would be 20/20 = 1.
	const run = `BenchmarkR/base-2 	100	 10 ns/op
BenchmarkR/x-2    	100	 5 ns/op
BenchmarkR/base-2 	100	 40 ns/op
BenchmarkR/x-2    	100	 20 ns/op
BenchmarkR/base-2 	100	 20 ns/op
BenchmarkR/x-2    	100	 10 ns/op
`
	r, _ := parse(strings.NewReader(run))
	if got, ok := r.ratio("BenchmarkR/x", "ns/op", "BenchmarkR/base"); !ok || got != 0.5 {
		t.Errorf("paired ratio = %v, %v; want 0.5, true", got, ok)
	}
	r.samples["BenchmarkR/x"]["ns/op"] = r.samples["BenchmarkR/x"]["ns/op"][:2] // unpaired: 12.5 / 20
	if got, ok := r.ratio("BenchmarkR/x", "ns/op", "BenchmarkR/base"); !ok || got != 0.625 {
		t.Errorf("ratio of medians = %v, %v; want 0.625, true", got, ok)
	}
	if _, ok := r.ratio("BenchmarkR/x", "ns/op", "BenchmarkR/none"); ok {
		t.Error("ratio to a missing baseline")
	}
}

func TestReportShowsARatioMeasuredInterleavedAsARatio(t *testing.T) {
	useTargets(t, []target{{bench: "BenchmarkSendRatios", metric: "chain3/base", measured: "base (interleaved)", bound: 5}})
	const run = `BenchmarkSendRatios-2 	100	 6484231 ns/op	 314.0 base-ns/send	 1266 chain3-ns/send	 4.032 chain3/base
BenchmarkSendRatios-2 	100	 6484231 ns/op	 314.0 base-ns/send	 1266 chain3-ns/send	 5.5 chain3/base
BenchmarkSendRatios-2 	100	 6484231 ns/op	 314.0 base-ns/send	 1266 chain3-ns/send	 3.9 chain3/base
`
	met, out := reportOf(run)
	if !met {
		t.Errorf("a median of 4.03 did not meet <= 5x:\n%s", out)
	}
	reportHas(t, out, "base (interleaved)", "4.03x", "3.90-5.50x, 1 of 3 missed", "<= 5x", "yes")
}

// useTargets makes ts the targets that report checks, for the rest of the
// test.
func useTargets(t *testing.T, ts []target) {
	saved := targets
	t.Cleanup(func() { targets = saved })
	targets = ts
}

// cell returns what the row of bench and metric shows under header in a
// table that report printed: tabwriter aligns every column under its
// header.
func cell(t *testing.T, table, header, bench, metric string) string {
	t.Helper()
	lines := strings.Split(table, "\n")
	for len(lines) > 1 && !strings.HasPrefix(lines[0], "benchmark ") { // the machine line
		lines = lines[1:]
	}
	start := strings.Index(lines[0], " "+header+" ") + 1
	if start == 0 {
		t.Fatalf("no %q column in %q", header, lines[0])
	}
	end := start + len(header)
	for end < len(lines[0]) && lines[0][end] == ' ' {
		end++
	}
	for _, line := range lines[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[0] == bench && f[1] == metric {
			return strings.TrimSpace(line[start:min(end, len(line))])
		}
	}
	t.Fatalf("no row for %s %s in\n%s", bench, metric, table)
	return ""
}

func TestReportShowsTheRangeOverRounds(t *testing.T) {
	useTargets(t, []target{
		{bench: "BenchmarkR/x", metric: "ns/op", baseline: "BenchmarkR/base", bound: 1},
		{bench: "BenchmarkW", metric: "ops/s", bound: 200000, kind: atLeast},
		{bench: "BenchmarkW", metric: "allocs/op", bound: 0},
		{bench: "BenchmarkOnce", metric: "ops/s", bound: 1, kind: atLeast},
		{bench: "BenchmarkS/x", metric: "ns/op", baseline: "BenchmarkS/base", bound: 1},
		{bench: "BenchmarkU/x", metric: "ns/op", baseline: "BenchmarkU/base", bound: 1},
		{bench: "BenchmarkN/x", metric: "ns/op", baseline: "BenchmarkN/base", bound: 1.002},
	})
	// BenchmarkR: round ratios 0.9, 1.1 and 0.8, so the median meets
	// <= 1x and one round does not. BenchmarkS: 0.5 in every round.
	// BenchmarkU: unpaired. BenchmarkN: 0.999 and 1.003, which round to
	// the same two decimals.
	const run = `BenchmarkR/base-2 	100	 10 ns/op
BenchmarkR/x-2    	100	 9 ns/op
BenchmarkW-2      	1	 5 ns/op	 250000 ops/s	 0 allocs/op
BenchmarkOnce-2   	1	 5 ns/op	 7 ops/s
BenchmarkS/base-2 	100	 10 ns/op
BenchmarkS/x-2    	100	 5 ns/op
BenchmarkU/base-2 	100	 10 ns/op
BenchmarkU/x-2    	100	 5 ns/op
BenchmarkN/base-2 	100	 1000 ns/op
BenchmarkN/x-2    	100	 999 ns/op
BenchmarkR/base-2 	100	 20 ns/op
BenchmarkR/x-2    	100	 22 ns/op
BenchmarkW-2      	1	 5 ns/op	 210000 ops/s	 0 allocs/op
BenchmarkS/base-2 	100	 20 ns/op
BenchmarkS/x-2    	100	 10 ns/op
BenchmarkU/base-2 	100	 10 ns/op
BenchmarkN/base-2 	100	 1000 ns/op
BenchmarkN/x-2    	100	 1003 ns/op
BenchmarkR/base-2 	100	 10 ns/op
BenchmarkR/x-2    	100	 8 ns/op
BenchmarkW-2      	1	 5 ns/op	 290000 ops/s	 0 allocs/op
`
	r, _ := parse(strings.NewReader(run))
	var out strings.Builder
	if !report(&out, r) {
		t.Errorf("every median meets its target, yet report failed:\n%s", out.String())
	}
	for _, c := range []struct{ bench, metric, want string }{
		{"BenchmarkR/x", "ns/op", "0.80-1.10x, 1 of 3 missed"},
		{"BenchmarkW", "ops/s", "210000-290000"},
		{"BenchmarkW", "allocs/op", "0"}, // the same in every round
		{"BenchmarkOnce", "ops/s", "-"},
		{"BenchmarkS/x", "ns/op", "0.50x"},
		{"BenchmarkU/x", "ns/op", "-"},
		{"BenchmarkN/x", "ns/op", "0.999-1.003x, 1 of 2 missed"},
	} {
		if got := cell(t, out.String(), "rounds", c.bench, c.metric); got != c.want {
			t.Errorf("rounds of %s %s = %q, want %q\n%s", c.bench, c.metric, got, c.want, out.String())
		}
	}
}

func TestRatioWithAZeroBaselineRoundIsMissing(t *testing.T) {
	useTargets(t, []target{{bench: "BenchmarkZ/x", metric: "ns/op", baseline: "BenchmarkZ/base", bound: 1}})
	const run = `BenchmarkZ/base-2 	100	 10 ns/op
BenchmarkZ/x-2    	100	 5 ns/op
BenchmarkZ/base-2 	100	 0 ns/op
BenchmarkZ/x-2    	100	 5 ns/op
BenchmarkZ/base-2 	100	 10 ns/op
BenchmarkZ/x-2    	100	 5 ns/op
`
	r, _ := parse(strings.NewReader(run))
	if q, ok := r.ratio("BenchmarkZ/x", "ns/op", "BenchmarkZ/base"); ok {
		t.Errorf("ratio with a zero baseline round = %v, true; want false", q)
	}
	var out strings.Builder
	if report(&out, r) || !strings.Contains(out.String(), "MISSING BASELINE") {
		t.Errorf("report of a zero baseline round passed or lacks MISSING BASELINE:\n%s", out.String())
	}
}

func TestReportRefusesABenchmarkNameFoundInTwoPackages(t *testing.T) {
	useTargets(t, []target{{bench: "BenchmarkReadFile/ifs", metric: "ns/op", bound: 1000}})
	const run = `pkg: example.com/a
BenchmarkReadFile/ifs-2 	100	 200 ns/op
pkg: example.com/b
BenchmarkReadFile/ifs-2 	100	 100 ns/op
`
	r, _ := parse(strings.NewReader(run))
	var out strings.Builder
	if report(&out, r) {
		t.Errorf("report passed on a benchmark found in two packages:\n%s", out.String())
	}
	if want := "AMBIGUOUS: BenchmarkReadFile/ifs in example.com/a, example.com/b"; !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}
}

func TestReportNamesTheMachine(t *testing.T) {
	for _, c := range []struct{ name, run, want string }{
		{"bench/run's line", "machine: 2 CPUs, AMD EPYC (family 26, model 2), go1.26.8\ncpu: AMD EPYC\n" + sample,
			"machine: 2 CPUs, AMD EPYC (family 26, model 2), go1.26.8\n"},
		{"go test's cpu line", "cpu: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\n" + sample,
			"machine: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz\n"},
		{"two machines", "machine: a\n" + sample + "machine: b\n" + sample + "machine: a\n", "machine: a; b\n"},
		{"none", sample, "machine: unknown\n"},
	} {
		r, _ := parse(strings.NewReader(c.run))
		var out strings.Builder
		report(&out, r)
		if first, _, _ := strings.Cut(out.String(), "benchmark"); first != c.want {
			t.Errorf("%s: the table starts with %q, want %q", c.name, first, c.want)
		}
	}
}

func TestReportShowsAReferenceRowAndNeverFailsOnIt(t *testing.T) {
	useTargets(t, []target{{bench: "BenchmarkC/chan,two", metric: "packets/s", baseline: "BenchmarkC/chan,one", bound: 1.6, kind: atLeast, reference: true}})
	const run = `BenchmarkC/chan,one-2 	100	 1000 ns/op	 1000000 packets/s
BenchmarkC/chan,two-2 	100	 700 ns/op	 1500000 packets/s
`
	met, out := reportOf(run)
	if !met {
		t.Errorf("a reference row below its bound failed the run:\n%s", out)
	}
	reportHas(t, out, "1.50x", ">= 1.6x", "reference")
}

// reportOf parses run and reports it: whether every target was met, and
// the report.
func reportOf(run string) (bool, string) {
	r, _ := parse(strings.NewReader(run))
	var out strings.Builder
	met := report(&out, r)
	return met, out.String()
}

// reportHas fails t for each of wants that out lacks.
func reportHas(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
