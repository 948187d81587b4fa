// Command ifs-lsp runs the client of the main demo (examples/lsp) over an
// IFS layered service provider (LSP) of the pass-through kind: its sockets
// are the base provider's own handles, which it registers as its own with
// WPUModifyIFSHandle, and its proc table is the base provider's with
// WSPSend and WSPRecv wrapped to count calls. That makes it cheap, with no
// extra user/kernel transitions and no completions to forward, but blind:
// ReadFile and WriteFile on its handles go straight to the base provider's
// driver, and its counters never see them. The program prints the trace,
// step by step, and what it shows.
//
//	go run ./examples/ifs-lsp            # the text timeline and the story
//	go run ./examples/ifs-lsp -mermaid   # the trace as a Mermaid sequence diagram
package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
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
	return demokit.CLI("ifs-lsp", "print the trace as a Mermaid sequence diagram instead of the text timeline", args, stdout, stderr,
		demokit.Show(run, (*demo).events, (*demo).print))
}

// The IFS LSP: its GUID, "DLL path" and name.
var ifsGUID = spi.MustParseGUID("{1F5A1F50-0000-4000-8000-0000000001F5}")

const (
	ifsPath = `C:\lsp\passthrough.dll`
	ifsName = "IFS pass-through LSP"
)

// counts are what the IFS LSP counts: the WSPSend and WSPRecv calls its
// proc table receives, in every process.
type counts struct{ sends, recvs atomic.Int64 }

// installIFS installs the IFS LSP over TCP/IPv4, as Microsoft's installer
// would (a hidden layered entry and a chain at the head of the catalog,
// with XP1_IFS_HANDLES), and registers its WSPStartup. It returns its
// layered entry.
func installIFS(m *wsspi.Machine, c *counts) (spi.CatalogEntryId, error) {
	ids, err := m.Catalog().InstallLSP(catalog.LSP{
		ProviderId: ifsGUID, Path: ifsPath, Name: ifsName, IFS: true,
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
	})
	if err != nil {
		return 0, err
	}
	m.RegisterProvider(ifsPath, func(_ uint16, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		owner, err := layered.HandleOwner(info, ids.Layered) // the chain: the owner its handles get
		if err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		next, err := imports.LoadNext(info, ids.Layered)
		if err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		data := spi.WSPData{Version: spi.WINSOCK_VERSION, HighVersion: spi.WINSOCK_VERSION, Description: ifsName}
		return data, passThrough(owner, upcalls, next, c), nil
	})
	return ids.Layered, nil
}

// passThrough is the IFS LSP's proc table as loaded into one process: the
// next layer's, with the same handles. WSPSocket registers the lower
// socket's handle as the layer's own, so that ws2_32 sends calls on it to
// this table; WSPSend and WSPRecv count, then call the layer below with
// the client's own overlapped, which is all an IFS layer may do with it.
func passThrough(owner spi.CatalogEntryId, upcalls spi.WSPUpcallTable, next spi.NextLayer, c *counts) spi.WSPProcTable {
	lower := next.ProcTable
	t := lower
	t.WSPSocket = func(af, typ, protocol int32, _ *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
		s, err := lower.WSPSocket(af, typ, protocol, &next.Info, g, flags)
		if err != nil {
			return spi.INVALID_SOCKET, err
		}
		h, err := upcalls.WPUModifyIFSHandle(owner, s)
		if err != nil {
			_ = lower.WSPCloseSocket(s)
			return spi.INVALID_SOCKET, err
		}
		return h, nil
	}
	t.WSPSend = func(s spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		c.sends.Add(1)
		return lower.WSPSend(s, bufs, flags, ov, cr, th)
	}
	t.WSPRecv = func(s spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		c.recvs.Add(1)
		return lower.WSPRecv(s, bufs, flags, ov, cr, th)
	}
	t.WSPCleanup = next.Cleanup
	return t
}

// The client's completion key, and the server.
const clientKey = 42

var addr = netip.MustParseAddrPort("127.0.0.1:80")

// demo is what a run leaves: the client process's trace, step by step,
// and what the story is told from.
type demo struct {
	steps  []demokit.Step
	layer  trace.Layer // the IFS LSP's lifeline
	counts *counts
	// The client's socket, registered by the layer, its port, and the
	// transitions spent on the socket (Process.HandleTransitions).
	socket, port spi.Handle
	cost         redirect.Transitions
}

// events returns the whole trace.
func (d *demo) events() []trace.Event { return demokit.Events(d.steps) }

func run() (*demo, error) {
	rec := new(trace.Recorder)
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
	d := &demo{counts: new(counts)}
	layer, err := installIFS(m, d.counts)
	if err != nil {
		return nil, err
	}
	d.layer = trace.Layer{Kind: trace.LayerProvider, ID: layer, Name: ifsName}

	// The server makes its sockets on the base entry, so that only the
	// client's I/O crosses the layer.
	peers := demokit.NewPeers(m)
	defer peers.Close()
	client, sth, th := peers.Client, peers.ServerThread, peers.ClientThread

	sc := &demokit.Script{Rec: rec, PID: client.ID(), FromStart: true}
	sc.Step(fmt.Sprintf(`The client process starts with one thread, %v, which makes every call below.
socket() goes through the IFS LSP's chain: the layer creates a socket of the
base provider and registers that very handle as its own (WPUModifyIFSHandle),
so ws2_32 sends the socket's calls to the layer. connect(); the client
associates the handle with its port, key 42.`, th.ID().ThreadHandle))
	pair, err := peers.Pair(addr, clientKey)
	if err != nil {
		return nil, err
	}
	d.socket, d.port = pair.Client, pair.Port
	peer := pair.Server
	// get takes the packet of an operation that started off the port.
	get := func(ov *spi.Overlapped, started, pending error) error {
		if started != nil && !errors.Is(started, pending) {
			return started
		}
		e, err := th.GetQueuedCompletionStatus(d.port, 5*time.Second)
		if err != nil {
			return err
		}
		if e.Overlapped != ov || e.CompletionKey != clientKey {
			return fmt.Errorf("the port gave %+v, want the overlapped %p under key %d", e, ov, clientKey)
		}
		return nil
	}

	var sendOv, writeOv, recvOv, readOv spi.Overlapped
	sc.Step(`WSASend: ws2_32 calls the layer's WSPSend, which counts and calls the base
provider's with the client's overlapped. The handle is the client's, so the
kernel posts the packet to the client's port itself.`)
	_, err = th.WSASend(d.socket, [][]byte{[]byte("hello")}, 0, &sendOv, nil)
	if err := get(&sendOv, err, spi.WSA_IO_PENDING); err != nil {
		return nil, err
	}
	sc.Step(`WriteFile: the handle is an IFS handle, a file object of the base provider's
driver, so the request goes straight to that driver. No layer sees it.`)
	_, err = th.WriteFile(d.socket, []byte("write"), &writeOv)
	if err := get(&writeOv, err, spi.ERROR_IO_PENDING); err != nil {
		return nil, err
	}
	sc.Step(`WSARecv before the server sends: the layer counts it; it pends in the base
provider, and completes to the client's port when the data comes.`)
	buf := make([]byte, 16)
	_, err = th.WSARecv(d.socket, [][]byte{buf}, new(uint32), &recvOv, nil)
	if !errors.Is(err, spi.WSA_IO_PENDING) {
		return nil, fmt.Errorf("WSARecv with nothing to read: %v, want WSA_IO_PENDING", err)
	}
	if _, err := sth.WSASend(peer, [][]byte{[]byte("world")}, 0, nil, nil); err != nil {
		return nil, err
	}
	if err := get(&recvOv, nil, nil); err != nil {
		return nil, err
	}
	sc.Step(`ReadFile, with data waiting: straight to the driver, as WriteFile.`)
	if _, err := sth.WSASend(peer, [][]byte{[]byte("file!")}, 0, nil, nil); err != nil {
		return nil, err
	}
	_, err = th.ReadFile(d.socket, buf, &readOv)
	if err := get(&readOv, err, spi.ERROR_IO_PENDING); err != nil {
		return nil, err
	}
	if d.cost, err = client.HandleTransitions(d.socket); err != nil {
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
	fmt.Fprintln(w, "What the trace shows")
	fmt.Fprintln(w, "\nThe client's I/O calls, and what the layer saw of them:")
	var op string // the client's current I/O call
	for _, e := range d.events() {
		switch {
		case e.Kind == trace.ClientCall && (e.Func == "WSASend" || e.Func == "WSARecv" || e.Func == "ReadFile" || e.Func == "WriteFile"):
			op = e.Func
		case e.Kind == trace.WSPCall && e.Layer == d.layer && op != "":
			fmt.Fprintf(w, "  %-9s its %s\n", op, e.Func)
			op = ""
		case e.Kind == trace.ClientReturn && e.Func == op:
			fmt.Fprintf(w, "  %-9s nothing\n", op)
			op = ""
		}
	}
	fmt.Fprintf(w, "Its counters say %d WSPSend and %d WSPRecv: ReadFile and WriteFile never reach it.\n",
		d.counts.sends.Load(), d.counts.recvs.Load())

	var transitions, forwards uint64
	packets := map[string]int{}
	for _, e := range d.events() {
		switch {
		case e.Kind == trace.Transition && e.Handle == d.socket:
			transitions += e.UserToKernel + e.KernelToUser
		case e.Kind == trace.Upcall && e.Func == "WPUCompleteOverlappedRequest":
			forwards++
		case e.Kind == trace.Completion && e.Delivery&trace.DeliveredPort != 0:
			packets[fmt.Sprintf("on %v to port %v with key %d", e.Handle, e.Port, e.Key)]++
		}
	}
	fmt.Fprintf(w, `
It is cheap: the socket cost %d transitions in all (Process.HandleTransitions
says %d), 2 for each ReadFile and WriteFile and nothing more: no trip up to a
layer, and no completion to forward (WPUCompleteOverlappedRequest calls: %d).
The kernel completed every operation itself:`, transitions, d.cost.Total(), forwards)
	for _, how := range slices.Sorted(maps.Keys(packets)) {
		fmt.Fprintf(w, " %d %s", packets[how], how)
	}
	fmt.Fprintln(w, ".")
	return nil
}
