// Command handles walks through the handle table that ws2_32 keeps for a
// process, the one behind WPUCreateSocketHandle: two providers make socket
// handles with their own contexts, look the contexts up, close a handle and
// see what a second close does, and then a small table runs full.
//
//	go run ./examples/handles
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "handles:", err)
		os.Exit(1)
	}
}

// Two catalog entries, as two layered providers would have.
const (
	tcpLayer spi.CatalogEntryId = 1001
	udpLayer spi.CatalogEntryId = 1006
)

// sockInfo is what a provider keeps per socket; the handle table gives it
// back on WPUQuerySocketHandleContext.
type sockInfo struct{ name string }

func run(w io.Writer) error {
	table := handles.New(handles.Options{})

	fmt.Fprintln(w, "1. Two providers create socket handles, each with its own context.")
	a, err := table.CreateSocketHandle(tcpLayer, &sockInfo{"tcp socket A"}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   WPUCreateSocketHandle(%d) = %v\n", tcpLayer, a)
	b, err := table.CreateSocketHandle(udpLayer, &sockInfo{"udp socket B"}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   WPUCreateSocketHandle(%d) = %v\n", udpLayer, b)
	fmt.Fprintln(w, "   Handle values are multiples of 4, like every Windows handle.")

	fmt.Fprintln(w, "2. Each provider gets its context back from the handle alone.")
	for _, s := range []spi.Socket{a, b} {
		ctx, err := table.QuerySocketHandleContext(s)
		if err != nil {
			return err
		}
		e, _ := table.Lookup(s)
		fmt.Fprintf(w, "   WPUQuerySocketHandleContext(%v) = %q, owner %d\n", s, ctx.(*sockInfo).name, e.Owner)
	}

	fmt.Fprintln(w, "3. Closing a handle removes it; a second close and a query fail.")
	if err := table.CloseSocketHandle(a); err != nil {
		return err
	}
	fmt.Fprintf(w, "   WPUCloseSocketHandle(%v) = ok\n", a)
	errClose := table.CloseSocketHandle(a)
	fmt.Fprintf(w, "   a second close: %v\n", errClose)
	_, errQuery := table.QuerySocketHandleContext(a)
	fmt.Fprintf(w, "   a query:        %v\n", errQuery)
	fmt.Fprintf(w, "   errors.Is(err, spi.WSAENOTSOCK) holds for both: %t\n",
		errors.Is(errClose, spi.WSAENOTSOCK) && errors.Is(errQuery, spi.WSAENOTSOCK))
	fmt.Fprintf(w, "   %v is untouched: %d handle live\n", b, table.Len())

	fmt.Fprintln(w, "4. A table of capacity 4 runs full.")
	small := handles.New(handles.Options{Capacity: 4})
	var errFull error
	for i := 1; i <= 5 && errFull == nil; i++ {
		var s spi.Socket
		if s, errFull = small.CreateSocketHandle(tcpLayer, i, nil); errFull == nil {
			fmt.Fprintf(w, "   handle %d: %v\n", i, s)
		}
	}
	if !errors.Is(errFull, spi.WSAENOBUFS) {
		return fmt.Errorf("the fifth handle in a table of 4 gave %v, not WSAENOBUFS", errFull)
	}
	fmt.Fprintf(w, "   handle 5: %v\n", errFull)
	if err := small.CloseSocketHandle(0xc); err != nil {
		return err
	}
	s, err := small.CreateSocketHandle(udpLayer, "reused", nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   after closing 0xc, the next handle takes its value again: %v\n", s)
	return nil
}
