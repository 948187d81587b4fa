package layered_test

import (
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// A byte-counting LSP over TCP/IPv4: the hooks see every send and receive
// of the client, whose completion port still hears of each operation.
func Example() {
	m := wsspi.NewMachine()
	var sent, received atomic.Uint64
	_, ids, err := layered.Install(m, layered.Options{
		Name: "Byte counter",
		GUID: spi.MustParseGUID("{5EC0A7E1-0000-4000-8000-00000000C0DE}"),
		Path: `C:\lsp\counter.dll`,
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
		Config: layered.Config{Hooks: layered.Hooks{
			OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte {
				for _, b := range bufs {
					sent.Add(uint64(len(b)))
				}
				return bufs
			},
			OnRecv: func(_ *layered.Socket, _ [][]byte, n uint32) { received.Add(uint64(n)) },
		}},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("chain:", ids.Chains)

	server, client := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()
	sth, cth := server.NewThread(), client.NewThread()
	addr := netip.MustParseAddrPort("127.0.0.1:80")
	l, _ := sth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	_ = sth.Bind(l, addr)
	_ = sth.Listen(l, 1)

	c, _ := cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP) // the chain comes first
	_ = cth.Connect(c, addr)
	s, _, _ := sth.Accept(l)
	port, _ := client.CreateIoCompletionPort(c, 0, 7, 0)

	var ov spi.Overlapped
	_, err = cth.WSASend(c, [][]byte{[]byte("hello")}, 0, &ov, nil)
	fmt.Println("WSASend:", err)
	pkt, _ := cth.GetQueuedCompletionStatus(port, time.Second)
	fmt.Println("packet: key", pkt.CompletionKey, "bytes", pkt.NumberOfBytesTransferred)

	_, _ = sth.WSASend(s, [][]byte{[]byte("hi")}, 0, nil, nil)
	buf := make([]byte, 16)
	_, err = cth.WSARecv(c, [][]byte{buf}, nil, &ov, nil)
	fmt.Println("WSARecv:", err)
	pkt, _ = cth.GetQueuedCompletionStatus(port, time.Second)
	fmt.Printf("packet: %d bytes %q\n", pkt.NumberOfBytesTransferred, buf[:pkt.NumberOfBytesTransferred])
	// Both processes loaded the chain, so the layer saw the server's send too.
	fmt.Println("the layer saw", sent.Load(), "bytes sent and", received.Load(), "received")
	// Output:
	// chain: [1006]
	// WSASend: <nil>
	// packet: key 7 bytes 5
	// WSARecv: <nil>
	// packet: 2 bytes "hi"
	// the layer saw 7 bytes sent and 2 received
}

// A layer that fails every third send with WSAECONNRESET: its Before hook
// decides, and the kit does the rest (WSPSend, WSPSendTo and WriteFile are
// all OpSend; an overlapped send that fails this way returns SOCKET_ERROR
// at once and pends nothing; FailCompletion would fail it through its
// completion instead).
func Example_failEveryThirdSend() {
	m := wsspi.NewMachine()
	var sends atomic.Int64
	_, _, err := layered.Install(m, layered.Options{
		Name: "Flaky", GUID: spi.MustParseGUID("{5EC0A7E1-0000-4000-8000-0000000F1A4E}"), Path: `C:\lsp\flaky.dll`,
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
		Config: layered.Config{Hooks: layered.Hooks{Before: func(c *layered.Call) layered.Verdict {
			if c.Op == layered.OpSend && sends.Add(1)%3 == 0 {
				return layered.Fail(spi.WSAECONNRESET)
			}
			return layered.Pass()
		}}},
	})
	if err != nil {
		panic(err)
	}

	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	pr, err := th.SocketPair(wsspi.PairOptions{}) // both ends layered, but the server only receives
	if err != nil {
		panic(err)
	}
	defer pr.Close()

	for i := 1; i <= 6; i++ {
		_, err := th.WSASend(pr.Client, [][]byte{{byte('0' + i)}}, 0, nil, nil)
		fmt.Printf("send %d: %v\n", i, errors.Is(err, spi.WSAECONNRESET))
	}
	buf := make([]byte, 8)
	n, _ := th.WSARecv(pr.Server, [][]byte{buf}, nil, nil, nil)
	fmt.Printf("the server received %q\n", buf[:n])
	// Output:
	// send 1: false
	// send 2: false
	// send 3: true
	// send 4: false
	// send 5: false
	// send 6: true
	// the server received "1245"
}
