package winnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// Dial connects to address on network ("tcp", "tcp4" or "tcp6"), as
// net.Dial does.
func (st *Stack) Dial(network, address string) (net.Conn, error) {
	return st.DialContext(context.Background(), network, address)
}

// DialContext connects to address as Go's net package does on Windows: a
// new overlapped socket (WSASocket, the catalog's first TCP entry for the
// family) associated with the stack's port, bound to the wildcard address
// because ConnectEx needs a bound socket, ConnectEx waited for as a write
// (the context's deadline is the write deadline, and its cancellation
// moves that deadline into the past), then
// setsockopt(SO_UPDATE_CONNECT_CONTEXT), getsockname and getpeername. Its
// signature is that of http.Transport's DialContext.
func (st *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := st.DialConn(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DialConn is DialContext returning the *Conn.
func (st *Stack) DialConn(ctx context.Context, network, address string) (*Conn, error) {
	ra, err := resolve(network, address, false)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	fail := func(call string, err error) (*Conn, error) {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			err = ctxErr
			if errors.Is(ctxErr, context.DeadlineExceeded) {
				err = os.ErrDeadlineExceeded
			}
		} else {
			err = syscallError(call, err)
		}
		return nil, &net.OpError{Op: "dial", Net: network, Addr: net.TCPAddrFromAddrPort(ra), Err: err}
	}
	af := familyOf(ra)
	s, err := st.socket(af)
	if err != nil {
		return fail("socket", errnoOf(err))
	}
	fd, err := st.newFD(s, af)
	if err != nil {
		return fail("createiocompletionport", errnoOf(err))
	}
	if err := fd.connect(ctx, ra); err != nil {
		_ = fd.Close()
		return fail(err.call, err.err)
	}
	return &Conn{fd: fd}, nil
}

// callError is an error and the call it came from.
type callError struct {
	call string
	err  error
}

// connect binds fd's socket to the wildcard address and connects it with
// ConnectEx, as Go's netFD.connect does.
func (fd *netFD) connect(ctx context.Context, ra netip.AddrPort) *callError {
	th := fd.wop.th
	if err := th.Bind(fd.sock, wildcardOf(fd.family)); err != nil {
		return &callError{"bind", errnoOf(err)}
	}
	if d, ok := ctx.Deadline(); ok {
		fd.wop.dl.set(d)
	}
	// Cancellation moves the write deadline into the past; the helper is
	// waited for, so that the connection is returned with no deadline.
	done := make(chan struct{})
	var helper sync.WaitGroup
	helper.Go(func() {
		select {
		case <-ctx.Done():
			fd.wop.dl.set(aLongTimeAgo)
		case <-done:
		}
	})
	defer func() {
		close(done)
		helper.Wait()
		fd.wop.dl.set(time.Time{})
	}()
	_, err := fd.execIO(&fd.wop, func(th *wsspi.Thread, ov *spi.Overlapped) (uint32, error) {
		return th.ConnectEx(fd.sock, ra, nil, ov)
	})
	if err != nil {
		return &callError{"connectex", err}
	}
	if err := th.Setsockopt(fd.sock, spi.SOL_SOCKET, spi.SO_UPDATE_CONNECT_CONTEXT, nil); err != nil {
		return &callError{"setsockopt", errnoOf(err)}
	}
	if err := fd.readAddrs(true); err != nil {
		return &callError{"getsockname", errnoOf(err)}
	}
	return nil
}

// aLongTimeAgo is a deadline in the past, how Go's dialer interrupts a
// ConnectEx when the context is cancelled.
var aLongTimeAgo = time.Unix(1, 0)
