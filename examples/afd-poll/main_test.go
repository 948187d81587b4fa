package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTheWepollStyleServerEchoesWithAndWithoutAnLSP(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `== with no LSP
server: listener 0x10 registered, polled through itself, the base socket
server: connection 0x14 registered, polled through itself, the base socket
server: 0x14 readable: echoing 13 bytes
client: echo received: "hello, poller"
server: 0x14 readable: echoing 14 bytes
client: echo received: "second message"
server: 0x14: the peer closed
== with a non-IFS LSP over TCP/IPv4
server: listener 0x1c registered, polled through base socket 0x18 below it
server: (a poll naming the layer's handle 0x1c itself fails with STATUS_INVALID_HANDLE (0xC0000008))
server: connection 0x20 registered, polled through base socket 0x24 below it
server: (a poll naming the layer's handle 0x20 itself fails with STATUS_INVALID_HANDLE (0xC0000008))
server: 0x20 readable: echoing 13 bytes
client: echo received: "hello, poller"
server: 0x20 readable: echoing 14 bytes
client: echo received: "second message"
server: 0x20: the peer closed
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
