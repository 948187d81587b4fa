package main

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// pollWait bounds the wait for the poll's packet. A packet that comes
// comes at once, so the bound costs only the machines that lose it, and
// a poller's run over the matrix outside a synctest bubble stays fast.
const pollWait = 300 * time.Millisecond

// errNoPacket says that the poll was accepted but its packet never came.
var errNoPacket = fmt.Errorf("no packet within %v", pollWait)

// serverEntry is the base entry of the peer's listening socket for each
// family, below every layer, so that a failure is the client's alone.
var serverEntry = map[int32]spi.CatalogEntryId{
	spi.AF_INET:  catalog.DefaultTCPIPv4,
	spi.AF_INET6: catalog.DefaultTCPIPv6,
}

// readable runs one client on m, as a poller built on AFD does: a TCP
// socket of the family the catalog chooses, connected to a server on the
// base entry; the lookup of its base socket; one IOCTL_AFD_POLL for
// AFD_POLL_RECEIVE on that socket through an AFD helper handle associated
// with a completion port; a send from the server; the poll's packet. It
// returns nil if the poll reported the socket readable, and a *failure
// for a step that failed.
func readable(m *wsspi.Machine, lk lookup, family int32) error {
	client, server := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()
	th, sth := client.NewThread(), server.NewThread()
	pair, err := th.SocketPair(wsspi.PairOptions{Server: sth, Family: family, ServerEntry: serverEntry[family]})
	if err != nil {
		return &failure{"socket", err}
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
	if _, err := th.GetQueuedCompletionStatus(port, pollWait); err != nil {
		if errors.Is(err, spi.WAIT_TIMEOUT) {
			err = errNoPacket
		}
		return &failure{"AFD poll", fmt.Errorf("socket %v: %w", base, err)}
	}
	got, err := spi.ParseAFDPollInfo(buf)
	if err != nil {
		return err
	}
	if len(got.Handles) != 1 || got.Handles[0].Events&spi.AFD_POLL_RECEIVE == 0 {
		return &failure{"AFD poll", fmt.Errorf("socket %v: %w: ended with %v and events %#x", base, errNotReadable, spi.NTStatus(iosb.LoadInternal()), got.Handles)}
	}
	return nil
}

// errNotReadable says that the poll completed without AFD_POLL_RECEIVE.
var errNotReadable = errors.New("not AFD_POLL_RECEIVE")

// failure is a step of readable that failed: making the socket, the
// lookup or the poll.
type failure struct {
	step string
	err  error
}

func (f *failure) Error() string { return f.step + ": " + f.err.Error() }

func (f *failure) Unwrap() error { return f.err }

// short says what failed and the code, for the table of the default run.
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

// code is the failure's cell in the -matrix table: the code alone where
// its kind names the step (a lookup makes Winsock calls, the poll an NT
// one), so that three columns of them fit in a narrow table.
func (f *failure) code() string {
	var errno spi.Errno
	var status spi.NTStatus
	switch {
	case f.step == "socket":
		return "no socket"
	case errors.Is(f.err, errNoPacket):
		return "no packet"
	case errors.Is(f.err, errNotReadable):
		return "not readable"
	case errors.As(f.err, &status):
		name, _, _ := strings.Cut(status.String(), " (")
		return name
	case errors.As(f.err, &errno):
		if f.step == "AFD poll" {
			return "poll: " + errno.Name()
		}
		return errno.Name()
	}
	return f.step + " fails"
}
