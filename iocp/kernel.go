package iocp

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// DefaultProcessors is the number of processors of the simulated machine
// when [Options.Processors] is 0. It is fixed, not the host's count, so
// that runs do not depend on the host.
const DefaultProcessors = 4

// threadIDs counts the Threads made by every Kernel, so that a thread id
// names one thread in the whole program: a WSATHREADID from one process
// never matches a thread of another, even when its handle value does.
var threadIDs atomic.Uint64

// threadsByID holds every live Thread of every Kernel by its id, so that
// I/O a process issues on a file object of another process's kernel is
// notified in the issuer's kernel (see Kernel.issuer).
var threadsByID sync.Map // uint64 → *Thread

// Options configures a [Kernel]. The zero value gives the documented
// defaults. It is a plain value, read once by NewKernel.
type Options struct {
	// Processors is the number of processors of the simulated machine: the
	// concurrency of a port created with concurrency 0. 0 means
	// [DefaultProcessors].
	Processors int
	// Scheduler, when set, receives the notification step of the
	// completion rule (see [Kernel.Complete]) instead of it running inline.
	// Nil means inline, the default.
	Scheduler spi.Scheduler
	// Trace, when set, receives an event for every completion delivered
	// (or not) by the completion rule and every APC a thread runs. Nil
	// means off, the default, at the cost of one nil check.
	Trace trace.Sink
}

// Kernel is the kernel side of one simulated process: it makes completion
// ports, events and threads as objects in the process's handle table and
// serves the Win32 calls that name them by handle. It also holds the
// completion rule, [Kernel.Complete].
//
// A Kernel is safe for concurrent use. It starts no goroutines and needs no
// Close: objects end with their handles.
type Kernel struct {
	table      *handles.Table
	processors int
	sched      spi.Scheduler // nil: notifications are delivered inline
	trace      trace.Sink    // nil: tracing is off

	// dispatch is the dispatcher lock, as in the NT kernel: it guards the
	// state and waiter lists of every Event of this kernel, so that a wait
	// on several events can acquire them all at once.
	dispatch sync.Mutex

	dead atomic.Bool // Terminate has run
}

// NewKernel returns the kernel of a process whose handle table is table. It
// panics if table is nil or opts.Processors is negative.
func NewKernel(table *handles.Table, opts Options) *Kernel {
	if table == nil {
		panic("iocp: NewKernel with a nil handle table")
	}
	if opts.Processors < 0 {
		panic("iocp: negative Options.Processors")
	}
	p := opts.Processors
	if p == 0 {
		p = DefaultProcessors
	}
	return &Kernel{table: table, processors: p, sched: opts.Scheduler, trace: opts.Trace}
}

// Processors returns the number of processors of the simulated machine.
func (k *Kernel) Processors() int { return k.processors }

// NewPort creates a completion port, as CreateIoCompletionPort does with
// INVALID_HANDLE_VALUE, letting concurrency threads run at once (0 means
// [Kernel.Processors]). It fails with WSAENOBUFS when the handle table is
// full.
func (k *Kernel) NewPort(concurrency uint32) (*Port, error) {
	if k.dead.Load() {
		return nil, errTerminated("CreateIoCompletionPort", 0)
	}
	c := int(min(uint64(concurrency), math.MaxInt32))
	if c == 0 {
		c = k.processors
	}
	p := &Port{k: k, concurrency: c}
	h, err := k.table.Insert(handles.KindPort, p)
	if err != nil {
		return nil, spi.NewOpError("CreateIoCompletionPort", 0, spi.ErrnoOf(err))
	}
	p.handle = h
	if k.dead.Load() { // Terminate ran meanwhile and may not have seen it
		_ = p.Close()
		return nil, errTerminated("CreateIoCompletionPort", 0)
	}
	return p, nil
}

// NewEvent creates an event, as CreateEvent does: manual-reset or
// auto-reset, signalled or not. WSACreateEvent and WPUCreateEvent make
// manual-reset, non-signalled events. It fails with WSAENOBUFS when the
// handle table is full.
func (k *Kernel) NewEvent(manualReset, initialState bool) (*Event, error) {
	if k.dead.Load() {
		return nil, errTerminated("CreateEvent", 0)
	}
	e := &Event{k: k, manual: manualReset}
	e.signaled.Store(initialState)
	h, err := k.table.Insert(handles.KindEvent, e)
	if err != nil {
		return nil, spi.NewOpError("CreateEvent", 0, spi.ErrnoOf(err))
	}
	e.handle = h
	if k.dead.Load() {
		_ = e.Close()
		return nil, errTerminated("CreateEvent", 0)
	}
	return e, nil
}

// NewThread creates a simulated thread, as CreateThread does, with an empty
// APC queue and no port. It fails with WSAENOBUFS when the handle table is
// full.
func (k *Kernel) NewThread() (*Thread, error) {
	if k.dead.Load() {
		return nil, errTerminated("CreateThread", 0)
	}
	th := &Thread{k: k, id: threadIDs.Add(1), wake: make(chan struct{}, 1)}
	th.pw.th, th.ew.th = th, th
	h, err := k.table.Insert(handles.KindThread, th)
	if err != nil {
		return nil, spi.NewOpError("CreateThread", 0, spi.ErrnoOf(err))
	}
	th.mu.Lock() // Terminate may find the thread in the table already (see kill)
	th.handle = h
	th.mu.Unlock()
	threadsByID.Store(th.id, th)
	if k.dead.Load() {
		th.kill(h)
		return nil, errTerminated("CreateThread", 0)
	}
	return th, nil
}

// NewFile returns the completion context of a new file or socket handle,
// overlapped or not. It is not in the handle table; the object that owns
// the handle holds it.
func (k *Kernel) NewFile(overlapped bool) *File {
	f := &File{overlapped: overlapped}
	f.event.k, f.event.manual = k, true
	return f
}

// Port returns the port behind handle h, or ERROR_INVALID_HANDLE if h is
// not a live port of this kernel.
func (k *Kernel) Port(h spi.Handle) (*Port, error) {
	if p, ok := k.lookupPort(h); ok {
		return p, nil
	}
	return nil, spi.NewOpError("ObReferenceObjectByHandle", h, spi.ERROR_INVALID_HANDLE)
}

// Event returns the event behind handle h, or WSA_INVALID_HANDLE if h is
// not a live event of this kernel.
func (k *Kernel) Event(h spi.Handle) (*Event, error) {
	if e, ok := k.lookupEvent(h); ok {
		return e, nil
	}
	return nil, spi.NewOpError("ObReferenceObjectByHandle", h, spi.WSA_INVALID_HANDLE)
}

// Thread returns the thread a WSATHREADID names, or WSAEFAULT if id is nil
// or names no thread of this kernel (a closed handle, another thread behind
// a reused value, an exited thread).
func (k *Kernel) Thread(id *spi.ThreadID) (*Thread, error) {
	if th, ok := k.lookupThread(id); ok {
		return th, nil
	}
	return nil, spi.NewOpError("ObReferenceObjectByHandle", 0, spi.WSAEFAULT)
}

// File returns the completion context of file or socket handle h, or
// ERROR_INVALID_HANDLE if the object behind h has none (see [FileHolder]).
func (k *Kernel) File(h spi.Handle) (*File, error) {
	if f, ok := k.lookupFile(h); ok {
		return f, nil
	}
	return nil, spi.NewOpError("ObReferenceObjectByHandle", h, spi.ERROR_INVALID_HANDLE)
}

func (k *Kernel) lookupPort(h spi.Handle) (*Port, bool) {
	e, ok := k.table.Lookup(h)
	if !ok || e.Kind != handles.KindPort {
		return nil, false
	}
	p, ok := e.Object.(*Port)
	return p, ok && p.k == k
}

func (k *Kernel) lookupEvent(h spi.Handle) (*Event, bool) {
	e, ok := k.table.Lookup(h)
	if !ok || e.Kind != handles.KindEvent {
		return nil, false
	}
	ev, ok := e.Object.(*Event)
	return ev, ok && ev.k == k
}

func (k *Kernel) lookupThread(id *spi.ThreadID) (*Thread, bool) {
	if id == nil {
		return nil, false
	}
	e, ok := k.table.Lookup(id.ThreadHandle)
	if !ok || e.Kind != handles.KindThread {
		return nil, false
	}
	th, ok := e.Object.(*Thread)
	return th, ok && th.k == k && uintptr(th.id) == id.Reserved && !th.exited.Load()
}

func (k *Kernel) lookupFile(h spi.Handle) (*File, bool) {
	e, ok := k.table.Lookup(h)
	if !ok {
		return nil, false
	}
	var f *File
	switch o := e.Object.(type) {
	case *File:
		f = o
	case FileHolder:
		f = o.CompletionFile()
	}
	// A file of another kernel is a file object another process shares
	// with this one through a duplicated handle.
	return f, f != nil
}
