package loopback

import (
	"net/netip"
	"slices"

	"github.com/wsspi/wsspi/spi"
)

// sockState is where a socket is in its life.
type sockState uint8

const (
	stateOpen      sockState = iota // created, maybe bound
	stateListening                  // a TCP socket after listen
	stateConnected                  // a TCP connection, or a UDP socket with a default peer
)

// options are the socket options the provider keeps.
type options struct {
	sndbuf    int
	rcvbuf    int
	linger    spi.Linger
	reuseAddr bool
	noDelay   bool
}

// socket is one endpoint of the network: a socket handle of a process, or
// the server end of a connection that waits in a listener's backlog and
// gets its handle at accept. It is also the [spi.FileDriver] of its file
// object. Fields marked "network lock" are guarded by Network.mu; the
// others are set before the socket is shared and never change.
type socket struct {
	n          *Network
	info       spi.WSAProtocolInfo // the catalog entry, as SO_PROTOCOL_INFOW reports it
	v6         bool
	stream     bool
	overlapped bool // created with WSA_FLAG_OVERLAPPED

	// Set once the socket has a handle (at WSPSocket, or at accept for a
	// server end), before the handle is published.
	p  *Provider
	h  spi.Socket
	fo spi.FileObject

	// network lock
	state       sockState
	closed      bool
	nonblocking bool
	bound       bool
	accepted    bool // a server end: shares its listener's port, holds no port of its own
	local       netip.AddrPort
	remote      netip.AddrPort // the peer of a connection, the default peer of UDP
	opt         options
	soError     spi.Errno // SO_ERROR: a nonblocking connect's failure, read and cleared
	shutSend    bool
	shutRecv    bool

	// network lock: a TCP connection
	peer       *socket // the other end; nil once the connection is reset
	rx         ring    // bytes from the peer not yet received
	rxFin      bool    // the peer's FIN follows the bytes in rx
	finPending bool    // SD_SEND was asked while sends were queued
	err        spi.Errno

	// network lock: a listener
	backlog  int
	acceptq  []*socket // established connections not yet accepted
	listener *socket   // for a server end in a backlog: its listener

	// network lock: AcceptEx (see extension.go)
	acceptOp   *op   // an accept socket: the AcceptEx waiting for a connection onto it
	acceptData []*op // a listener: its AcceptEx ops waiting for first data on their accept sockets

	// network lock: UDP
	dq dgramQueue

	// network lock: operations
	sendq     opQueue // sends waiting for buffer space, in submission order
	recvq     opQueue // receives waiting for data, in submission order
	notifyq   opQueue // finished overlapped ops waiting for their Complete call
	notifying bool    // a goroutine is delivering notifyq
	inflight  *op     // the op whose Complete call is running
}

func newSocket(n *Network, info spi.WSAProtocolInfo, overlapped bool) *socket {
	return &socket{
		n:          n,
		info:       info,
		v6:         info.AddressFamily == spi.AF_INET6,
		stream:     info.SocketType == spi.SOCK_STREAM,
		overlapped: overlapped,
		opt:        options{sndbuf: DefaultSendBuffer, rcvbuf: DefaultReceiveBuffer},
	}
}

func (s *socket) udp() bool { return !s.stream }

// maxDatagram is the largest payload a datagram socket sends: its catalog
// entry's dwMessageSize, or MaxDatagramSize when the entry gives none.
func (s *socket) maxDatagram() int {
	if s.info.MessageSize == 0 {
		return MaxDatagramSize
	}
	return int(s.info.MessageSize)
}

// request builds the I/O request of a call: overlapped when ov is set
// (a routine without an overlapped is ignored, as the call is then not
// overlapped).
func request(ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) spi.IORequest {
	if ov == nil {
		return spi.IORequest{}
	}
	req := spi.IORequest{Overlapped: ov, Routine: cr}
	if th != nil {
		req.Thread = *th
	}
	return req
}

// start checks an overlapped request against the socket and resets its
// event. Overlapped calls on a socket made without WSA_FLAG_OVERLAPPED fail
// with WSAEINVAL.
func (s *socket) start(req spi.IORequest) error {
	if req.Overlapped == nil {
		return nil
	}
	if !s.overlapped {
		return spi.WSAEINVAL
	}
	return s.resetEvent(req)
}

// resetEvent resets the request's event through the file object, as the
// I/O manager does when an I/O starts, in the process that issued it. A
// failing reset (an hEvent that names no event) fails the call with
// WSA_INVALID_HANDLE before anything starts.
func (s *socket) resetEvent(req spi.IORequest) error {
	if s.fo == nil || s.fo.ResetEvent(req) == nil {
		return nil
	}
	return spi.WSA_INVALID_HANDLE
}

// errOrNil turns a result code into an error.
func errOrNil(e spi.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// finishLocked records the result of a queued op, which the caller has
// unlinked: an overlapped op goes to its socket's completion queue (and the
// socket to fl), a waiting call is woken.
func (n *Network) finishLocked(o *op, status spi.Errno, fl *flushList) {
	unlinkAcceptLocked(o)
	o.status = status
	if status != 0 && status != spi.WSAEMSGSIZE {
		o.flags = 0 // no result flags for a failure
	}
	if o.req.Overlapped != nil {
		o.s.notifyq.push(o)
		fl.add(o.s)
		return
	}
	if o.from != nil && o.addr.IsValid() {
		*o.from = o.addr
	}
	o.done = true
	n.cond.Broadcast()
}

// returnAndUnlock ends a call whose operation finished at once with the
// given result, releases the network lock and delivers fl. An overlapped
// call's completion is delivered through the file object before the call
// returns, after every completion of the socket decided before it.
func (s *socket) returnAndUnlock(req spi.IORequest, status spi.Errno, bytes, flags uint32, fl *flushList) (uint32, error) {
	n := s.n
	if req.Overlapped == nil {
		n.mu.Unlock()
		fl.flush()
		return bytes, errOrNil(status)
	}
	if n.sched != nil {
		return s.scheduleResultAndUnlock(req, status, bytes, flags, fl)
	}
	if !s.notifying && s.notifyq.empty() {
		// Fast path: nothing of this socket is waiting to be delivered, so
		// this call delivers its own completion, with no op record.
		s.notifying = true
		n.mu.Unlock()
		fl.flush()
		s.deliver(req, status, bytes, flags, true)
		n.mu.Lock()
		s.drainAndUnlock()
		return bytes, errOrNil(status)
	}
	o := getOp(s, req, nil, 0, false)
	o.n, o.flags, o.status, o.immediate, o.wait = bytes, flags, status, true, true
	s.notifyq.push(o)
	n.mu.Unlock()
	fl.flush()
	s.flush()
	n.mu.Lock()
	for !o.done {
		n.cond.Wait()
	}
	n.mu.Unlock()
	putOp(o)
	return bytes, errOrNil(status)
}

// scheduleResultAndUnlock is returnAndUnlock for an overlapped call under a
// scheduler: when the scheduler says so, or when earlier completions of the
// socket are still queued, the call returns WSA_IO_PENDING (with Internal
// set to WSS_OPERATION_IN_PROGRESS) instead of its result, and the result
// is delivered through the scheduler behind the earlier ones; otherwise it
// is delivered before the call returns.
func (s *socket) scheduleResultAndUnlock(req spi.IORequest, status spi.Errno, bytes, flags uint32, fl *flushList) (uint32, error) {
	pend := s.n.sched.Pend()
	if !pend && !s.notifying && s.notifyq.empty() {
		// An immediate result is delivered before the call returns, as the
		// I/O manager writes the status block of a request that completes
		// at once; only a result queued behind others is made to pend.
		s.notifying = true
		s.n.mu.Unlock()
		fl.flush()
		s.deliver(req, status, bytes, flags, true)
		s.n.mu.Lock()
		s.drainAndUnlock()
		return bytes, errOrNil(status)
	}
	o := getOp(s, req, nil, 0, false)
	o.n, o.flags, o.status, o.immediate = bytes, flags, status, false
	req.Overlapped.SetInProgress()
	s.notifyq.push(o)
	s.n.mu.Unlock()
	fl.flush()
	s.flush()
	return 0, spi.WSA_IO_PENDING // queued: the result comes through the scheduler
}

// waitOrPendAndUnlock queues an operation that cannot finish now. A
// nonblocking, non-overlapped call fails with WSAEWOULDBLOCK; a blocking
// call waits until its op is done; an overlapped call returns WSA_IO_PENDING
// with Internal set to WSS_OPERATION_IN_PROGRESS. It releases the network
// lock. A blocking receive reports its result flags in flagsOut.
func (s *socket) waitOrPendAndUnlock(o *op, flagsOut *uint32, fl *flushList) (uint32, error) {
	n := s.n
	overlapped := o.req.Overlapped != nil
	if !overlapped && s.nonblocking {
		n.mu.Unlock()
		putOp(o)
		fl.flush()
		return 0, spi.WSAEWOULDBLOCK
	}
	if overlapped {
		o.req.Overlapped.SetInProgress()
	} else {
		o.wait = true
	}
	if o.recv {
		s.recvq.push(o)
	} else {
		s.sendq.push(o)
	}
	n.settleLocked(s, fl) // a MSG_WAITALL receive takes what is there already
	n.mu.Unlock()
	fl.flush()
	if overlapped {
		return 0, spi.WSA_IO_PENDING // o belongs to the network now
	}
	n.mu.Lock()
	for !o.done {
		n.cond.Wait()
	}
	bytes, status := o.n, o.status
	if flagsOut != nil {
		*flagsOut = o.flags
	}
	n.mu.Unlock()
	putOp(o)
	return bytes, errOrNil(status)
}

// deliver reports a finished overlapped operation through the file object,
// following the provider convention first: Offset = result flags,
// OffsetHigh = Winsock error.
func (s *socket) deliver(req spi.IORequest, status spi.Errno, bytes, flags uint32, immediate bool) {
	req.Overlapped.StoreOffset(flags)
	req.Overlapped.StoreOffsetHigh(uint32(status))
	s.fo.Complete(req, status, bytes, flags, immediate)
}

// flush delivers the socket's queued completions unless another goroutine
// is already doing so; under a scheduler it hands that to the scheduler,
// keyed by the socket. The network lock must not be held.
func (s *socket) flush() {
	if sched := s.n.sched; sched != nil {
		sched.Defer(s, s.deliverQueued)
		return
	}
	s.deliverQueued()
}

// deliverQueued is flush done now.
func (s *socket) deliverQueued() {
	n := s.n
	n.mu.Lock()
	if s.notifying || s.notifyq.empty() {
		n.mu.Unlock()
		return
	}
	s.notifying = true
	s.drainAndUnlock()
}

// drainAndUnlock delivers notifyq in order, one Complete call at a time
// and never under the lock, then clears notifying and releases the lock.
// The caller holds the lock and has set notifying.
func (s *socket) drainAndUnlock() {
	n := s.n
	for o := s.notifyq.pop(); o != nil; o = s.notifyq.pop() {
		s.inflight = o
		n.mu.Unlock()
		if o.from != nil && o.addr.IsValid() {
			*o.from = o.addr
		}
		s.deliver(o.req, o.status, o.n, o.flags, o.immediate)
		n.mu.Lock()
		s.inflight = nil
		if o.wait {
			o.done = true
		} else {
			putOp(o)
		}
	}
	s.notifying = false
	n.cond.Broadcast()
	n.mu.Unlock()
}

// knowsLocked reports whether ov belongs to an operation of the socket that
// has not been delivered yet.
func (s *socket) knowsLocked(ov *spi.Overlapped) bool {
	return s.sendq.has(ov) || s.recvq.has(ov) || s.notifyq.has(ov) ||
		(s.inflight != nil && s.inflight.req.Overlapped == ov) ||
		slices.ContainsFunc(s.acceptData, func(o *op) bool { return o.req.Overlapped == ov }) ||
		s.n.addressListChangePendingLocked(s, ov)
}

// getOverlappedResult implements WSPGetOverlappedResult per the provider
// convention: while Internal is WSS_OPERATION_IN_PROGRESS the operation is
// pending (WSA_IO_INCOMPLETE without wait; with wait, block until it is
// delivered, or WSAEINVAL if the socket has no such operation); then
// InternalHigh is the byte count, Offset the flags and OffsetHigh the error
// (Internal when OffsetHigh is 0 and Internal is not, for a result the
// kernel wrote alone). Bytes and flags come back with an error too.
func (s *socket) getOverlappedResult(ov *spi.Overlapped, wait bool) (uint32, uint32, error) {
	if ov == nil {
		return 0, 0, spi.WSAEFAULT
	}
	if ov.InProgress() {
		if !wait {
			return 0, 0, spi.WSA_IO_INCOMPLETE
		}
		n := s.n
		n.mu.Lock()
		for ov.InProgress() {
			if !s.knowsLocked(ov) {
				n.mu.Unlock()
				return 0, 0, spi.WSAEINVAL
			}
			n.cond.Wait()
		}
		n.mu.Unlock()
	}
	bytes, flags := uint32(ov.LoadInternalHigh()), ov.LoadOffset()
	e := spi.Errno(ov.LoadOffsetHigh())
	if e == 0 {
		e = spi.NtStatusToWinsockError(spi.NTStatus(ov.LoadInternal()))
	}
	return bytes, flags, errOrNil(e)
}

// close serves WSPCloseSocket. Every pending overlapped operation finishes
// once, with WSAECONNABORTED on a connected stream socket and
// WSA_OPERATION_ABORTED otherwise (see abortOpsLocked), and blocked calls
// return WSAEINTR. A
// connection is closed gracefully (the peer reads the data sent, then 0
// bytes) unless SO_LINGER is {1, 0} or unread data is left, which resets it
// (the peer gets WSAECONNRESET). Connections waiting in a listener's
// backlog are reset. The file object is closed last, after every
// completion of the socket has been delivered.
func (s *socket) close() {
	n := s.n
	var fl flushList
	n.mu.Lock()
	if s.closed {
		n.mu.Unlock()
		return
	}
	s.closed = true
	n.abortOpsLocked(s, false, &fl)
	abortive := s.rx.Len() > 0 || (s.opt.linger.OnOff != 0 && s.opt.linger.Linger == 0)
	n.teardownLocked(s, abortive, &fl)
	if sched := n.sched; sched != nil {
		// The aborted operations complete, and the file object closes,
		// when the scheduler says: after closesocket may have returned.
		n.mu.Unlock()
		fl.flush()
		sched.Defer(s, s.finishClose)
		return
	}
	s.waitDeliveredAndUnlock()
	fl.flush()
	s.fo.Close()
}

// Cleanup serves [spi.FileDriver.Cleanup], CloseHandle on the socket's
// handle: the socket closes as closesocket closes it (its pending
// operations abort, its connection closes gracefully unless SO_LINGER or
// unread data make it abortive), but the provider's table keeps its entry,
// as msafd keeps its user-mode socket when closesocket is bypassed: calls
// that still reach it fail with WSAENOTSOCK, and the last WSPCleanup
// drops it.
func (s *socket) Cleanup() { s.close() }

// finishClose delivers what is left to deliver of a closed socket, then
// closes its file object: the end of close under a scheduler.
func (s *socket) finishClose() {
	s.n.mu.Lock()
	s.waitDeliveredAndUnlock()
	s.fo.Close()
}

// closeAll closes the sockets of a process at its last WSPCleanup: first
// every pending operation of every one of them is cancelled without any
// Complete call (its Overlapped gets WSA_OPERATION_ABORTED in Internal and
// OffsetHigh; blocked calls return WSAEINTR), so that resetting one of the
// process's connections notifies nothing in the process; then every
// connection is reset and every socket closed.
func (n *Network) closeAll(socks []*socket) {
	var fl flushList
	n.mu.Lock()
	socks = slices.DeleteFunc(socks, func(s *socket) bool { return s.closed }) // ended by CloseHandle
	for _, s := range socks {
		s.closed = true
		n.abortOpsLocked(s, true, &fl)
	}
	for _, s := range socks {
		n.teardownLocked(s, true, &fl)
	}
	for _, s := range socks {
		s.waitDeliveredAndUnlock()
		n.mu.Lock()
	}
	n.mu.Unlock()
	fl.flush()
	for _, s := range socks {
		s.fo.Close()
	}
}

// abortOpsLocked ends the queued operations of a closing socket: blocked
// calls with WSAEINTR; overlapped operations delivered through Complete
// unless silent, in which case the status is only written into the
// Overlapped. On a connected stream socket the close aborts the
// connection's I/O, WSAECONNABORTED (STATUS_CONNECTION_ABORTED, which
// GetQueuedCompletionStatus reports as ERROR_CONNECTION_ABORTED, as
// Windows since Vista does for a receive pending at closesocket: Wine's
// tests of Windows, docs/facts.md §9.4); on any other socket it cancels
// them, WSA_OPERATION_ABORTED (STATUS_CANCELLED). AcceptEx operations are
// cancelled (see abortAcceptLocked).
func (n *Network) abortOpsLocked(s *socket, silent bool, fl *flushList) {
	n.abortAcceptLocked(s, silent, fl)
	code := spi.WSA_OPERATION_ABORTED
	if s.stream && s.state == stateConnected {
		code = spi.WSAECONNABORTED
	}
	for _, q := range [2]*opQueue{&s.sendq, &s.recvq} {
		for o := q.pop(); o != nil; o = q.pop() {
			switch {
			case o.req.Overlapped == nil:
				n.finishLocked(o, spi.WSAEINTR, fl)
			default:
				n.abortOpLocked(o, code, silent, fl)
			}
		}
	}
	n.abortAddressListChangeLocked(s, silent, fl)
}

// teardownLocked releases what a closing socket holds in the network: its
// port, its backlog (each waiting connection is reset) and its connection
// (reset when abortive, else ended with a FIN after the data sent).
func (n *Network) teardownLocked(s *socket, abortive bool, fl *flushList) {
	n.unbindLocked(s)
	switch {
	case s.state == stateListening:
		for _, c := range s.acceptq {
			c.closed, c.listener = true, nil
			n.resetConnLocked(c, fl)
		}
		s.acceptq = nil
	case s.stream && s.state == stateConnected:
		if abortive {
			n.resetConnLocked(s, fl)
		} else if d := s.peer; d != nil {
			s.sendFinLocked()
			n.settleLocked(d, fl)
		}
	}
	s.dq.reset()
	n.cond.Broadcast()
}

// waitDeliveredAndUnlock delivers what is left in the completion queue of
// a closed socket, or waits for the goroutine delivering it, then releases
// the network lock.
func (s *socket) waitDeliveredAndUnlock() {
	n := s.n
	if !s.notifying && !s.notifyq.empty() {
		s.notifying = true
		s.drainAndUnlock()
		n.mu.Lock()
	}
	for s.notifying {
		n.cond.Wait()
	}
	n.mu.Unlock()
}

// ReadFile receives into buf with WSPRecv semantics and no flags; it is how
// ReadFile on the socket's handle reaches the provider. With an overlapped
// on a socket made without WSA_FLAG_OVERLAPPED it runs synchronously (see
// syncFile).
func (s *socket) ReadFile(buf []byte, req spi.IORequest) (uint32, error) {
	bufs := [1][]byte{buf}
	var flags uint32
	if req.Overlapped != nil && !s.overlapped {
		return s.syncFile(req, func(sync spi.IORequest) (uint32, error) {
			return s.recv(bufs[:], &flags, nil, sync)
		})
	}
	return s.recv(bufs[:], &flags, nil, req)
}

// WriteFile sends buf with WSPSend semantics; it is how WriteFile on the
// socket's handle reaches the provider. The rule of [socket.ReadFile] for
// an overlapped on a socket that is not overlapped applies.
func (s *socket) WriteFile(buf []byte, req spi.IORequest) (uint32, error) {
	bufs := [1][]byte{buf}
	if req.Overlapped != nil && !s.overlapped {
		return s.syncFile(req, func(sync spi.IORequest) (uint32, error) {
			return s.send(bufs[:], 0, netip.AddrPort{}, false, sync)
		})
	}
	return s.send(bufs[:], 0, netip.AddrPort{}, false, req)
}

// syncFile serves ReadFile or WriteFile with an overlapped on a socket made
// without WSA_FLAG_OVERLAPPED, as the I/O manager serves a handle opened
// without FILE_FLAG_OVERLAPPED: the OVERLAPPED does not make the call
// asynchronous. The event is reset, the call runs as one with no
// overlapped (it waits, or fails with WSAEWOULDBLOCK when nonblocking), and
// a result that is not an error (a success, or a truncated datagram) is
// written to the status block and signals the event, through the file
// object, before the call returns. A failure notifies nothing.
func (s *socket) syncFile(req spi.IORequest, call func(spi.IORequest) (uint32, error)) (uint32, error) {
	if err := s.resetEvent(req); err != nil {
		return 0, err
	}
	n, err := call(spi.IORequest{Thread: req.Thread})
	if status := spi.ErrnoOf(err); err == nil || status == spi.WSAEMSGSIZE {
		s.deliver(req, status, n, 0, true)
	}
	return n, err
}

// CancelIo cancels the pending overlapped operations of the socket issued
// by thread (matched by ThreadHandle; any thread with allThreads) that use
// ov (any with ov nil). Each completes once with ERROR_OPERATION_ABORTED.
// Blocking calls are not cancelled (CancelIo does not cancel synchronous
// I/O).
func (s *socket) CancelIo(thread spi.ThreadID, allThreads bool, ov *spi.Overlapped) int {
	n := s.n
	var fl flushList
	count := 0
	n.mu.Lock()
	for _, q := range [2]*opQueue{&s.sendq, &s.recvq} {
		var prev *op
		for o := q.head; o != nil; {
			next := o.next
			if o.req.Overlapped != nil &&
				(allThreads || o.req.Thread.ThreadHandle == thread.ThreadHandle) &&
				(ov == nil || o.req.Overlapped == ov) {
				q.remove(prev, o)
				n.finishLocked(o, spi.ERROR_OPERATION_ABORTED, &fl)
				count++
			} else {
				prev = o
			}
			o = next
		}
	}
	count += n.cancelAcceptDataLocked(s, func(o *op) bool {
		return (allThreads || o.req.Thread.ThreadHandle == thread.ThreadHandle) &&
			(ov == nil || o.req.Overlapped == ov)
	}, &fl)
	count += n.cancelAddressListChangeLocked(s, func(o *op) bool {
		return (allThreads || o.req.Thread.ThreadHandle == thread.ThreadHandle) &&
			(ov == nil || o.req.Overlapped == ov)
	}, &fl)
	if count > 0 {
		n.settleLocked(s, &fl)
	}
	n.mu.Unlock()
	fl.flush()
	return count
}
