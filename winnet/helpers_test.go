package winnet_test

import (
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
	"github.com/wsspi/wsspi/winnet"
)

// machineWith returns a machine with the wild provider named layer
// installed over TCP/IPv4 and TCP/IPv6, or none for "".
func machineWith(t interface{ Fatalf(string, ...any) }, layer string) *wsspi.Machine {
	m := wsspi.NewMachine()
	if layer == "" {
		return m
	}
	l, ok := wild.Lookup(layer)
	if !ok {
		t.Fatalf("wild.Lookup(%q): no such provider", layer)
	}
	if _, err := l.Install(m, catalog.DefaultTCPIPv4, catalog.DefaultTCPIPv6); err != nil {
		t.Fatalf("install %s: %v", layer, err)
	}
	return m
}

// machineWithStack returns a machine with layers stacked over the TCP
// entries, the first at the bottom, each installed over the chains of the
// one below.
func machineWithStack(t interface{ Fatalf(string, ...any) }, layers ...string) *wsspi.Machine {
	m := wsspi.NewMachine()
	over := []spi.CatalogEntryId{catalog.DefaultTCPIPv4, catalog.DefaultTCPIPv6}
	for _, layer := range layers {
		l, ok := wild.Lookup(layer)
		if !ok {
			t.Fatalf("wild.Lookup(%q): no such provider", layer)
		}
		ids, err := l.Install(m, over...)
		if err != nil {
			t.Fatalf("install %s: %v", layer, err)
		}
		over = ids.Chains
	}
	return m
}

// world is a machine with a server and a client process, each with a stack.
type world struct {
	m              *wsspi.Machine
	server, client *winnet.Stack
}

// newWorld starts the two processes and their stacks; t.Cleanup closes them.
func newWorld(t testing.TB, m *wsspi.Machine, opts winnet.Options) *world {
	t.Helper()
	w, closeAll, err := openWorld(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closeAll(); err != nil {
			t.Error(err)
		}
	})
	return w
}

// openWorld starts the two processes and their stacks, and returns the
// function that closes them.
func openWorld(m *wsspi.Machine, opts winnet.Options) (*world, func() error, error) {
	w := &world{m: m}
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for i := len(closers) - 1; i >= 0; i-- {
			errs = append(errs, closers[i]())
		}
		return errors.Join(errs...)
	}
	for _, st := range []**winnet.Stack{&w.server, &w.client} {
		p := m.NewProcess()
		closers = append(closers, p.Close)
		s, err := winnet.New(p, opts)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("winnet.New: %w", err)
		}
		closers = append(closers, s.Close)
		*st = s
	}
	return w, closeAll, nil
}

// pipe connects a client Conn to a server Conn through a listener on
// 127.0.0.1 (or [::1] for tcp6), which it closes.
func (w *world) pipe(network string) (client, server *winnet.Conn, err error) {
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	l, err := w.server.Listen(network, addr)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	type accepted struct {
		c   *winnet.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := l.AcceptConn()
		ch <- accepted{c, err}
	}()
	c, err := w.client.Dial(network, l.Addr().String())
	a := <-ch
	if err != nil || a.err != nil {
		for _, x := range []net.Conn{c, a.c} {
			if x != nil {
				x.Close()
			}
		}
		if err == nil {
			err = a.err
		}
		return nil, nil, err
	}
	return c.(*winnet.Conn), a.c, nil
}

// connected returns a connected pair of w over network; t.Cleanup closes
// both ends.
func (w *world) connected(t testing.TB, network string) (c, s *winnet.Conn) {
	t.Helper()
	c, s, err := w.pipe(network)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		s.Close()
	})
	return c, s
}

// onEachStack runs f in a subtest per machine of stacks, with a world on it.
func onEachStack(t *testing.T, f func(t *testing.T, w *world)) {
	for _, sc := range stacks {
		t.Run(sc.name, func(t *testing.T) {
			f(t, newWorld(t, machineWith(t, sc.layer), sc.opts))
		})
	}
}
