package winnet

import (
	"sync"
	"time"
)

// deadline is one direction's deadline, the rd or wd of Go's pollDesc: a
// channel that is closed when the deadline passes, and the timer that
// closes it. A waiting operation selects on the channel it got from wait;
// moving the deadline later keeps an open channel and only resets the
// timer, and moving it after it passed hands out a fresh channel.
type deadline struct {
	mu      sync.Mutex // guards timer and expired
	timer   *time.Timer
	expired chan struct{}
}

func newDeadline() *deadline {
	return &deadline{expired: make(chan struct{})}
}

// set moves the deadline to t: the zero time means none, a time not after
// now expires it at once.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.expired // the timer fired: wait until its close has happened
	}
	d.timer = nil
	select {
	case <-d.expired:
		d.expired = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(d.expired)
		return
	}
	ch := d.expired
	d.timer = time.AfterFunc(wait, func() { close(ch) })
}

// wait returns the channel closed when the current deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expired
}

// passed reports whether the deadline has passed, what Go's
// pollDesc.prepare checks before an operation starts.
func (d *deadline) passed() bool {
	select {
	case <-d.wait():
		return true
	default:
		return false
	}
}
