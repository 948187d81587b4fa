package layered

import (
	"fmt"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// Verdict is what a Before or After hook decides about a call: see
// [Hooks.Before] and [Hooks.After] for what each verdict means at each
// point. Make one with [Pass], [Fail], [FailCompletion], [Complete] or
// [Delay]; the zero Verdict is Pass. It is a plain value.
type Verdict struct {
	act   action
	err   spi.Errno
	n     uint32
	delay time.Duration
}

// action is what a Verdict does besides its delay.
type action uint8

const (
	actPass           action = iota
	actFail                  // fail at once (or through the completion once the call has returned)
	actFailCompletion        // fail through the completion
	actComplete              // succeed with n bytes
)

// Pass lets the call go on as the kit would do it.
func Pass() Verdict { return Verdict{} }

// Fail fails the call at once with err: the client's call returns
// SOCKET_ERROR (INVALID_SOCKET for an accept) and WSAGetLastError is err.
// err must be an error code: 0 and WSA_IO_PENDING panic.
func Fail(err spi.Errno) Verdict { return Verdict{act: actFail, err: failure("Fail", err)} }

// FailCompletion fails the operation through its completion: an
// overlapped call returns WSA_IO_PENDING, and the client's port, event or
// completion routine hears of err as of any completion. A call that is not
// overlapped fails with err. err must be an error code: 0 and
// WSA_IO_PENDING panic.
func FailCompletion(err spi.Errno) Verdict {
	return Verdict{act: actFailCompletion, err: failure("FailCompletion", err)}
}

// Complete completes the operation successfully with n bytes: sent,
// received (the first n bytes of the receive buffers, as a hook left
// them) or returned by an ioctl. n must not exceed the client's buffers; a
// hook that completes with more panics.
func Complete(n uint32) Verdict { return Verdict{act: actComplete, n: n} }

// Delay passes the call and holds its completion for d: an overlapped
// call's notification comes d after the kit would have delivered it (the
// call returns WSA_IO_PENDING even if the layer below completed it at
// once), and a call that is not overlapped returns d later. Under a
// [Config.Scheduler] the duration is not waited: the delivery is deferred
// to the scheduler, which decides when it runs. d <= 0 is no delay.
func Delay(d time.Duration) Verdict { return Pass().Delayed(d) }

// Delayed returns v with d more delay (see [Delay]). A call that fails at
// once has no completion to hold: Fail delays only a call that is not
// overlapped, whose return is its completion.
func (v Verdict) Delayed(d time.Duration) Verdict {
	if d > 0 {
		v.delay += d
	}
	return v
}

// Err returns the error v fails the call with, or 0.
func (v Verdict) Err() spi.Errno { return v.err }

// String describes v, as "Fail(10054)" or "Complete(3).Delayed(1ms)".
func (v Verdict) String() string {
	var s string
	switch v.act {
	case actFail:
		s = fmt.Sprintf("Fail(%d)", uint32(v.err))
	case actFailCompletion:
		s = fmt.Sprintf("FailCompletion(%d)", uint32(v.err))
	case actComplete:
		s = fmt.Sprintf("Complete(%d)", v.n)
	default:
		if v.delay > 0 {
			return fmt.Sprintf("Delay(%v)", v.delay)
		}
		return "Pass()"
	}
	if v.delay > 0 {
		s += fmt.Sprintf(".Delayed(%v)", v.delay)
	}
	return s
}

// failure checks the error of a failing verdict: a failure that is no
// error, or WSA_IO_PENDING (which promises a completion nobody would
// deliver), is programmer misuse.
func failure(verdict string, err spi.Errno) spi.Errno {
	if err == 0 || err == spi.WSA_IO_PENDING {
		panic(fmt.Sprintf("layered: %s(%d): a hook fails a call with an error code, not 0 or WSA_IO_PENDING", verdict, err))
	}
	return err
}
