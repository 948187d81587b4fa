package spi_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/wsspi/wsspi/spi"
)

func TestEveryErrnoHasItsHeaderName(t *testing.T) {
	for code, want := range map[spi.Errno]string{
		spi.WSAEINVAL:                   "WSAEINVAL",
		spi.ERROR_INVALID_HANDLE:        "ERROR_INVALID_HANDLE",
		spi.WSA_IO_PENDING:              "ERROR_IO_PENDING",
		spi.WSAEPROVIDERFAILEDINIT:      "WSAEPROVIDERFAILEDINIT",
		spi.WAIT_IO_COMPLETION:          "WAIT_IO_COMPLETION",
		spi.ERROR_OBJECT_ALREADY_EXISTS: "ERROR_OBJECT_ALREADY_EXISTS",
		spi.Errno(4242):                 "4242",
	} {
		if got := code.Name(); got != want {
			t.Errorf("Errno(%d).Name() = %q, want %q", uint32(code), got, want)
		}
	}
}

func TestAReasonKeepsItsCodeForErrorsIsAndErrnoOf(t *testing.T) {
	err := spi.NewOpError("WSASend", 0xc, spi.Because(spi.WSAEINVAL, "the socket was not created with WSA_FLAG_OVERLAPPED"))
	if want := "WSASend 0xc: WSAEINVAL: the socket was not created with WSA_FLAG_OVERLAPPED"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	if !errors.Is(err, spi.WSAEINVAL) || !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("errors.Is does not see WSAEINVAL through %v", err)
	}
	if got := spi.ErrnoOf(err); got != spi.WSAEINVAL {
		t.Errorf("ErrnoOf = %v, want WSAEINVAL", got)
	}
	var r *spi.Reason
	if !errors.As(err, &r) || !strings.Contains(r.Why, "WSA_FLAG_OVERLAPPED") {
		t.Errorf("errors.As(*spi.Reason) = %v", r)
	}
	if spi.Because(spi.WSAETIMEDOUT, "x").(interface{ Timeout() bool }).Timeout() != true {
		t.Error("a reason of WSAETIMEDOUT is not a timeout")
	}
}
