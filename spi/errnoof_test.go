package spi_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wsspi/wsspi/spi"
)

// TestErrnoOfFindsTheCodeHoweverWrapped: ErrnoOf reads the same code from
// a bare code, an operation's error, an operation's error wrapped in
// another, and a status in place of a code, whichever path it takes.
func TestErrnoOfFindsTheCodeHoweverWrapped(t *testing.T) {
	op := spi.NewOpError("WSASend", 0x1c, spi.WSA_IO_PENDING)
	for _, c := range []struct {
		name string
		err  error
		want spi.Errno
	}{
		{"nil", nil, spi.ERROR_SUCCESS},
		{"a code", spi.WSAECONNRESET, spi.WSAECONNRESET},
		{"an operation's error", op, spi.WSA_IO_PENDING},
		{"an operation's error in an operation's error", &spi.OpError{Op: "WSPSend", Err: op}, spi.WSA_IO_PENDING},
		{"an operation's error wrapped", fmt.Errorf("outer: %w", op), spi.WSA_IO_PENDING},
		{"a status", spi.STATUS_CONNECTION_RESET, spi.ERROR_NETNAME_DELETED},
		{"an operation's status", spi.NewOpError("ReadFile", 8, spi.STATUS_CONNECTION_RESET), spi.ERROR_NETNAME_DELETED},
		{"an operation's plain error", spi.NewOpError("WSPSend", 8, errors.New("plain")), spi.WSASYSCALLFAILURE},
	} {
		if got := spi.ErrnoOf(c.err); got != c.want {
			t.Errorf("ErrnoOf(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}
