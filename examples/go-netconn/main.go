// Command go-netconn runs unmodified Go networking code, an HTTP server and
// client from net/http, over a simulated Windows machine on which a non-IFS
// layered service provider (the kit of package layered) sits on the TCP
// chains, through package winnet, which drives Winsock the way Go's runtime
// poller does. Then it shows where Go's policy breaks on such a machine: a
// read deadline calls CancelIoEx on the layer's handle, which cannot reach
// the receive the layer issued below it, so the read waits for a packet
// that only the receive's own end will send (nanomsg/nng#1598 met the same
// hang in C). Last, it shows what a client must do instead, as libuv does:
// cancel on the SIO_BASE_HANDLE socket too (winnet's CancelBaseHandle).
//
//	go run ./examples/go-netconn
//
// With -matrix it runs the same client through package clienttest's
// matrix, every layout of package wild's providers with no scheduler and
// with seed 1, and prints one table: a row per layout, a column per
// scenario, each cell "pass" or where the client broke, then for each
// distinct reason the first configuration that gave it and its error.
// The scenarios: a net/http GET over TCP/IPv4 and one over TCP/IPv6
// ("GET/tcp4", "GET/tcp6"); over both, a read whose deadline passes, then
// a Close under a pending read ("deadline"), with Go's poller; the same
// with the base-handle cancel ("cure"). The client's sockets take the
// catalog's choice, so they cross the layers; the server's are made on
// the base provider's entries (winnet's Options.Base), so that a failure
// is the client's. "hang in S" means that the kit's limit stopped step S.
// Outside a synctest bubble a hang costs its limit in real time, so the
// limit is 300ms, and the Checks run in parallel; the test of the table
// runs the matrix in a bubble, where hangs cost nothing.
//
//	go run ./examples/go-netconn -matrix
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/trace"
	"github.com/wsspi/wsspi/wild"
	"github.com/wsspi/wsspi/winnet"
)

func main() {
	matrix := flag.Bool("matrix", false, "run the scenarios through package clienttest's matrix and print a table")
	flag.Parse()
	do := run
	if *matrix {
		do = func(w io.Writer) error { return runMatrix(w, matrixParallel) }
	}
	if err := do(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "go-netconn:", err)
		os.Exit(1)
	}
}

// stuckFor is how long the program watches a read that its deadline
// should have ended. The read ends only when data comes, so any wait shows
// the same thing.
const stuckFor = 100 * time.Millisecond

func run(w io.Writer) error {
	rec := new(trace.Recorder)
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
	kit, _ := wild.Lookup("Kit")
	if _, err := kit.Install(m, catalog.DefaultTCPIPv4, catalog.DefaultTCPIPv6); err != nil {
		return err
	}
	fmt.Fprintln(w, "== a machine with the kit, a non-IFS layer, over TCP/IPv4 and TCP/IPv6")
	if err := serveHTTP(w, m); err != nil {
		return err
	}
	fmt.Fprintln(w, "== Go's poller: a read deadline over the layer")
	if err := readDeadline(w, m, rec, winnet.Options{}); err != nil {
		return err
	}
	fmt.Fprintln(w, "== what a client must do instead: cancel on the SIO_BASE_HANDLE socket too")
	return readDeadline(w, m, rec, winnet.Options{CancelBaseHandle: true})
}

// serveHTTP runs a net/http server and client in two processes and makes
// one request. The stacks cancel on the base handle too: without it the
// server could not stop, since closing the listener cancels its pending
// AcceptEx through the layer's handle and hangs like the read below.
func serveHTTP(w io.Writer, m *wsspi.Machine) error {
	server, client, done, err := stacks(m, winnet.Options{CancelBaseHandle: true})
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintf(w, "Go's start-up check (every TCP entry has XP1_IFS_HANDLES): %v, so no socket skips the port on success\n", client.ProcessWideSkip())
	l, err := server.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(rw, "hello from %s over the simulated stack", r.URL.Path)
	})}
	go srv.Serve(l)
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: client.DialContext, DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + l.Addr().String() + "/gopher")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "net/http GET /gopher: %s %q\n", resp.Status, body)
	return nil
}

// readDeadline reads with a deadline on a connection of a stack with
// opts, and tells what happens.
func readDeadline(w io.Writer, m *wsspi.Machine, rec *trace.Recorder, opts winnet.Options) error {
	server, client, done, err := stacks(m, opts)
	if err != nil {
		return err
	}
	defer done()
	l, err := server.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	c, err := client.DialConn(context.Background(), "tcp4", l.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	s, err := l.AcceptConn()
	if err != nil {
		return err
	}
	defer s.Close()

	mark := len(rec.Events())
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	result := make(chan string, 1)
	go func() {
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		if err != nil {
			result <- fmt.Sprintf("%d bytes, %v", n, err)
			return
		}
		result <- fmt.Sprintf("%d bytes %q, no error", n, buf[:n])
	}()
	select {
	case r := <-result:
		fmt.Fprintf(w, "read: %s\n", r)
	case <-time.After(10*time.Millisecond + stuckFor):
		fmt.Fprintln(w, "read: still waiting after its deadline")
		printCalls(w, rec, client.Process().ID(), mark)
		fmt.Fprintln(w, "  the poller waits for the receive's packet; only the receive's own end will send it")
		if _, err := s.Write([]byte("late!")); err != nil {
			return err
		}
		fmt.Fprintf(w, "the peer writes 5 bytes; read: %s (the deadline is lost)\n", <-result)
		return nil
	}
	printCalls(w, rec, client.Process().ID(), mark)
	fmt.Fprintln(w, "  (the WSAIoctl is SIO_BASE_HANDLE; CancelIo on the base socket, from the thread that issued the receive,")
	fmt.Fprintln(w, "  cancels the receive the layer issued there, and the layer completes the client's as aborted)")
	fmt.Fprintf(w, "stats: %+v\n", client.Stats())
	return nil
}

// printCalls prints the client calls of process pid since event mark, the
// poller's waits left out.
func printCalls(w io.Writer, rec *trace.Recorder, pid uint32, mark int) {
	var calls []string
	for _, e := range rec.Events()[mark:] {
		if e.PID == pid && e.Kind == trace.ClientReturn && e.Func != "GetQueuedCompletionStatusEx" {
			calls = append(calls, fmt.Sprintf("%s(%v) %s", e.Func, e.Handle, e.Err.Name()))
		}
	}
	fmt.Fprintf(w, "  the calls: %s\n", strings.Join(calls, ", "))
}

// stacks starts a server and a client process with a stack each, and
// returns the function that closes them.
func stacks(m *wsspi.Machine, opts winnet.Options) (server, client *winnet.Stack, done func(), err error) {
	var closers []func() error
	done = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	for _, st := range []**winnet.Stack{&server, &client} {
		p := m.NewProcess()
		closers = append(closers, p.Close)
		s, err := winnet.New(p, opts)
		if err != nil {
			done()
			return nil, nil, nil, err
		}
		closers = append(closers, s.Close)
		*st = s
	}
	return server, client, done, nil
}
