package winnet

import (
	"encoding/binary"
	"errors"
	"net"
	"os"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// operation is the read or the write half of an fd, Go's operation and
// the matching half of its pollDesc: the OVERLAPPED every call of that
// direction uses, the simulated thread that issues them, the deadline, and
// the channel the poller signals when the OVERLAPPED's packet arrives.
type operation struct {
	fd   *netFD
	mode byte // 'r' or 'w', as in Go
	th   *wsspi.Thread
	ov   spi.Overlapped
	dl   *deadline
	// readyCh holds a token once a packet for ov has arrived and no wait
	// took it yet (Go's pdReady).
	readyCh chan struct{}
}

func (o *operation) init(fd *netFD, mode byte) {
	o.fd, o.mode = fd, mode
	o.dl = newDeadline()
	o.readyCh = make(chan struct{}, 1)
}

// ready records that ov's packet arrived; the poller calls it.
func (o *operation) ready() {
	select {
	case o.readyCh <- struct{}{}:
	default: // one already waits to be taken: a second packet for one wait
	}
}

// submitFunc starts one overlapped call on th with ov and returns its
// immediate result: nil, WSA_IO_PENDING, or the error of a call that did
// not start.
type submitFunc func(th *wsspi.Thread, ov *spi.Overlapped) (uint32, error)

// errPollerGone is the wait error of an operation whose stack's port went
// away while it waited; it is reported as net.ErrClosed.
var errPollerGone = errors.New("winnet: the stack's completion port is closed")

// execIO runs one overlapped call the way Go's FD.execIO does:
//
//  1. it fails at once, starting nothing, if Close has begun or the
//     deadline has passed (pollDesc.prepare);
//  2. it submits the call; an immediate success returns at once only when
//     FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is on, since otherwise a packet
//     follows; an error other than WSA_IO_PENDING returns;
//  3. it waits for the packet, the deadline or Close;
//  4. interrupted, it cancels the call (CancelIoEx with its OVERLAPPED,
//     ERROR_NOT_FOUND meaning it already ended) and waits for the packet
//     all the same;
//  5. it reads the result with WSAGetOverlappedResult: an
//     ERROR_OPERATION_ABORTED that its own cancel caused becomes the wait's
//     error (os.ErrDeadlineExceeded or net.ErrClosed), and a call that
//     succeeded before the cancel reached it counts as done.
//
// The error is the cause alone; the caller wraps it.
func (fd *netFD) execIO(o *operation, submit submitFunc) (int, error) {
	select {
	case <-fd.closing:
		return 0, net.ErrClosed
	default:
	}
	if o.dl.passed() {
		return 0, os.ErrDeadlineExceeded
	}
	select { // pollDesc.prepare forgets a packet no wait took
	case <-o.readyCh:
		fd.st.stats.stalePackets.Add(1)
	default:
	}
	o.ov = spi.Overlapped{}
	n, err := submit(o.th, &o.ov)
	switch {
	case err == nil && fd.skipSyncNotif:
		return int(n), nil
	case err == nil, errors.Is(err, spi.WSA_IO_PENDING):
	default:
		return 0, errnoOf(err)
	}
	waitErr := fd.waitIO(o)
	if waitErr != nil {
		fd.cancelIO(o)
	}
	n, _, err = o.th.WSAGetOverlappedResult(fd.sock, &o.ov, false)
	if err == nil {
		return int(n), nil
	}
	code := spi.ErrnoOf(err)
	if waitErr != nil && (code == spi.WSA_OPERATION_ABORTED || code == spi.WSA_IO_INCOMPLETE) {
		return int(n), mapWaitErr(waitErr)
	}
	if code == spi.WSANOTINITIALISED || (waitErr != nil && fd.st.pollerGone()) {
		// The process ended under the call, which reads as
		// WSANOTINITIALISED or the like whether or not a packet came
		// first: the package promises net.ErrClosed for an operation
		// waiting when its stack goes away.
		return int(n), net.ErrClosed
	}
	return int(n), code
}

// pollerGone reports whether the stack's poller has returned.
func (st *Stack) pollerGone() bool {
	select {
	case <-st.poller.done:
		return true
	default:
		return false
	}
}

// waitIO waits for o's packet, o's deadline, Close, or the end of the
// poller, as pollDesc.wait does, and returns nil for the packet.
func (fd *netFD) waitIO(o *operation) error {
	select {
	case <-o.readyCh:
		return nil
	default:
	}
	select {
	case <-o.readyCh:
		return nil
	case <-o.dl.wait():
		return os.ErrDeadlineExceeded
	case <-fd.closing:
		return net.ErrClosed
	case <-fd.st.poller.done:
		return errPollerGone
	}
}

// cancelIO cancels o's call and waits for its packet (pollDesc.waitCanceled),
// for as long as it takes: over a handle CancelIoEx cannot reach, that is
// for ever unless the call ends by itself, as in Go. Only the end of the
// poller stops the wait.
func (fd *netFD) cancelIO(o *operation) {
	err := o.th.CancelIoEx(fd.sock, &o.ov)
	fd.st.stats.cancels.Add(1)
	if err != nil {
		// ERROR_NOT_FOUND: nothing of ov's is pending on the handle. Go
		// takes it to mean the call already ended (and panics on any
		// other error; winnet treats every error alike).
		fd.st.stats.cancelsNotFound.Add(1)
		if fd.st.opts.CancelBaseHandle {
			fd.cancelOnBase(o)
		}
	}
	select {
	case <-o.readyCh:
	case <-fd.st.poller.done:
	}
}

// cancelOnBase cancels, on the socket's base provider socket
// (SIO_BASE_HANDLE), the calls o's thread issued there (CancelIo): a
// non-IFS layer issues its lower call with the client's thread, so that
// reaches it, as libuv's fallback does.
func (fd *netFD) cancelOnBase(o *operation) {
	var out [8]byte
	if _, err := o.th.WSAIoctl(fd.sock, spi.SIO_BASE_HANDLE, nil, out[:], nil, nil); err != nil {
		return // as libuv: without a base handle there is nothing to cancel on
	}
	base := spi.Socket(binary.LittleEndian.Uint64(out[:]))
	if base == fd.sock {
		return
	}
	if o.th.CancelIo(base) == nil {
		fd.st.stats.baseCancels.Add(1)
	}
}

// mapWaitErr turns a wait error into what the caller reports.
func mapWaitErr(err error) error {
	if err == errPollerGone {
		return net.ErrClosed
	}
	return err
}

// errnoOf returns the Winsock or Win32 code of a simulator error, the
// value Go's syscall layer would return.
func errnoOf(err error) error {
	var code spi.Errno
	if errors.As(err, &code) {
		return code
	}
	return err
}
