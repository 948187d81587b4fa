package winnet

import (
	"errors"
	"os"

	"github.com/wsspi/wsspi/spi"
)

// syscallError wraps a Winsock or Win32 code in an *os.SyscallError named
// after the call, as Go's net package does; other errors (a deadline,
// net.ErrClosed) pass unchanged. errors.Is sees the code through it.
func syscallError(call string, err error) error {
	var code spi.Errno
	if errors.As(err, &code) && err == error(code) {
		return os.NewSyscallError(call, code)
	}
	return err
}
