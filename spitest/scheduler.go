package spitest

import (
	"math/rand/v2"
	"sync"
)

// Scheduler is a seeded [spi.Scheduler]: give it to a machine with
// wsspi.MachineOptions.Scheduler and the loopback provider and the
// completion rule hand it the work they would otherwise do at once. Each
// decision (run deferred work at once or queue it, let an operation pend,
// which queued work runs next) comes from a PCG random source seeded by
// the seed given to [NewScheduler], so a run whose code does its work on
// the goroutines that call it is the same run for the same seed.
//
// Queued work runs only when the test calls [Scheduler.Step] or
// [Scheduler.Drain]: a test drives the scheduler as it drives its client,
// and runs the queued work before it waits for an effect of it (a blocking
// call that waits for a queued completion on the driving goroutine never
// returns). Work deferred under one key runs in the order it was deferred;
// across keys the scheduler picks at random, so completions of different
// sockets interleave in every order, completions arrive before or after
// the call that started them returns, and closes race the completions of
// the operations they abort.
//
// A Scheduler is safe for concurrent use. Deferred work runs on the
// goroutine that calls Step or Drain (or Defer, when it runs at once),
// with no lock of the Scheduler held.
type Scheduler struct {
	mu      sync.Mutex // guards the fields below
	rng     *rand.Rand
	queues  map[any][]func() // queued work by key, in order
	keys    []any            // keys with queued work, in the order they first queued
	queued  int              // functions queued
	running map[any]bool     // keys whose work is running now (kept in order behind it)
	inline  int              // chance in 8 that Defer runs at once
	pend    int              // chance in 8 that Pend says pend
	ran     uint64           // deferred functions run so far
}

// NewScheduler returns a scheduler whose decisions follow seed. Deferred
// work runs at once one time in four (when nothing is queued under its
// key), and an operation that could complete at once pends one time in
// four.
func NewScheduler(seed uint64) *Scheduler {
	return &Scheduler{
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		queues:  map[any][]func(){},
		running: map[any]bool{},
		inline:  2,
		pend:    2,
	}
}

// Defer implements [spi.Scheduler]: it runs fn now, on the calling
// goroutine, or queues it behind the work already queued under key.
func (s *Scheduler) Defer(key any, fn func()) {
	s.mu.Lock()
	_, busy := s.queues[key]
	if !busy && !s.running[key] && s.rng.IntN(8) < s.inline {
		s.running[key] = true
		s.ran++
		s.mu.Unlock()
		s.run(key, fn)
		return
	}
	if !busy {
		s.keys = append(s.keys, key)
	}
	s.queues[key] = append(s.queues[key], fn)
	s.queued++
	s.mu.Unlock()
}

// Pend implements [spi.Scheduler].
func (s *Scheduler) Pend() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rng.IntN(8) < s.pend
}

// Step runs one queued function, the first of a key the random source
// picks among the keys with queued work whose earlier work is not still
// running, and reports whether there was one to run.
func (s *Scheduler) Step() bool {
	s.mu.Lock()
	var ready []int
	for i, k := range s.keys {
		if !s.running[k] {
			ready = append(ready, i)
		}
	}
	if len(ready) == 0 {
		s.mu.Unlock()
		return false
	}
	i := ready[s.rng.IntN(len(ready))]
	key := s.keys[i]
	q := s.queues[key]
	fn := q[0]
	if len(q) == 1 {
		delete(s.queues, key)
		s.keys = append(s.keys[:i], s.keys[i+1:]...)
	} else {
		s.queues[key] = q[1:]
	}
	s.queued--
	s.running[key] = true
	s.ran++
	s.mu.Unlock()
	s.run(key, fn)
	return true
}

// run calls fn, the work of key, and marks key idle again.
func (s *Scheduler) run(key any, fn func()) {
	defer func() {
		s.mu.Lock()
		delete(s.running, key)
		s.mu.Unlock()
	}()
	fn()
}

// Drain runs queued work, newly queued work included, until none is left
// that can run, and returns how many functions it ran.
func (s *Scheduler) Drain() int {
	n := 0
	for s.Step() {
		n++
	}
	return n
}

// Len returns the number of functions queued.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued
}

// Ran returns the number of deferred functions run so far, at once or
// queued.
func (s *Scheduler) Ran() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ran
}
