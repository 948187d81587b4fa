// Command base-socket-lookup runs the first step of every poller built on
// AFD (wepoll, mio and tokio, libuv's uv_poll, zeromq): finding the base
// provider's socket under the client's socket, the one IOCTL_AFD_POLL
// understands, then polling it. Three lookups meet the layered service
// providers (LSPs) of package wild that broke them:
//
//   - SIO_BASE_HANDLE only, as mio 0.7.0 and trio did: fails under a layer
//     that refuses it (Qustodio in tokio-rs/mio#1314, the Astrill VPN in
//     python-trio/trio#1659);
//   - mio's fallbacks (tokio-rs/mio#1316): SIO_BSP_HANDLE_SELECT,
//     SIO_BSP_HANDLE_POLL and SIO_BSP_HANDLE after a failed
//     SIO_BASE_HANDLE;
//   - wepoll's loop: SIO_BSP_HANDLE_POLL after a failed SIO_BASE_HANDLE,
//     then SIO_BASE_HANDLE again on its answer.
//
// A layer that answers SIO_BASE_HANDLE with its own handle (package wild's
// OwnBaseHandle) defeats every lookup: the answer is no failure, so no
// fallback runs, and AFD poll fails on a handle that is not an AFD socket.
// OwnBaseHandle is wild's model of the Komodia-based LSPs, which intercept
// the code to stop their users bypassing them; wepoll's comment, the only
// source on them, puts them on its error path instead, where its loop, and
// mio's fallbacks, survive them as they survive FailBaseHandle.
//
// By default it prints a table of six hand-picked machines, over
// TCP/IPv4. With -matrix it runs each lookup, as a scenario of package
// clienttest, over the kit's whole matrix (every layout of package wild's
// providers, alone and stacked, with no scheduler and with one seed), on a
// TCP/IPv4 and a TCP/IPv6 socket each time, and prints one table: a row
// per layout, a column per lookup, a cell "pass" or the code of the step
// that failed, a "*" where the seeded run ended otherwise; then how many
// configurations break each lookup, and which layers do. The table is
// the one the README's section for library authors quotes; the
// package's test checks it, and CLIENTTEST_SEEDS=N widens the run.
//
// Under Naive, the layer that loses its client's completions, every
// lookup passes: the lookups are blocking WSAIoctl calls, which it
// forwards, and the poll goes to the base provider on an AFD helper
// handle of the client's own, whose packet no layer handles. An AFD
// poller goes around the layers by design, which is why a layer that
// wants to stay in the path lies about the base socket.
//
//	go run ./examples/base-socket-lookup
//	go run ./examples/base-socket-lookup -matrix
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

func main() {
	// A flag set of its own: package spitest, under clienttest, imports
	// rapid, whose flags would otherwise crowd -h.
	fs := flag.NewFlagSet("base-socket-lookup", flag.ExitOnError)
	matrix := fs.Bool("matrix", false, "run every lookup over package clienttest's matrix of machines and print one table")
	_ = fs.Parse(os.Args[1:])
	run := run
	if *matrix {
		run = func(w io.Writer) error { return runMatrix(w) }
	}
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "base-socket-lookup:", err)
		os.Exit(1)
	}
}

// machines names the layers each machine has over TCP/IPv4, the lowest
// first; none for a machine with no LSP.
var machines = [][]string{
	nil,
	{"Kit"},
	{"FailBaseHandle"},
	{"Kit", "FailBaseHandle"},
	{"IFSPassThrough", "FailBaseHandle"},
	{"OwnBaseHandle"},
}

func run(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "layers over TCP/IPv4")
	for _, lk := range lookups {
		fmt.Fprintf(tw, "\t%s", lk.name)
	}
	fmt.Fprintln(tw)
	for _, layers := range machines {
		name := "none"
		if len(layers) > 0 {
			name = ""
			for i := len(layers) - 1; i >= 0; i-- {
				name += layers[i]
				if i > 0 {
					name += " over "
				}
			}
		}
		fmt.Fprint(tw, name)
		for _, lk := range lookups {
			m, err := machine(layers)
			if err != nil {
				return err
			}
			result := "readable"
			var f *failure
			if err := readable(m, lk, spi.AF_INET); errors.As(err, &f) {
				result = f.short()
			} else if err != nil {
				return err
			}
			fmt.Fprintf(tw, "\t%s", result)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// machine makes a machine with layers installed over TCP/IPv4, each over
// the one before.
func machine(layers []string) (*wsspi.Machine, error) {
	m := wsspi.NewMachine()
	over := catalog.DefaultTCPIPv4
	for _, name := range layers {
		l, ok := wild.Lookup(name)
		if !ok {
			return nil, fmt.Errorf("package wild has no layer %q", name)
		}
		ids, err := l.Install(m, over)
		if err != nil {
			return nil, err
		}
		over = ids.Chains[0]
	}
	return m, nil
}
