package winnet_test

import (
	"net"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/wsspi/wsspi/winnet"
)

// stacks are the machines the conformance tests run over: no layer, an
// IFS layer, and the kit's non-IFS layer (with the base-handle cancel a
// client needs over it, see TestADeadlineHangsOverANonIFSLayer).
var stacks = []struct {
	name  string
	layer string
	opts  winnet.Options
}{
	{"Base", "", winnet.Options{}},
	{"IFSPassThrough", "IFSPassThrough", winnet.Options{}},
	{"Kit", "Kit", winnet.Options{CancelBaseHandle: true}},
	{"BasePerSocket", "", winnet.Options{Skip: winnet.SkipPerSocket}},
	{"KitPerSocket", "Kit", winnet.Options{Skip: winnet.SkipPerSocket, CancelBaseHandle: true}},
}

func TestConnPassesNettest(t *testing.T) {
	for _, sc := range stacks {
		t.Run(sc.name, func(t *testing.T) {
			for _, network := range []string{"tcp4", "tcp6"} {
				t.Run(network, func(t *testing.T) {
					w := newWorld(t, machineWith(t, sc.layer), sc.opts)
					nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
						c, s, err := w.pipe(network)
						if err != nil {
							return nil, nil, nil, err
						}
						return c, s, func() { c.Close(); s.Close() }, nil
					})
				})
			}
		})
	}
}
