package winnet_test

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/winnet"
)

// wantOpError checks that err is a *net.OpError of op whose cause is
// target (through errors.Is), and returns it.
func wantOpError(t *testing.T, err error, op string, target error) *net.OpError {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T) is no *net.OpError", err, err)
	}
	if oe.Op != op || !errors.Is(err, target) {
		t.Errorf("error %v: Op %q, want %q wrapping %v", err, oe.Op, op, target)
	}
	return oe
}

func TestDialToAClosedPortIsConnectExRefused(t *testing.T) {
	onEachStack(t, func(t *testing.T, w *world) {
		_, err := w.client.Dial("tcp4", "127.0.0.1:1")
		oe := wantOpError(t, err, "dial", spi.WSAECONNREFUSED)
		var se *os.SyscallError
		if !errors.As(err, &se) || se.Syscall != "connectex" {
			t.Errorf("cause %v, want an *os.SyscallError of connectex", oe.Err)
		}
		if got := oe.Addr.String(); got != "127.0.0.1:1" {
			t.Errorf("Addr = %s, want 127.0.0.1:1", got)
		}
	})
}

func TestAPeerResetIsWSARecvConnReset(t *testing.T) {
	onEachStack(t, func(t *testing.T, w *world) {
		c, s := w.connected(t, "tcp4")
		// Unread data at closesocket resets the connection.
		if _, err := c.Write([]byte("unread")); err != nil {
			t.Fatal(err)
		}
		waitReadable(t, s)
		s.Close()
		_, err := c.Read(make([]byte, 8))
		wantOpError(t, err, "read", spi.WSAECONNRESET)
		var se *os.SyscallError
		if !errors.As(err, &se) || se.Syscall != "wsarecv" {
			t.Errorf("cause of %v, want an *os.SyscallError of wsarecv", err)
		}
	})
}

// waitReadable waits until c has data to read, without reading it, by a
// zero-byte read, which completes once data is there.
func waitReadable(t *testing.T, c *winnet.Conn) {
	t.Helper()
	if _, err := c.Read(nil); err != nil {
		t.Fatalf("zero-byte read: %v", err)
	}
}

func TestCallsAfterCloseAreNetErrClosed(t *testing.T) {
	w := newWorld(t, machineWith(t, ""), winnet.Options{})
	c, s, err := w.pipe("tcp4")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Read(make([]byte, 1))
	wantOpError(t, err, "read", net.ErrClosed)
	_, err = c.Write([]byte("x"))
	wantOpError(t, err, "write", net.ErrClosed)
	wantOpError(t, c.SetDeadline(time.Now()), "set", net.ErrClosed)
	wantOpError(t, c.Close(), "close", net.ErrClosed)
	wantOpError(t, c.CloseWrite(), "close", net.ErrClosed)
	// The peer sees the graceful close.
	if _, err := s.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("peer's Read after Close = %v, want io.EOF", err)
	}
}

func TestAcceptAfterCloseIsNetErrClosed(t *testing.T) {
	onEachStack(t, func(t *testing.T, w *world) {
		l, err := w.server.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := l.Accept()
			done <- err
		}()
		time.Sleep(10 * time.Millisecond) // let Accept pend; either way it must end with ErrClosed
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		wantOpError(t, <-done, "accept", net.ErrClosed)
	})
}

func TestADeadlineIsATimeoutNetError(t *testing.T) {
	w := newWorld(t, machineWith(t, ""), winnet.Options{})
	c, s, err := w.pipe("tcp4")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer s.Close()
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	wantOpError(t, err, "read", os.ErrDeadlineExceeded)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("%v: not a net.Error with Timeout() true", err)
	}
}

func TestCloseWriteGivesThePeerEOFAndKeepsReading(t *testing.T) {
	onEachStack(t, func(t *testing.T, w *world) {
		c, s := w.connected(t, "tcp4")
		if _, err := c.Write([]byte("last")); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "last" {
			t.Errorf("peer read %q, %v; want \"last\" then EOF", got, err)
		}
		if _, err := s.Write([]byte("reply")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "reply" {
			t.Errorf("read after CloseWrite = %q, %v", buf, err)
		}
	})
}

func TestResolveRejectsWhatTheSimulatorCannotReach(t *testing.T) {
	w := newWorld(t, machineWith(t, ""), winnet.Options{})
	for _, tc := range []struct{ network, address string }{
		{"udp", "127.0.0.1:1"},
		{"tcp", "example.com:80"},
		{"tcp4", "[::1]:80"},
		{"tcp6", "127.0.0.1:80"},
		{"tcp", "127.0.0.1:http"},
		{"tcp", "127.0.0.1"},
	} {
		_, err := w.client.Dial(tc.network, tc.address)
		if oe := (*net.OpError)(nil); !errors.As(err, &oe) || oe.Op != "dial" {
			t.Errorf("Dial(%q, %q) = %v, want a dial *net.OpError", tc.network, tc.address, err)
		}
		if _, err := w.server.Listen(tc.network, tc.address); err == nil {
			t.Errorf("Listen(%q, %q) succeeded", tc.network, tc.address)
		}
	}
}

func TestListenOnABoundPortIsBindAddrInUse(t *testing.T) {
	w := newWorld(t, machineWith(t, ""), winnet.Options{})
	l, err := w.server.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = w.client.Listen("tcp4", l.Addr().String())
	wantOpError(t, err, "listen", spi.WSAEADDRINUSE)
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "bind" {
		t.Errorf("cause of %v, want an *os.SyscallError of bind", err)
	}
}

// Every socket and thread a connection, a listener and a failed dial made
// is gone once they are closed.
func TestClosingLeavesNoHandleBehind(t *testing.T) {
	onEachStack(t, func(t *testing.T, w *world) {
		live := func() []spi.Handle {
			var hs []spi.Handle
			for _, st := range []*winnet.Stack{w.server, w.client} {
				for _, e := range st.Process().Handles().Snapshot().Live {
					hs = append(hs, e.Handle)
				}
			}
			return hs
		}
		// A first connection loads the providers, which keep objects of
		// their own (the kit's private port and worker thread) until
		// WSPCleanup; count from there.
		connectAndClose := func() {
			c, s, err := w.pipe("tcp4")
			if err != nil {
				t.Fatal(err)
			}
			roundTrip(t, c, s)
			c.Close()
			s.Close()
		}
		connectAndClose()
		before := live()
		connectAndClose()
		if _, err := w.client.Dial("tcp4", "127.0.0.1:1"); err == nil {
			t.Fatal("Dial to a closed port succeeded")
		}
		if diff := cmp.Diff(before, live()); diff != "" {
			t.Errorf("live handles (-before +after):\n%s", diff)
		}
	})
}
