// Command skip-on-success shows the hazard of KB 2568167, and the check
// libuv and Go make to avoid it. FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
// promises a client that an overlapped call which succeeds at once posts
// no packet to its completion port, so the client handles the result
// inline. On a socket of a non-IFS layered service provider (LSP) that
// promise breaks: the immediate success comes from the layer, and the
// packet from the layer's WPUCompleteOverlappedRequest, which the mode
// cannot keep off the port. So, before they set the mode, Go and libuv
// check that every IPPROTO_TCP entry WSAEnumProtocols lists has
// XP1_IFS_HANDLES.
//
// The program runs the same client on two machines, one without an LSP and
// one with a non-IFS LSP (the kit of package layered) over TCP/IPv4: the
// check, then the mode set all the same, one WSASend, and a wait on the
// port. It prints each machine's trace and what it shows.
//
//	go run ./examples/skip-on-success            # the text timelines and the story
//	go run ./examples/skip-on-success -mermaid   # Markdown: one Mermaid diagram per machine
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
	return demokit.CLI("skip-on-success", "print the traces as Markdown, a Mermaid sequence diagram for each machine, instead of the text timelines", args, stdout, stderr,
		func(w io.Writer, mermaid bool) error {
			runs, err := run()
			if err != nil {
				return err
			}
			for _, r := range runs {
				if mermaid {
					fmt.Fprintf(w, "### %s\n\n```mermaid\n", r.name)
					err = trace.Mermaid(w, r.events)
					fmt.Fprint(w, "```\n\n")
				} else {
					err = r.print(w)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
}

// The client's completion key, how long it waits for a packet, and the
// server.
const (
	clientKey = 42
	wait      = 50 * time.Millisecond
)

var addr = netip.MustParseAddrPort("127.0.0.1:80")

// machineRun is the client's run on one machine.
type machineRun struct {
	name  string
	layer trace.Layer // the LSP's lifeline; zero on the machine without one
	// tcp is what WSAEnumProtocols listed for IPPROTO_TCP; ifs says
	// whether every entry has XP1_IFS_HANDLES, the check of Go and libuv.
	tcp []spi.WSAProtocolInfo
	ifs bool
	// The client's socket and its port, and the client process's events
	// from the setting of the mode on.
	socket, port spi.Handle
	events       []trace.Event
}

func run() ([]*machineRun, error) {
	plain, err := try("A machine without an LSP", false)
	if err != nil {
		return nil, err
	}
	lsp, err := try("A machine with a non-IFS LSP over TCP/IPv4", true)
	if err != nil {
		return nil, err
	}
	return []*machineRun{plain, lsp}, nil
}

// try runs the client on a new machine, with the kit installed as a
// non-IFS LSP over TCP/IPv4 if withLSP.
func try(name string, withLSP bool) (*machineRun, error) {
	rec := new(trace.Recorder)
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
	r := &machineRun{name: name}
	if withLSP {
		_, ids, err := layered.Install(m, layered.Options{
			Name: "Kit LSP",
			GUID: spi.MustParseGUID("{5C1B0000-0000-4000-8000-000000005C1B}"),
			Path: `C:\lsp\kit.dll`,
			Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
		})
		if err != nil {
			return nil, err
		}
		r.layer = trace.Layer{Kind: trace.LayerProvider, ID: ids.Layered, Name: "Kit LSP"}
	}

	// The server makes its sockets on the base entry; the client's go
	// through the first TCP entry of the catalog.
	peers := demokit.NewPeers(m)
	defer peers.Close()
	client, th := peers.Client, peers.ClientThread
	pair, err := peers.Pair(addr, clientKey)
	if err != nil {
		return nil, err
	}
	r.socket, r.port = pair.Client, pair.Port
	if withLSP {
		// Let the layer's worker reach its wait, which it starts at a
		// moment only the Go scheduler decides, before the trace starts.
		if err := demokit.AwaitWorker(rec, 0); err != nil {
			return nil, err
		}
	}
	mark := rec.Len()

	// The check Go makes (checkSetFileCompletionNotificationModes).
	if r.tcp, err = client.WSAEnumProtocols([]int32{spi.IPPROTO_TCP}); err != nil {
		return nil, err
	}
	r.ifs = true
	for _, p := range r.tcp {
		r.ifs = r.ifs && p.IFS()
	}
	// The mode, set whatever the check says, and one overlapped send.
	if err := client.SetFileCompletionNotificationModes(r.socket, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS); err != nil {
		return nil, err
	}
	var ov spi.Overlapped
	if _, err := th.WSASend(r.socket, [][]byte{[]byte("hello")}, 0, &ov, nil); err != nil {
		return nil, fmt.Errorf("WSASend: %w; want an immediate success", err)
	}
	e, err := th.GetQueuedCompletionStatus(r.port, wait)
	switch {
	case errors.Is(err, spi.WAIT_TIMEOUT):
	case err != nil:
		return nil, err
	case e.Overlapped != &ov:
		return nil, fmt.Errorf("the port gave %+v, not the send's packet", e)
	}
	r.events = demokit.ProcessEvents(rec.Events()[mark:], client.ID())
	return r, nil
}

// print writes the run's check, its timeline and what it shows, read from
// the trace.
func (r *machineRun) print(w io.Writer) error {
	fmt.Fprintf(w, "%s\n\nWSAEnumProtocols(IPPROTO_TCP) lists:\n", r.name)
	for _, p := range r.tcp {
		flag := "XP1_IFS_HANDLES"
		if !p.IFS() {
			flag = "no XP1_IFS_HANDLES: a non-IFS entry"
		}
		fmt.Fprintf(w, "  %d  %-45s %s\n", p.CatalogEntryId, p.ProtocolName, flag)
	}
	if r.ifs {
		fmt.Fprintln(w, "Every entry has XP1_IFS_HANDLES, so Go and libuv set FILE_SKIP_COMPLETION_PORT_ON_SUCCESS.")
	} else {
		fmt.Fprintln(w, "Not every entry has XP1_IFS_HANDLES, so Go and libuv leave FILE_SKIP_COMPLETION_PORT_ON_SUCCESS")
		fmt.Fprintln(w, "off. This client sets it all the same, as one without the check would.")
	}
	fmt.Fprintln(w)
	if err := trace.Text(w, r.events); err != nil {
		return err
	}

	var sent, waited spi.Errno = 1, 1
	var key uintptr
	var skipped, posted spi.Handle
	for _, e := range r.events {
		switch {
		case e.Kind == trace.ClientReturn && e.Func == "WSASend":
			sent = e.Err
		case e.Kind == trace.ClientReturn && e.Func == "GetQueuedCompletionStatus":
			waited, key = e.Err, e.Key
		case e.Kind == trace.Completion && e.Delivery&trace.SkippedOnSuccess != 0:
			skipped = e.Handle
		case e.Kind == trace.Completion && e.Delivery&trace.DeliveredPort != 0:
			posted = e.Handle
		}
	}
	fmt.Fprintln(w)
	switch {
	case sent != 0:
		return fmt.Errorf("the send did not succeed at once: %v", sent)
	case waited == spi.WAIT_TIMEOUT:
		fmt.Fprintf(w, "WSASend succeeded at once, and the mode kept its completion on %v off the port:\n", skipped)
		fmt.Fprintf(w, "no packet came (WAIT_TIMEOUT). The client handles the result inline, once.\n\n")
	default:
		fmt.Fprintf(w, "WSASend succeeded at once, yet a packet came for it, key %d. The layer's socket\n", key)
		fmt.Fprintf(w, "below, %v, on which the kit sets the mode itself, posted nothing to the layer's\n", skipped)
		fmt.Fprintf(w, "private port; but the layer completed the client's send on %v with\n", posted)
		fmt.Fprintf(w, "WPUCompleteOverlappedRequest, which posts to the client's port whatever modes the\n")
		fmt.Fprintf(w, "handle has. A client that trusted the mode handles the send twice, or, reusing\n")
		fmt.Fprintf(w, "the OVERLAPPED, takes the packet for a later operation's.\n\n")
	}
	return nil
}
