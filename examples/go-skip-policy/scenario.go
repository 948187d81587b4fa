package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/spi"
)

// matrixWaits are the waits of the -matrix run. A packet the seeded
// scheduler delays must still come within them when the run is outside a
// synctest bubble, on a real clock; inside one they cost nothing.
var matrixWaits = waits{packet: 300 * time.Millisecond, stray: 200 * time.Millisecond}

// scenario returns the client of pol as a clienttest scenario: the
// default run's exchange, failing on the first socket that went wrong.
func (pol policy) scenario(w waits) clienttest.Scenario {
	return func(m *wsspi.Machine) error {
		outs, err := exchange(m, pol, w)
		if err != nil {
			return err
		}
		var fails socketErrors
		for _, o := range outs {
			if o.err != nil {
				fails = append(fails, o)
			}
		}
		if len(fails) > 0 {
			return fails
		}
		return nil
	}
}

// socketErrors are the outcomes of the sockets that went wrong, at least
// one.
type socketErrors []outcome

func (e socketErrors) Error() string {
	var parts []string
	for _, o := range e {
		parts = append(parts, o.family.name+": "+o.err.Error())
	}
	return strings.Join(parts, "; ")
}

// short names the failure in a cell: "stray packet (tcp4, tcp6)", the
// families that failed in the same way grouped.
func (e socketErrors) short() string {
	var order []string
	tags := map[string][]string{}
	for _, o := range e {
		s := shortOf(o.err)
		if tags[s] == nil {
			order = append(order, s)
		}
		tags[s] = append(tags[s], o.family.tag)
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%s (%s)", s, strings.Join(tags[s], ", ")))
	}
	return strings.Join(parts, ", ")
}

// shortOf names err in a cell: its reason, the kit's finding, or the
// code of the call that failed (the legend names the call).
func shortOf(err error) string {
	var (
		r  *reason
		se socketErrors
		fe *familyError
		te *clienttest.TimeoutError
		pe *clienttest.PanicError
		ue *clienttest.SetupError
		oe *spi.OpError
	)
	switch {
	case err == nil:
		return "pass"
	case errors.As(err, &se):
		return se.short()
	case errors.As(err, &fe):
		return shortOf(fe.err) + " (" + fe.family.tag + ")"
	case errors.As(err, &r):
		return r.short
	case errors.As(err, &te):
		return "timeout"
	case errors.As(err, &pe):
		return "panic"
	case errors.As(err, &ue):
		return "setup"
	case errors.As(err, &oe):
		return spi.ErrnoOf(oe).Name()
	}
	return "error"
}
