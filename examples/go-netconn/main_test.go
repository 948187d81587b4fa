package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGoNetConnOverANonIFSLayer(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `== a machine with the kit, a non-IFS layer, over TCP/IPv4 and TCP/IPv6
Go's start-up check (every TCP entry has XP1_IFS_HANDLES): false, so no socket skips the port on success
net/http GET /gopher: 200 OK "hello from /gopher over the simulated stack"
== Go's poller: a read deadline over the layer
read: still waiting after its deadline
  the calls: WSARecv(0x1c) ERROR_IO_PENDING, CancelIoEx(0x1c) ERROR_NOT_FOUND
  the poller waits for the receive's packet; only the receive's own end will send it
the peer writes 5 bytes; read: 5 bytes "late!", no error (the deadline is lost)
== what a client must do instead: cancel on the SIO_BASE_HANDLE socket too
read: 0 bytes, read tcp 127.0.0.1:49157->127.0.0.1:49156: i/o timeout
  the calls: WSARecv(0x1c) ERROR_IO_PENDING, CancelIoEx(0x1c) ERROR_NOT_FOUND, WSAIoctl(0x1c) ERROR_SUCCESS, CancelIo(0x18) ERROR_SUCCESS, WSAGetOverlappedResult(0x1c) ERROR_OPERATION_ABORTED
  (the WSAIoctl is SIO_BASE_HANDLE; CancelIo on the base socket, from the thread that issued the receive,
  cancels the receive the layer issued there, and the layer completes the client's as aborted)
stats: {Cancels:1 CancelsNotFound:1 BaseCancels:1 ForeignPackets:0 StalePackets:0 Packets:2}
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
