package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/clienttest"
	"github.com/wsspi/wsspi/winnet"
)

// A scenario is a named clienttest.Scenario: a column of the matrix.
type scenario struct {
	name string
	run  clienttest.Scenario
}

// scenarios are the columns of -matrix: Go's poller (winnet's zero
// Options) meeting each layout, and last the cure beside it.
var scenarios = []scenario{
	{"GET/tcp4", httpGET("tcp4")},
	{"GET/tcp6", httpGET("tcp6")},
	{"deadline", deadlineAndClose(winnet.Options{})},
	{"cure", deadlineAndClose(winnet.Options{CancelBaseHandle: true})},
}

// stepError names the step of a scenario that failed, so that a cell of
// the matrix can say where the client broke and not only how.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func failed(step string, err error) error { return &stepError{step, err} }

// loopbackOf returns the loopback address to listen on for network.
func loopbackOf(network string) string {
	if network == "tcp6" {
		return "[::1]:0"
	}
	return "127.0.0.1:0"
}

// peers starts a server and a client process with a stack each. The
// server's sockets are made on the base provider's entries, so that only
// the client crosses the layers and a failure is the client's alone.
// Nothing is closed on failure: the kit shuts the machine down.
func peers(m *wsspi.Machine, client winnet.Options) (*winnet.Stack, *winnet.Stack, error) {
	srv, err := winnet.New(m.NewProcess(), winnet.Options{Base: true})
	if err != nil {
		return nil, nil, failed("server stack", err)
	}
	cl, err := winnet.New(m.NewProcess(), client)
	if err != nil {
		return nil, nil, failed("stack", err)
	}
	return srv, cl, nil
}

// httpGET is one net/http GET over network from a client with Go's
// poller to a net/http server, both in the simulated machine.
func httpGET(network string) clienttest.Scenario {
	return func(m *wsspi.Machine) error {
		server, client, err := peers(m, winnet.Options{})
		if err != nil {
			return err
		}
		l, err := server.Listen(network, loopbackOf(network))
		if err != nil {
			return failed("server listen", err)
		}
		const want = "hello over the simulated stack"
		srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			io.WriteString(rw, want)
		})}
		go srv.Serve(l)
		// The server's sockets are the base provider's, so closing them
		// cancels what they have pending, and its goroutines end. The
		// listener closes first, outside the server's lock: Server.Close
		// closes listeners holding it, and closing one waits for the
		// pending AcceptEx's packet, which in a bubble under the seeded
		// scheduler arrives only once no goroutine is stuck on that lock
		// (see "Hangs" in package clienttest).
		defer func() {
			_ = l.Close()
			_ = srv.Close()
		}()
		hc := &http.Client{Transport: &http.Transport{DialContext: client.DialContext, DisableKeepAlives: true}}
		resp, err := hc.Get("http://" + l.Addr().String() + "/")
		if err != nil {
			return failed("GET", err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return failed("body", err)
		}
		if resp.StatusCode != http.StatusOK || string(body) != want {
			return failed("GET", fmt.Errorf("%s %q, want 200 OK %q", resp.Status, body, want))
		}
		return nil
	}
}

// deadlineAfter is how far away the read deadline of deadlineAndClose. The kit's limit
// bounds a read that misses it.
const deadlineAfter = 10 * time.Millisecond

// deadlineAndClose is what Go's poller does to end a read: over TCP/IPv4,
// then TCP/IPv6, a client with opts reads with a deadline that passes
// before any data comes (the read must end with os.ErrDeadlineExceeded),
// then reads with none and closes the connection under it (the read must
// end with net.ErrClosed, and Close return). Both ends are a CancelIoEx
// on the client's handle, then a wait for the receive's packet.
func deadlineAndClose(opts winnet.Options) clienttest.Scenario {
	return func(m *wsspi.Machine) error {
		server, client, err := peers(m, opts)
		if err != nil {
			return err
		}
		for _, network := range []string{"tcp4", "tcp6"} {
			if err := readThenClose(server, client, network); err != nil {
				return err
			}
		}
		return nil
	}
}

func readThenClose(server, client *winnet.Stack, network string) error {
	l, err := server.Listen(network, loopbackOf(network))
	if err != nil {
		return failed(network+" server listen", err)
	}
	defer l.Close()
	c, err := client.DialConn(context.Background(), network, l.Addr().String())
	if err != nil {
		return failed(network+" dial", err)
	}
	s, err := l.AcceptConn()
	if err != nil {
		return failed(network+" server accept", err)
	}
	defer s.Close()

	c.SetReadDeadline(time.Now().Add(deadlineAfter))
	n, err := c.Read(make([]byte, 16))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return failed(network+" read", fmt.Errorf("%d bytes, %v; want os.ErrDeadlineExceeded", n, err))
	}

	c.SetReadDeadline(time.Time{})
	read := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		read <- err
	}()
	// Give the read the time to be pending; a read that starts after
	// Close fails at once, which passes too but proves less.
	time.Sleep(deadlineAfter)
	if err := c.Close(); err != nil {
		return failed(network+" close", err)
	}
	if err := <-read; !errors.Is(err, net.ErrClosed) {
		return failed(network+" close", fmt.Errorf("the pending read returned %v, want net.ErrClosed", err))
	}
	return nil
}
