// Command libuv-policies runs two of libuv's Windows policies on machines
// with and without layered service providers (LSPs) of package wild:
//
//   - IFS detection: at start-up libuv makes a dummy TCP socket of each
//     family and reads its provider's XP1_IFS_HANDLES through
//     getsockopt(SO_PROTOCOL_INFOW); on a family whose socket is not an
//     IFS handle it leaves FILE_SKIP_COMPLETION_PORT_ON_SUCCESS off;
//   - completion-port emulation: a socket libuv cannot associate with its
//     loop's port, because another port already has it (an imported
//     socket), gets an event per request in an OVERLAPPED whose hEvent has
//     its low bit set, which keeps the completion off every port, and a
//     wait registered on the event that posts the packet to the loop's port
//     itself.
//
// The second table also shows what the low bit is for: without it the
// completion goes to the port the socket already had, a packet its owner
// never asked for. And it shows the naive layer, whose completions never
// reach a port the client associated, losing the loop's packet while the
// emulation, which rides on the event, still gets it.
//
//	go run ./examples/libuv-policies
//
// With -matrix it runs the same policies instead as scenarios of package
// clienttest over its whole matrix (every provider of package wild alone
// and in stacks, inline and with the seeded scheduler of seed 1), and
// prints one table, a row per layout and a column per scenario:
//
//   - "detect + fast path": a libuv loop as it starts (uv_winsock_init's
//     detection), a TCP stream of each family given skip-on-success when
//     its family's dummy socket was IFS, and a UDP socket given it when
//     its own chain has a length of 1 (uv__udp_set_socket);
//   - "IOCP emulation": the same loop with imported TCP sockets, which
//     another port already has, driven by an event per request and a
//     registered wait that posts the packet; libuv has no emulation for
//     UDP, so the UDP socket only checks that the loop's association
//     fails, as uv_udp_open does;
//   - "TCP check for UDP": the first loop with libuv#1672's mistake, the
//     TCP/IPv4 detection trusted for UDP, which a layer over UDP alone
//     escapes.
//
// Each socket receives data already queued, receives while pending,
// sends, and is closed with a receive outstanding, whose aborted packet
// libuv waits for before its close callback; under the bypass, a receive
// of queued data and a send are repeated until one finishes at once (up
// to eight times), since a layer may report pending what finished at once
// and a loop that does enough requests meets both. A cell names the socket,
// the requests and what went wrong: lost (no packet within a bound),
// doubled (a packet for a request the loop already processed), wrong
// bytes, or a call's error code; a legend follows. Outside a synctest
// bubble a seed decides the scheduler's choices but not when its work
// runs, so a seeded cell may differ from run to run; the test runs the
// matrix in a bubble, where each seed replays.
//
//	go run ./examples/libuv-policies -matrix
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
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

func main() {
	matrix := flag.Bool("matrix", false, "run libuv's policies as scenarios through package clienttest's matrix and print one table")
	flag.Parse()
	run := run
	if *matrix {
		run = runMatrix
	}
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "libuv-policies:", err)
		os.Exit(1)
	}
}

// machine is a machine to run on: a layer of package wild over TCP, or
// none, and over which entries.
type machine struct {
	layer string
	over  []spi.CatalogEntryId
}

func (mc machine) String() string {
	if mc.layer == "" {
		return "no LSP"
	}
	if len(mc.over) == 1 {
		return mc.layer + " over TCP/IPv4"
	}
	return mc.layer + " over TCP"
}

func (mc machine) make() (*wsspi.Machine, error) {
	m := wsspi.NewMachine()
	if mc.layer == "" {
		return m, nil
	}
	l, ok := wild.Lookup(mc.layer)
	if !ok {
		return nil, fmt.Errorf("package wild has no layer %q", mc.layer)
	}
	_, err := l.Install(m, mc.over...)
	return m, err
}

var (
	tcp4 = []spi.CatalogEntryId{catalog.DefaultTCPIPv4}
	tcp  = []spi.CatalogEntryId{catalog.DefaultTCPIPv4, catalog.DefaultTCPIPv6}
)

var machines = []machine{
	{"", nil},
	{"Kit", tcp4},
	{"IFSPassThrough", tcp},
	{"Naive", tcp4},
}

func run(w io.Writer) error {
	fmt.Fprintln(w, "== IFS detection: a dummy TCP socket per family, getsockopt(SO_PROTOCOL_INFOW)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "machine\tIPv4\tIPv6")
	for _, mc := range machines {
		m, err := mc.make()
		if err != nil {
			return err
		}
		p := m.NewProcess()
		d, err := detect(p.NewThread())
		p.Close()
		if err != nil {
			return fmt.Errorf("%v: %w", mc, err)
		}
		fmt.Fprintf(tw, "%v\t%s\t%s\n", mc, skipWord(d.ipv4), skipWord(d.ipv6))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w, "\n== one overlapped receive: on a socket the loop owns, and on one another port has")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "machine\towned socket\timported, emulated\timported, no low bit")
	for _, mc := range machines {
		fmt.Fprintf(tw, "%v", mc)
		for _, c := range []struct{ imported, lowBit bool }{{false, true}, {true, true}, {true, false}} {
			m, err := mc.make()
			if err != nil {
				return err
			}
			r, err := receive(m, c.imported, c.lowBit)
			if err != nil {
				return fmt.Errorf("%v: %w", mc, err)
			}
			fmt.Fprintf(tw, "\t%s", r)
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprint(w, `
packet: the receive's packet reached the loop's port (for an imported socket, posted by the registered wait)
LOST: no packet reached the loop's port
+ STRAY: the port the socket already had got a packet too
`)
	return nil
}

// runMatrix is -matrix: every scenario over the kit's matrix with one
// seed, outside a bubble.
func runMatrix(w io.Writer) error {
	results, err := checkAll(false, clienttest.Seeds(1))
	if err != nil {
		return err
	}
	return printMatrix(w, results)
}

func skipWord(non bool) string {
	if non {
		return "non-IFS: no skip-on-success"
	}
	return "IFS: skip-on-success"
}

func (r receipt) String() string {
	s := "LOST"
	if r.loopPacket {
		s = "packet"
	}
	var errno spi.Errno
	if r.assocErr != nil && errors.As(r.assocErr, &errno) && errno != spi.ERROR_INVALID_PARAMETER {
		s = "association: " + errno.Name() + ", " + s
	}
	if r.otherPort {
		s += " + STRAY"
	}
	return s
}
