package wsspi_test

import (
	"testing"
	"time"
)

// interleaveChunk is how many calls of one body interleave runs between
// clock reads: a few hundred microseconds to a few milliseconds of work,
// far shorter than the seconds over which a shared machine's speed drifts,
// and long enough that reading the clock costs nothing measurable.
const interleaveChunk = 2048

// interleave times several bodies side by side: each iteration of b.Loop
// runs every body interleaveChunk times, one body after the other, timing
// each chunk. It returns the mean time of one call of each body.
//
// This is how the ratio targets between end-to-end setups are measured.
// Measured one after the other, as sub-benchmarks, a setup and its
// baseline ran seconds apart, and on the shared 2-CPU machine of issue 9
// the speed of this memory-bound code drifts by a third over seconds
// (other tenants share the L3 cache), so the ratio of two sub-benchmarks
// swung from round to round (chain3/base between 3.0x and 7.5x in one
// bench/run). Interleaved, every drift lands on both sides of a ratio.
// The bodies must not allocate, or one body's garbage would be collected
// on another's time.
func interleave(b *testing.B, bodies ...func()) []time.Duration {
	total := make([]time.Duration, len(bodies))
	calls := 0
	for b.Loop() {
		for i, body := range bodies {
			start := time.Now()
			for range interleaveChunk {
				body()
			}
			total[i] += time.Since(start)
		}
		calls += interleaveChunk
	}
	for i := range total {
		total[i] /= time.Duration(calls)
	}
	return total
}
