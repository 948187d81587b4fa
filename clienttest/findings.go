package clienttest

import (
	"errors"
	"fmt"
	"time"
)

// A [Result]'s Err is what the scenario returned, or one of the findings
// below, which the kit makes of what the scenario did instead of
// returning. Each is a plain value; find them with errors.As.

// TimeoutError says that the scenario did not return within the limit
// ([Timeout]): it waited for something that never came, as a client waits
// for a completion a broken layer lost. The kit then shut the machine
// down (wsspi.Machine.Shutdown), which ends every wait of its processes.
type TimeoutError struct {
	// Limit is the time the scenario had.
	Limit time.Duration
	// Ended says that the scenario returned once the machine shut down;
	// Err is what it returned then (often ERROR_ABANDONED_WAIT_0 or
	// ERROR_PROCESS_ABORTED from the wait that hung). A scenario that did
	// not end is blocked on something of its own, which the shutdown
	// cannot reach; the kit leaves its goroutine behind.
	Ended bool
	Err   error
}

func (e *TimeoutError) Error() string {
	switch {
	case !e.Ended:
		return fmt.Sprintf("timeout: the scenario did not return within %v, nor once the machine shut down (it waits on something of its own)", e.Limit)
	case e.Err == nil:
		return fmt.Sprintf("timeout: the scenario did not return within %v; once the machine shut down it returned nil", e.Limit)
	}
	return fmt.Sprintf("timeout: the scenario did not return within %v; once the machine shut down it returned: %v", e.Limit, e.Err)
}

// Unwrap returns what the scenario returned once the machine shut down.
func (e *TimeoutError) Unwrap() error { return e.Err }

// PanicError says that the scenario panicked, on the goroutine the kit
// ran it on. (A panic on a goroutine the scenario started ends the test
// binary, as any goroutine's panic does.)
type PanicError struct {
	// Value is what the scenario passed to panic.
	Value any
	// Stack is the stack of the panicking goroutine.
	Stack string
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v\n%s", e.Value, e.Stack) }

// SetupError says that the kit could not build the configuration's
// machine: a layer failed to install, or the catalog it left fails
// catalog lint. The scenario did not run. For the configurations of
// [Configs] it is a bug of the kit or of package wild.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return "setup: " + e.Err.Error() }

// Unwrap returns the installation's error.
func (e *SetupError) Unwrap() error { return e.Err }

// errGoexit is what a scenario that ended its goroutine with
// runtime.Goexit (t.FailNow, t.Skip on the test's t) returns.
var errGoexit = errors.New("the scenario ended its goroutine with runtime.Goexit (t.FailNow or t.Skip inside a scenario?); return an error instead")
