package spi

// Scheduler decides when the simulated system does work that it would
// otherwise do at once: delivering the completion of an overlapped
// operation (the base provider's Complete calls and the notifications of
// the completion rule) and finishing a close. With no Scheduler the
// simulator does that work inline, on the goroutine that caused it. With
// one, the work is handed to Defer, and Pend lets an operation that could
// complete at once report WSA_IO_PENDING instead, so that a test explores
// the orderings Windows allows: a completion delivered before or after the
// call that started it returns, completions racing a close, notifications
// and APCs arriving late.
//
// A Scheduler driven by a seeded random source makes a run reproducible
// when the code under test does all its work on the goroutines that call
// it (package spitest has one). Work deferred to a Scheduler waits for it:
// whoever drives the Scheduler must run the deferred work before waiting
// for its effects, and a blocking call that waits for a deferred
// completion on the driving goroutine never returns.
//
// Implementations must be safe for concurrent use.
type Scheduler interface {
	// Defer runs fn exactly once: before Defer returns, on the calling
	// goroutine, or later. Functions deferred with equal keys run in the
	// order they were deferred; key is compared with ==. Defer runs no
	// other deferred function before it returns: its caller may hold locks
	// that work deferred earlier needs (a layered provider delivering a
	// completion holds its socket's).
	Defer(key any, fn func())
	// Pend reports whether an overlapped operation that could complete at
	// once should instead return WSA_IO_PENDING and complete through
	// Defer. It is asked once per such operation.
	Pend() bool
}
