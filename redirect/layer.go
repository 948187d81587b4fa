package redirect

import (
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// OwnerFunc finds the proc table of the provider that owns socket s: how
// the layer reaches the WSPRecv and WSPSend of a non-IFS handle's owner.
type OwnerFunc func(op string, s spi.Socket) (*spi.WSPProcTable, error)

// Layer is the IFS layer of one process (ws2ifsl's per-process provider
// helper): it makes the process's socket objects and serves the file system
// calls on them. A Layer is safe for concurrent use.
type Layer struct {
	table  *handles.Table
	kernel *iocp.Kernel
	owner  OwnerFunc
	counts counter
	trace  trace.Sink // nil: tracing is off
}

// Options configures a [Layer]. The zero value traces nothing.
type Options struct {
	// Trace, when set, receives a [trace.Transition] event for every
	// user/kernel round trip the layer charges. It is fixed at
	// construction, as [iocp.Options.Trace] is, so that a running layer
	// never reads a field another goroutine writes.
	Trace trace.Sink
}

// New returns the IFS layer of the process whose handle table and kernel
// are table and kernel; owner finds the providers of non-IFS handles. All
// three are required.
func New(table *handles.Table, kernel *iocp.Kernel, owner OwnerFunc, opts Options) *Layer {
	if table == nil || kernel == nil || owner == nil {
		panic("redirect: New needs a handle table, a kernel and an OwnerFunc")
	}
	return &Layer{table: table, kernel: kernel, owner: owner, trace: opts.Trace}
}

// Transitions returns the transitions spent in the process so far.
func (l *Layer) Transitions() Transitions { return l.counts.load() }

// HandleTransitions returns the transitions spent on socket handle h, or
// ERROR_INVALID_HANDLE if h is not a live socket handle.
func (l *Layer) HandleTransitions(h spi.Handle) (Transitions, error) {
	s, err := l.Socket("HandleTransitions", h)
	if err != nil {
		return Transitions{}, err
	}
	return s.Transitions(), nil
}

// charge counts round trips on s and on the process, spent for fn.
func (l *Layer) charge(fn string, s *Socket, roundTrips uint64) {
	s.counts.add(roundTrips)
	l.counts.add(roundTrips)
	if l.trace != nil {
		l.trace(trace.Event{
			Kind: trace.Transition, Layer: trace.Layer{Kind: trace.LayerIFS}, Func: fn, Handle: s.Handle(),
			UserToKernel: roundTrips, KernelToUser: roundTrips,
		})
	}
}

// Socket returns the socket object of a live socket handle, or
// ERROR_INVALID_HANDLE wrapped with op.
func (l *Layer) Socket(op string, h spi.Handle) (*Socket, error) {
	e, ok := l.table.Lookup(h)
	if ok && (e.Kind == handles.KindSocket || e.Kind == handles.KindIFSSocket) {
		if s, ok := e.Object.(*Socket); ok {
			return s, nil
		}
	}
	return nil, l.table.Error(op, h, spi.ERROR_INVALID_HANDLE)
}

// CreateSocketHandle models WPUCreateSocketHandle: a non-IFS socket handle
// owned by catalog entry id, with context recorded against it, opened for
// overlapped I/O (as ws2_32 does unless SO_OPENTYPE says otherwise). It
// fails with WSAENOBUFS when the handle table is full.
func (l *Layer) CreateSocketHandle(id spi.CatalogEntryId, context any) (spi.Socket, error) {
	s := &Socket{layer: l, file: l.kernel.NewFile(true)}
	h, err := l.table.CreateSocketHandle(id, context, s)
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	s.setHandle(l, h)
	return h, nil
}

// CreateFileObject is the kernel service a base provider uses to create
// the file object of a new IFS socket ([spi.Imports.CreateFileObject]).
// The handle starts unowned; the provider registers it with
// WPUModifyIFSHandle. It fails with WSAENOBUFS when the handle table is
// full; a nil driver is a programming error and panics.
func (l *Layer) CreateFileObject(driver spi.FileDriver, overlapped bool) (spi.FileObject, error) {
	if driver == nil {
		panic("redirect: CreateFileObject with a nil driver")
	}
	s := &Socket{layer: l, file: l.kernel.NewFile(overlapped), driver: driver}
	h, err := l.table.Insert(handles.KindIFSSocket, s)
	if err != nil {
		return nil, spi.NewOpError("NtCreateFile", 0, spi.ErrnoOf(err))
	}
	s.setHandle(l, h)
	return s, nil
}

// CompleteOverlappedRequest models WPUCompleteOverlappedRequest: for a
// socket made by WPUCreateSocketHandle it writes InternalHigh then Internal
// and delivers the completion the client chose for the handle: a packet to
// the port the client associated with it, with the client's key, unless the
// hEvent low bit is set; and the hEvent event, if any. It never runs a
// completion routine (a provider queues routines with WPUQueueApc), and the
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS rule never applies, because this
// path cannot know that the client saw an immediate success (KB 2568167).
//
// The overlapped must be an operation in progress: the provider sets
// Internal to WSS_OPERATION_IN_PROGRESS when the operation starts
// (Overlapped.SetInProgress), the convention of the WSPGetOverlappedResult
// documentation. A second call for the same operation finds Internal
// changed, or a call under way, and fails with WSAEINVAL, delivering
// nothing: a completion is never delivered twice. (Windows does not
// document what a second call does; this is the simulator's decision.)
//
// It fails with WSAEINVAL for any other handle (IFS, closed, foreign, not a
// socket) and WSAEFAULT for a nil overlapped, delivering nothing; an hEvent
// that names no event gives WSA_INVALID_HANDLE after the packet is posted.
func (l *Layer) CompleteOverlappedRequest(h spi.Socket, ov *spi.Overlapped, dwError spi.Errno, cbTransferred uint32) error {
	const op = "WPUCompleteOverlappedRequest"
	e, ok := l.table.Lookup(h)
	if !ok || e.Kind != handles.KindSocket {
		return spi.NewOpError(op, h, spi.WSAEINVAL)
	}
	if ov == nil {
		return spi.NewOpError(op, h, spi.WSAEFAULT)
	}
	s, ok := e.Object.(*Socket)
	if !ok || !s.claim(ov) {
		return spi.NewOpError(op, h, spi.WSAEINVAL)
	}
	l.charge(op, s, 1)
	err := l.kernel.Complete(iocp.Completion{
		File: s.file, Handle: h, Request: spi.IORequest{Overlapped: ov}, Status: dwError, Bytes: cbTransferred,
	})
	s.unclaimAndWake(ov)
	return spi.NewOpError(op, h, err)
}
