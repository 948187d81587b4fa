package wsspi_test

import (
	"errors"
	"fmt"
	"log"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
)

// A client with a completion port, the first program of the README: a
// machine (its catalog holds the loopback TCP and UDP provider, no LSP),
// a process that has called WSAStartup, a thread to issue the calls, and
// a connected pair made in one call, both ends on one port, each under
// its own key. A send that completes at once still posts its packet.
func ExampleThread_SocketPair() {
	m := wsspi.NewMachine()
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()

	pr, err := th.SocketPair(wsspi.PairOptions{CompletionPort: true, ClientKey: 42, ServerKey: 7})
	if err != nil {
		log.Fatal(err)
	}
	defer pr.Close()

	var sendOv spi.Overlapped
	_, err = th.WSASend(pr.Client, [][]byte{[]byte("hello")}, 0, &sendOv, nil)
	fmt.Println("WSASend:", err)
	e, err := th.GetQueuedCompletionStatus(pr.Port, time.Second)
	fmt.Println(e.NumberOfBytesTransferred, e.CompletionKey, e.Overlapped == &sendOv, err)

	// The server's end receives with an overlapped call of its own; its
	// packet comes to the same port under its key.
	buf := make([]byte, 16)
	var recvOv spi.Overlapped
	if _, err := th.WSARecv(pr.Server, [][]byte{buf}, nil, &recvOv, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		log.Fatal(err)
	}
	e, err = th.GetQueuedCompletionStatus(pr.Port, time.Second)
	fmt.Printf("%q, key %d, %v\n", buf[:e.NumberOfBytesTransferred], e.CompletionKey, err)
	// Output:
	// WSASend: <nil>
	// 5 42 true <nil>
	// "hello", key 7, <nil>
}

// A server in one process and a client in another, as Windows programs
// are: the server listens (socket, bind, listen), the client connects,
// and the server accepts. The loopback provider completes a connect at
// once, the connection waiting in the listener's backlog for accept.
func ExampleThread_ListenTCP() {
	m := wsspi.NewMachine()
	server, client := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()
	sth, cth := server.NewThread(), client.NewThread()

	l, err := sth.ListenTCP(netip.MustParseAddrPort("127.0.0.1:80"), wsspi.ListenOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	c, err := cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("connect:", cth.Connect(c, l.Addr))
	s, peer, err := l.Accept()
	if err != nil {
		log.Fatal(err)
	}
	local, _ := cth.Getsockname(c)
	fmt.Println("accepted the client's address:", peer == local)

	_, _ = cth.WSASend(c, [][]byte{[]byte("GET /")}, 0, nil, nil)
	buf := make([]byte, 16)
	n, _ := sth.WSARecv(s, [][]byte{buf}, nil, nil, nil)
	fmt.Printf("the server read %q\n", buf[:n])

	// A second listener on the same address is refused.
	_, err = sth.ListenTCP(l.Addr, wsspi.ListenOptions{})
	fmt.Println(errors.Is(err, spi.WSAEADDRINUSE))
	// Output:
	// connect: <nil>
	// accepted the client's address: true
	// the server read "GET /"
	// true
}

// A test of an LSP: a factory installs it into a fresh machine (here a
// layer of package layered that counts the bytes it sends), and package
// spitest checks it against Winsock's rules, on machines of its own; in a
// test, spitest.Run(t, factory) runs every case as a subtest. Then the
// test's own checks: a pair whose client goes through the layer, the
// server around it, on the base provider.
func Example_testAnLSP() {
	var sent atomic.Int64
	factory := func(m *wsspi.Machine) (spitest.Target, error) {
		_, ids, err := layered.Install(m, layered.Options{
			Name: "Byte counter",
			GUID: spi.MustParseGUID("{5EC0A7E1-3333-4000-8000-0000000000E1}"),
			Path: `C:\lsp\counter.dll`,
			Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
			Config: layered.Config{Hooks: layered.Hooks{
				OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte {
					for _, b := range bufs {
						sent.Add(int64(len(b)))
					}
					return bufs
				},
			}},
		})
		return spitest.Target{Entries: ids.Chains}, err
	}
	err := spitest.Check(factory, spitest.Cases("Notify", "CloseAborts"), spitest.Timeout(5*time.Second))
	fmt.Println("findings:", err)

	m := wsspi.NewMachine()
	target, err := factory(m)
	if err != nil {
		log.Fatal(err)
	}
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	sent.Store(0)
	pr, err := th.SocketPair(wsspi.PairOptions{ClientEntry: target.Entries[0], ServerEntry: catalog.DefaultTCPIPv4})
	if err != nil {
		log.Fatal(err)
	}
	defer pr.Close()
	for _, s := range []spi.Socket{pr.Client, pr.Server} {
		_, _ = th.WSASend(s, [][]byte{[]byte("hello")}, 0, nil, nil)
	}
	fmt.Println("the layer sent", sent.Load(), "bytes") // the client's, not the server's
	// Output:
	// findings: <nil>
	// the layer sent 5 bytes
}
