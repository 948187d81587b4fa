package spitest

import (
	"testing"
	"time"

	"github.com/wsspi/wsspi/catalog"
)

// BenchmarkWorkload runs the seeded workload over the loopback base
// provider, inline (no scheduler) and with a scheduler, and reports the
// simulated client operations (Winsock, file and port calls the kit's
// clients make) per second, model checks included.
func BenchmarkWorkload(b *testing.B) {
	for _, scheduled := range []bool{false, true} {
		name := "inline"
		if scheduled {
			name = "scheduler"
		}
		b.Run(name, func(b *testing.B) {
			cfg := newConfig(nil)
			ops := 0
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				var sched *Scheduler
				if scheduled {
					sched = NewScheduler(uint64(i + 1))
				}
				e, fs := newEnv(cfg, nil, catalog.DefaultTCPIPv4, sched)
				if fs != nil {
					b.Fatal(joinFindings(fs))
				}
				d := newRandDrawer(uint64(i))
				for range 500 {
					actions[d.intn(len(actions), "")].do(e, d)
				}
				e.finish()
				if len(e.findings) > 0 {
					b.Fatal(joinFindings(e.findings))
				}
				e.releaseLists()
				ops += e.clientOp
			}
			b.ReportMetric(float64(ops)/time.Since(start).Seconds(), "ops/s")
		})
	}
}
