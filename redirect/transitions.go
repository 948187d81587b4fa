package redirect

import "sync/atomic"

// Transitions counts user/kernel mode transitions.
type Transitions struct {
	UserToKernel uint64
	KernelToUser uint64
}

// Total returns the transitions in both directions.
func (t Transitions) Total() uint64 { return t.UserToKernel + t.KernelToUser }

// counter accumulates Transitions atomically. Every transition the
// simulator charges is a round trip (into the kernel and back), so one
// count serves both directions.
type counter struct{ roundTrips atomic.Uint64 }

func (c *counter) add(roundTrips uint64) { c.roundTrips.Add(roundTrips) }

func (c *counter) load() Transitions {
	n := c.roundTrips.Load()
	return Transitions{UserToKernel: n, KernelToUser: n}
}
