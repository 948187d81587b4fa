package clienttest_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/spi"
)

// A client's scenario as a user writes it in a test of their own module:
// an overlapped receive on a completion port, waited for for ever. Run
// runs it under every configuration, each a subtest; Check, as here,
// returns the results, and Matrix prints them. The Naive layer loses the
// completion, so the wait hangs until the kit's limit.
func Example() {
	scenario := func(m *wsspi.Machine) error {
		th := m.NewProcess().NewThread()
		pr, err := th.SocketPair(wsspi.PairOptions{ServerEntry: catalog.DefaultTCPIPv4, CompletionPort: true})
		if err != nil {
			return err
		}
		var ov spi.Overlapped
		var flags uint32
		if _, err := th.WSARecv(pr.Client, [][]byte{make([]byte, 64)}, &flags, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
			return err
		}
		if _, err := th.WSASend(pr.Server, [][]byte{[]byte("hello")}, 0, nil, nil); err != nil {
			return err
		}
		if _, err := th.GetQueuedCompletionStatus(pr.Port, spi.Infinite); err != nil {
			return errors.New("the receive's completion never came")
		}
		return nil
	}
	// In a test: func TestMyClient(t *testing.T) { clienttest.Run(t, scenario) }
	_ = func(t *testing.T) { clienttest.Run(t, scenario) }

	results, err := clienttest.Check(scenario, clienttest.Names("NoLSP", "Kit/tcp4", "IFSPassThrough/tcp4", "Naive/tcp4"),
		clienttest.Seeds(1), clienttest.Timeout(100*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(clienttest.Matrix(results))
	// Output:
	// layout               inline   seed1
	// NoLSP                pass     pass
	// Kit/tcp4             pass     pass
	// IFSPassThrough/tcp4  pass     pass
	// Naive/tcp4           timeout  timeout
	// 2 of 8 configurations failed:
	//   Naive/tcp4: timeout: the scenario did not return within 100ms; once the machine shut down it returned: the receive's completion never came
	//   Naive/tcp4/seed1: timeout: the scenario did not return within 100ms; once the machine shut down it returned: the receive's completion never came
}
