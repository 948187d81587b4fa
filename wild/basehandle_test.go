package wild_test

import (
	"errors"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

func TestFailBaseHandleFailsTheLookupAndPassesTheBSPFallbacks(t *testing.T) {
	for _, tc := range []struct {
		name string
		code spi.Errno
	}{{"WSAEFAULT", spi.WSAEFAULT}, {"WSAEINVAL", spi.WSAEINVAL}} {
		code := tc.code
		t.Run(tc.name, func(t *testing.T) {
			m := wsspi.NewMachine()
			_, ids := must2(wild.InstallFailBaseHandle(m, code, catalog.DefaultTCPIPv4))(t)
			c := newClient(t, m)
			pr := c.pair(t, ids.Chains[0])
			// mio 0.7 and trio asked for SIO_BASE_HANDLE alone, and failed.
			if _, err := c.socketIoctl(pr.Client, spi.SIO_BASE_HANDLE); !errors.Is(err, code) {
				t.Fatalf("SIO_BASE_HANDLE: %v, want %v", err, code)
			}
			// mio#1316's fallbacks reach the base provider, whose socket
			// answers SIO_BASE_HANDLE with itself and is IFS.
			for _, bsp := range []uint32{spi.SIO_BSP_HANDLE_SELECT, spi.SIO_BSP_HANDLE_POLL, spi.SIO_BSP_HANDLE} {
				base, err := c.socketIoctl(pr.Client, bsp)
				if err != nil || base == pr.Client {
					t.Fatalf("code %#x: %v, %v; want a socket other than the client's %v", bsp, base, err, pr.Client)
				}
				if again := must(c.socketIoctl(base, spi.SIO_BASE_HANDLE))(t); again != base {
					t.Errorf("code %#x gave %v, whose SIO_BASE_HANDLE is %v: not the base socket", bsp, base, again)
				}
				if info := c.protocolInfo(t, base); !info.IFS() || info.CatalogEntryId != catalog.DefaultTCPIPv4 {
					t.Errorf("code %#x gave a socket of entry %d (IFS %v), want the base entry", bsp, info.CatalogEntryId, info.IFS())
				}
			}
		})
	}
}

func TestOwnBaseHandleAnswersWithTheLayersHandleOnWhichAFDPollFails(t *testing.T) {
	m := wsspi.NewMachine()
	_, ids := must2(wild.InstallOwnBaseHandle(m, catalog.DefaultTCPIPv4))(t)
	c := newClient(t, m)
	pr := c.pair(t, ids.Chains[0])
	// The lookup succeeds, so wepoll's loop stops at once, with the
	// layer's handle for the "base" socket.
	base := must(c.socketIoctl(pr.Client, spi.SIO_BASE_HANDLE))(t)
	if base != pr.Client {
		t.Fatalf("SIO_BASE_HANDLE = %v, want the layer's own handle %v", base, pr.Client)
	}
	// The AFD poll a poller then issues on it reaches no AFD socket.
	poll := spi.AFDPollInfo{Timeout: -1, Handles: []spi.AFDPollHandleInfo{{Handle: base, Events: spi.AFD_POLL_RECEIVE}}}
	in := poll.Marshal()
	var iosb spi.Overlapped
	if err := c.th.NtDeviceIoControlFile(base, 0, nil, &iosb, spi.IOCTL_AFD_POLL, in, make([]byte, len(in))); !errors.Is(err, spi.STATUS_INVALID_DEVICE_REQUEST) {
		t.Errorf("AFD poll on the layer's handle: %v, want STATUS_INVALID_DEVICE_REQUEST", err)
	}
	// SIO_BSP_HANDLE_POLL, which Komodia's layers leave alone, still
	// names the base socket, where the poll works.
	lower := must(c.socketIoctl(pr.Client, spi.SIO_BSP_HANDLE_POLL))(t)
	if lower == pr.Client || c.protocolInfo(t, lower).CatalogEntryId != catalog.DefaultTCPIPv4 {
		t.Errorf("SIO_BSP_HANDLE_POLL = %v, want the base entry's socket", lower)
	}
	poll.Handles[0].Handle = lower
	in = poll.Marshal()
	err := c.th.NtDeviceIoControlFile(lower, 0, nil, &iosb, spi.IOCTL_AFD_POLL, in, make([]byte, len(in)))
	if err != nil && !errors.Is(err, spi.STATUS_PENDING) {
		t.Errorf("AFD poll on the base socket: %v", err)
	}
	// A buffer too short for a SOCKET is refused, as the code documents.
	if _, err := c.th.WSAIoctl(pr.Client, spi.SIO_BASE_HANDLE, nil, make([]byte, 4), nil, nil); !errors.Is(err, spi.WSAEFAULT) {
		t.Errorf("SIO_BASE_HANDLE into 4 bytes: %v, want WSAEFAULT", err)
	}
}
