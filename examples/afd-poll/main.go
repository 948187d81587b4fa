// Command afd-poll runs an echo server driven the way wepoll, mio (tokio)
// and libuv's uv_poll drive Winsock: for each socket it finds the base
// provider's socket (SIO_BASE_HANDLE, then SIO_BSP_HANDLE_POLL and
// SIO_BSP_HANDLE_SELECT as wepoll's fallbacks), and waits for readiness
// with IOCTL_AFD_POLL for that base socket, issued on an AFD helper handle
// (NtCreateFile on \Device\Afd\Wepoll) associated with one completion
// port, so every poll completes there. The sockets themselves are non-blocking and read and
// written only when a poll says they are ready.
//
// It runs twice: on a machine with no LSP, and with the layered kit's
// non-IFS LSP over TCP/IPv4, where the server's sockets are the layer's
// handles and the polls go to the base sockets below them; the echo is the
// same.
//
//	go run ./examples/afd-poll
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "afd-poll:", err)
		os.Exit(1)
	}
}

// addr is where the server listens.
var addr = netip.MustParseAddrPort("127.0.0.1:7")

// kitGUID is the provider id of the LSP of the second run.
var kitGUID = spi.MustParseGUID("{AFD0A11E-0000-4000-8000-00000000000A}")

// messages are what the client sends, one at a time.
var messages = []string{"hello, poller", "second message"}

func run(w io.Writer) error {
	for _, withLSP := range []bool{false, true} {
		if err := runOn(w, withLSP); err != nil {
			return err
		}
	}
	return nil
}

// runOn serves one client on a new machine, with or without the kit's LSP.
func runOn(w io.Writer, withLSP bool) error {
	m := wsspi.NewMachine()
	if withLSP {
		fmt.Fprintln(w, "== with a non-IFS LSP over TCP/IPv4")
		if _, _, err := layered.Install(m, layered.Options{Name: "kit", GUID: kitGUID, Path: `C:\lsp\kit.dll`,
			Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4}}); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(w, "== with no LSP")
	}
	server, client := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()

	p, err := newPoller(w, server.NewThread())
	if err != nil {
		return err
	}
	if err := p.listen(); err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- p.serve() }()
	if err := talk(w, client.NewThread()); err != nil {
		return err
	}
	if err := <-served; err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// talk connects, sends each message and reads its echo with blocking
// calls, then closes.
func talk(w io.Writer, th *wsspi.Thread) error {
	s, err := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	if err != nil {
		return err
	}
	if err := th.Connect(s, addr); err != nil {
		return err
	}
	for _, msg := range messages {
		if _, err := th.WSASend(s, [][]byte{[]byte(msg)}, 0, nil, nil); err != nil {
			return err
		}
		buf := make([]byte, len(msg))
		for got := 0; got < len(msg); {
			n, err := th.WSARecv(s, [][]byte{buf[got:]}, new(uint32), nil, nil)
			if err != nil {
				return err
			}
			got += int(n)
		}
		fmt.Fprintf(w, "client: echo received: %q\n", buf)
	}
	return th.Closesocket(s)
}

// poller is the server: one completion port, the AFD helper handle the
// polls are issued on, and the registered sockets by their poll's
// IO_STATUS_BLOCK.
type poller struct {
	w      io.Writer
	th     *wsspi.Thread
	port   spi.Handle
	helper spi.Handle
	socks  map[*spi.Overlapped]*registered
}

// registered is a socket the poller watches: the socket the server reads
// and writes, the base socket the polls go to, and the poll in flight.
type registered struct {
	s, base spi.Socket
	events  uint32
	iosb    spi.Overlapped
	info    []byte
}

func newPoller(w io.Writer, th *wsspi.Thread) (*poller, error) {
	p := th.Process()
	port, err := p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	helper, err := p.NtCreateFile(`\Device\Afd\Wepoll`)
	if err != nil {
		return nil, err
	}
	if _, err := p.CreateIoCompletionPort(helper, port, 0, 0); err != nil {
		return nil, err
	}
	return &poller{w: w, th: th, port: port, helper: helper, socks: map[*spi.Overlapped]*registered{}}, nil
}

// baseSocket finds the base provider's socket of s, as wepoll does: with
// SIO_BASE_HANDLE, and when a layer refuses it, with SIO_BSP_HANDLE_POLL
// and SIO_BSP_HANDLE_SELECT, taking only an answer that is another socket.
func (p *poller) baseSocket(s spi.Socket) (spi.Socket, error) {
	var firstErr error
	for _, code := range []uint32{spi.SIO_BASE_HANDLE, spi.SIO_BSP_HANDLE_POLL, spi.SIO_BSP_HANDLE_SELECT} {
		out := make([]byte, 8)
		_, err := p.th.WSAIoctl(s, code, nil, out, nil, nil)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if b := spi.Socket(binary.LittleEndian.Uint64(out)); b != s || code == spi.SIO_BASE_HANDLE {
			return b, nil
		}
	}
	return 0, firstErr
}

// register makes s non-blocking, finds its base socket and polls it for
// events.
func (p *poller) register(s spi.Socket, what string, events uint32) error {
	on := uint32(1)
	if err := p.th.Ioctlsocket(s, spi.FIONBIO, &on); err != nil {
		return err
	}
	base, err := p.baseSocket(s)
	if err != nil {
		return err
	}
	r := &registered{s: s, base: base, events: events | spi.AFD_POLL_LOCAL_CLOSE}
	p.socks[&r.iosb] = r
	same := "itself, the base socket"
	if base != s {
		same = fmt.Sprintf("base socket %v below it", base)
	}
	fmt.Fprintf(p.w, "server: %s %v registered, polled through %s\n", what, s, same)
	if base != s {
		p.showLayerHandleFails(s)
	}
	return p.poll(r)
}

// poll issues one AFD poll for the base socket of r on the helper; it
// completes through the port, carrying r's IO_STATUS_BLOCK.
func (p *poller) poll(r *registered) error {
	info := spi.AFDPollInfo{Timeout: math.MaxInt64, Handles: []spi.AFDPollHandleInfo{{Handle: r.base, Events: r.events}}}
	r.info = info.Marshal()
	r.iosb = spi.Overlapped{}
	err := p.th.NtDeviceIoControlFile(p.helper, 0, &r.iosb, &r.iosb, spi.IOCTL_AFD_POLL, r.info, r.info)
	if err != nil && !errors.Is(err, spi.STATUS_PENDING) {
		return err
	}
	return nil
}

// listen makes the listener and registers it.
func (p *poller) listen() error {
	l, err := p.th.ListenTCP(addr, wsspi.ListenOptions{Backlog: 1})
	if err != nil {
		return err
	}
	return p.register(l.Socket, "listener", spi.AFD_POLL_ACCEPT)
}

// serve accepts one connection and echoes it until the peer closes.
func (p *poller) serve() error {
	for {
		e, err := p.th.GetQueuedCompletionStatus(p.port, 10*time.Second)
		if err != nil {
			return err
		}
		r := p.socks[e.Overlapped]
		got, err := spi.ParseAFDPollInfo(r.info)
		if err != nil || got.Handles[0].Events == 0 {
			return fmt.Errorf("poll of %v ended with %v and no events", r.s, spi.NTStatus(e.Overlapped.LoadInternal()))
		}
		events := got.Handles[0].Events
		switch {
		case events&spi.AFD_POLL_ACCEPT != 0:
			c, _, err := p.th.Accept(r.s)
			if err != nil {
				return err
			}
			if err := p.register(c, "connection", spi.AFD_POLL_RECEIVE|spi.AFD_POLL_DISCONNECT|spi.AFD_POLL_ABORT); err != nil {
				return err
			}
		case events&spi.AFD_POLL_RECEIVE != 0:
			fin, err := p.echo(r.s)
			if err != nil {
				return err
			}
			if fin {
				return p.closed(r.s)
			}
		case events&(spi.AFD_POLL_DISCONNECT|spi.AFD_POLL_ABORT) != 0:
			return p.closed(r.s)
		}
		if err := p.poll(r); err != nil {
			return err
		}
	}
}

// closed ends the connection the peer closed.
func (p *poller) closed(s spi.Socket) error {
	fmt.Fprintf(p.w, "server: %v: the peer closed\n", s)
	return p.th.Closesocket(s)
}

// echo sends back what a non-blocking receive finds, and reports the
// peer's FIN (a receive of 0 bytes).
func (p *poller) echo(s spi.Socket) (fin bool, err error) {
	buf := make([]byte, 1024)
	n, err := p.th.WSARecv(s, [][]byte{buf}, new(uint32), nil, nil)
	if errors.Is(err, spi.WSAEWOULDBLOCK) {
		return false, nil // readiness is a hint, as wepoll's users know
	}
	if err != nil || n == 0 {
		return n == 0 && err == nil, err
	}
	fmt.Fprintf(p.w, "server: %v readable: echoing %d bytes\n", s, n)
	_, err = p.th.WSASend(s, [][]byte{buf[:n]}, 0, nil, nil)
	return false, err
}

// showLayerHandleFails polls a layer's own handle, as a poller that skipped
// SIO_BASE_HANDLE would: AFD knows only its own sockets.
func (p *poller) showLayerHandleFails(s spi.Socket) {
	info := spi.AFDPollInfo{Timeout: 0, Handles: []spi.AFDPollHandleInfo{{Handle: s, Events: spi.AFD_POLL_ALL}}}
	buf := info.Marshal()
	var iosb spi.Overlapped
	err := p.th.NtDeviceIoControlFile(p.helper, 0, nil, &iosb, spi.IOCTL_AFD_POLL, buf, buf)
	var st spi.NTStatus
	errors.As(err, &st)
	fmt.Fprintf(p.w, "server: (a poll naming the layer's handle %v itself fails with %v)\n", s, st)
}
