// Command echo runs an echo server and an echo client in two processes of
// one simulated machine, over the built-in loopback provider. The client
// uses overlapped I/O and a completion port, as a Windows server framework
// would; the server uses plain blocking calls.
//
//	go run ./examples/echo
package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

// addr is where the server listens: the echo port on loopback.
var addr = netip.MustParseAddrPort("127.0.0.1:7")

// clientKey is the completion key the client gives its socket.
const clientKey = 42

func run(w io.Writer) error {
	m := wsspi.NewMachine()
	server := m.NewProcess()
	defer server.Close()
	client := m.NewProcess()
	defer client.Close()

	// socket, bind and listen; from here on only serve uses the thread.
	sth := server.NewThread()
	listener, err := sth.ListenTCP(addr, wsspi.ListenOptions{Backlog: 1})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "server: listening on %v\n", listener.Addr)
	served := make(chan error, 1)
	go func() { served <- serve(sth, listener) }()

	if err := talk(w, client.NewThread(), []string{"hello, loopback", "second message"}); err != nil {
		return err
	}
	if err := <-served; err != nil {
		return fmt.Errorf("server: %w", err)
	}
	fmt.Fprintln(w, "server: peer closed, done")
	return nil
}

// serve accepts one connection on the listener th made, closes the
// listener, and echoes until the peer shuts down.
func serve(th *wsspi.Thread, listener *wsspi.Listener) error {
	conn, _, err := listener.Accept()
	listener.Close()
	if err != nil {
		return err
	}
	defer th.Closesocket(conn)
	buf := make([]byte, 512)
	for {
		n, err := th.WSARecv(conn, [][]byte{buf}, nil, nil, nil)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // graceful shutdown by the peer
		}
		if _, err := th.WSASend(conn, [][]byte{buf[:n]}, 0, nil, nil); err != nil {
			return err
		}
	}
}

// talk connects, then for each message sends it and reads the echo with
// overlapped calls whose completions arrive on a completion port.
func talk(w io.Writer, th *wsspi.Thread, messages []string) error {
	p := th.Process()
	s, err := th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, nil, 0, spi.WSA_FLAG_OVERLAPPED)
	if err != nil {
		return err
	}
	defer th.Closesocket(s)
	if err := th.Connect(s, addr); err != nil {
		return err
	}
	port, err := p.CreateIoCompletionPort(s, 0, clientKey, 0)
	if err != nil {
		return err
	}
	defer p.CloseHandle(port)
	fmt.Fprintf(w, "client: connected, socket associated with a port under key %d\n", clientKey)

	for _, msg := range messages {
		var sendOv spi.Overlapped
		if _, err := th.WSASend(s, [][]byte{[]byte(msg)}, 0, &sendOv, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
			return err
		}
		e, err := th.GetQueuedCompletionStatus(port, 5*time.Second)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "client: send completed: %d bytes, key %d, our overlapped: %v\n",
			e.NumberOfBytesTransferred, e.CompletionKey, e.Overlapped == &sendOv)

		buf := make([]byte, 512)
		got := 0
		for got < len(msg) {
			var recvOv spi.Overlapped
			if _, err := th.WSARecv(s, [][]byte{buf[got:]}, nil, &recvOv, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
				return err
			}
			e, err := th.GetQueuedCompletionStatus(port, 5*time.Second)
			if err != nil {
				return err
			}
			got += int(e.NumberOfBytesTransferred)
		}
		fmt.Fprintf(w, "client: echo received: %q\n", buf[:got])
	}
	fmt.Fprintln(w, "client: shutting down")
	return th.Shutdown(s, spi.SD_SEND)
}
