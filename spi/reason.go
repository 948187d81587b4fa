package spi

import "strconv"

// Name returns the code's symbolic name as the Windows headers spell it
// ("WSAEINVAL", "ERROR_INVALID_HANDLE"), or its number for a code the
// simulator never returns. A code with two names (WSA_IO_PENDING is
// ERROR_IO_PENDING) gets its Win32 one.
func (e Errno) Name() string {
	if n, ok := errnoName[e]; ok {
		return n
	}
	return strconv.FormatUint(uint64(e), 10)
}

// Reason is a Windows code with the reason a call returned it, for the
// failures where the code alone leaves a user guessing which argument was
// wrong: "WSAEINVAL: socket 0xc was not created with WSA_FLAG_OVERLAPPED".
// It unwraps to its [Errno], so errors.Is(err, spi.WSAEINVAL) and [ErrnoOf]
// see the code; the reason changes only the text. Windows has no such
// text: a ported client takes the same branches, keyed on the code.
type Reason struct {
	Code Errno
	Why  string
}

// Because returns code with the reason why.
func Because(code Errno, why string) error { return &Reason{Code: code, Why: why} }

// Error returns the code's name and the reason.
func (r *Reason) Error() string { return r.Code.Name() + ": " + r.Why }

// Unwrap returns the code.
func (r *Reason) Unwrap() error { return r.Code }

// Timeout reports whether the code is a timeout ([Errno.Timeout]).
func (r *Reason) Timeout() bool { return r.Code.Timeout() }

// Temporary reports whether the code is temporary ([Errno.Temporary]).
func (r *Reason) Temporary() bool { return r.Code.Temporary() }
