package winnet

import (
	"io"
	"net"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// Conn is a TCP connection of a [Stack], a net.Conn. Its methods are safe
// for concurrent use, as those of a *net.TCPConn are: reads run one at a
// time, writes run one at a time, and a read and a write run together.
type Conn struct {
	fd *netFD
}

var _ net.Conn = (*Conn)(nil)

// Read receives into b with an overlapped WSARecv and waits for its packet
// (see the package documentation). A zero-byte result for a non-empty b
// is io.EOF: the peer shut down or closed gracefully.
func (c *Conn) Read(b []byte) (int, error) {
	fd := c.fd
	if err := fd.lock(fd.rsem); err != nil {
		return 0, c.opError("read", err)
	}
	defer fd.unlock(fd.rsem)
	if len(b) > maxRW {
		b = b[:maxRW]
	}
	n, err := fd.execIO(&fd.rop, func(th *wsspi.Thread, ov *spi.Overlapped) (uint32, error) {
		var flags uint32
		return th.WSARecv(fd.sock, [][]byte{b}, &flags, ov, nil)
	})
	if err == nil && n == 0 && len(b) != 0 {
		return 0, io.EOF
	}
	if err != nil {
		return n, c.opError("read", syscallError("wsarecv", err))
	}
	return n, nil
}

// Write sends b with overlapped WSASend calls, each waited for as Read
// waits, until all of b is sent or one fails.
func (c *Conn) Write(b []byte) (int, error) {
	fd := c.fd
	if err := fd.lock(fd.wsem); err != nil {
		return 0, c.opError("write", err)
	}
	defer fd.unlock(fd.wsem)
	total := 0
	for {
		chunk := b[total:]
		if len(chunk) > maxRW {
			chunk = chunk[:maxRW]
		}
		n, err := fd.execIO(&fd.wop, func(th *wsspi.Thread, ov *spi.Overlapped) (uint32, error) {
			return th.WSASend(fd.sock, [][]byte{chunk}, 0, ov, nil)
		})
		total += n
		if err != nil {
			return total, c.opError("write", syscallError("wsasend", err))
		}
		if total == len(b) {
			return total, nil
		}
	}
}

// maxRW bounds one call's buffer, as Go bounds a WSABUF's DWORD length.
const maxRW = 1 << 30

// Close closes the connection: waiting reads and writes are woken, cancel
// their calls and return net.ErrClosed, and then the socket is closed
// (closesocket).
func (c *Conn) Close() error {
	if err := c.fd.Close(); err != nil {
		return c.opError("close", syscallError("closesocket", err))
	}
	return nil
}

// CloseRead shuts down the receiving side (shutdown with SD_RECEIVE).
func (c *Conn) CloseRead() error { return c.shutdown(spi.SD_RECEIVE, "close") }

// CloseWrite shuts down the sending side (shutdown with SD_SEND): the peer
// reads what was sent, then io.EOF.
func (c *Conn) CloseWrite() error { return c.shutdown(spi.SD_SEND, "close") }

func (c *Conn) shutdown(how int32, op string) error {
	fd := c.fd
	if err := fd.incref(); err != nil {
		return c.opError(op, err)
	}
	defer fd.decref()
	err := fd.st.control(func(th *wsspi.Thread) error { return th.Shutdown(fd.sock, how) })
	if err != nil {
		return c.opError(op, syscallError("shutdown", errnoOf(err)))
	}
	return nil
}

// LocalAddr returns the local address (getsockname after the connection
// was made).
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.fd.laddr) }

// RemoteAddr returns the peer's address (getpeername).
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.fd.raddr) }

// SetDeadline sets the read and the write deadline.
func (c *Conn) SetDeadline(t time.Time) error {
	return c.fd.setDeadline(t, true, true, c.opError)
}

// SetReadDeadline sets the deadline of the waiting and future reads: when
// it passes, a waiting read cancels its WSARecv (CancelIoEx) and returns
// os.ErrDeadlineExceeded once the call's packet has come.
func (c *Conn) SetReadDeadline(t time.Time) error {
	return c.fd.setDeadline(t, true, false, c.opError)
}

// SetWriteDeadline sets the deadline of the waiting and future writes, as
// SetReadDeadline does for reads.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	return c.fd.setDeadline(t, false, true, c.opError)
}

// Socket returns the connection's socket handle, for inspection with the
// calls of package wsspi.
func (c *Conn) Socket() spi.Socket { return c.fd.sock }

// NotificationModes returns the FILE_SKIP_* modes the stack's policy set
// on the socket.
func (c *Conn) NotificationModes() uint8 { return c.fd.modes }

func (c *Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// setDeadline moves the chosen deadlines, as Go's pollDesc does; it fails
// with net.ErrClosed once Close has begun.
func (fd *netFD) setDeadline(t time.Time, read, write bool, wrap func(string, error) error) error {
	if err := fd.incref(); err != nil {
		return wrap("set", err)
	}
	defer fd.decref()
	if read {
		fd.rop.dl.set(t)
	}
	if write {
		fd.wop.dl.set(t)
	}
	return nil
}
