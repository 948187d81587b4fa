package wild

import (
	"fmt"
	"time"
)

// HangError reports a call that had not returned when its bound ran out,
// as [Within] finds it: what a test reports instead of hanging itself.
type HangError struct {
	// Op names the call, as in "WriteFile".
	Op string
	// After is the bound that ran out.
	After time.Duration
	// Result receives the call's error when it does return at last (nil
	// for success), once whatever blocks it ends: the process's
	// WSACleanup, say, which closes the layers' handles.
	Result <-chan error
}

func (e *HangError) Error() string {
	return fmt.Sprintf("%s hangs: it had not returned after %v", e.Op, e.After)
}

// Within runs call on a goroutine of its own and returns its error, or a
// *HangError if it has not returned after d. Inside a testing/synctest
// bubble d passes in virtual time, at once once every goroutine of the
// bubble is blocked; the hung goroutine must still be ended before the
// bubble ends (the HangError's Result says when it has). call runs on
// another goroutine than Within's caller, so it must use a thread (a
// wsspi.Thread) that nothing else uses meanwhile.
func Within(d time.Duration, op string, call func() error) error {
	result := make(chan error, 1)
	go func() { result <- call() }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case err := <-result:
		return err
	case <-timer.C:
		return &HangError{Op: op, After: d, Result: result}
	}
}
