package spi

import (
	"math"
	"time"
)

// Infinite is the timeout of a wait that never times out, INFINITE in
// Win32, as the simulator's waits take it: every wait that has a timeout
// (GetQueuedCompletionStatus, WSAWaitForMultipleEvents, SleepEx, and the
// upcall tables' versions of them) takes a [time.Duration], and Infinite is
// the one value that means "for ever". Any timeout of [INFINITE]
// milliseconds (about 49.7 days) or more is treated the same way, since a
// Win32 wait cannot express a longer finite one.
const Infinite time.Duration = math.MaxInt64
