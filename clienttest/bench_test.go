package clienttest_test

import (
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/internal/benchkit"
)

// BenchmarkMatrix runs a small scenario (the blocking echo) under the
// whole default matrix with Check, outside a bubble, interleaved with its
// baseline: the same scenario run as often on fresh machines with no
// layer and no kit. It reports the configurations run per second and the
// ratio of a configuration's cost to the bare scenario's.
func BenchmarkMatrix(b *testing.B) {
	n := len(clienttest.Configs())
	b.ReportAllocs()
	per := benchkit.Interleave(b, 1, func() {
		rs, err := clienttest.Check(echo)
		if err != nil || len(rs) != n {
			b.Fatal(err, len(rs))
		}
	}, func() {
		for range n {
			m := wsspi.NewMachine()
			if err := echo(m); err != nil {
				b.Fatal(err)
			}
			if err := m.Shutdown(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(n), "configs")
	b.ReportMetric(float64(n)/(per[0]/1e9), "configs/s")
	b.ReportMetric(per[0]/per[1], "kit/bare")
}
