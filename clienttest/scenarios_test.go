package clienttest_test

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// echo is a client that passes everywhere: a blocking send and receive
// over a TCP/IPv4 pair, no overlapped I/O.
func echo(m *wsspi.Machine) error {
	th := m.NewProcess().NewThread()
	pr, err := th.SocketPair(wsspi.PairOptions{ServerEntry: catalog.DefaultTCPIPv4})
	if err != nil {
		return err
	}
	msg := []byte("hello")
	if _, err := th.WSASend(pr.Client, [][]byte{msg}, 0, nil, nil); err != nil {
		return err
	}
	buf := make([]byte, 16)
	var flags uint32
	n, err := th.WSARecv(pr.Server, [][]byte{buf}, &flags, nil, nil)
	if err != nil {
		return err
	}
	if !bytes.Equal(buf[:n], msg) {
		return fmt.Errorf("received %q, want %q", buf[:n], msg)
	}
	return pr.Close()
}

// portRecv is a client that waits on its completion port, for ever, for
// a WSARecv on a TCP/IPv4 socket: a layer that loses completions (Naive)
// makes it hang.
func portRecv(m *wsspi.Machine) error {
	th := m.NewProcess().NewThread()
	pr, err := th.SocketPair(wsspi.PairOptions{ServerEntry: catalog.DefaultTCPIPv4, CompletionPort: true, ClientKey: 7})
	if err != nil {
		return err
	}
	buf := make([]byte, 16)
	var flags uint32
	var ov spi.Overlapped
	if _, err := th.WSARecv(pr.Client, [][]byte{buf}, &flags, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		return err
	}
	if _, err := th.WSASend(pr.Server, [][]byte{[]byte("ping")}, 0, nil, nil); err != nil {
		return err
	}
	e, err := th.GetQueuedCompletionStatus(pr.Port, spi.Infinite)
	if err != nil {
		return err
	}
	if e.CompletionKey != 7 || e.Overlapped != &ov || string(buf[:e.NumberOfBytesTransferred]) != "ping" {
		return fmt.Errorf("dequeued key %d, %d bytes %q, want key 7, the receive's 4 bytes \"ping\"", e.CompletionKey, e.NumberOfBytesTransferred, buf[:e.NumberOfBytesTransferred])
	}
	return pr.Close()
}

// completionOrder is a client whose outcome is the order in which the
// receives of four connections on one port complete: it always fails,
// with that order, so that two runs can be compared.
func completionOrder(m *wsspi.Machine) error {
	p := m.NewProcess()
	th := p.NewThread()
	port, err := p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)
	if err != nil {
		return err
	}
	var pairs []*wsspi.Pair
	ovs := make([]spi.Overlapped, 4)
	for i := range 4 {
		pr, err := th.SocketPair(wsspi.PairOptions{ServerEntry: catalog.DefaultTCPIPv4})
		if err != nil {
			return err
		}
		if _, err := p.CreateIoCompletionPort(pr.Client, port, uintptr(i+1), 0); err != nil {
			return err
		}
		var flags uint32
		if _, err := th.WSARecv(pr.Client, [][]byte{make([]byte, 8)}, &flags, &ovs[i], nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
			return err
		}
		pairs = append(pairs, pr)
	}
	for _, pr := range pairs {
		if _, err := th.WSASend(pr.Server, [][]byte{[]byte("x")}, 0, nil, nil); err != nil {
			return err
		}
	}
	var order []uintptr
	for range 4 {
		e, err := th.GetQueuedCompletionStatus(port, spi.Infinite)
		if err != nil {
			return err
		}
		order = append(order, e.CompletionKey)
	}
	return fmt.Errorf("completion order %v", order)
}

// panics is a client that panics.
func panics(*wsspi.Machine) error { panic("the client gave up") }

// sleepsForEver is a client that waits for ever in an alertable sleep of
// the machine: only the machine's shutdown ends it.
func sleepsForEver(m *wsspi.Machine) error {
	_, err := m.NewProcess().NewThread().SleepEx(spi.Infinite, true)
	return err
}

// pollsPort is a client that never waits: it polls its port with a zero
// timeout until the receive's packet comes, as an event loop with work of
// its own does, and returns any error but WAIT_TIMEOUT.
func pollsPort(m *wsspi.Machine) error {
	th := m.NewProcess().NewThread()
	pr, err := th.SocketPair(wsspi.PairOptions{ServerEntry: catalog.DefaultTCPIPv4, CompletionPort: true})
	if err != nil {
		return err
	}
	var ov spi.Overlapped
	var flags uint32
	if _, err := th.WSARecv(pr.Client, [][]byte{make([]byte, 8)}, &flags, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		return err
	}
	if _, err := th.WSASend(pr.Server, [][]byte{[]byte("x")}, 0, nil, nil); err != nil {
		return err
	}
	for {
		_, err := th.GetQueuedCompletionStatus(pr.Port, 0)
		if !errors.Is(err, spi.WAIT_TIMEOUT) {
			return err
		}
	}
}
