package handles_test

import (
	"errors"
	"fmt"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// A non-IFS provider makes its socket handles with WPUCreateSocketHandle
// and finds its per-socket state again with WPUQuerySocketHandleContext.
func Example() {
	table := handles.New(handles.Options{})

	s, _ := table.CreateSocketHandle(1001, "state of my socket", nil)
	ctx, _ := table.QuerySocketHandleContext(s)
	fmt.Println(s, ctx)

	fmt.Println(table.CloseSocketHandle(s))
	err := table.CloseSocketHandle(s)
	fmt.Println(err)
	fmt.Println(errors.Is(err, spi.WSAENOTSOCK))
	// Output:
	// 0x4 state of my socket
	// <nil>
	// WPUCloseSocketHandle 0x4: not a socket (10038)
	// true
}

// An IFS provider's socket is a kernel object in the table; the provider
// registers it with WPUModifyIFSHandle, which returns the same value.
func ExampleTable_ModifyIFSHandle() {
	table := handles.New(handles.Options{})
	base, _ := table.Insert(handles.KindIFSSocket, "base provider's socket object")

	s, err := table.ModifyIFSHandle(1001, base)
	e, _ := table.Lookup(s)
	fmt.Println(s == base, err, e.Kind, e.Owner)

	// There is no context to query on an IFS socket.
	_, err = table.QuerySocketHandleContext(s)
	fmt.Println(err)
	// Output:
	// true <nil> IFS socket 1001
	// WPUQuerySocketHandleContext 0x4: not a socket (10038)
}

// A close while an operation holds a reference takes effect at once for
// new callers, but the value is not handed out again before the last
// release.
func ExampleTable_Acquire() {
	table := handles.New(handles.Options{Capacity: 1})
	s, _ := table.CreateSocketHandle(1001, "ctx", nil)

	ref, _ := table.Acquire(s)
	fmt.Println(table.CloseSocketHandle(s))
	_, live := table.Lookup(s)
	fmt.Println(live, ref.Entry().Context)

	_, err := table.CreateSocketHandle(1001, "next", nil)
	fmt.Println(err)

	ref.Release()
	next, _ := table.CreateSocketHandle(1001, "next", nil)
	fmt.Println(next)
	// Output:
	// <nil>
	// false ctx
	// WPUCreateSocketHandle: no buffer space available (10055)
	// 0x4
}

// With DetectStale, a holder of an old handle value learns that its handle
// was closed, and what lives at the value now.
func ExampleTable_Check() {
	table := handles.New(handles.Options{Capacity: 1, DetectStale: true})
	s, _ := table.CreateSocketHandle(1001, "old", nil)
	e, _ := table.Lookup(s)
	table.CloseSocketHandle(s)
	table.Insert(handles.KindEvent, "new") // the only value: reused

	err := table.Check(s, e.Generation)
	fmt.Println(err)
	var stale *handles.StaleError
	fmt.Println(errors.As(err, &stale), stale.Current.Kind, errors.Is(err, spi.WSAENOTSOCK))
	// Output:
	// Check 0x4: stale handle: generation 1 (socket of catalog entry 1001) was closed and the value reused by event (generation 2): not a socket (10038)
	// true event true
}

// FailAlloc makes chosen allocations fail as a full table would, so a test
// can reach a provider's WSAENOBUFS path.
func ExampleOptions_failAlloc() {
	table := handles.New(handles.Options{
		FailAlloc: func(seq uint64) bool { return seq == 2 },
	})
	for range 3 {
		s, err := table.CreateSocketHandle(1001, nil, nil)
		fmt.Println(s, err)
	}
	// Output:
	// 0x4 <nil>
	// INVALID_SOCKET WPUCreateSocketHandle: no buffer space available (10055)
	// 0x8 <nil>
}
