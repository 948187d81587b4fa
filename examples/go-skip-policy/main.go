// Command go-skip-policy compares three ways a client can decide to set
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS on its sockets, the shortcut that
// lets an overlapped call which succeeds at once skip its port packet:
//
//   - always, with no check: wrong on a socket of a non-IFS layered
//     service provider (LSP), whose WPUCompleteOverlappedRequest posts the
//     packet whatever the handle's modes (KB 2568167);
//   - process-wide, as Go's poller decides today: set on every socket if
//     every IPPROTO_TCP entry WSAEnumProtocols lists has XP1_IFS_HANDLES,
//     else on none;
//   - per socket, as golang/go#77448 proposes: ask the socket's own
//     provider with getsockopt(SO_PROTOCOL_INFOW), and set
//     FILE_SKIP_SET_EVENT_ON_HANDLE on every socket, which is always safe.
//
// Each policy runs on a machine with no LSP and on one with a non-IFS LSP
// (package wild's Kit) over TCP/IPv4 only: one socket per family, one
// overlapped send that succeeds at once, handled as the mode promises. The
// table shows that the per-socket policy keeps the shortcut on IPv6 and
// stays correct on IPv4, that the process-wide one gives the shortcut up on
// both, and that setting it always gets a packet for a send already
// handled.
//
// With -matrix each policy's client runs instead through package
// clienttest's matrix (one seed per layout): every provider of package
// wild alone and in stacks, over each protocol set, inline and under a
// seeded scheduler that pends some sends. The client sends until a send
// succeeds at once, since a pending send gets its packet under any mode.
// The table has a row per layout and a column per policy, each cell
// "pass" or what went wrong and on which family ("stray packet (tcp4)"),
// prefixed with the scheduler setting when the settings disagree; a line
// per reason follows. Setting the mode always breaks under every non-IFS
// layer that reports immediate successes (the kit and the layers built on
// it); both checks pass wherever the layers deliver completions at all.
// Only TCP sockets are made, as Go sets the mode on TCP sockets only, so
// the UDP layouts pass.
//
//	go run ./examples/go-skip-policy
//	go run ./examples/go-skip-policy -matrix
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/wild"
)

func main() {
	os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr))
}

// cli runs the program with its arguments and returns its exit status: 2
// for bad arguments, after the usage.
func cli(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("go-skip-policy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	matrix := fs.Bool("matrix", false, "run each policy through package clienttest's matrix and print where it breaks")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		if err == nil {
			fs.Usage()
		}
		return 2
	}
	var err error
	if *matrix {
		err = runMatrix(stdout, parallel)
	} else {
		err = run(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "go-skip-policy:", err)
		return 1
	}
	return 0
}

// machines are the machines each policy runs on.
var machines = []struct {
	name  string
	setup func(m *wsspi.Machine) error
}{
	{"no LSP", func(*wsspi.Machine) error { return nil }},
	{"non-IFS LSP over TCP/IPv4", func(m *wsspi.Machine) error {
		kit, _ := wild.Lookup("Kit")
		_, err := kit.Install(m, catalog.DefaultTCPIPv4)
		return err
	}},
}

func run(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "machine\tpolicy\tTCP/IPv4\tTCP/IPv6")
	for _, mc := range machines {
		for _, pol := range policies {
			m := wsspi.NewMachine()
			if err := mc.setup(m); err != nil {
				return err
			}
			outs, err := exchange(m, pol, demoWaits)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", mc.name, pol.name, err)
			}
			fmt.Fprintf(tw, "%s\t%s", mc.name, pol.name)
			for _, o := range outs {
				fmt.Fprintf(tw, "\t%s", o)
			}
			fmt.Fprintln(tw)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprint(w, `
shortcut: FILE_SKIP_COMPLETION_PORT_ON_SUCCESS set; the send's result handled inline
no shortcut: the mode left off; the send's result taken from its packet
STRAY PACKET: the layer posted a packet for a send the client had already handled
`)
	return nil
}

func (o outcome) String() string {
	switch {
	case o.err == errStrayPacket:
		return "shortcut, STRAY PACKET"
	case o.err != nil:
		return "error: " + o.err.Error()
	case o.shortcut:
		return "shortcut"
	}
	return "no shortcut"
}
