package wild_test

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
	"github.com/wsspi/wsspi/wild"
)

// stack installs the named providers of the table one over the other, the
// first over TCP/IPv4, each next over the chains of the one before, and
// returns the top chains.
func stack(m *wsspi.Machine, names ...string) ([]spi.CatalogEntryId, error) {
	below := []spi.CatalogEntryId{catalog.DefaultTCPIPv4}
	for _, name := range names {
		l, ok := wild.Lookup(name)
		if !ok {
			return nil, errors.New("no provider " + name)
		}
		ids, err := l.Install(m, below...)
		if err != nil {
			return nil, err
		}
		below = ids.Chains
	}
	return below, nil
}

func stackFactory(names ...string) spitest.Factory {
	return func(m *wsspi.Machine) (spitest.Target, error) {
		top, err := stack(m, names...)
		return spitest.Target{Entries: top}, err
	}
}

// TestWellBehavedStacksPassSpitest: two and three layers, IFS under
// non-IFS.
func TestWellBehavedStacksPassSpitest(t *testing.T) {
	for _, st := range [][]string{
		{"IFSPassThrough", "Kit"},
		{"IFSPassThrough", "OwnExtensions", "Kit"}, // a provider installs once: its GUID is its own
	} {
		t.Run(strings.Join(st, "/"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				if err := spitest.Check(stackFactory(st...), spitest.Bubble()); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// TestMisbehaviourShowsThroughAStack: a broken layer anywhere in a stack
// breaks what it breaks alone, as the client sees it.
func TestMisbehaviourShowsThroughAStack(t *testing.T) {
	t.Run("Naive over Kit: the port hears nothing", func(t *testing.T) {
		m := wsspi.NewMachine()
		top := must(stack(m, "Kit", "Naive"))(t)
		c := newClient(t, m)
		pr := c.pair(t, top[0])
		var ov spi.Overlapped
		if _, err := c.th.WSARecv(pr.Client, [][]byte{make([]byte, 4)}, nil, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
			t.Fatalf("WSARecv: %v", err)
		}
		must(c.srv.WSASend(pr.Server, [][]byte{[]byte("lost")}, 0, nil, nil))(t)
		// The Naive layer passes the client's overlapped to the kit's
		// handle, which has no port: the kit completes it there.
		for ov.InProgress() {
			must(c.th.SleepEx(long/1000, false))(t)
		}
		if e, err := c.th.GetQueuedCompletionStatus(pr.Port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
			t.Errorf("the port got %+v, %v; want WAIT_TIMEOUT", e, err)
		}
	})
	t.Run("Kit over FailBaseHandle over IFSPassThrough: the lookup fails, the fallback peels to the base", func(t *testing.T) {
		m := wsspi.NewMachine()
		top := must(stack(m, "IFSPassThrough", "FailBaseHandle", "Kit"))(t)
		c := newClient(t, m)
		pr := c.pair(t, top[0])
		if _, err := c.socketIoctl(pr.Client, spi.SIO_BASE_HANDLE); !errors.Is(err, spi.WSAEFAULT) {
			t.Fatalf("SIO_BASE_HANDLE through the stack: %v, want WSAEFAULT", err)
		}
		// wepoll's loop: SIO_BSP_HANDLE_POLL one layer down, then
		// SIO_BASE_HANDLE again, until it answers.
		s := pr.Client
		for range 3 {
			base, err := c.socketIoctl(s, spi.SIO_BASE_HANDLE)
			if err == nil {
				if info := c.protocolInfo(t, base); !info.IFS() || base != s {
					t.Errorf("the fallback ended on %v (entry %d, IFS %v), whose base handle is %v; want an IFS socket that is its own base", s, info.CatalogEntryId, info.IFS(), base)
				}
				return
			}
			s = must(c.socketIoctl(s, spi.SIO_BSP_HANDLE_POLL))(t)
		}
		t.Error("three rounds of the fallback found no base socket")
	})
	t.Run("Kit over OwnBaseHandle: the base handle is the middle layer's", func(t *testing.T) {
		m := wsspi.NewMachine()
		top := must(stack(m, "OwnBaseHandle", "Kit"))(t)
		c := newClient(t, m)
		pr := c.pair(t, top[0])
		base := must(c.socketIoctl(pr.Client, spi.SIO_BASE_HANDLE))(t)
		if info := c.protocolInfo(t, base); info.IFS() {
			t.Errorf("SIO_BASE_HANDLE gave %v of entry %d, an IFS socket; want the OwnBaseHandle layer's own", base, info.CatalogEntryId)
		}
		if base == pr.Client {
			t.Errorf("SIO_BASE_HANDLE gave the top handle %v; the kit above passes it down", base)
		}
	})
}
