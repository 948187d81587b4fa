package wsspi_test

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// Shutdown ends every running process: a thread waiting for ever on a port
// in each of two processes returns ERROR_ABANDONED_WAIT_0, and a process
// started afterwards works.
func TestShutdownEndsTheWaitsOfEveryProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := wsspi.NewMachine()
		ended := make(chan error, 2)
		for range 2 {
			p := m.NewProcess()
			th := p.NewThread()
			port := must(p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
			go func() {
				_, err := th.GetQueuedCompletionStatus(port, spi.Infinite)
				ended <- err
			}()
		}
		synctest.Wait()
		check(t, m.Shutdown())
		for range 2 {
			if err := <-ended; !errors.Is(err, spi.ERROR_ABANDONED_WAIT_0) {
				t.Errorf("a wait ended by Shutdown returned %v, want ERROR_ABANDONED_WAIT_0", err)
			}
		}
		p := m.NewProcess()
		if _, err := p.NewThread().Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP); err != nil {
			t.Errorf("a socket of a process started after Shutdown: %v", err)
		}
		check(t, p.Close())
		check(t, m.Shutdown())
	})
}
