package redirect

import "sync/atomic"

// Transitions counts user/kernel mode transitions.
type Transitions struct {
	UserToKernel uint64
	KernelToUser uint64
}

// Total returns the transitions in both directions.
func (t Transitions) Total() uint64 { return t.UserToKernel + t.KernelToUser }

// counter accumulates Transitions atomically.
type counter struct{ u2k, k2u atomic.Uint64 }

func (c *counter) add(roundTrips uint64) {
	c.u2k.Add(roundTrips)
	c.k2u.Add(roundTrips)
}

func (c *counter) load() Transitions {
	return Transitions{UserToKernel: c.u2k.Load(), KernelToUser: c.k2u.Load()}
}
