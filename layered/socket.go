package layered

import (
	"sync"
	"sync/atomic"

	"github.com/wsspi/wsspi/spi"
)

// Socket is one socket of a provider built on the kit, as its hooks see
// it: the pairing of the handle the client holds, made with
// WPUCreateSocketHandle, and the next layer's socket. Its methods are safe
// for concurrent use.
type Socket struct {
	in         *Instance
	handle     spi.Socket           // the layer's handle, the client's socket
	lower      spi.Socket           // the next layer's socket
	info       *spi.WSAProtocolInfo // what SO_PROTOCOL_INFOW reports
	overlapped bool                 // created with WSA_FLAG_OVERLAPPED
	skip       bool                 // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS is set on lower
	shared     bool                 // lower came from WSPDuplicateSocket's protocol info

	closing atomic.Bool  // closesocket or WSPCleanup began; new calls get WSAENOTSOCK
	pending atomic.Int32 // overlapped operations not yet completed to the client

	completeMu sync.Mutex // serializes the socket's WPUCompleteOverlappedRequest calls

	selMu sync.Mutex // serializes the socket's WSPAsyncSelect calls with each other and with its close

	mu           sync.Mutex    // guards ops, lowerClosed, handleClosed, waitCh, value, refs and async
	ops          opList        // the outstanding operations, in issue order
	lowerClosed  bool          // closesocket closed the lower socket: the handle closes once nothing keeps it open
	handleClosed bool          // WPUCloseSocketHandle was called (or is being called)
	waitCh       chan struct{} // closed when an operation ends, for WSPGetOverlappedResult waiters
	value        any           // the user's, see SetValue
	refs         int           // calls under way that keep the handle open (WSPSelect)
	async        asyncSel      // the client's WSAAsyncSelect

	// awaiting holds the ops of the socket a packet may still come for
	// (see expect), made with the socket's first overlapped operation.
	awaiting atomic.Pointer[awaitSlots]
}

// awaitSlots are a socket's slots for the ops that await a packet. The
// issuing threads fill them in turn (next, under the socket's lock) and
// the workers, which dequeue the packets in about that order, look for
// each packet's op from where the last one was found (hint), so that a
// packet usually costs one probe.
type awaitSlots struct {
	slots [awaitSlotCount]atomic.Pointer[op]
	next  uint32        // the slot the next op tries first; guarded by the socket's mu
	_     [64]byte      // next and hint on lines of their own: one side writes each
	hint  atomic.Uint32 // where the workers look first
}

// awaitSlotCount is how many ops a socket's slots hold (2 KB of them); more
// await in the provider's registry. A worker that runs behind its issuing
// thread leaves hundreds of ops awaiting the packet that only drops their
// reference, over a non-IFS layer (a three-layer chain: bench/README.md,
// "layered").
const awaitSlotCount = 256

// Handle returns the socket's handle: the one the client holds, made by
// WPUCreateSocketHandle.
func (s *Socket) Handle() spi.Socket { return s.handle }

// Lower returns the next layer's socket, which the layer's calls use.
func (s *Socket) Lower() spi.Socket { return s.lower }

// Protocol returns the catalog entry the socket was created for: the
// protocol chain, as getsockopt(SO_PROTOCOL_INFOW) reports it.
func (s *Socket) Protocol() spi.WSAProtocolInfo { return *s.info }

// Value returns what SetValue stored, or nil.
func (s *Socket) Value() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.value
}

// SetValue stores a value of the user's with the socket, such as a hook's
// per-socket counters.
func (s *Socket) SetValue(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.value = v
}

// lookup maps the layer's handle h to its socket, as the sample's
// FindAndRefSocketContext does with WPUQuerySocketHandleContext. A handle
// that is not one of this instance's sockets (another provider's, a closed
// one, or one being closed) gives WSAENOTSOCK. It takes no lock.
func (in *Instance) lookup(e *env, h spi.Socket) (*Socket, error) {
	ctx, err := e.upcalls.WPUQuerySocketHandleContext(h)
	if err != nil {
		return nil, spi.WSAENOTSOCK
	}
	s, ok := ctx.(*Socket)
	if !ok || s.in != in || s.closing.Load() {
		return nil, spi.WSAENOTSOCK
	}
	return s, nil
}

// newSocket pairs a new lower socket, made from the layer's socket from
// (by WSPJoinLeaf), with a handle of the layer's own, with from's entry,
// overlapped mode and WSAAsyncSelect: it
// creates the handle with WPUCreateSocketHandle, associates the lower
// socket with the private completion port (key: the layer's handle), and,
// when the layer below is IFS, sets FILE_SKIP_COMPLETION_PORT_ON_SUCCESS on
// it so immediate successes can be forwarded inline. On failure it closes
// what it made, the lower socket included.
func (in *Instance) newSocket(e *env, lower spi.Socket, from *Socket) (spi.Socket, error) {
	s, err := in.reserve(e, from.info, from.overlapped)
	if err != nil {
		_ = e.next.ProcTable.WSPCloseSocket(lower)
		return spi.INVALID_SOCKET, err
	}
	s.inherit(from)
	return in.attach(e, s, lower)
}

// reserve makes the handle of a socket whose lower socket is still to come:
// an accept takes the handle before the connection, as msafd's WSPAccept
// creates the accepting socket before it takes the connection off the
// backlog, so that a full handle table leaves the connection queued.
func (in *Instance) reserve(e *env, info *spi.WSAProtocolInfo, overlapped bool) (*Socket, error) {
	s := &Socket{in: in, info: info, overlapped: overlapped}
	h, err := e.upcalls.WPUCreateSocketHandle(e.owner, s)
	if err != nil {
		return nil, err
	}
	s.handle = h
	return s, nil
}

// attach completes a reserved socket with its lower socket (see newSocket).
func (in *Instance) attach(e *env, s *Socket, lower spi.Socket) (spi.Socket, error) {
	s.lower = lower
	h := s.handle
	fail := func(err error) (spi.Socket, error) {
		_ = e.next.ProcTable.WSPCloseSocket(lower)
		_ = e.upcalls.WPUCloseSocketHandle(h)
		return spi.INVALID_SOCKET, err
	}
	if _, err := e.imports.CreateIoCompletionPort(lower, e.port, uintptr(h), 0); err != nil && (!s.shared || spi.ErrnoOf(err) != spi.ERROR_INVALID_PARAMETER) {
		// A lower socket made from WSPDuplicateSocket's info shares its file
		// object, whose port (the private port of the copy of the layer that
		// made it first) is set for life: its completions arrive there and
		// are forwarded through the copy of the layer that issued them (see op).
		if in.env.Load() != e {
			// The last WSPCleanup closed the private port meanwhile: the
			// caller hears the Winsock code of a cleaned-up provider, not
			// the port's ERROR_INVALID_HANDLE.
			return fail(spi.WSANOTINITIALISED)
		}
		return fail(spi.ErrnoOf(err))
	}
	if e.lowerIFS {
		s.skip = e.imports.SetFileCompletionNotificationModes(lower, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS) == nil
	}
	in.smu.Lock()
	if in.env.Load() != e { // the instance was cleaned up meanwhile
		in.smu.Unlock()
		return fail(spi.WSANOTINITIALISED)
	}
	in.socks[s] = struct{}{}
	in.lowers[lower] = s
	early := in.early[lower]
	delete(in.early, lower)
	in.smu.Unlock()
	in.p.sockets.Add(1)
	in.postEarly(s, early)
	return h, nil
}

// closeSocket serves WSPCloseSocket, through the hooks (see closeLower).
func (in *Instance) closeSocket(h spi.Socket) error {
	e, err := in.current()
	if err != nil {
		return err
	}
	s, err := in.lookup(e, h)
	if err != nil {
		return err
	}
	if !in.p.cfg.Hooks.acts() {
		return in.closeLower(e, s)
	}
	c := &Call{Op: OpClose, Func: fnClose, Socket: s}
	_, err = in.sync(s, c, func(*Call) (uint32, error) { return 0, in.closeLower(e, s) }, nil)
	return err
}

// closeLower closes s: later calls on s fail with WSAENOTSOCK, its
// WSAAsyncSelect is cancelled below (see cancelAsyncSelect), the lower
// socket is closed (its pending operations complete with
// WSA_OPERATION_ABORTED and are forwarded, once each), and the layer's
// handle is closed once the last outstanding operation has been
// forwarded and no WSPSelect holds it: at once if there is none,
// otherwise by that last forwarding or select (the sample's
// CheckForContextCleanup and DerefSocketContext). A lower close that fails leaves
// the socket open and returns the error (WSAEWOULDBLOCK, as WSPCloseSocket
// documents, or any other: the layer below keeps its socket, and its
// pending operations, whose completions the layer must still forward),
// except WSAENOTSOCK: the lower socket is gone already, and the layer's
// closes.
func (in *Instance) closeLower(e *env, s *Socket) error {
	s.selMu.Lock()
	s.mu.Lock()
	if !s.closing.CompareAndSwap(false, true) {
		s.mu.Unlock()
		s.selMu.Unlock()
		return spi.WSAENOTSOCK
	}
	s.mu.Unlock()
	restore := in.cancelAsyncSelect(e, s)
	if err := e.next.ProcTable.WSPCloseSocket(s.lower); err != nil && errnoOf(err) != spi.WSAENOTSOCK {
		restore()
		s.closing.Store(false)
		s.selMu.Unlock()
		return err
	}
	s.selMu.Unlock()
	in.forgetLower(s)
	in.onClose(s)
	s.mu.Lock()
	s.lowerClosed = true
	now := s.pending.Load() == 0 && s.refs == 0 && !s.handleClosed
	s.handleClosed = s.handleClosed || now
	s.mu.Unlock()
	if now {
		in.closeHandle(e, s)
	}
	return nil
}

// closeHandle closes the layer's handle of s, once its socket is done.
func (in *Instance) closeHandle(e *env, s *Socket) {
	in.moveAwaiting(s)
	s.closeOwnHandle(e)
	in.smu.Lock()
	delete(in.socks, s)
	in.smu.Unlock()
	in.p.sockets.Add(-1)
}

// abandon ends s for the last WSPCleanup, whose workers have stopped: its
// outstanding operations end without notification and its handle closes.
func (s *Socket) abandon(e *env) {
	s.mu.Lock()
	ops := s.ops.takeAll()
	now := !s.handleClosed
	s.handleClosed = true
	ch := s.waitCh
	s.waitCh = nil
	s.mu.Unlock()
	for _, o := range ops {
		if o.unhold() { // else forwarded by a call racing with the cleanup
			s.dropAbandoned(e, o)
		}
	}
	if ch != nil {
		close(ch)
	}
	if now {
		s.closeOwnHandle(e)
		s.in.p.sockets.Add(-1)
	}
}

// dropAbandoned ends o, which the last WSPCleanup abandoned (see unhold),
// without notification: its client overlapped gets WSA_OPERATION_ABORTED,
// and it stops counting as outstanding. o is never recycled: the layer
// below may still write its overlapped.
func (s *Socket) dropAbandoned(e *env, o *op) {
	s.mu.Lock()
	s.ops.remove(o)
	s.mu.Unlock()
	o.endSilently(e, spi.WSA_OPERATION_ABORTED)
	s.pending.Add(-1)
	p := s.in.p
	p.outstanding.Add(-1)
	p.abandoned.Add(1)
}

// closeOwnHandle closes the layer's handle of s if it is still s's: a
// client that closed it with CloseHandle (which the layer is never told
// of) may have let the value go to another socket since.
func (s *Socket) closeOwnHandle(e *env) {
	if ctx, err := e.upcalls.WPUQuerySocketHandleContext(s.handle); err == nil && ctx == s {
		_ = e.upcalls.WPUCloseSocketHandle(s.handle)
	}
}

// complete tells the client of the end of an operation on s with
// WPUCompleteOverlappedRequest. It marks c in progress again first if an
// earlier completion ended it: a client that gave one OVERLAPPED to two
// operations at once (undefined on Windows, where each completion simply
// overwrites it) must still get both packets, and
// WPUCompleteOverlappedRequest completes only an overlapped in progress.
// completeMu keeps two such completions of one socket from meeting in the
// call; it is the only lock of the kit's held across an upcall that may
// hand work to a Scheduler, whose Defer runs no other deferred work before
// it returns ([spi.Scheduler]), so nothing comes back to the socket
// inside it.
func (s *Socket) complete(e *env, c *spi.Overlapped, status spi.Errno, bytes uint32) error {
	s.completeMu.Lock()
	defer s.completeMu.Unlock()
	if !c.InProgress() {
		c.SetInProgress()
	}
	return e.imports.WPUCompleteOverlappedRequest(s.handle, c, status, bytes)
}

// errnoOf returns the code of a provider's error without allocating for a
// bare Errno, the usual case.
func errnoOf(err error) spi.Errno {
	if e, ok := err.(spi.Errno); ok {
		return e
	}
	return spi.ErrnoOf(err)
}
