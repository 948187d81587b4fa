package winnet_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/winnet"
)

// Options.Base keeps a test's peer below the layers: over the kit alone
// and over stacks of two and three layers, IFS and non-IFS mixed, both
// ends of a Base stack's connection are the base provider's sockets, so a
// read deadline ends as it does with no layer at all. Each stack is named
// bottom first.
func TestABaseStackMakesItsSocketsBelowTheLayers(t *testing.T) {
	for _, layers := range [][]string{{"Kit"}, {"Kit", "IFSPassThrough"}, {"IFSPassThrough", "Kit"}, {"IFSPassThrough", "Kit", "OwnExtensions"}} {
		t.Run(strings.Join(layers, "+"), func(t *testing.T) { testBaseStack(t, layers) })
	}
}

func testBaseStack(t *testing.T, layers []string) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, machineWithStack(t, layers...), winnet.Options{Base: true})
		for _, network := range []string{"tcp4", "tcp6"} {
			c, s := w.connected(t, network)
			for _, end := range []struct {
				st   *winnet.Stack
				conn *winnet.Conn
			}{{w.client, c}, {w.server, s}} {
				if info := protocolInfo(t, end.st, end.conn.Socket()); !info.IsBase() {
					t.Errorf("%s: a Base stack's socket is on entry %d (chain length %d), want a base provider's entry", network, info.CatalogEntryId, info.ProtocolChain.ChainLen)
				}
			}
			if _, err := readPastDeadline(c, 10*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("%s: Read past its deadline on a Base stack over the kit = %v, want os.ErrDeadlineExceeded", network, err)
			}
		}
	})
}

// protocolInfo reads the protocol info of s's provider
// (getsockopt(SO_PROTOCOL_INFOW)) from a thread of st's process.
func protocolInfo(t *testing.T, st *winnet.Stack, s spi.Socket) spi.WSAProtocolInfo {
	t.Helper()
	buf := make([]byte, spi.WSAProtocolInfoSize)
	n, err := st.Process().NewThread().Getsockopt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf)
	if err != nil {
		t.Fatal(err)
	}
	var info spi.WSAProtocolInfo
	if err := info.UnmarshalBinary(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return info
}
