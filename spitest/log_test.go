package spitest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
)

// TestRunLogKeepsTheLastSteps: the log a finding shows is the run's last
// steps, oldest first, as many as the configuration asks for, each
// formatted as it was when it happened: plain lines, an operation's issue
// and its notifications alike, whatever the ring kept them in.
func TestRunLogKeepsTheLastSteps(t *testing.T) {
	for _, steps := range []int{0, 1, 39, 40, 41, 97} {
		t.Run(fmt.Sprint(steps), func(t *testing.T) {
			e := &env{cfg: &config{logTail: 40}, seen: map[string]bool{}}
			s := &sock{name: "s0"}
			want := []string{}
			for i := range steps {
				switch i % 3 {
				case 0:
					e.logf("step %d of %s: %v", i, s.name, errText(spi.WSAECONNRESET))
					want = append(want, fmt.Sprintf("step %d of s0: %v", i, spi.WSAECONNRESET.Error()))
				case 1:
					o := &op{name: fmt.Sprintf("s0.WSASend#%d", i), s: s, buf: make([]byte, i), retBytes: uint32(i), ret: nil}
					e.logOp(o, -1)
					want = append(want, fmt.Sprintf("s0.WSASend#%d(%d bytes) = %d, success", i, i, i))
				default:
					o := &op{name: fmt.Sprintf("s0.WSARecv#%d", i), s: s}
					o.notes = append(o.notes, note{via: viaPort, bytes: 1}, note{via: viaEvent, status: spi.WSA_OPERATION_ABORTED})
					e.logOp(o, 1)
					want = append(want, fmt.Sprintf("notified: s0.WSARecv#%d by event: 0 bytes, %v", i, spi.WSA_OPERATION_ABORTED.Error()))
				}
			}
			want = want[max(0, len(want)-40):]
			if diff := cmp.Diff(want, e.logText(40)); diff != "" {
				t.Errorf("the log's last 40 steps (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want[max(0, len(want)-5):], e.logText(5)); diff != "" {
				t.Errorf("the log's last 5 steps (-want +got):\n%s", diff)
			}
		})
	}
}
