package wsspi_test

import (
	"testing"

	"github.com/wsspi/wsspi/internal/benchkit"
)

// interleave is [benchkit.Interleave] with chunks of 16384 calls: 3 to 15
// milliseconds of the end-to-end bodies, which hardly allocate.
func interleave(b *testing.B, bodies ...func()) []float64 {
	return benchkit.Interleave(b, 1<<14, bodies...)
}
