package winnet

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// somaxconn is SOMAXCONN as winsock2.h defines it, the backlog Go passes to
// listen.
const somaxconn = 0x7fffffff

// Listener is a listening TCP socket of a [Stack], a net.Listener.
// Accept calls run one at a time; Close interrupts them.
type Listener struct {
	fd *netFD
}

var _ net.Listener = (*Listener)(nil)

// Listen makes a TCP listener on address, as net.Listen does and in Go's
// order: WSASocket (the catalog's first entry for the family, so an LSP
// installed over TCP serves it), bind, listen with SOMAXCONN, association
// with the stack's port, getsockname.
func (st *Stack) Listen(network, address string) (*Listener, error) {
	la, err := resolve(network, address, true)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	fail := func(call string, err error) (*Listener, error) {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: net.TCPAddrFromAddrPort(la), Err: syscallError(call, errnoOf(err))}
	}
	af := familyOf(la)
	s, err := st.socket(af)
	if err != nil {
		return fail("socket", err)
	}
	call := "bind"
	err = st.control(func(th *wsspi.Thread) error {
		if err := th.Bind(s, la); err != nil {
			return err
		}
		call = "listen"
		return th.Listen(s, somaxconn)
	})
	if err != nil {
		_ = st.closesocket(s)
		return fail(call, err)
	}
	fd, err := st.newFD(s, af)
	if err != nil {
		return fail("createiocompletionport", err)
	}
	if err := fd.readAddrs(false); err != nil {
		_ = fd.Close()
		return fail("getsockname", err)
	}
	return &Listener{fd: fd}, nil
}

// socket makes an overlapped TCP socket of family af on the control thread,
// as Go's sysSocket does (WSASocket with protocol 0, which the catalog's
// TCP entries match), or on the family's base entry with Options.Base.
func (st *Stack) socket(af int32) (spi.Socket, error) {
	var s spi.Socket
	err := st.control(func(th *wsspi.Thread) error {
		var err error
		s, err = th.WSASocket(af, spi.SOCK_STREAM, 0, st.base[af], 0, spi.WSA_FLAG_OVERLAPPED)
		return err
	})
	return s, err
}

// Accept waits for the next connection, as Go's accept does: a new socket
// of the listener's family, associated with the stack's port first, then
// AcceptEx onto it (waited for as a read), then
// setsockopt(SO_UPDATE_ACCEPT_CONTEXT) with the listener's handle. A
// connection reset before AcceptEx took it (WSAECONNRESET,
// ERROR_NETNAME_DELETED) is skipped, as Go skips it.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.AcceptConn()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// AcceptConn is Accept returning the *Conn.
func (l *Listener) AcceptConn() (*Conn, error) {
	fd := l.fd
	if err := fd.lock(fd.rsem); err != nil {
		return nil, l.opError(err)
	}
	defer fd.unlock(fd.rsem)
	for {
		c, call, err := l.acceptOne()
		if err == nil {
			return c, nil
		}
		var code spi.Errno
		if errors.As(err, &code) && (code == spi.WSAECONNRESET || code == spi.ERROR_NETNAME_DELETED) {
			continue
		}
		return nil, l.opError(syscallError(call, err))
	}
}

// acceptOne accepts one connection and names the call that failed.
func (l *Listener) acceptOne() (*Conn, string, error) {
	fd, st := l.fd, l.fd.st
	s, err := st.socket(fd.family)
	if err != nil {
		return nil, "socket", errnoOf(err)
	}
	afd, err := st.newFD(s, fd.family)
	if err != nil {
		return nil, "createiocompletionport", errnoOf(err)
	}
	_, err = fd.execIO(&fd.rop, func(th *wsspi.Thread, ov *spi.Overlapped) (uint32, error) {
		return th.AcceptEx(fd.sock, s, nil, ov)
	})
	if err != nil {
		_ = afd.Close()
		return nil, "acceptex", err
	}
	listener := binary.LittleEndian.AppendUint64(nil, uint64(fd.sock))
	if err := afd.wop.th.Setsockopt(s, spi.SOL_SOCKET, spi.SO_UPDATE_ACCEPT_CONTEXT, listener); err != nil {
		_ = afd.Close()
		return nil, "setsockopt", errnoOf(err)
	}
	if err := afd.readAddrs(true); err != nil {
		_ = afd.Close()
		return nil, "getpeername", errnoOf(err)
	}
	return &Conn{fd: afd}, "", nil
}

// Close closes the listener: a waiting Accept cancels its AcceptEx and
// returns net.ErrClosed; connections it accepted stay open.
func (l *Listener) Close() error {
	if err := l.fd.Close(); err != nil {
		return l.opError(syscallError("closesocket", err))
	}
	return nil
}

// Addr returns the address the listener listens on.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.fd.laddr) }

// AddrPort returns the address the listener listens on.
func (l *Listener) AddrPort() netip.AddrPort { return l.fd.laddr }

// Socket returns the listening socket's handle.
func (l *Listener) Socket() spi.Socket { return l.fd.sock }

func (l *Listener) opError(err error) error {
	return &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: err}
}

// readAddrs records the socket's local address (getsockname) and, for a
// connected socket, its peer's (getpeername).
func (fd *netFD) readAddrs(connected bool) error {
	la, err := fd.wop.th.Getsockname(fd.sock)
	if err != nil {
		return err
	}
	fd.laddr = la
	if connected {
		if fd.raddr, err = fd.wop.th.Getpeername(fd.sock); err != nil {
			return err
		}
	}
	return nil
}
