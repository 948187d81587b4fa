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
BenchmarkPortGetMany-2          	100	 1200 ns/op	 18.5 ns/packet	 64 packets/call	 0 B/op	 0 allocs/op
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
	if got, _ := r.median("BenchmarkPortGetMany", "ns/packet"); got != 18.5 {
		t.Errorf("ns/packet = %v, want 18.5", got)
	}
	if _, ok := r.median("BenchmarkNope", "ns/op"); ok {
		t.Error("median of a missing benchmark")
	}
}

func TestReportFailsOnMissingOrMissedTargets(t *testing.T) {
	r, _ := parse(strings.NewReader(sample))
	var out strings.Builder
	if report(&out, r) {
		t.Error("report passed with most benchmarks missing")
	}
	for _, want := range []string{"0.17x", "MISSING", "0.46x", "MISSING BASELINE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
