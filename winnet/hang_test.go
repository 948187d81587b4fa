package winnet_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/winnet"
)

// hangBound is how long past its deadline an operation may take before the
// tests call it hung. The tests run in synctest bubbles, so the bound is
// virtual time: it passes once every goroutine is blocked.
const hangBound = time.Minute

// errHung is the named failure of an operation that did not return within
// hangBound of its deadline.
var errHung = errors.New("the operation did not return after its deadline: its cancel did not reach the call, and the poller waits for a packet that never comes")

// readPastDeadline reads on c with a read deadline d from now and returns
// the read's error, or errHung if it has not returned hangBound after the
// deadline. A hung read is left waiting; unblock returns its result once
// whatever ends it happened.
func readPastDeadline(c net.Conn, d time.Duration) (unblock func() error, err error) {
	c.SetReadDeadline(time.Now().Add(d))
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		done <- err
	}()
	select {
	case err := <-done:
		return nil, err
	case <-time.After(d + hangBound):
		return func() error { return <-done }, fmt.Errorf("Read with a deadline %v away: %w", d, errHung)
	}
}

func TestAReadDeadlineHangsOverTheKitWithoutTheBaseHandleCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, machineWith(t, "Kit"), winnet.Options{})
		c, s, err := w.pipe("tcp4")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		defer c.Close()
		unblock, err := readPastDeadline(c, 10*time.Millisecond)
		if !errors.Is(err, errHung) {
			t.Fatalf("Read over the kit = %v, want %v (Go's poller cannot cancel through a non-IFS handle)", err, errHung)
		}
		if st := w.client.Stats(); st.CancelsNotFound != 1 {
			t.Errorf("CancelIoEx calls that found nothing = %d, want 1 (the kit's handle hides the pending WSARecv)", st.CancelsNotFound)
		}
		// Only the call's own end frees the reader: data from the peer
		// completes the WSARecv, and the read returns it, no timeout.
		if _, err := s.Write([]byte("late")); err != nil {
			t.Fatal(err)
		}
		if err := unblock(); err != nil {
			t.Errorf("the hung Read, once data came: %v, want success", err)
		}
	})
}

func TestAReadDeadlineEndsOverTheKitWithTheBaseHandleCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, machineWith(t, "Kit"), winnet.Options{CancelBaseHandle: true})
		c, s, err := w.pipe("tcp4")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		defer c.Close()
		_, err = readPastDeadline(c, 10*time.Millisecond)
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read over the kit with the base-handle cancel = %v, want os.ErrDeadlineExceeded", err)
		}
		if st := w.client.Stats(); st.CancelsNotFound != 1 || st.BaseCancels != 1 {
			t.Errorf("stats = %+v, want one CancelIoEx that found nothing and one CancelIo on the base socket", st)
		}
		if _, err := s.Write([]byte("more")); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Time{})
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "more" {
			t.Errorf("read after the timeout = %q, %v; want \"more\"", buf, err)
		}
	})
}

// The naive layer never gets as far as the kit's hang: it passes
// SIO_GET_EXTENSION_FUNCTION_POINTER down, so the ConnectEx Go's dialer
// fetches is the base provider's, which does not know the layer's handle.
// The dial fails at once, and a Go program over such a layer cannot even
// connect (nor listen: the layer serves no getsockname).
func TestADialFailsAtOnceOverTheNaiveLayer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, machineWith(t, "Naive"), winnet.Options{})
		// The server listens on the base provider's entry; only the client
		// is at stake.
		l, err := w.m.NewProcess().NewThread().ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"), wsspi.ListenOptions{Entry: catalog.DefaultTCPIPv4})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		c, err := w.client.Dial("tcp4", l.Addr.String())
		if err == nil {
			c.Close()
			t.Fatal("Dial over the naive layer succeeded; want ConnectEx to fail with WSAENOTSOCK")
		}
		var oe *net.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" || !errors.Is(err, spi.WSAENOTSOCK) {
			t.Errorf("Dial over the naive layer = %v, want a dial *net.OpError wrapping WSAENOTSOCK", err)
		}
	})
}

// Close hangs too: it wakes the pending read, whose CancelIoEx finds
// nothing, and then waits, as Go's FD.Close does, for the read to let go
// of the socket; with CancelBaseHandle it returns.
func TestCloseWithAPendingReadOverTheKit(t *testing.T) {
	for _, opts := range []winnet.Options{{}, {CancelBaseHandle: true}} {
		t.Run(fmt.Sprintf("CancelBaseHandle=%v", opts.CancelBaseHandle), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, machineWith(t, "Kit"), opts)
				c, s, err := w.pipe("tcp4")
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				read := make(chan error, 1)
				go func() {
					_, err := c.Read(make([]byte, 8))
					read <- err
				}()
				synctest.Wait() // the read is pending
				closed := make(chan error, 1)
				go func() { closed <- c.Close() }()
				select {
				case err := <-closed:
					if !opts.CancelBaseHandle {
						t.Fatalf("Close = %v; want it to hang: the pending read cannot be cancelled through the kit's handle", err)
					}
					if err != nil {
						t.Errorf("Close: %v", err)
					}
					if err := <-read; !errors.Is(err, net.ErrClosed) {
						t.Errorf("the pending Read = %v, want net.ErrClosed", err)
					}
				case <-time.After(hangBound):
					if opts.CancelBaseHandle {
						t.Fatalf("Close: %v", errHung)
					}
					// The peer's data ends the read, and then Close.
					if _, err := s.Write([]byte("late")); err != nil {
						t.Fatal(err)
					}
					if err := <-read; err != nil {
						t.Errorf("the hung Read, once data came: %v, want success", err)
					}
					if err := <-closed; err != nil {
						t.Errorf("Close: %v", err)
					}
				}
			})
		})
	}
}

// A listener's Close hangs the same way over the kit: the pending AcceptEx
// cannot be cancelled through the layer's handle, and Close waits for
// Accept to let go (net/http's Server.Close and Shutdown hang on it). A
// connection ends the AcceptEx; with CancelBaseHandle Close returns.
func TestListenerCloseWithAPendingAcceptOverTheKit(t *testing.T) {
	for _, opts := range []winnet.Options{{}, {CancelBaseHandle: true}} {
		t.Run(fmt.Sprintf("CancelBaseHandle=%v", opts.CancelBaseHandle), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t, machineWith(t, "Kit"), opts)
				l, err := w.server.Listen("tcp4", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				accepted := make(chan error, 1)
				go func() {
					c, err := l.Accept()
					if c != nil {
						c.Close()
					}
					accepted <- err
				}()
				synctest.Wait() // AcceptEx is pending
				closed := make(chan error, 1)
				go func() { closed <- l.Close() }()
				select {
				case err := <-closed:
					if !opts.CancelBaseHandle {
						t.Fatalf("Listener.Close = %v; want it to hang: the pending AcceptEx cannot be cancelled through the kit's handle", err)
					}
					if err != nil {
						t.Errorf("Listener.Close: %v", err)
					}
					if err := <-accepted; !errors.Is(err, net.ErrClosed) {
						t.Errorf("the pending Accept = %v, want net.ErrClosed", err)
					}
				case <-time.After(hangBound):
					if opts.CancelBaseHandle {
						t.Fatalf("Listener.Close: %v", errHung)
					}
					c, err := w.client.Dial("tcp4", l.Addr().String())
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if err := <-accepted; err != nil {
						t.Errorf("the hung Accept, once a connection came: %v, want success", err)
					}
					if err := <-closed; err != nil {
						t.Errorf("Listener.Close: %v", err)
					}
				}
			})
		})
	}
}

// A read stuck after its deadline over the kit ends when its process
// does, as the package documentation promises of every waiting operation:
// with net.ErrClosed, not the WSANOTINITIALISED its result then reads as.
// Package clienttest relies on it to end a hung scenario. Only the
// client's process ends: were the server's to end first, the read would
// end with the peer's reset, which is right too but not this promise.
func TestAReadHungPastItsDeadlineEndsClosedWhenItsProcessEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := machineWith(t, "Kit")
		defer m.Shutdown()
		w, _, err := openWorld(m, winnet.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := w.pipe("tcp4")
		if err != nil {
			t.Fatal(err)
		}
		unblock, err := readPastDeadline(c, 10*time.Millisecond)
		if !errors.Is(err, errHung) {
			t.Fatalf("Read over the kit = %v, want %v", err, errHung)
		}
		if err := w.client.Process().Close(); err != nil {
			t.Fatalf("closing the client's process: %v", err)
		}
		if err := unblock(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("the hung Read, once its process ended: %v, want net.ErrClosed", err)
		}
	})
}
