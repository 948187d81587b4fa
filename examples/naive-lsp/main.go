// Command naive-lsp runs the client of the main demo (examples/lsp) over a
// naive layered service provider (LSP): a non-IFS layer that passes the
// client's OVERLAPPED down to the layer below, unchanged, with its own
// lower socket. The data moves and every operation completes, but on the
// lower socket, which has no completion port: the client's port never gets
// a packet, and each GetQueuedCompletionStatus times out. The program
// prints the trace, step by step, and says why.
//
//	go run ./examples/naive-lsp            # the text timeline and the story
//	go run ./examples/naive-lsp -mermaid   # the trace as a Mermaid sequence diagram
package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/examples/internal/demokit"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the program with its arguments and returns its exit status: 2
// for bad arguments, after the usage.
func cli(args []string, stdout, stderr io.Writer) int {
	return demokit.CLI("naive-lsp", "print the trace as a Mermaid sequence diagram instead of the text timeline", args, stdout, stderr,
		demokit.Show(run, (*demo).events, (*demo).print))
}

// The naive LSP: its GUID, "DLL path" and name.
var naiveGUID = spi.MustParseGUID("{0A1BE000-0000-4000-8000-0000000000A1}")

const (
	naivePath = `C:\lsp\naive.dll`
	naiveName = "Naive LSP"
)

// installNaive installs the naive LSP over TCP/IPv4, as Microsoft's
// installer would (a hidden layered entry and a chain at the head of the
// catalog), and registers its WSPStartup. It returns its layered entry.
func installNaive(m *wsspi.Machine) (spi.CatalogEntryId, error) {
	ids, err := m.Catalog().InstallLSP(catalog.LSP{
		ProviderId: naiveGUID, Path: naivePath, Name: naiveName,
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
	})
	if err != nil {
		return 0, err
	}
	m.RegisterProvider(naivePath, func(_ uint16, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		owner, err := layered.HandleOwner(info, ids.Layered) // the chain: its handles' owner
		if err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		next, err := imports.LoadNext(info, ids.Layered)
		if err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		n := &naive{owner: owner, upcalls: upcalls, next: next}
		data := spi.WSPData{Version: spi.WINSOCK_VERSION, HighVersion: spi.WINSOCK_VERSION, Description: naiveName}
		return data, n.procTable(), nil
	})
	return ids.Layered, nil
}

// naive is the naive LSP as loaded into one process.
type naive struct {
	owner   spi.CatalogEntryId
	upcalls spi.WSPUpcallTable
	next    spi.NextLayer
}

// lower returns the layer's socket below its handle h: the handle's
// context.
func (n *naive) lower(h spi.Socket) (spi.Socket, error) {
	ctx, err := n.upcalls.WPUQuerySocketHandleContext(h)
	if err != nil {
		return spi.INVALID_SOCKET, spi.WSAENOTSOCK
	}
	return ctx.(spi.Socket), nil
}

// procTable is the naive LSP's proc table: the entries the client uses,
// each mapping the layer's handle to the lower socket.
func (n *naive) procTable() spi.WSPProcTable {
	next := &n.next.ProcTable
	t := spi.WSPProcTable{
		WSPSocket: func(af, typ, protocol int32, _ *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
			lower, err := next.WSPSocket(af, typ, protocol, &n.next.Info, g, flags)
			if err != nil {
				return spi.INVALID_SOCKET, err
			}
			h, err := n.upcalls.WPUCreateSocketHandle(n.owner, lower)
			if err != nil {
				_ = next.WSPCloseSocket(lower)
				return spi.INVALID_SOCKET, err
			}
			return h, nil
		},
		WSPConnect: func(h spi.Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *spi.QOS) error {
			lower, err := n.lower(h)
			if err != nil {
				return err
			}
			return next.WSPConnect(lower, name, callerData, calleeData, sqos, gqos)
		},
		// The mistake: the client's overlapped, completion routine and
		// thread go down unchanged. The layer below completes the request
		// on the lower socket, and the layer never hears of it.
		WSPSend: func(h spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			lower, err := n.lower(h)
			if err != nil {
				return 0, err
			}
			return next.WSPSend(lower, bufs, flags, ov, cr, th)
		},
		WSPRecv: func(h spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			lower, err := n.lower(h)
			if err != nil {
				return 0, err
			}
			return next.WSPRecv(lower, bufs, flags, ov, cr, th)
		},
		WSPCloseSocket: func(h spi.Socket) error {
			lower, err := n.lower(h)
			if err != nil {
				return err
			}
			_ = next.WSPCloseSocket(lower)
			return n.upcalls.WPUCloseSocketHandle(h)
		},
		WSPCleanup: n.next.Cleanup,
	}
	t.FillNotSupported() // WSAEOPNOTSUPP for what the client does not use
	return t
}

// The client's completion key, how long it waits for a packet, and the
// server.
const (
	clientKey = 42
	wait      = 50 * time.Millisecond
)

var addr = netip.MustParseAddrPort("127.0.0.1:80")

// demo is what a run leaves: the client process's trace, step by step,
// and what the story is told from.
type demo struct {
	steps []demokit.Step
	layer trace.Layer // the naive LSP's lifeline
	// The client's socket, a handle of the layer, and its port.
	socket, port spi.Handle
}

// events returns the whole trace.
func (d *demo) events() []trace.Event { return demokit.Events(d.steps) }

func run() (*demo, error) {
	rec := new(trace.Recorder)
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
	layer, err := installNaive(m)
	if err != nil {
		return nil, err
	}
	d := &demo{layer: trace.Layer{Kind: trace.LayerProvider, ID: layer, Name: naiveName}}

	// The server makes its sockets on the base entry, so that only the
	// client's I/O crosses the layer.
	peers := demokit.NewPeers(m)
	defer peers.Close()
	client, sth, th := peers.Client, peers.ServerThread, peers.ClientThread

	sc := &demokit.Script{Rec: rec, PID: client.ID(), FromStart: true}
	sc.Step(fmt.Sprintf(`The client process starts with one thread, %v, which makes every call below.
socket() goes through the naive LSP's chain: the layer creates a socket of the
base provider and gives the client a handle of its own (WPUCreateSocketHandle).
connect(); the client associates that handle with its port, key 42.`, th.ID().ThreadHandle))
	pair, err := peers.Pair(addr, clientKey)
	if err != nil {
		return nil, err
	}
	d.socket, d.port = pair.Client, pair.Port
	peer := pair.Server
	// get waits for the packet of an operation that started: none comes.
	get := func(started error, pending error) error {
		if started != nil && !errors.Is(started, pending) {
			return started
		}
		e, err := th.GetQueuedCompletionStatus(d.port, wait)
		if !errors.Is(err, spi.WAIT_TIMEOUT) {
			return fmt.Errorf("the port gave %+v, %v; the naive layer should lose the packet", e, err)
		}
		return nil
	}

	var sendOv, writeOv, recvOv, readOv spi.Overlapped
	sc.Step(`WSASend: the layer passes the client's overlapped down with its lower socket.
The base provider completes the send there, at once, on a handle with no port:
nothing is delivered. The client waits on its port in vain.`)
	_, err = th.WSASend(d.socket, [][]byte{[]byte("hello")}, 0, &sendOv, nil)
	if err := get(err, spi.WSA_IO_PENDING); err != nil {
		return nil, err
	}
	sc.Step(`WriteFile: redirected up to the layer's WSPSend, with the same mistake.`)
	_, err = th.WriteFile(d.socket, []byte("write"), &writeOv)
	if err := get(err, spi.ERROR_IO_PENDING); err != nil {
		return nil, err
	}
	sc.Step(`WSARecv before the server sends: it pends on the lower socket. When the data
comes, the receive completes there, and again nothing reaches the client's port.`)
	buf := make([]byte, 16)
	_, err = th.WSARecv(d.socket, [][]byte{buf}, new(uint32), &recvOv, nil)
	if !errors.Is(err, spi.WSA_IO_PENDING) {
		return nil, fmt.Errorf("WSARecv with nothing to read: %v, want WSA_IO_PENDING", err)
	}
	if _, err := sth.WSASend(peer, [][]byte{[]byte("world")}, 0, nil, nil); err != nil {
		return nil, err
	}
	if err := get(nil, nil); err != nil {
		return nil, err
	}
	sc.Step(`ReadFile, with data waiting: redirected up to the layer's WSPRecv; the same.`)
	if _, err := sth.WSASend(peer, [][]byte{[]byte("file!")}, 0, nil, nil); err != nil {
		return nil, err
	}
	_, err = th.ReadFile(d.socket, buf, &readOv)
	if err := get(err, spi.ERROR_IO_PENDING); err != nil {
		return nil, err
	}
	sc.Step("")
	d.steps = sc.Steps()
	return d, nil
}

// print writes the timeline, step by step, and then what it shows, read
// from the trace.
func (d *demo) print(w io.Writer) error {
	if err := demokit.PrintSteps(w, d.steps); err != nil {
		return err
	}
	var waits, timeouts, forwards int
	var op string     // the client's last I/O call
	var done []string // the completions of the client's operations
	for _, e := range d.events() {
		switch {
		case e.Kind == trace.ClientCall && e.Func != "GetQueuedCompletionStatus":
			op = e.Func
		case e.Kind == trace.ClientReturn && e.Func == "GetQueuedCompletionStatus":
			waits++
			if e.Err == spi.WAIT_TIMEOUT {
				timeouts++
			}
		case e.Kind == trace.Upcall && e.Func == "WPUCompleteOverlappedRequest":
			forwards++
		case e.Kind == trace.Completion:
			status := "ok"
			if e.Err != 0 {
				status = e.Err.Error()
			}
			how := "delivered to nobody (no port, no event)"
			if e.Delivery != 0 {
				how = "delivered: " + e.Delivery.String()
			}
			done = append(done, fmt.Sprintf("%-9s completed on %v: %s, %d bytes, %s", op, e.Handle, status, e.Bytes, how))
		}
	}
	fmt.Fprintln(w, "What the trace shows")
	fmt.Fprintf(w, "\nThe client waited on its port %d times; %d timed out (WAIT_TIMEOUT): the port\n", waits, timeouts)
	fmt.Fprintln(w, "never got a packet. Yet every operation completed, and the data moved:")
	for _, c := range done {
		fmt.Fprintf(w, "  %s\n", c)
	}
	fmt.Fprintf(w, `
Why: the client associated its port with %v, the layer's handle; only a
completion on that handle reaches the port. The layer passed the client's
OVERLAPPED down with its lower socket, so the base provider completed each
operation on the lower socket, which has no port, and the layer never heard
of it: WPUCompleteOverlappedRequest, the one call that would post to the
client's port, was called %d times. A correct non-IFS layer gives the layer
below an OVERLAPPED of its own, takes that completion, and completes the
client's with WPUCompleteOverlappedRequest: go run ./examples/lsp.
`, d.socket, forwards)
	return nil
}
