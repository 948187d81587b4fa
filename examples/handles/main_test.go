package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHandlesWalkthrough(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `1. Two providers create socket handles, each with its own context.
   WPUCreateSocketHandle(1001) = 0x4
   WPUCreateSocketHandle(1006) = 0x8
   Handle values are multiples of 4, like every Windows handle.
2. Each provider gets its context back from the handle alone.
   WPUQuerySocketHandleContext(0x4) = "tcp socket A", owner 1001
   WPUQuerySocketHandleContext(0x8) = "udp socket B", owner 1006
3. Closing a handle removes it; a second close and a query fail.
   WPUCloseSocketHandle(0x4) = ok
   a second close: WPUCloseSocketHandle 0x4: not a socket (10038)
   a query:        WPUQuerySocketHandleContext 0x4: not a socket (10038)
   errors.Is(err, spi.WSAENOTSOCK) holds for both: true
   0x8 is untouched: 1 handle live
4. A table of capacity 4 runs full.
   handle 1: 0x4
   handle 2: 0x8
   handle 3: 0xc
   handle 4: 0x10
   handle 5: WPUCreateSocketHandle: no buffer space available (10055)
   after closing 0xc, the next handle takes its value again: 0xc
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
