package main

import (
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
	"github.com/wsspi/wsspi/clienttest"
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

// TestGoPollerThroughTheClientKit runs -matrix's scenarios inside one
// synctest bubble, where the hangs cost no real time and the seeded
// scheduler's work runs in an order the seed alone decides.
func TestGoPollerThroughTheClientKit(t *testing.T) {
	var out strings.Builder
	synctest.Test(t, func(t *testing.T) {
		if err := runMatrix(&out, 1, clienttest.Bubble()); err != nil {
			t.Fatal(err)
		}
	})
	if diff := cmp.Diff(matrixGolden, out.String()); diff != "" {
		t.Errorf("matrix (-want +got):\n%s", diff)
	}
}

const matrixGolden = `layout                      GET/tcp4                     GET/tcp6                     deadline                           cure
NoLSP                       pass                         pass                         pass                               pass
Kit/tcp4                    pass                         pass                         hang in tcp4 read                  pass
Kit/tcp6                    pass                         pass                         hang in tcp6 read                  pass
Kit/udp                     pass                         pass                         pass                               pass
Kit/all                     pass                         pass                         hang in tcp4 read                  pass
IFSPassThrough/tcp4         pass                         pass                         pass                               pass
IFSPassThrough/tcp6         pass                         pass                         pass                               pass
IFSPassThrough/udp          pass                         pass                         pass                               pass
IFSPassThrough/all          pass                         pass                         pass                               pass
Naive/tcp4                  GET: WSAENOTSOCK             pass                         tcp4 dial: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK
Naive/tcp6                  pass                         GET: WSAENOTSOCK             tcp6 dial: WSAENOTSOCK             tcp6 dial: WSAENOTSOCK
Naive/udp                   pass                         pass                         pass                               pass
Naive/all                   GET: WSAENOTSOCK             GET: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK
EarlyClose/tcp4             GET: WSAENOTSOCK             pass                         tcp4 dial: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK
EarlyClose/tcp6             pass                         GET: WSAENOTSOCK             tcp6 dial: WSAENOTSOCK             tcp6 dial: WSAENOTSOCK
EarlyClose/all              GET: WSAENOTSOCK             GET: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK
FailBaseHandle/tcp4         pass                         pass                         hang in tcp4 read                  hang in tcp4 read
FailBaseHandle/tcp6         pass                         pass                         hang in tcp6 read                  hang in tcp6 read
FailBaseHandle/udp          pass                         pass                         pass                               pass
FailBaseHandle/all          pass                         pass                         hang in tcp4 read                  hang in tcp4 read
OwnBaseHandle/tcp4          pass                         pass                         hang in tcp4 read                  hang in tcp4 read
OwnBaseHandle/tcp6          pass                         pass                         hang in tcp6 read                  hang in tcp6 read
OwnBaseHandle/udp           pass                         pass                         pass                               pass
OwnBaseHandle/all           pass                         pass                         hang in tcp4 read                  hang in tcp4 read
StartupFails/tcp4           GET: WSAEPROVIDERFAILEDINIT  pass                         tcp4 dial: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT
StartupFails/tcp6           pass                         GET: WSAEPROVIDERFAILEDINIT  tcp6 dial: WSAEPROVIDERFAILEDINIT  tcp6 dial: WSAEPROVIDERFAILEDINIT
StartupFails/udp            pass                         pass                         pass                               pass
StartupFails/all            GET: WSAEPROVIDERFAILEDINIT  GET: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT
MissingDLL/tcp4             GET: WSAEPROVIDERFAILEDINIT  pass                         tcp4 dial: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT
MissingDLL/tcp6             pass                         GET: WSAEPROVIDERFAILEDINIT  tcp6 dial: WSAEPROVIDERFAILEDINIT  tcp6 dial: WSAEPROVIDERFAILEDINIT
MissingDLL/udp              pass                         pass                         pass                               pass
MissingDLL/all              GET: WSAEPROVIDERFAILEDINIT  GET: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT
OwnExtensions/tcp4          pass                         pass                         hang in tcp4 read                  pass
OwnExtensions/tcp6          pass                         pass                         hang in tcp6 read                  pass
OwnExtensions/all           pass                         pass                         hang in tcp4 read                  pass
UDPOnly/udp                 pass                         pass                         pass                               pass
UDPOnly/all                 pass                         pass                         pass                               pass
SyncHang/tcp4               pass                         pass                         hang in tcp4 read                  pass
SyncHang/tcp6               pass                         pass                         hang in tcp6 read                  pass
SyncHang/udp                pass                         pass                         pass                               pass
SyncHang/all                pass                         pass                         hang in tcp4 read                  pass
Kit+Kit/all                 pass                         pass                         hang in tcp4 read                  pass
Kit+Kit+Kit/all             pass                         pass                         hang in tcp4 read                  pass
Kit+IFSPassThrough/all      pass                         pass                         hang in tcp4 read                  pass
Kit+Kit+IFSPassThrough/all  pass                         pass                         hang in tcp4 read                  pass
Naive+Kit/all               GET: WSAENOTSOCK             GET: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK
EarlyClose+Kit/all          GET: WSAENOTSOCK             GET: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK             tcp4 dial: WSAENOTSOCK
FailBaseHandle+Kit/all      pass                         pass                         hang in tcp4 read                  hang in tcp4 read
OwnBaseHandle+Kit/all       pass                         pass                         hang in tcp4 read                  hang in tcp4 read
StartupFails+Kit/all        GET: WSAEPROVIDERFAILEDINIT  GET: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT
MissingDLL+Kit/all          GET: WSAEPROVIDERFAILEDINIT  GET: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT  tcp4 dial: WSAEPROVIDERFAILEDINIT
OwnExtensions+Kit/all       pass                         pass                         hang in tcp4 read                  pass
UDPOnly+Kit/all             pass                         pass                         pass                               pass
SyncHang+Kit/all            pass                         pass                         hang in tcp4 read                  pass
GET: WSAENOTSOCK: Naive/tcp4: GET: Get "http://127.0.0.1:49152/": dial tcp 127.0.0.1:49152: connectex: not a socket (10038)
GET: WSAEPROVIDERFAILEDINIT: StartupFails/tcp4: GET: Get "http://127.0.0.1:49152/": dial tcp 127.0.0.1:49152: socket: service provider failed to initialize (10106)
hang in tcp4 read: Kit/tcp4: the scenario did not return within 300ms
hang in tcp6 read: Kit/tcp6: the scenario did not return within 300ms
tcp4 dial: WSAENOTSOCK: Naive/tcp4: tcp4 dial: dial tcp4 127.0.0.1:49152: connectex: not a socket (10038)
tcp6 dial: WSAENOTSOCK: Naive/tcp6: tcp6 dial: dial tcp6 [::1]:49154: connectex: not a socket (10038)
tcp4 dial: WSAEPROVIDERFAILEDINIT: StartupFails/tcp4: tcp4 dial: dial tcp4 127.0.0.1:49152: socket: service provider failed to initialize (10106)
tcp6 dial: WSAEPROVIDERFAILEDINIT: StartupFails/tcp6: tcp6 dial: dial tcp6 [::1]:49154: socket: service provider failed to initialize (10106)
`
