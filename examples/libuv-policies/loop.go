package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// The bounds of the loop's waits. A bound and not spi.Infinite, so that
// a lost completion is a named failure of one socket, after which the
// scenario goes on to the next, instead of a hang the kit ends for the
// whole scenario; and so that -matrix, outside a synctest bubble, pays
// at most these per failure.
const (
	// packetWait is how long the loop waits for a packet it expects.
	packetWait = 300 * time.Millisecond
	// quietWait is how long the loop listens, at the end, for packets
	// nobody expects: a doubled completion may come from a layer's worker
	// after the operation was handled.
	quietWait = 50 * time.Millisecond
)

// The kinds of failure a scenario names; the matrix shows them.
var (
	errLost       = errors.New("lost")        // no packet reached the loop's port
	errDoubled    = errors.New("doubled")     // a second packet for an operation already handled
	errWrongBytes = errors.New("wrong bytes") // the operation moved other bytes than were sent
	errStray      = errors.New("stray")       // a packet on a port the loop does not own
	errUnknown    = errors.New("unknown packet")
)

// sockErr is a failure of the loop on one of its sockets, as "tcp4
// lost": which socket, and what went wrong.
type sockErr struct {
	sock string // "tcp4", "tcp6", "udp", or "detect" for start-up
	err  error  // one of the errors above, or what a call returned
	what string // the detail: which operation, what was seen
}

func (e *sockErr) Error() string { return e.sock + ": " + e.err.Error() + ": " + e.what }
func (e *sockErr) Unwrap() error { return e.err }

// tag is what failed, for the matrix: the request and the kind ("recv
// lost"), or the error code of a call that failed.
func (e *sockErr) tag() string {
	op, kind := e.opKind()
	if op == "" {
		return kind
	}
	return op + " " + kind
}

// opKind splits tag: the request ("" for a call that failed) and the
// kind or error code.
func (e *sockErr) opKind() (op, kind string) {
	var errno spi.Errno
	if errors.As(e.err, &errno) {
		return "", errno.Name()
	}
	op, _, _ = strings.Cut(e.what, ": ")
	return op, e.err.Error()
}

// reason is the failure without its socket, one line of the matrix's
// legend.
func (e *sockErr) reason() string {
	var errno spi.Errno
	if errors.As(e.err, &errno) {
		// The code's text alone: the error's own would name handles,
		// which differ from run to run.
		return e.what + ": " + errno.Error()
	}
	_, detail, _ := strings.Cut(e.what, ": ")
	return detail
}

// loop is a libuv loop: one completion port for every socket, whose
// packets it matches to its requests by OVERLAPPED, as libuv does with
// its uv_req_t.
type loop struct {
	p    *wsspi.Process
	th   *wsspi.Thread
	port spi.Handle
	// handled names each request the loop processed, so that a second
	// packet for one shows as doubled instead of unknown.
	handled map[*spi.Overlapped]request
	errs    []error
}

func newLoop(p *wsspi.Process) (*loop, error) {
	port, err := p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)
	if err != nil {
		return nil, err
	}
	return &loop{p: p, th: p.NewThread(), port: port, handled: map[*spi.Overlapped]request{}}, nil
}

// fail records a failure of the socket sock and returns it.
func (l *loop) fail(sock string, err error, format string, args ...any) error {
	e := &sockErr{sock: sock, err: err, what: fmt.Sprintf(format, args...)}
	l.errs = append(l.errs, e)
	return e
}

// await waits for the packet of the request ov and returns its byte
// count; a packet with an error status is a failure unless failing. A packet of a request already handled, met on the way, is a
// doubled completion, recorded against the socket it belonged to.
func (l *loop) await(sock, op string, ov *spi.Overlapped, failing bool) (uint32, error) {
	for {
		e, err := l.th.GetQueuedCompletionStatus(l.port, packetWait)
		switch {
		case errors.Is(err, spi.WAIT_TIMEOUT):
			return 0, l.fail(sock, errLost, "%s: no packet reached the loop's port within %v", op, packetWait)
		case e.Overlapped == nil:
			return 0, l.fail(sock, err, "%s: GetQueuedCompletionStatus", op)
		case e.Overlapped == ov:
			l.handled[ov] = request{sock, op}
			if err != nil && !failing {
				return 0, l.fail(sock, err, "%s: the packet's status", op)
			}
			return e.NumberOfBytesTransferred, nil
		}
		l.stray(e)
	}
}

// stray records a packet no request waits for.
func (l *loop) stray(e spi.OverlappedEntry) {
	if r, ok := l.handled[e.Overlapped]; ok {
		l.fail(r.sock, errDoubled, "%s: a second packet after the loop processed the request (KB 2568167)", r.op)
		return
	}
	l.fail("loop", errUnknown, "key %d, %d bytes", e.CompletionKey, e.NumberOfBytesTransferred)
}

// request names a request of the loop: its socket and operation.
type request struct{ sock, op string }

// done marks ov processed without a packet: the synchronous success of
// a socket in skip-on-success mode, which libuv processes at once
// (uv__insert_pending_req), trusting that no packet follows.
func (l *loop) done(sock, op string, ov *spi.Overlapped) { l.handled[ov] = request{sock, op} }

// drain listens for the packets nobody waits for, once every request is
// processed, and on the other ports too (those of imported sockets).
func (l *loop) drain(others map[string]spi.Handle) {
	wait := quietWait
	for {
		e, err := l.th.GetQueuedCompletionStatus(l.port, wait)
		if e.Overlapped == nil && err != nil {
			break
		}
		l.stray(e)
		wait = 0
	}
	for sock, port := range others {
		if _, err := l.th.GetQueuedCompletionStatus(port, 0); err == nil || !errors.Is(err, spi.WAIT_TIMEOUT) {
			l.fail(sock, errStray, "the port the socket had before the loop got a packet")
		}
	}
}

// result is the scenario's error: every failure the loop recorded.
func (l *loop) result() error { return errors.Join(l.errs...) }

// checkBytes compares what an operation moved with what was sent.
func (l *loop) checkBytes(sock, op string, n uint32, got, want []byte) error {
	if int(n) != len(want) || (got != nil && string(got[:min(int(n), len(got))]) != string(want)) {
		return l.fail(sock, errWrongBytes, "%s: %d bytes %q, want %q", op, n, got[:min(int(n), len(got))], want)
	}
	return nil
}

// peer is the other end of a socket of the loop: a socket of a process
// of its own, on a base entry below every layer, so that a failure is
// the loop's side alone.
type peer struct {
	th   *wsspi.Thread
	s    spi.Socket
	addr netip.AddrPort // for UDP: where it is bound
}

// send sends b from the peer, blocking.
func (pr peer) send(b []byte, to netip.AddrPort) error {
	var err error
	if to.IsValid() {
		_, err = pr.th.WSASendTo(pr.s, [][]byte{b}, 0, to, nil, nil)
	} else {
		_, err = pr.th.WSASend(pr.s, [][]byte{b}, 0, nil, nil)
	}
	return err
}

// recv receives what the loop sent, blocking.
func (pr peer) recv(n int) ([]byte, error) {
	buf := make([]byte, n)
	var flags uint32
	got, err := pr.th.WSARecv(pr.s, [][]byte{buf}, &flags, nil, nil)
	return buf[:got], err
}
