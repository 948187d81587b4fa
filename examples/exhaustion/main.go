// Command exhaustion fills a process's handle table and shows the layered
// service provider (LSP) of the kit in package layered cleaning up after
// the failure. Each socket through a non-IFS LSP takes two handles: the
// base provider's socket below and the layer's own, from
// WPUCreateSocketHandle. When the table is full, WPUCreateSocketHandle
// fails with WSAENOBUFS, its only documented error, after the socket below
// was made; a correct layer closes that socket before it fails the call,
// or the process leaks a handle on every failure. The program prints the
// table (Process.Handles().Snapshot()) before and after, and the trace of
// the failing call.
//
//	go run ./examples/exhaustion            # the text timelines and the story
//	go run ./examples/exhaustion -mermaid   # the failing call as a Mermaid sequence diagram
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"text/tabwriter"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/examples/internal/demokit"
	"github.com/wsspi/wsspi/handles"
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
	return demokit.CLI("exhaustion", "print the failing call's trace as a Mermaid sequence diagram instead of the story", args, stdout, stderr,
		demokit.Show(run, (*demo).failedCall, (*demo).print))
}

// capacity is the size of each process's handle table: the client's
// thread, the layer's private port and worker thread, and two sockets
// through the layer (two handles each) leave one handle free.
const capacity = 8

// demo is what a run leaves.
type demo struct {
	layer trace.Layer // the kit's lifeline
	// The table when full, after the failure, after a close and a new
	// socket, and after the client closed everything and called
	// WSACleanup.
	full, afterFailure, reopened, empty handles.Snapshot
	// The error of the third socket(), its trace, and the trace of the
	// close and the socket() that follow.
	err              error
	failed, recovery []trace.Event
}

// failedCall returns the trace of the failing socket(), the one the
// Mermaid diagram draws.
func (d *demo) failedCall() []trace.Event { return d.failed }

func run() (*demo, error) {
	rec := new(trace.Recorder)
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec, Handles: handles.Options{Capacity: capacity}})
	_, ids, err := layered.Install(m, layered.Options{
		Name: "Kit LSP",
		GUID: spi.MustParseGUID("{E8A05000-0000-4000-8000-00000000E8A0}"),
		Path: `C:\lsp\kit.dll`,
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
	})
	if err != nil {
		return nil, err
	}
	d := &demo{layer: trace.Layer{Kind: trace.LayerProvider, ID: ids.Layered, Name: "Kit LSP"}}
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	socket := func() (spi.Socket, error) { return demokit.TCPSocket(th, nil) }
	// events returns the process's events since mark, numbered from 1.
	events := func(mark int) []trace.Event { return demokit.ProcessEvents(rec.Events()[mark:], p.ID()) }

	var open []spi.Socket
	for range 2 {
		s, err := socket()
		if err != nil {
			return nil, err
		}
		open = append(open, s)
	}
	// Let the layer's worker reach its wait on its private port, which it
	// starts at a moment only the Go scheduler decides, before the trace
	// of the third socket starts.
	if err := demokit.AwaitWorker(rec, 0); err != nil {
		return nil, err
	}
	d.full = p.Handles().Snapshot()

	mark := rec.Len()
	if _, d.err = socket(); !errors.Is(d.err, spi.WSAENOBUFS) {
		return nil, fmt.Errorf("a socket in a full table: %v, want WSAENOBUFS", d.err)
	}
	d.failed = events(mark)
	d.afterFailure = p.Handles().Snapshot()

	mark = rec.Len()
	if err := th.Closesocket(open[0]); err != nil {
		return nil, err
	}
	s, err := socket()
	if err != nil {
		return nil, err
	}
	open[0] = s
	d.recovery = events(mark)
	d.reopened = p.Handles().Snapshot()

	for _, s := range open {
		if err := th.Closesocket(s); err != nil {
			return nil, err
		}
	}
	if err := p.WSACleanup(); err != nil {
		return nil, err
	}
	d.empty = p.Handles().Snapshot()
	return d, nil
}

// print tells the story: the tables, and the traces read.
func (d *demo) print(w io.Writer) error {
	fmt.Fprintf(w, `A process's handle table holds %d handles here (MachineOptions.Handles.Capacity).
The kit is installed as a non-IFS LSP over TCP/IPv4, and the client has made two
sockets through it:

`, capacity)
	table(w, d.full)
	fmt.Fprintf(w, `
1. A third socket(): the base provider's socket takes the last free handle, the
layer's WPUCreateSocketHandle fails, and the layer closes the socket below
before it fails the call with the same error:
%v.

`, d.err)
	if err := trace.Text(w, d.failed); err != nil {
		return err
	}
	var created, closed []spi.Handle
	for _, e := range d.failed {
		switch e.Kind {
		case trace.HandleCreated:
			created = append(created, e.Handle)
		case trace.HandleClosed:
			closed = append(closed, e.Handle)
		}
	}
	same := "the same as before: nothing leaked."
	if !sameTable(d.full, d.afterFailure) {
		same = "not the same as before: a leak."
	}
	fmt.Fprintf(w, "\nThe call created handle %v and closed %v; the table is %s\n", created, closed, same)

	fmt.Fprintf(w, "\n2. closesocket() frees two handles, and the next socket() succeeds.\n\n")
	if err := trace.Text(w, d.recovery); err != nil {
		return err
	}
	fmt.Fprintln(w)
	table(w, d.reopened)

	fmt.Fprintf(w, "\n3. The client closes both sockets and calls WSACleanup: the layer's last\n")
	fmt.Fprintf(w, "WSPCleanup stops its worker and closes its port. What is left:\n\n")
	table(w, d.empty)
	return nil
}

// table prints a snapshot of a handle table.
func table(w io.Writer, s handles.Snapshot) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  handle\tobject\towner")
	for _, e := range s.Live {
		owner := "-"
		if e.Owner != 0 {
			owner = fmt.Sprint(e.Owner)
		}
		fmt.Fprintf(tw, "  %v\t%v\t%s\n", e.Handle, e.Kind, owner)
	}
	tw.Flush()
	fmt.Fprintf(w, "  %d of %d handles live", len(s.Live), s.Capacity)
	if len(s.Closing) > 0 {
		fmt.Fprintf(w, ", %d closing", len(s.Closing))
	}
	fmt.Fprintln(w)
}

// sameTable reports whether two snapshots hold the same handles, objects
// and contexts.
func sameTable(a, b handles.Snapshot) bool {
	return a.Capacity == b.Capacity && slices.Equal(a.Live, b.Live) && slices.Equal(a.Closing, b.Closing)
}
