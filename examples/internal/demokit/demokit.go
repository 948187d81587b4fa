// Package demokit holds the mechanics that the example programs share, so
// that each example's main.go can keep to its story: the command line
// (-mermaid, the usage and exit status 2), the cutting of a traced run
// into narrated steps, the waits on a layer's worker, and the server and
// client processes that most examples talk between.
package demokit

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// CLI runs the example called name with its arguments and returns its exit
// status. The one flag, -mermaid, is described by mermaidUsage. Bad
// arguments print the usage on stderr and give 2; otherwise show writes
// the output on stdout, as a Mermaid diagram if mermaid, and an error from
// it is printed on stderr, after the name, and gives 1.
func CLI(name, mermaidUsage string, args []string, stdout, stderr io.Writer, show func(w io.Writer, mermaid bool) error) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mermaid := fs.Bool("mermaid", false, mermaidUsage)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if err := show(stdout, *mermaid); err != nil {
		fmt.Fprintln(stderr, name+":", err)
		return 1
	}
	return 0
}

// Show returns, for CLI, the output of an example whose run leaves a D:
// it runs, then writes the trace that events picks from D as a Mermaid
// diagram, or else the text timeline and story that print writes.
func Show[D any](run func() (D, error), events func(D) []trace.Event, print func(D, io.Writer) error) func(w io.Writer, mermaid bool) error {
	return func(w io.Writer, mermaid bool) error {
		d, err := run()
		if err != nil {
			return err
		}
		if mermaid {
			return trace.Mermaid(w, events(d))
		}
		return print(d, w)
	}
}

// Step is a part of an example's script: what it shows, and its events.
type Step struct {
	About  string
	Events []trace.Event
}

// Events returns the events of steps, one after the other: the whole
// trace.
func Events(steps []Step) []trace.Event {
	var all []trace.Event
	for _, s := range steps {
		all = append(all, s.Events...)
	}
	return all
}

// PrintSteps writes steps as a numbered text timeline: each step's About,
// then its events (trace.Text), then a blank line.
func PrintSteps(w io.Writer, steps []Step) error {
	for i, s := range steps {
		fmt.Fprintf(w, "%d. %s\n\n", i+1, s.About)
		if err := trace.Text(w, s.Events); err != nil {
			return err
		}
		fmt.Fprintln(w)
	}
	return nil
}

// Script cuts a run traced by Rec into steps. It keeps the events of the
// process PID, but for those Drop reports true of (if Drop is set), and
// numbers them from 1 across the steps. The first step starts at the first
// call of Step, or, if FromStart, at the start of the recording, so that
// it shows how the process came by the handles it starts with.
type Script struct {
	Rec       *trace.Recorder
	PID       uint32
	Drop      func(trace.Event) bool
	FromStart bool

	steps []Step
	mark  int    // where the current step starts in Rec
	about string // the current step's; "" for none
	seq   uint64 // the number of the last event kept
}

// Step ends the current step, if any, and starts one about about ("" for
// none: the last call, before Steps).
func (sc *Script) Step(about string) {
	events := sc.Rec.Events()
	if sc.about != "" {
		kept := trace.Filter(events[sc.mark:], func(e trace.Event) bool {
			return e.PID == sc.PID && (sc.Drop == nil || !sc.Drop(e))
		})
		for i := range kept {
			sc.seq++
			kept[i].Seq = sc.seq
		}
		sc.steps = append(sc.steps, Step{sc.about, kept})
	}
	if sc.FromStart && sc.about == "" && len(sc.steps) == 0 {
		sc.mark, sc.about = 0, about
		return
	}
	sc.mark, sc.about = len(events), about
}

// Steps returns the steps ended so far.
func (sc *Script) Steps() []Step { return sc.steps }

// ProcessEvents returns the events of the process pid, numbered from 1.
func ProcessEvents(events []trace.Event, pid uint32) []trace.Event {
	events = trace.Filter(events, func(e trace.Event) bool { return e.PID == pid })
	for i := range events {
		events[i].Seq = uint64(i + 1)
	}
	return events
}

// WorkerWaits reports whether e is a layer's worker calling
// GetQueuedCompletionStatus to wait on its private port, or that call
// returning. A worker waits from the layer's start-up on, at a moment only
// the Go scheduler decides, so a timeline that is to read the same on
// every run leaves these calls out, with their returns, or waits for them
// before it starts.
func WorkerWaits(e trace.Event) bool {
	return (e.Kind == trace.Upcall || e.Kind == trace.UpcallReturn) && workerWait(e)
}

// workerWait reports whether e is a layer's call of
// GetQueuedCompletionStatus or its return.
func workerWait(e trace.Event) bool {
	return e.Caller.Kind == trace.LayerProvider && e.Func == "GetQueuedCompletionStatus"
}

// AwaitWorker waits, 5 seconds at most, until the trace in rec holds more
// than n calls with which a layer's worker waits on its private port
// (WorkerWaits): with n = 0, until the worker has started to wait; with n
// completions to forward, until it has forwarded them and gone back to
// wait.
func AwaitWorker(rec *trace.Recorder, n int) error {
	waits := func(e trace.Event) bool { return e.Kind == trace.Upcall && workerWait(e) }
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if len(trace.Filter(rec.Events(), waits)) > n {
			return nil
		}
	}
	if n == 0 {
		return errors.New("the layer's worker never waited on its port")
	}
	return errors.New("the layer's worker did not forward the completion")
}

// TCPSocket makes an overlapped TCP/IPv4 socket on th, of the provider
// info, or of the first TCP entry of the catalog if info is nil.
func TCPSocket(th *wsspi.Thread, info *spi.WSAProtocolInfo) (spi.Socket, error) {
	return th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, info, 0, spi.WSA_FLAG_OVERLAPPED)
}

// Peers are a server and a client process of one machine, each with a
// thread. The server's sockets are of the base TCP/IPv4 provider, so that
// only the client's I/O crosses a layer installed over it.
type Peers struct {
	Server, Client             *wsspi.Process
	ServerThread, ClientThread *wsspi.Thread
	Base                       spi.WSAProtocolInfo // the base TCP/IPv4 entry
	Listener                   *wsspi.Listener     // the server's, after Listen
}

// NewPeers makes a server process and then a client process on m, each
// with a thread. Close the peers when done.
func NewPeers(m *wsspi.Machine) *Peers {
	base, _ := m.Catalog().View().Entry(catalog.DefaultTCPIPv4)
	server, client := m.NewProcess(), m.NewProcess()
	return &Peers{
		Server: server, Client: client,
		ServerThread: server.NewThread(), ClientThread: client.NewThread(),
		Base: base,
	}
}

// Pair connects a socket that the client makes through the first TCP
// entry of the catalog to a server socket that listens at addr, and
// associates the client's socket with a new completion port under key
// (wsspi.Thread.SocketPair). The server's end, in the server process, is
// on no port.
func (p *Peers) Pair(addr netip.AddrPort, key uintptr) (*wsspi.Pair, error) {
	return p.ClientThread.SocketPair(wsspi.PairOptions{
		Server: p.ServerThread, ServerEntry: catalog.DefaultTCPIPv4, Addr: addr,
		CompletionPort: true, ClientKey: key,
	})
}

// Listen has the server listen at addr with the backlog, for Connect.
func (p *Peers) Listen(addr netip.AddrPort, backlog int32) (err error) {
	p.Listener, err = p.ServerThread.ListenTCP(addr, wsspi.ListenOptions{Entry: catalog.DefaultTCPIPv4, Backlog: backlog})
	return err
}

// Connect connects the client's socket s to the server's listener, and
// returns the server's end, which it accepts.
func (p *Peers) Connect(s spi.Socket) (spi.Socket, error) {
	if err := p.ClientThread.Connect(s, p.Listener.Addr); err != nil {
		return spi.INVALID_SOCKET, err
	}
	peer, _, err := p.Listener.Accept()
	return peer, err
}

// Close closes the client process, then the server process.
func (p *Peers) Close() {
	p.Client.Close()
	p.Server.Close()
}
