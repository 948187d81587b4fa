package iocp_test

import (
	"errors"
	"fmt"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

// A client associates a socket with a completion port; the I/O path
// completes an overlapped receive through the completion rule, and a thread
// dequeues the packet with the socket's key.
func Example() {
	table := handles.New(handles.Options{})
	k := iocp.NewKernel(table, iocp.Options{})
	th, _ := k.NewThread()

	// A base provider's socket: an IFS handle whose object carries a File.
	sock, _ := table.Insert(handles.KindIFSSocket, k.NewFile(true))
	port, _ := k.CreateIoCompletionPort(sock, 0, 42, 0)

	var ov spi.Overlapped
	ov.SetInProgress()
	f, _ := k.File(sock)
	k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: &ov}, Bytes: 512})

	e, err := k.GetQueuedCompletionStatus(th, port, spi.Infinite)
	fmt.Println(e.CompletionKey, e.NumberOfBytesTransferred, e.Overlapped == &ov, err)
	fmt.Println("in progress:", ov.InProgress(), "bytes:", ov.InternalHigh)

	_, err = k.GetQueuedCompletionStatus(th, port, 0)
	fmt.Println(err, errors.Is(err, spi.WAIT_TIMEOUT))
	// Output:
	// 42 512 true <nil>
	// in progress: false bytes: 512
	// GetQueuedCompletionStatus 0xc: wait timed out (258) true
}

// Setting the low bit of hEvent keeps a completion off the port: the event
// is signalled and no packet is queued, the trick libuv uses.
func ExampleKernel_Complete_lowBit() {
	table := handles.New(handles.Options{})
	k := iocp.NewKernel(table, iocp.Options{})
	port, _ := k.NewPort(0)
	f := k.NewFile(true)
	f.Associate(port, 1)
	ev, _ := k.NewEvent(true, false)

	ov := spi.Overlapped{HEvent: ev.Handle() | 1}
	k.Complete(iocp.Completion{File: f, Request: spi.IORequest{Overlapped: &ov}})

	fmt.Println("event set:", ev.Snapshot().Signaled, "packets queued:", port.Snapshot().Queued)
	// Output:
	// event set: true packets queued: 0
}

// A completion routine runs as an APC on the thread that issued the I/O,
// and only when that thread waits alertably.
func ExampleThread_SleepEx() {
	table := handles.New(handles.Options{})
	k := iocp.NewKernel(table, iocp.Options{})
	th, _ := k.NewThread()

	var ov spi.Overlapped
	routine := func(err spi.Errno, n uint32, ov *spi.Overlapped, flags uint32) {
		fmt.Println("routine:", err, n)
	}
	k.Complete(iocp.Completion{
		Request: spi.IORequest{Overlapped: &ov, Routine: routine, Thread: th.ID()},
		Status:  spi.WSAECONNRESET,
		Bytes:   0,
	})

	r, _ := th.SleepEx(0, false)
	fmt.Println("not alertable:", r)
	r, _ = th.SleepEx(0, true)
	fmt.Println("alertable:", r == spi.WAIT_IO_COMPLETION)
	// Output:
	// not alertable: 0
	// routine: connection reset by peer (10054) 0
	// alertable: true
}

// WSAWaitForMultipleEvents takes event handles only; a completion port in
// the list is an invalid handle.
func ExampleKernel_WSAWaitForMultipleEvents() {
	table := handles.New(handles.Options{})
	k := iocp.NewKernel(table, iocp.Options{})
	th, _ := k.NewThread()
	a, _ := k.WSACreateEvent()
	b, _ := k.WSACreateEvent()
	port, _ := k.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)

	k.SetEvent(b)
	r, err := k.WSAWaitForMultipleEvents(th, []spi.Handle{a, b}, false, 0, false)
	fmt.Println(r-spi.WSA_WAIT_EVENT_0, err)

	r, err = k.WSAWaitForMultipleEvents(th, []spi.Handle{a, b}, true, 0, false)
	fmt.Println(r == uint32(spi.WSA_WAIT_TIMEOUT), err)

	r, err = k.WSAWaitForMultipleEvents(th, []spi.Handle{a, port}, false, 0, false)
	fmt.Println(r == spi.WSA_WAIT_FAILED, err)
	// Output:
	// 1 <nil>
	// true <nil>
	// true WSAWaitForMultipleEvents 0x10: invalid handle (6)
}

// A provider that starts I/O from a thread of its own opens a thread id for
// it, passes it down, and closes it when done.
func ExampleKernel_WPUOpenCurrentThread() {
	table := handles.New(handles.Options{})
	k := iocp.NewKernel(table, iocp.Options{})
	th, _ := k.NewThread()

	id, _ := k.WPUOpenCurrentThread(th)
	k.WPUQueueApc(&id, func(ctx any) { fmt.Println("APC:", ctx) }, "hello")
	th.SleepEx(0, true)
	fmt.Println("open ids:", th.Snapshot().OpenIDs)

	k.WPUCloseThread(&id)
	fmt.Println("open ids:", th.Snapshot().OpenIDs)
	fmt.Println(k.WPUQueueApc(&id, func(any) {}, nil))
	// Output:
	// APC: hello
	// open ids: 1
	// open ids: 0
	// WPUQueueApc 0x8: bad address or buffer too small (10014)
}
