package wsspi

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/wsspi/wsspi/spi"
)

// PairOptions configures [Thread.SocketPair]. The zero value makes an
// overlapped TCP/IPv4 connection on 127.0.0.1, with a port the provider
// picks, between two sockets of the calling thread, both made through the
// catalog's first TCP entry, and no completion port.
type PairOptions struct {
	// Server is the thread that listens and accepts: one of the calling
	// thread's process, or of another process of the same machine. Nil
	// means the calling thread. It must not be in use by another goroutine
	// during the call.
	Server *Thread
	// Family is the address family, AF_INET or AF_INET6; zero means
	// AF_INET. It is ignored when Addr is set.
	Family int32
	// Addr is where the server listens. The zero value means the loopback
	// address of Family, port 0: a port the provider picks.
	Addr netip.AddrPort
	// ClientEntry and ServerEntry are the catalog entries the client's
	// socket and the listening socket are made on, the entries WSASocket's
	// lpProtocolInfo names. Zero means the catalog's choice, the first TCP
	// entry for the family: an LSP's chain when one is installed over TCP.
	// A test of an LSP usually sets ClientEntry to the LSP's chain, or
	// leaves it to the catalog, and ServerEntry to
	// [catalog.DefaultTCPIPv4], so that only the client's I/O crosses the
	// layer.
	ClientEntry, ServerEntry spi.CatalogEntryId
	// NotOverlapped makes the client's socket without WSA_FLAG_OVERLAPPED
	// (WSASocket with dwFlags 0). By default it has the flag, as socket()
	// gives it. The server's socket, accepted from a listener made as
	// socket() makes one, is always overlapped.
	NotOverlapped bool
	// CompletionPort makes a completion port (CreateIoCompletionPort with
	// the client's socket and no existing port) that the client's socket
	// is associated with under ClientKey and, when both ends are in one
	// process, the server's socket under ServerKey. A port belongs to one
	// process: a server end in another process is associated with none.
	CompletionPort       bool
	ClientKey, ServerKey uintptr
	// KeepListener keeps the listening socket open, as [Pair.Listener],
	// to accept more connections; by default it is closed once it has
	// accepted the pair's.
	KeepListener bool
}

// Pair is a connected TCP pair over loopback made by [Thread.SocketPair].
// Its fields are the handles the call made, for the caller to use with
// the calls of the threads that made them.
type Pair struct {
	// Client is the connected socket the calling thread made.
	Client spi.Socket
	// Server is the socket the server thread accepted, in that thread's
	// process.
	Server spi.Socket
	// Addr is the server's address: where the listener listened, the
	// client's peer.
	Addr netip.AddrPort
	// Port is the completion port of PairOptions.CompletionPort, in the
	// client's process; 0 without one.
	Port spi.Handle
	// Listener is the listening socket with PairOptions.KeepListener; nil
	// without.
	Listener *Listener

	client, server *Thread
}

// SocketPair makes a connected TCP pair over loopback in one call, the
// lines each test and example would otherwise spend on socket, bind,
// listen, connect and accept (compare net.Pipe, or nettest.MakePipe). In
// order:
//
//   - the server thread makes a listening socket, as [Thread.ListenTCP]
//     does: WSASocket (of opts.ServerEntry), bind to opts.Addr,
//     getsockname when the port is 0, listen;
//   - the calling thread makes the client's socket, WSASocket (AF_INET or
//     AF_INET6, SOCK_STREAM, IPPROTO_TCP, the protocol info of
//     opts.ClientEntry, WSA_FLAG_OVERLAPPED unless opts.NotOverlapped),
//     and connects it (connect), which the loopback provider completes at
//     once, the connection waiting in the listener's backlog;
//   - the server thread accepts it (accept) and, unless
//     opts.KeepListener, closes the listener (closesocket);
//   - with opts.CompletionPort, the calling thread's process makes a
//     port and associates the client's socket with it
//     (CreateIoCompletionPort(client, 0, ClientKey, 0)), then the server's
//     if it is in the same process (CreateIoCompletionPort(server, port,
//     ServerKey, 0)).
//
// Every call goes through the catalog, the providers and the trace, as
// the calls made one by one do; in a traced run they appear one by one.
//
// An error is the failing call's [*spi.OpError], wrapped once with the
// server's address ("SocketPair 127.0.0.1:9000: connect 0x10: ..."), so
// errors.Is(err, spi.WSAECONNREFUSED) sees the code. What the call made
// before it failed is closed again: a failed SocketPair leaves no handle
// behind. SocketPair panics if the server thread runs on another machine.
func (t *Thread) SocketPair(opts PairOptions) (*Pair, error) {
	server := opts.Server
	if server == nil {
		server = t
	}
	if server.p.m != t.p.m {
		panic("wsspi: SocketPair with a server thread of another machine")
	}
	addr := opts.Addr
	if !addr.IsValid() {
		ip := netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if opts.Family == spi.AF_INET6 {
			ip = netip.IPv6Loopback()
		}
		addr = netip.AddrPortFrom(ip, 0)
	}
	pr := &Pair{Client: spi.INVALID_SOCKET, Server: spi.INVALID_SOCKET, client: t, server: server}
	if err := pr.make(addr, opts); err != nil {
		pr.closeMade()
		return nil, fmt.Errorf("SocketPair %v: %w", pr.Addr, err)
	}
	return pr, nil
}

// make makes the pair's handles, recording each as it is made, so that
// closeMade can close them if a later call fails.
func (pr *Pair) make(addr netip.AddrPort, opts PairOptions) error {
	pr.Addr = addr
	l, err := pr.server.listenTCP(addr, ListenOptions{Entry: opts.ServerEntry})
	if err != nil {
		return err
	}
	pr.Listener, pr.Addr = l, l.Addr
	flags := uint32(spi.WSA_FLAG_OVERLAPPED)
	if opts.NotOverlapped {
		flags = 0
	}
	info := pr.client.p.entryInfo(opts.ClientEntry)
	if pr.Client, err = pr.client.WSASocket(familyOf(l.Addr), spi.SOCK_STREAM, spi.IPPROTO_TCP, info, 0, flags); err != nil {
		return err
	}
	if err := pr.client.Connect(pr.Client, l.Addr); err != nil {
		return err
	}
	if pr.Server, _, err = l.Accept(); err != nil {
		return err
	}
	if !opts.KeepListener {
		pr.Listener = nil
		if err := l.Close(); err != nil {
			return err
		}
	}
	if !opts.CompletionPort {
		return nil
	}
	p := pr.client.p
	if pr.Port, err = p.CreateIoCompletionPort(pr.Client, 0, opts.ClientKey, 0); err != nil {
		return err
	}
	if pr.server.p == p {
		if _, err := p.CreateIoCompletionPort(pr.Server, pr.Port, opts.ServerKey, 0); err != nil {
			return err
		}
	}
	return nil
}

// closeMade closes what make made before it failed, ignoring errors: the
// error that matters is make's.
func (pr *Pair) closeMade() {
	if pr.Port != 0 {
		_ = pr.client.p.CloseHandle(pr.Port)
	}
	if pr.Server != spi.INVALID_SOCKET {
		_ = pr.server.Closesocket(pr.Server)
	}
	if pr.Client != spi.INVALID_SOCKET {
		_ = pr.client.Closesocket(pr.Client)
	}
	if pr.Listener != nil {
		_ = pr.Listener.Close()
	}
}

// Close closes what the pair holds: the client's socket (closesocket, on
// the calling thread of SocketPair), the server's (on the server thread),
// the listener if kept, and the completion port (CloseHandle). The errors
// are joined. Handle values are reused, as on Windows, so call Close only
// while the pair's handles are still the pair's: a test that closes one
// of them itself closes the rest itself too, or closes the process.
func (pr *Pair) Close() error {
	errs := []error{pr.client.Closesocket(pr.Client), pr.server.Closesocket(pr.Server)}
	if pr.Listener != nil {
		errs = append(errs, pr.Listener.Close())
	}
	if pr.Port != 0 {
		errs = append(errs, pr.client.p.CloseHandle(pr.Port))
	}
	return errors.Join(errs...)
}
