package main

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// readable runs one client on m, as a poller built on AFD does: a TCP
// socket the catalog chooses, connected to a server on the base entry;
// the lookup of its base socket; one IOCTL_AFD_POLL for AFD_POLL_RECEIVE on
// that socket through an AFD helper handle associated with a completion
// port; a send from the server; the poll's packet. It returns nil if the
// poll reported the socket readable.
func readable(m *wsspi.Machine, lk lookup) error {
	client, server := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()
	th, sth := client.NewThread(), server.NewThread()
	pair, err := th.SocketPair(wsspi.PairOptions{Server: sth, ServerEntry: catalog.DefaultTCPIPv4})
	if err != nil {
		return err
	}
	base, err := lk.find(th, pair.Client)
	if err != nil {
		return &failure{"lookup", err}
	}
	port, err := client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)
	if err != nil {
		return err
	}
	helper, err := client.NtCreateFile(`\Device\Afd\Poller`)
	if err != nil {
		return err
	}
	if _, err := client.CreateIoCompletionPort(helper, port, 0, 0); err != nil {
		return err
	}
	info := spi.AFDPollInfo{Timeout: math.MaxInt64, Handles: []spi.AFDPollHandleInfo{{Handle: base, Events: spi.AFD_POLL_RECEIVE}}}
	buf := info.Marshal()
	var iosb spi.Overlapped
	err = th.NtDeviceIoControlFile(helper, 0, &iosb, &iosb, spi.IOCTL_AFD_POLL, buf, buf)
	if err != nil && !errors.Is(err, spi.STATUS_PENDING) {
		return &failure{"AFD poll", fmt.Errorf("socket %v: %w", base, err)}
	}
	if _, err := sth.WSASend(pair.Server, [][]byte{[]byte("ping")}, 0, nil, nil); err != nil {
		return err
	}
	if _, err := th.GetQueuedCompletionStatus(port, 5*time.Second); err != nil {
		return &failure{"AFD poll", fmt.Errorf("socket %v: %w", base, err)}
	}
	got, err := spi.ParseAFDPollInfo(buf)
	if err != nil {
		return err
	}
	if len(got.Handles) != 1 || got.Handles[0].Events&spi.AFD_POLL_RECEIVE == 0 {
		return fmt.Errorf("AFD poll of socket %v ended with %v and events %#x, not AFD_POLL_RECEIVE", base, spi.NTStatus(iosb.LoadInternal()), got.Handles)
	}
	return nil
}

// failure is a step of readable that failed: the lookup or the poll.
type failure struct {
	step string
	err  error
}

func (f *failure) Error() string { return f.step + ": " + f.err.Error() }

func (f *failure) Unwrap() error { return f.err }

// short says what failed and the code, for a table.
func (f *failure) short() string {
	var errno spi.Errno
	var status spi.NTStatus
	switch {
	case errors.As(f.err, &errno):
		return f.step + " fails: " + errno.Name()
	case errors.As(f.err, &status):
		return f.step + " fails: " + status.String()
	}
	return f.Error()
}
