// Command lsp is the main demo of wsspi: a byte-counting layered service
// provider (LSP), built on the kit in package layered, sits over loopback
// TCP, and a client talks through it with a completion port, WSASend and
// WSARecv, ReadFile and WriteFile. It prints the client process's trace,
// step by step, and what the trace shows: the layer sees every operation,
// ReadFile and WriteFile included, at the price of four more user/kernel
// transitions for each of those, and it forwards every completion to the
// client's port itself, with WPUCompleteOverlappedRequest, under the
// client's key.
//
//	go run ./examples/lsp            # the text timeline and the story
//	go run ./examples/lsp -mermaid   # the trace as a Mermaid sequence diagram
package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/examples/internal/demokit"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/redirect"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the program with its arguments and returns its exit status: 2
// for bad arguments, after the usage.
func cli(args []string, stdout, stderr io.Writer) int {
	return demokit.CLI("lsp", "print the trace as a Mermaid sequence diagram instead of the text timeline", args, stdout, stderr,
		demokit.Show(run, (*demo).events, (*demo).print))
}

// counter is the byte-counting LSP: all of its own logic is two hooks of
// the kit, which does the rest.
type counter struct {
	sends, sent atomic.Uint64 // operations and bytes going down
	recvs, rcvd atomic.Uint64 // operations and bytes coming up
}

func (c *counter) hooks() layered.Hooks {
	return layered.Hooks{
		OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte {
			c.sends.Add(1)
			c.sent.Add(uint64(trace.BuffersLen(bufs...)))
			return bufs // count only: send what the client gave
		},
		OnRecv: func(_ *layered.Socket, _ [][]byte, n uint32) {
			c.recvs.Add(1)
			c.rcvd.Add(uint64(n))
		},
	}
}

// The completion keys of the client's two sockets, and the server.
const (
	layeredKey = 42 // the socket through the LSP
	directKey  = 7  // a socket made on the base provider itself
)

var addr = netip.MustParseAddrPort("127.0.0.1:80")

// demo is what a run leaves: the client process's trace, step by step,
// and what the story is told from.
type demo struct {
	steps   []demokit.Step
	layer   trace.Layer // the LSP's lifeline
	chain   spi.CatalogEntryId
	counter *counter
	// The client's sockets: one through the LSP, one on the base provider,
	// and the transitions spent on each (Process.HandleTransitions).
	layered, direct         spi.Socket
	layeredCost, directCost redirect.Transitions
}

// events returns the whole trace.
func (d *demo) events() []trace.Event { return demokit.Events(d.steps) }

func run() (*demo, error) {
	rec := new(trace.Recorder)
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
	c := new(counter)
	_, ids, err := layered.Install(m, layered.Options{
		Name:   "Byte counter",
		GUID:   spi.MustParseGUID("{5EC0A7E1-0000-4000-8000-00000000C0DE}"),
		Path:   `C:\lsp\counter.dll`,
		Over:   []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
		Config: layered.Config{Hooks: c.hooks()},
	})
	if err != nil {
		return nil, err
	}
	d := &demo{
		layer:   trace.Layer{Kind: trace.LayerProvider, ID: ids.Layered, Name: "Byte counter"},
		chain:   ids.Chains[0],
		counter: c,
	}

	// The server makes its sockets on the base entry, so that only the
	// client's I/O crosses the layer.
	peers := demokit.NewPeers(m)
	defer peers.Close()
	if err := peers.Listen(addr, 2); err != nil {
		return nil, err
	}
	client, sth, th := peers.Client, peers.ServerThread, peers.ClientThread

	sc := &demokit.Script{Rec: rec, PID: client.ID(), Drop: demokit.WorkerWaits, FromStart: true}
	sc.Step(fmt.Sprintf(`The client process starts with one thread, %v, which makes every Winsock
and file call below. It makes a completion port, and a socket on the base provider itself, not
through the LSP, to compare with; it connects that socket and associates it with
the port under key %d.`, th.ID().ThreadHandle, directKey))
	port, err := client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	if d.direct, err = demokit.TCPSocket(th, &peers.Base); err != nil {
		return nil, err
	}
	directPeer, err := peers.Connect(d.direct)
	if err != nil {
		return nil, err
	}
	if _, err := client.CreateIoCompletionPort(d.direct, port, directKey, 0); err != nil {
		return nil, err
	}

	sc.Step(fmt.Sprintf(`socket(): the first TCP entry of the catalog is the LSP's chain %d, so ws2_32
loads the LSP (WSPStartup). The kit loads the layer below (LoadNext), makes a
private completion port and a worker thread, and creates a socket of the base
provider, which it associates with its private port; the client gets a
handle of the layer's own, from WPUCreateSocketHandle. From now on the worker
waits on the private port; the timeline leaves its waits out, as they fall
where the Go scheduler puts them.`, d.chain))
	if d.layered, err = demokit.TCPSocket(th, nil); err != nil {
		return nil, err
	}
	if err := demokit.AwaitWorker(rec, 0); err != nil {
		return nil, err
	}
	sc.Step(fmt.Sprintf(`connect(); then the client associates its socket, the layer's handle, with its
own port under key %d. The base socket below knows nothing of that port.`, layeredKey))
	peer, err := peers.Connect(d.layered)
	if err != nil {
		return nil, err
	}
	if _, err := client.CreateIoCompletionPort(d.layered, port, layeredKey, 0); err != nil {
		return nil, err
	}
	get := func(ov *spi.Overlapped, key uintptr) error {
		e, err := th.GetQueuedCompletionStatus(port, 5*time.Second)
		if err != nil {
			return err
		}
		if e.Overlapped != ov || e.CompletionKey != key {
			return fmt.Errorf("the port gave %+v, want the overlapped %p under key %d", e, ov, key)
		}
		return nil
	}

	sc.Step(`WSASend: ws2_32 calls the layer's WSPSend. The layer sends on its base socket
with an overlapped of its own; that send succeeds at once, so the layer
completes the client's overlapped itself: WPUCompleteOverlappedRequest posts
the packet to the client's port.`)
	var sendOv, writeOv, recvOv, readOv, directOv spi.Overlapped
	if _, err := th.WSASend(d.layered, [][]byte{[]byte("hello")}, 0, &sendOv, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		return nil, err
	}
	if err := get(&sendOv, layeredKey); err != nil {
		return nil, err
	}

	sc.Step(`WriteFile: the IFS layer redirects it up to the layer's WSPSend (4 more
transitions). No thread id comes with it, so the layer opens one with
WPUOpenCurrentThread, which names the process's worker thread (started here, on
first use; on Windows, ws2ifsl's thread), and closes it when done.`)
	if _, err := th.WriteFile(d.layered, []byte("write"), &writeOv); err != nil && !errors.Is(err, spi.ERROR_IO_PENDING) {
		return nil, err
	}
	if err := get(&writeOv, layeredKey); err != nil {
		return nil, err
	}

	sc.Step(`WSARecv before the server sends: it pends. When the data comes, the base socket's
completion goes to the layer's private port; the layer's worker takes it off
(its wait is left out) and forwards it to the client's port.`)
	buf := make([]byte, 16)
	if _, err := th.WSARecv(d.layered, [][]byte{buf}, new(uint32), &recvOv, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		return nil, fmt.Errorf("WSARecv with nothing to read: %v, want WSA_IO_PENDING", err)
	}
	if _, err := sth.WSASend(peer, [][]byte{[]byte("world")}, 0, nil, nil); err != nil {
		return nil, err
	}
	// Let the worker forward the completion, and go back to wait, before
	// the client's next call. (On Windows the two overlap: the client may
	// already wait on its port.)
	if err := demokit.AwaitWorker(rec, 1); err != nil {
		return nil, err
	}
	if err := get(&recvOv, layeredKey); err != nil {
		return nil, err
	}

	sc.Step(`ReadFile, with data waiting: redirected up to the layer's WSPRecv.`)
	if _, err := sth.WSASend(peer, [][]byte{[]byte("file!")}, 0, nil, nil); err != nil {
		return nil, err
	}
	if _, err := th.ReadFile(d.layered, buf, &readOv); err != nil && !errors.Is(err, spi.ERROR_IO_PENDING) {
		return nil, err
	}
	if err := get(&readOv, layeredKey); err != nil {
		return nil, err
	}

	sc.Step(fmt.Sprintf(`ReadFile on the client's socket of the base provider, %v (step 1, key %d):
no layer, no redirection; the kernel posts the packet.`, d.direct, directKey))
	if _, err := sth.WSASend(directPeer, [][]byte{[]byte("file!")}, 0, nil, nil); err != nil {
		return nil, err
	}
	if _, err := th.ReadFile(d.direct, buf, &directOv); err != nil && !errors.Is(err, spi.ERROR_IO_PENDING) {
		return nil, err
	}
	if err := get(&directOv, directKey); err != nil {
		return nil, err
	}
	if d.layeredCost, err = client.HandleTransitions(d.layered); err != nil {
		return nil, err
	}
	if d.directCost, err = client.HandleTransitions(d.direct); err != nil {
		return nil, err
	}

	sc.Step(`closesocket: the layer closes its base socket, then its own handle.`)
	if err := th.Closesocket(d.layered); err != nil {
		return nil, err
	}
	sc.Step("")
	d.steps = sc.Steps()
	return d, nil
}

// print writes the timeline, step by step, and then what it shows, all of
// it read from the trace.
func (d *demo) print(w io.Writer) error {
	if err := demokit.PrintSteps(w, d.steps); err != nil {
		return err
	}
	events := d.events()
	calls := ioCalls(events, d.layer)

	fmt.Fprintln(w, "What the trace shows")
	fmt.Fprintln(w, "\nThe layer saw every I/O call on its handle, ReadFile and WriteFile included:")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  client call\tbecame\ttransitions")
	cost := map[spi.Handle]uint64{} // of the last ReadFile on each handle
	for _, c := range calls {
		became := "no layer's call"
		if c.wsp != "" {
			became = fmt.Sprintf("%s of the layer, called by %s", c.wsp, who(c.caller))
		}
		fmt.Fprintf(tw, "  %s on %v\t%s\t%d\n", c.client, c.handle, became, c.transitions)
		if c.client == "ReadFile" {
			cost[c.handle] = c.transitions
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "Its hooks counted %d sends, %d bytes in all, and %d receives, %d bytes in all.\n",
		d.counter.sends.Load(), d.counter.sent.Load(), d.counter.recvs.Load(), d.counter.rcvd.Load())
	fmt.Fprintf(w, "A ReadFile costs %d transitions on the layer's handle and %d on the socket of the\n", cost[d.layered], cost[d.direct])
	fmt.Fprintf(w, "base provider: %d more, for the IFS layer's trip up to the layer's WSPRecv and back.\n", cost[d.layered]-cost[d.direct])

	f := forwarding(events, d.layer, d.layered)
	fmt.Fprintf(w, "\nThe layer forwarded %d completions with WPUCompleteOverlappedRequest, and the\n", f.upcalls)
	fmt.Fprintf(w, "kernel posted each to the client's port with the client's key: %s.\n", f.client)
	fmt.Fprintf(w, "The layer's socket below, %v, completed the same operations, never to the client's\nport: %s.\n", f.lower, f.below)

	fmt.Fprintln(w, "\nIn all, by what they were spent for:")
	for _, h := range []spi.Socket{d.layered, d.direct} {
		total, parts := transitions(events, h)
		fmt.Fprintf(w, "  on %v: %d =%s\n", h, total, parts)
	}
	fmt.Fprintf(w, "which is what Process.HandleTransitions says: %d and %d.\n", d.layeredCost.Total(), d.directCost.Total())
	return nil
}

// who names a caller in a sentence.
func who(l trace.Layer) string {
	if l.Kind == trace.LayerIFS {
		return "the IFS layer"
	}
	return l.String()
}

// ioCall is one I/O call of the client, and the layer's WSP call it
// became, if any.
type ioCall struct {
	client string // WSASend, WSARecv, ReadFile, WriteFile
	handle spi.Handle
	wsp    string      // the layer's proc-table entry, or ""
	caller trace.Layer // who called it: ws2_32 or the IFS layer
	// transitions charged during the call, not counting those of
	// forwarding a completion (WPUCompleteOverlappedRequest)
	transitions uint64
}

// ioCalls lists the client's I/O calls in events and the calls into the
// layer that each made.
func ioCalls(events []trace.Event, layer trace.Layer) []ioCall {
	var calls []ioCall
	var cur *ioCall
	for _, e := range events {
		switch {
		case e.Kind == trace.ClientCall && (e.Func == "WSASend" || e.Func == "WSARecv" || e.Func == "ReadFile" || e.Func == "WriteFile"):
			cur = &ioCall{client: e.Func, handle: e.Handle}
		case cur == nil:
		case e.Kind == trace.WSPCall && e.Layer == layer:
			cur.wsp, cur.caller = e.Func, e.Caller
		case e.Kind == trace.Transition && e.Func != "WPUCompleteOverlappedRequest":
			cur.transitions += e.UserToKernel + e.KernelToUser
		case e.Kind == trace.ClientReturn && e.Func == cur.client:
			calls = append(calls, *cur)
			cur = nil
		}
	}
	return calls
}

// transitions sums the transitions the trace charges on h, and says what
// for.
func transitions(events []trace.Event, h spi.Handle) (uint64, string) {
	var order []string
	by := map[string]uint64{}
	var total uint64
	for _, e := range events {
		if e.Kind != trace.Transition || e.Handle != h {
			continue
		}
		if _, ok := by[e.Func]; !ok {
			order = append(order, e.Func)
		}
		n := e.UserToKernel + e.KernelToUser
		by[e.Func] += n
		total += n
	}
	var parts string
	for i, f := range order {
		if i > 0 {
			parts += " +"
		}
		parts += fmt.Sprintf(" %s %d", f, by[f])
	}
	return total, parts
}

// forwarded says how the completions of the layer's socket reached the
// client.
type forwarded struct {
	upcalls       int        // WPUCompleteOverlappedRequest calls of the layer
	lower         spi.Handle // the layer's base socket
	client, below string     // the deliveries on the layer's handle and on the base socket
}

// forwarding reads from events how the completions of the layer's socket
// h, and of its base socket, were delivered.
func forwarding(events []trace.Event, layer trace.Layer, h spi.Handle) forwarded {
	var f forwarded
	for _, e := range events {
		if e.Kind == trace.Upcall && e.Caller == layer && e.Func == "WPUCompleteOverlappedRequest" {
			f.upcalls++
		}
		if e.Kind == trace.WSPCall && e.Caller == layer && f.lower == 0 && e.Func != "WSPStartup" {
			f.lower = e.Handle // the first call down names the base socket
		}
	}
	f.client = deliveries(events, h)
	f.below = deliveries(events, f.lower)
	return f
}

// deliveries counts the completions on h by how they were delivered.
func deliveries(events []trace.Event, h spi.Handle) string {
	var order []string
	by := map[string]int{}
	for _, e := range events {
		if e.Kind != trace.Completion || e.Handle != h {
			continue
		}
		how := e.Delivery.String()
		if e.Delivery&trace.DeliveredPort != 0 {
			how = fmt.Sprintf("to port %v with key %d", e.Port, e.Key)
		} else if e.Delivery&trace.SkippedOnSuccess != 0 {
			how = fmt.Sprintf("kept off port %v (immediate success, FILE_SKIP_COMPLETION_PORT_ON_SUCCESS)", e.Port)
		}
		if by[how] == 0 {
			order = append(order, how)
		}
		by[how]++
	}
	var s string
	for i, how := range order {
		if i > 0 {
			s += "; "
		}
		s += fmt.Sprintf("%d %s", by[how], how)
	}
	return s
}
