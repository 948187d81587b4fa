package trace

import (
	"sync"
	"time"
)

// Recorder keeps the events recorded into it, in order. The zero value is
// an empty recorder ready for use. A Recorder is safe for concurrent use:
// events recorded from several goroutines are numbered in the order they
// reach it.
type Recorder struct {
	mu     sync.Mutex // guards chunks and seq
	chunks [][]Event  // the events, in chunks of chunkSize, so recording never moves them
	seq    uint64     // the Seq of the last event recorded, and the number recorded
}

// chunkSize is how many events a Recorder allocates room for at once.
const chunkSize = 1024

// Record appends e, numbering it with the next sequence number and stamping
// its Time. It is the Recorder's [Sink].
func (r *Recorder) Record(e Event) {
	r.mu.Lock()
	r.seq++
	e.Seq = r.seq
	e.Time = time.Now()
	if n := len(r.chunks); n == 0 || len(r.chunks[n-1]) == chunkSize {
		r.chunks = append(r.chunks, make([]Event, 0, chunkSize))
	}
	last := &r.chunks[len(r.chunks)-1]
	*last = append(*last, e)
	r.mu.Unlock()
}

// Events returns a copy of the events recorded so far, in order; nil if
// there are none.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seq == 0 {
		return nil
	}
	out := make([]Event, 0, r.seq)
	for _, c := range r.chunks {
		out = append(out, c...)
	}
	return out
}

// Len returns the number of events recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return int(r.seq)
}

// Reset drops the events recorded so far; the next event is numbered 1.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.chunks, r.seq = nil, 0
}

// Comparable returns a copy of events with the volatile fields (Time)
// zeroed, for comparison with cmp.Diff. An empty trace gives nil.
func Comparable(events []Event) []Event {
	if len(events) == 0 {
		return nil
	}
	out := make([]Event, len(events))
	for i, e := range events {
		e.Time = time.Time{}
		out[i] = e
	}
	return out
}

// Filter returns the events for which keep reports true, in order, in a new
// slice.
func Filter(events []Event, keep func(Event) bool) []Event {
	var out []Event
	for _, e := range events {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}
