package winnet

import (
	"net"
	"net/netip"
	"sync"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// netFD is one socket of the stack, Go's poll.FD and pollDesc in one: the
// socket handle, its read and write operations, the locks that let one
// read and one write run at a time, and the reference count that keeps the
// handle open until the last operation has ended.
type netFD struct {
	st     *Stack
	sock   spi.Socket
	family int32
	key    uintptr // the completion key of the socket's association
	// skipSyncNotif is set when FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is
	// on: an operation that succeeds at once then posts no packet.
	skipSyncNotif bool
	modes         uint8 // the FILE_SKIP_* modes set on the socket

	rop, wop operation

	// rsem and wsem hold a token while a read (write) runs: Go's
	// fdMutex read and write locks, which Close interrupts.
	rsem, wsem chan struct{}
	closing    chan struct{} // closed by Close: Go's pollDesc.evict

	mu         sync.Mutex // guards refs and isClosing
	refs       int
	isClosing  bool
	destroyed  chan struct{} // closed once the handle is closed
	destroyErr error

	laddr, raddr netip.AddrPort
}

// newFD wraps socket s, which the caller made: it gives the fd its
// operations' threads, associates s with the stack's port and sets the
// notification modes of the stack's policy, as Go's FD.Init does. On
// failure the socket is closed.
func (st *Stack) newFD(s spi.Socket, family int32) (*netFD, error) {
	fd := &netFD{
		st: st, sock: s, family: family,
		rsem: make(chan struct{}, 1), wsem: make(chan struct{}, 1),
		closing: make(chan struct{}), destroyed: make(chan struct{}),
	}
	var err error
	if fd.rop.th, err = st.p.CreateThread(); err != nil {
		st.closesocket(s)
		return nil, err
	}
	if fd.wop.th, err = st.p.CreateThread(); err != nil {
		fd.rop.th.Exit()
		st.closesocket(s)
		return nil, err
	}
	fd.rop.init(fd, 'r')
	fd.wop.init(fd, 'w')
	if err := st.register(fd); err != nil {
		fd.exitThreads()
		st.closesocket(s)
		return nil, err
	}
	fd.setModes()
	return fd, nil
}

// setModes applies the stack's skip policy to the socket
// (SetFileCompletionNotificationModes). As in Go, a failure leaves the
// modes off and is not an error.
func (fd *netFD) setModes() {
	flags := fd.st.modesFor(fd)
	if flags == 0 {
		return
	}
	if err := fd.st.p.SetFileCompletionNotificationModes(fd.sock, flags); err != nil {
		return
	}
	fd.modes = flags
	fd.skipSyncNotif = flags&spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS != 0
}

func (fd *netFD) exitThreads() {
	fd.rop.th.Exit()
	fd.wop.th.Exit()
}

// incref takes a reference, failing once Close has begun.
func (fd *netFD) incref() error {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.isClosing {
		return net.ErrClosed
	}
	fd.refs++
	return nil
}

// decref drops a reference; the last one after Close destroys the fd.
func (fd *netFD) decref() {
	fd.mu.Lock()
	fd.refs--
	last := fd.refs == 0 && fd.isClosing
	fd.mu.Unlock()
	if last {
		fd.destroy()
	}
}

// lock takes a reference and sem's token, waiting for the operation that
// holds it; Close interrupts the wait.
func (fd *netFD) lock(sem chan struct{}) error {
	if err := fd.incref(); err != nil {
		return err
	}
	select {
	case sem <- struct{}{}:
		return nil
	case <-fd.closing:
		fd.decref()
		return net.ErrClosed
	}
}

func (fd *netFD) unlock(sem chan struct{}) {
	<-sem
	fd.decref()
}

// Close marks the fd closing, wakes its waiting operations, which then
// cancel themselves (CancelIoEx) and wait for their packets, and returns
// once the last of them has let go and the socket is closed, as Go's
// FD.Close does.
func (fd *netFD) Close() error {
	fd.mu.Lock()
	if fd.isClosing {
		fd.mu.Unlock()
		return net.ErrClosed
	}
	fd.isClosing = true
	fd.refs++
	close(fd.closing)
	fd.mu.Unlock()
	fd.decref()
	<-fd.destroyed
	return fd.destroyErr
}

// destroy closes the socket (closesocket) once nothing uses it, forgets
// its completion key and ends its threads.
func (fd *netFD) destroy() {
	fd.st.forget(fd.key)
	fd.destroyErr = fd.st.closesocket(fd.sock)
	fd.exitThreads()
	close(fd.destroyed)
}

// closesocket closes s on the control thread.
func (st *Stack) closesocket(s spi.Socket) error {
	return st.control(func(th *wsspi.Thread) error { return th.Closesocket(s) })
}
