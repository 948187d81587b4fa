// Package benchkit holds what the benchmarks of several packages share.
package benchkit

import (
	"testing"
	"time"
)

// Interleave times several bodies side by side: each iteration of b.Loop
// runs every body chunk times, one body after the other (in reverse order
// every other iteration, so that no body always follows the same one),
// timing each chunk, and Interleave returns the mean time of one call of
// each body, in nanoseconds.
//
// The ratio targets of bench/run are measured this way. Measured one
// after the other, as sub-benchmarks, a setup and its baseline ran seconds
// apart, and on the shared 2-CPU machine of issue 9 the speed of
// memory-bound code drifts by a third over seconds (other tenants share
// the L3 cache): the ratio of two sub-benchmarks swung from round to round
// (chain3/base between 3.0x and 7.5x in one bench/run). Interleaved, every
// drift lands on both sides of a ratio. A chunk should last far less than
// a second, and long enough that reading the clock costs nothing
// measurable.
//
// Garbage one body leaves is collected partly on another's time: the
// garbage collector cycle under way when a chunk ends finishes during the
// next. Bodies that allocate need chunks long against a cycle (a few
// hundred microseconds), so that the spill is a small share of a chunk.
// Likewise each chunk starts with caches that the chunk before filled
// with its own data, so a chunk should be long against refilling them:
// milliseconds.
func Interleave(b *testing.B, chunk int, bodies ...func()) []float64 {
	total := make([]time.Duration, len(bodies))
	calls := 0
	for b.Loop() {
		for k := range bodies {
			i := k
			if calls/chunk%2 == 1 {
				i = len(bodies) - 1 - k
			}
			start := time.Now()
			for range chunk {
				bodies[i]()
			}
			total[i] += time.Since(start)
		}
		calls += chunk
	}
	ns := make([]float64, len(bodies))
	for i, t := range total {
		ns[i] = float64(t.Nanoseconds()) / float64(calls)
	}
	return ns
}
