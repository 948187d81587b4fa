package clienttest

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spitest"
	"github.com/wsspi/wsspi/trace"
)

// runConfig builds the machine of c, runs s on it, bounded by the
// options' limit, and shuts the machine down. With traced set the machine
// records a trace, which the result carries as text.
func runConfig(s Scenario, c Config, o *options, traced bool) Result {
	var mo wsspi.MachineOptions
	var rec *trace.Recorder
	if traced {
		rec = new(trace.Recorder)
		mo.Trace = rec
	}
	var p *pump
	if c.Seed != 0 {
		p = &pump{s: spitest.NewScheduler(c.Seed), bubble: o.bubble, kick: make(chan struct{}, 1),
			stop: make(chan struct{}), done: make(chan struct{})}
		mo.Scheduler = p
	}
	m := wsspi.NewMachineWith(mo)
	res := Result{Config: c}
	if err := guardedInstall(m, c); err != nil {
		res.Err = &SetupError{Err: err}
		return res
	}
	if p != nil {
		go p.run()
	}
	shown := -1 // events of the trace to show: all, unless the scenario returned in time
	res.Err = supervise(m, s, o.timeout, func() {
		if rec != nil {
			shown = rec.Len()
		}
	})
	if p != nil {
		close(p.stop)
		<-p.done
	}
	if rec != nil {
		events := rec.Events()
		var b strings.Builder
		if shown >= 0 && shown < len(events) {
			// What the shutdown did after the scenario returned is the
			// kit's, not the client's, and its order of cleanup varies.
			_ = trace.Text(&b, events[:shown])
			fmt.Fprintf(&b, "(%d events of the machine's shutdown after the scenario returned are left out)\n", len(events)-shown)
		} else {
			_ = trace.Text(&b, events)
		}
		res.Trace = b.String()
	}
	return res
}

// guardedInstall installs c on m, a panic of an installer included in
// its error.
func guardedInstall(m *wsspi.Machine, c Config) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configuration %q: an installer panicked: %v", c.Name, r)
		}
	}()
	return install(m, c)
}

// supervise runs s on m on a goroutine of its own and waits for it up to
// limit, calling returned if s returned in time. Either way it then shuts m down, which ends the waits of a
// scenario that hangs and the goroutines of the processes it left open;
// a scenario that hung gets a quarter of limit more to return.
func supervise(m *wsspi.Machine, s Scenario, limit time.Duration, returned func()) error {
	done := make(chan error, 1)
	go func() {
		ended := false
		defer func() {
			if r := recover(); r != nil {
				done <- &PanicError{Value: r, Stack: string(debug.Stack())}
			} else if !ended {
				done <- errGoexit
			}
		}()
		err := s(m)
		ended = true
		done <- err
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err := <-done:
		returned()
		_ = m.Shutdown() // the processes the scenario left; their errors are the providers', not the client's
		return err
	case <-timer.C:
	}
	_ = m.Shutdown()
	grace := time.NewTimer(limit / 4)
	defer grace.Stop()
	select {
	case err := <-done:
		return &TimeoutError{Limit: limit, Ended: true, Err: err}
	case <-grace.C:
		return &TimeoutError{Limit: limit}
	}
}

// pump is the machine's scheduler: a spitest.Scheduler whose queued work
// it runs itself, on a goroutine of its own, since a scenario knows
// nothing of the scheduler. In a bubble it runs one function at a time,
// each once every other goroutine of the bubble is blocked
// (synctest.Wait), so the order of the work follows the seed alone and a
// seed replays a run; outside one it runs the work as soon as it can.
type pump struct {
	s      *spitest.Scheduler
	bubble bool
	kick   chan struct{} // work was deferred
	stop   chan struct{} // the run is over
	done   chan struct{} // run has returned
}

// Defer implements spi.Scheduler, and wakes the pump.
func (p *pump) Defer(key any, fn func()) {
	p.s.Defer(key, fn)
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Pend implements spi.Scheduler.
func (p *pump) Pend() bool { return p.s.Pend() }

func (p *pump) run() {
	defer close(p.done)
	for {
		select {
		case <-p.kick:
		case <-p.stop:
			p.s.Drain()
			return
		}
		for {
			if p.bubble {
				synctest.Wait()
			} else {
				runtime.Gosched()
			}
			if !p.s.Step() {
				break
			}
		}
	}
}
