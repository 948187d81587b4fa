package wsspi

import (
	"fmt"
	"net/netip"

	"github.com/wsspi/wsspi/spi"
)

// somaxconn is SOMAXCONN (winsock2.h): the longest backlog the provider
// allows.
const somaxconn = 0x7fffffff

// ListenOptions configures [Thread.ListenTCP]. The zero value listens on a
// socket of the first TCP entry of the catalog for the address's family,
// with a backlog of SOMAXCONN.
type ListenOptions struct {
	// Entry is the catalog entry the listening socket is made on, the one
	// WSASocket's lpProtocolInfo names. Zero means the catalog's choice,
	// the first TCP entry for the address's family: an LSP's chain when
	// one is installed over TCP. [catalog.DefaultTCPIPv4] and
	// [catalog.DefaultTCPIPv6] name the base provider's entries, for a
	// server that no layer is to see.
	Entry spi.CatalogEntryId
	// Backlog is listen's backlog. Zero means SOMAXCONN, which the
	// loopback provider clamps to [loopback.MaxBacklog].
	Backlog int32
}

// Listener is a listening TCP socket made by [Thread.ListenTCP], with the
// thread that made it, which accepts on it. Like its thread, use it from
// one goroutine at a time.
type Listener struct {
	// Socket is the listening socket.
	Socket spi.Socket
	// Addr is the address it listens on, with the port the provider chose
	// when the address asked for port 0.
	Addr netip.AddrPort

	th *Thread
}

// ListenTCP makes a TCP socket that listens on addr: WSASocket (AF_INET
// or AF_INET6 as addr's address is, SOCK_STREAM, IPPROTO_TCP,
// WSA_FLAG_OVERLAPPED, as socket() does, and the protocol info of
// opts.Entry if set), bind to addr, getsockname if addr's port is 0, to
// learn the port the provider chose, and listen. Accept connections with
// [Listener.Accept] and close it with [Listener.Close].
//
// An error is the failing call's [*spi.OpError], wrapped once with the
// address ("ListenTCP 127.0.0.1:80: bind 0x8: ..."): errors.Is(err,
// spi.WSAEADDRINUSE) sees the code. The socket is closed when a later
// call fails, so a failed ListenTCP leaves no handle behind.
func (t *Thread) ListenTCP(addr netip.AddrPort, opts ListenOptions) (*Listener, error) {
	l, err := t.listenTCP(addr, opts)
	if err != nil {
		return nil, fmt.Errorf("ListenTCP %v: %w", addr, err)
	}
	return l, nil
}

// listenTCP is ListenTCP without the wrapping of its error.
func (t *Thread) listenTCP(addr netip.AddrPort, opts ListenOptions) (*Listener, error) {
	s, err := t.WSASocket(familyOf(addr), spi.SOCK_STREAM, spi.IPPROTO_TCP, t.p.entryInfo(opts.Entry), 0, spi.WSA_FLAG_OVERLAPPED)
	if err != nil {
		return nil, err
	}
	l := &Listener{Socket: s, Addr: addr, th: t}
	if err := l.listen(opts.Backlog); err != nil {
		_ = t.Closesocket(s)
		return nil, err
	}
	return l, nil
}

// listen binds l's socket to l.Addr and listens, learning the port when
// l.Addr asks for 0.
func (l *Listener) listen(backlog int32) error {
	if err := l.th.Bind(l.Socket, l.Addr); err != nil {
		return err
	}
	if l.Addr.Port() == 0 {
		a, err := l.th.Getsockname(l.Socket)
		if err != nil {
			return err
		}
		l.Addr = a
	}
	if backlog == 0 {
		backlog = somaxconn
	}
	return l.th.Listen(l.Socket, backlog)
}

// Accept accepts a connection on the listener (accept, on the thread that
// made the listener) and returns the new socket, which the caller closes,
// and the peer's address. It blocks until a connection comes.
func (l *Listener) Accept() (spi.Socket, netip.AddrPort, error) {
	return l.th.Accept(l.Socket)
}

// Close closes the listening socket (closesocket); connections waiting in
// its backlog are reset. Sockets it accepted stay open.
func (l *Listener) Close() error { return l.th.Closesocket(l.Socket) }

// familyOf returns the address family of a's address: AF_INET6 for an
// IPv6 address, AF_INET otherwise.
func familyOf(a netip.AddrPort) int32 {
	if a.Addr().Is6() {
		return spi.AF_INET6
	}
	return spi.AF_INET
}

// entryInfo returns the protocol info that names catalog entry id for
// WSASocket, nil for 0: the entry as the process's catalog view holds it,
// or, when the view has no such entry, an info naming only the id, so
// that WSASocket reports the error Windows gives.
func (p *Process) entryInfo(id spi.CatalogEntryId) *spi.WSAProtocolInfo {
	if id == 0 {
		return nil
	}
	if l := p.loader.Load(); l != nil {
		if e, ok := l.View().Entry(id); ok {
			return &e
		}
	}
	return &spi.WSAProtocolInfo{CatalogEntryId: id}
}
