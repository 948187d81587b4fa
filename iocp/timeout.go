package iocp

import (
	"time"

	"github.com/wsspi/wsspi/spi"
)

// infiniteFrom is the shortest timeout treated as [spi.Infinite].
const infiniteFrom = time.Duration(spi.INFINITE) * time.Millisecond

// Milliseconds converts a Win32 timeout (dwMilliseconds) to the Duration the
// waits of this package take: INFINITE becomes [spi.Infinite].
func Milliseconds(ms uint32) time.Duration {
	if ms == spi.INFINITE {
		return spi.Infinite
	}
	return time.Duration(ms) * time.Millisecond
}

// timeoutError checks a wait's timeout: a negative one is
// ERROR_INVALID_PARAMETER.
func timeoutError(d time.Duration) spi.Errno {
	if d < 0 {
		return spi.ERROR_INVALID_PARAMETER
	}
	return 0
}

// startTimer returns the channel that fires when a wait of d times out, and
// the timer to stop when the wait ends. An infinite wait gets a nil channel,
// which never fires, and no timer.
func startTimer(d time.Duration) (<-chan time.Time, *time.Timer) {
	if d >= infiniteFrom {
		return nil, nil
	}
	t := time.NewTimer(d)
	return t.C, t
}

// stopTimer stops t if there is one.
func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}
