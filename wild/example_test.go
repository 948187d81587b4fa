package wild_test

import (
	"fmt"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// A client that asks for the base socket, as mio 0.7 did, on a machine
// with each provider of the table installed over TCP/IPv4.
func Example() {
	for _, l := range wild.All() {
		if l.Over&wild.TCP == 0 {
			continue
		}
		m := wsspi.NewMachine()
		if _, err := l.Install(m, catalog.DefaultTCPIPv4); err != nil {
			fmt.Println(l.Name, err)
			continue
		}
		p := m.NewProcess()
		th := p.NewThread()
		s, err := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
		switch {
		case err != nil:
			fmt.Printf("%-15s socket: %v\n", l.Name, result(err))
		default:
			out := make([]byte, 8)
			_, err := th.WSAIoctl(s, spi.SIO_BASE_HANDLE, nil, out, nil, nil)
			fmt.Printf("%-15s SIO_BASE_HANDLE: %v\n", l.Name, result(err))
		}
		_ = p.Close()
	}
	// Output:
	// Kit             SIO_BASE_HANDLE: ok
	// IFSPassThrough  SIO_BASE_HANDLE: ok
	// Naive           SIO_BASE_HANDLE: ok
	// EarlyClose      SIO_BASE_HANDLE: ok
	// FailBaseHandle  SIO_BASE_HANDLE: bad address or buffer too small (10014)
	// OwnBaseHandle   SIO_BASE_HANDLE: ok
	// StartupFails    socket: service provider failed to initialize (10106)
	// MissingDLL      socket: service provider failed to initialize (10106)
	// OwnExtensions   SIO_BASE_HANDLE: ok
	// SyncHang        SIO_BASE_HANDLE: ok
}

func result(err error) string {
	if err == nil {
		return "ok"
	}
	return spi.ErrnoOf(err).Error()
}
