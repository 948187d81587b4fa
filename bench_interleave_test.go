package wsspi_test

import (
	"testing"

	"github.com/wsspi/wsspi/internal/benchkit"
)

// interleave is [benchkit.Interleave] with chunks of 2048 calls: a few
// hundred microseconds to a few milliseconds of the end-to-end bodies,
// which hardly allocate.
func interleave(b *testing.B, bodies ...func()) []float64 {
	return benchkit.Interleave(b, 2048, bodies...)
}
