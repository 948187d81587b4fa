package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// loopKey is the key of the loop's packets; otherKey that of the port
// the imported socket was associated with before the loop got it.
const (
	loopKey  = 1
	otherKey = 2
)

// receipt is how one receive of the loop ended: whether its packet reached
// the loop's port, and whether the other port got one.
type receipt struct {
	assocErr   error // the loop's CreateIoCompletionPort, nil if it worked
	loopPacket bool
	otherPort  bool
}

// receive runs one receive of a loop, as libuv's TCP handle does: the
// loop associates the client's socket with its port; if that fails, as it
// does for a socket another port already has (an imported socket), libuv
// emulates the port (UV_HANDLE_EMULATE_IOCP): an event per request in the
// OVERLAPPED with its low bit set, so the completion queues no packet
// anywhere, and a wait registered on the event (RegisterWaitForSingleObject
// with WT_EXECUTEINWAITTHREAD) that posts the packet to the loop's port
// itself. lowBit false leaves the bit off, to show why libuv sets it.
func receive(m *wsspi.Machine, imported, lowBit bool) (receipt, error) {
	var r receipt
	client, server := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()
	th, sth := client.NewThread(), server.NewThread()
	pair, err := th.SocketPair(wsspi.PairOptions{Server: sth, ServerEntry: catalog.DefaultTCPIPv4})
	if err != nil {
		return r, err
	}
	loop, err := client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)
	if err != nil {
		return r, err
	}
	var other spi.Handle
	if imported {
		if other, err = client.CreateIoCompletionPort(pair.Client, 0, otherKey, 0); err != nil {
			return r, err
		}
	}
	_, r.assocErr = client.CreateIoCompletionPort(pair.Client, loop, loopKey, 0)

	var ov spi.Overlapped
	if r.assocErr != nil {
		ev, err := client.CreateEvent(false, false)
		if err != nil {
			return r, err
		}
		ov.HEvent = ev
		if lowBit {
			ov.HEvent |= 1
		}
		post := func(bool) {
			_ = client.PostQueuedCompletionStatus(loop, uint32(ov.LoadInternalHigh()), loopKey, &ov)
		}
		w, err := client.RegisterWaitForSingleObject(ev, post, spi.Infinite, spi.WT_EXECUTEINWAITTHREAD)
		if err != nil {
			return r, err
		}
		defer w.Unregister(true)
	}
	buf := make([]byte, 16)
	if _, err := th.WSARecv(pair.Client, [][]byte{buf}, new(uint32), &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		return r, fmt.Errorf("WSARecv: %w", err)
	}
	if _, err := sth.WSASend(pair.Server, [][]byte{[]byte("ping")}, 0, nil, nil); err != nil {
		return r, err
	}
	e, err := th.GetQueuedCompletionStatus(loop, packetWait)
	switch {
	case errors.Is(err, spi.WAIT_TIMEOUT):
	case err != nil:
		return r, err
	case e.Overlapped != &ov || e.CompletionKey != loopKey:
		return r, fmt.Errorf("the loop's port gave a packet of another operation: %+v", e)
	default:
		r.loopPacket = true
	}
	if imported {
		_, err := th.GetQueuedCompletionStatus(other, 100*time.Millisecond)
		r.otherPort = err == nil
	}
	return r, nil
}
