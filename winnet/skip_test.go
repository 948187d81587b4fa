package winnet_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
	"github.com/wsspi/wsspi/winnet"
)

const (
	skipEvent = spi.FILE_SKIP_SET_EVENT_ON_HANDLE
	skipBoth  = spi.FILE_SKIP_SET_EVENT_ON_HANDLE | spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
)

// modes is what a policy gave the sockets of both ends, per family.
type modes struct {
	ProcessWideSkip bool
	TCP4Client      uint8
	TCP4Server      uint8
	TCP6Client      uint8
	TCP6Server      uint8
}

// modesOn connects over both families on m with opts and reports the
// modes each socket got.
func modesOn(t *testing.T, m *wsspi.Machine, opts winnet.Options) modes {
	t.Helper()
	w := newWorld(t, m, opts)
	got := modes{ProcessWideSkip: w.client.ProcessWideSkip()}
	for _, network := range []string{"tcp4", "tcp6"} {
		c, s, err := w.pipe(network)
		if err != nil {
			t.Fatalf("%s: %v", network, err)
		}
		if network == "tcp4" {
			got.TCP4Client, got.TCP4Server = c.NotificationModes(), s.NotificationModes()
		} else {
			got.TCP6Client, got.TCP6Server = c.NotificationModes(), s.NotificationModes()
		}
		roundTrip(t, c, s)
		c.Close()
		s.Close()
	}
	return got
}

// machineOver returns a machine with layer installed over the given entries.
func machineOver(t *testing.T, layer string, over ...spi.CatalogEntryId) *wsspi.Machine {
	t.Helper()
	m := wsspi.NewMachine()
	l, _ := wild.Lookup(layer)
	if _, err := l.Install(m, over...); err != nil {
		t.Fatal(err)
	}
	return m
}

// A non-IFS layer over TCP/IPv4 only: Go's process-wide check turns the
// shortcut off everywhere, while the per-socket policy of golang/go#77448
// keeps it on IPv6 and leaves only FILE_SKIP_SET_EVENT_ON_HANDLE on the
// layer's IPv4 sockets; both stay correct (roundTrip checks the data).
func TestSkipPoliciesOverANonIFSLayerOnIPv4Only(t *testing.T) {
	for _, tc := range []struct {
		policy winnet.SkipPolicy
		want   modes
	}{
		{winnet.SkipProcessWide, modes{}},
		{winnet.SkipPerSocket, modes{TCP4Client: skipEvent, TCP4Server: skipEvent, TCP6Client: skipBoth, TCP6Server: skipBoth}},
		{winnet.SkipNever, modes{}},
	} {
		t.Run(tc.policy.String(), func(t *testing.T) {
			got := modesOn(t, machineOver(t, "Kit", catalog.DefaultTCPIPv4), winnet.Options{Skip: tc.policy, CancelBaseHandle: true})
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("modes (-want +got):\n%s", diff)
			}
		})
	}
}

// With no layer, or an IFS layer only, every TCP entry is IFS: both
// policies give every socket both modes.
func TestSkipPoliciesOverIFSProvidersSetBothModes(t *testing.T) {
	all := modes{ProcessWideSkip: true, TCP4Client: skipBoth, TCP4Server: skipBoth, TCP6Client: skipBoth, TCP6Server: skipBoth}
	for _, layer := range []string{"", "IFSPassThrough"} {
		for _, policy := range []winnet.SkipPolicy{winnet.SkipProcessWide, winnet.SkipPerSocket} {
			t.Run(layer+"/"+policy.String(), func(t *testing.T) {
				got := modesOn(t, machineWith(t, layer), winnet.Options{Skip: policy})
				if diff := cmp.Diff(all, got); diff != "" {
					t.Errorf("modes (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// roundTrip sends a message each way between c and s and checks it arrives.
func roundTrip(t *testing.T, c, s *winnet.Conn) {
	t.Helper()
	for _, dir := range [][2]*winnet.Conn{{c, s}, {s, c}} {
		msg := []byte("ping " + dir[0].LocalAddr().String())
		if _, err := dir[0].Write(msg); err != nil {
			t.Fatalf("Write: %v", err)
		}
		buf := make([]byte, len(msg))
		if _, err := readFull(dir[1], buf); err != nil {
			t.Fatalf("Read: %v", err)
		}
		if string(buf) != string(msg) {
			t.Fatalf("read %q, want %q", buf, msg)
		}
	}
}

func readFull(c *winnet.Conn, buf []byte) (int, error) {
	got := 0
	for got < len(buf) {
		n, err := c.Read(buf[got:])
		got += n
		if err != nil {
			return got, err
		}
	}
	return got, nil
}
