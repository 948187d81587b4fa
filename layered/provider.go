package layered

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// negotiate applies the WSPStartup version rule (D:wspstartup) for a
// provider of versions 2.0 to 2.2: a request below 2.0 is refused, one
// above 2.2 gets 2.2, any other gets what it asked for. A version's low
// byte is the major number, its high byte the minor.
func negotiate(requested uint16) (uint16, bool) {
	major, minor := requested&0xff, requested>>8
	switch {
	case major < 2:
		return 0, false
	case major > 2 || minor > 2:
		return spi.WINSOCK_VERSION, true
	}
	return requested, true
}

// Config configures a [Provider]. The zero value is a pure forwarding layer
// with one worker.
type Config struct {
	// Hooks are the user's additions.
	Hooks Hooks
	// Workers is the number of worker goroutines (simulated threads) that
	// serve the private completion port of each loaded instance, as the
	// Microsoft sample runs one per processor. 0 means 1. With one worker
	// the completions of a socket reach the client in the order the layer
	// below completed them (unless a hook delays some); with more they may
	// not.
	Workers int
	// Scheduler, when set, decides when the completions that hooks delay
	// are delivered ([Delay]): each is deferred to it, keyed by the
	// layer's socket, instead of waiting for a timer. Give it the
	// scheduler of the machine (wsspi.MachineOptions.Scheduler), such as a
	// seeded spitest.Scheduler, so that one seed replays the layer's
	// delays with the rest of the run. Nil: delays are timers
	// (time.AfterFunc, virtual time inside a testing/synctest bubble).
	Scheduler spi.Scheduler
	// ServeSelect makes the layer answer SIO_BSP_HANDLE_SELECT with its
	// own handle, so that ws2_32 gives select calls on its sockets to its
	// WSPSelect (and the hooks see them, [OpSelect]). The default, false,
	// passes the code down as Microsoft's sample does, and the base
	// provider serves select unseen. A layer that serves select must be
	// installed over every protocol its clients select on: see the package
	// documentation ("Readiness").
	ServeSelect bool
}

// Provider is a non-IFS layered service provider built on the kit: the
// provider "DLL", shared by every process of a machine. Each WSPStartup
// through [Provider.WSPStartup] loads a fresh [Instance], the DLL as loaded
// into one process; see the package documentation ("Per-process state").
//
// A Provider is safe for concurrent use.
type Provider struct {
	layered spi.CatalogEntryId
	cfg     Config

	// Counters across every instance, for Stats.
	instances   atomic.Int64
	sockets     atomic.Int64
	outstanding atomic.Int64
	workers     atomic.Int64
	completed   notified // by WPUCompleteOverlappedRequest
	apcs        notified // by WPUQueueApc
	held        atomic.Int64
	failed      atomic.Uint64
	abandoned   atomic.Uint64
	foreign     atomic.Uint64

	ops      sync.Pool // of *op
	awaiting *registry // every instance's ops a packet may still come for
}

// notified counts the completions forwarded one way, those delivered
// before the call that started them returned apart from the others, so
// that each forwarding adds to one counter.
type notified struct{ inline, later atomic.Uint64 }

// count counts a forwarding by way n that failed with err (the client was
// not told), or succeeded, inline or later.
func (p *Provider) count(n *notified, err error, inline bool) {
	switch {
	case err != nil:
		p.failed.Add(1)
	case inline:
		n.inline.Add(1)
	default:
		n.later.Add(1)
	}
}

// New returns a provider whose hidden layered (ChainLen 0) catalog entry
// has the id layered, the id it looks for in a protocol chain to find its
// own position. [Install] calls it once the entry is installed; a provider
// installed by hand is made with the id [catalog.Catalog.InstallLSP]
// returned in LSPEntries.Layered.
func New(layered spi.CatalogEntryId, cfg Config) *Provider {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	p := &Provider{layered: layered, cfg: cfg, awaiting: newRegistry()}
	p.ops.New = func() any { return &op{p: p} }
	return p
}

// LayeredEntry returns the id of the provider's hidden layered entry.
func (p *Provider) LayeredEntry() spi.CatalogEntryId { return p.layered }

// WSPStartup is the provider's [spi.WSPStartupFunc], the one a machine
// registers ([Machine.RegisterProvider]): each call loads a new [Instance]
// and starts it up. ws2_32's loader (package catalog) keeps the
// per-process WSPStartup count itself and calls a provider's WSPStartup
// once per process and provider GUID, pairing it with one WSPCleanup, so
// each call it makes is the first of its process. A caller that needs
// repeated WSPStartup calls on one process's copy uses
// [Provider.NewInstance] and [Instance.WSPStartup].
func (p *Provider) WSPStartup(version uint16, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
	return p.NewInstance().WSPStartup(version, info, upcalls, imports)
}

// NewInstance returns the provider as loaded into one process, not yet
// started up.
func (p *Provider) NewInstance() *Instance {
	in := &Instance{p: p, socks: map[*Socket]struct{}{}, lowers: map[spi.Socket]*Socket{}}
	in.table = in.procTable()
	return in
}

// Stats counts what the instances of a provider hold and have done: the
// gauges (Instances to Workers) say what is live now and are all zero once
// every instance has been cleaned up; the counters (Completed to
// Abandoned) only grow. It is a plain value.
type Stats struct {
	// Instances started up and not yet cleaned up.
	Instances int
	// Sockets whose handle (from WPUCreateSocketHandle) is not yet closed.
	Sockets int
	// Outstanding overlapped operations not yet completed to the client.
	Outstanding int
	// Held counts the outstanding operations (of Outstanding) whose
	// result is decided and whose completion a hook's delay holds.
	Held int
	// Workers serving private completion ports.
	Workers int
	// Completed counts completions forwarded with
	// WPUCompleteOverlappedRequest (port and event clients), failures a
	// hook sent through the completion included.
	Completed uint64
	// APCs counts completions forwarded with WPUQueueApc (completion
	// routines).
	APCs uint64
	// Inline counts the forwarded completions (of Completed and APCs)
	// delivered before the call that started them returned: the layer
	// below is IFS and completed them at once, or a Before hook completed
	// them without it.
	Inline uint64
	// Failed counts forwarding calls that failed: the client was not
	// told (a handle closed behind the layer's back, an exited thread).
	Failed uint64
	// Abandoned counts operations the last WSPCleanup ended without
	// notification.
	Abandoned uint64
	// Foreign counts packets dequeued from a private port that completed
	// no operation of the layer: posted to the port by someone else, or
	// completing I/O a client issued on a lower socket's handle value
	// itself (typically a stale handle whose value a lower socket took).
	// They are dropped; their overlapped is never written.
	Foreign uint64
}

// Stats returns the provider's counters.
func (p *Provider) Stats() Stats {
	return Stats{
		Instances:   int(p.instances.Load()),
		Sockets:     int(p.sockets.Load()),
		Outstanding: int(p.outstanding.Load()),
		Held:        int(p.held.Load()),
		Workers:     int(p.workers.Load()),
		Completed:   p.completed.inline.Load() + p.completed.later.Load(),
		APCs:        p.apcs.inline.Load() + p.apcs.later.Load(),
		Inline:      p.completed.inline.Load() + p.apcs.inline.Load(),
		Failed:      p.failed.Load(),
		Abandoned:   p.abandoned.Load(),
		Foreign:     p.foreign.Load(),
	}
}

// Instance is a [Provider] as loaded into one process: its WSPStartup
// reference count, the services of its latest WSPStartup, the layer below
// it, its private completion port and worker threads, and its sockets. Its
// proc table is built once and serves only the sockets it created.
//
// An Instance is safe for concurrent use.
type Instance struct {
	p     *Provider
	table spi.WSPProcTable
	env   atomic.Pointer[env] // nil before WSPStartup and after the last WSPCleanup

	mu      sync.Mutex     // guards starts, and serializes the start-up and clean-up steps
	starts  int            // successful WSPStartup calls not undone by WSPCleanup
	workers sync.WaitGroup // worker goroutines of the current load

	smu       sync.Mutex               // guards socks, lowers, early, accepting and msgTimers
	socks     map[*Socket]struct{}     // sockets whose handle is not yet closed
	lowers    map[spi.Socket]*Socket   // the open sockets by their lower socket, for the hidden window
	early     map[spi.Socket][]uintptr // messages for lower sockets an accept has not yet paired (see windowProc)
	accepting int                      // accepts (and leaf joins) under way
	msgTimers map[*time.Timer]struct{} // timers of messages a hook delays

	winMu    sync.Mutex // guards win and winEpoch
	win      spi.HWND   // the hidden window of the current load (0: none yet)
	winEpoch uint64     // the load win belongs to

	extMu   sync.Mutex           // guards cookies
	cookies map[spi.GUID]uintptr // the layer's extension functions registered, by GUID

	stop     spi.Overlapped // the stop packet's Overlapped, which only the instance can name
	live     int            // workers of the current load not yet stopped, guarded by mu
	epochs   uint64         // loads so far, guarded by mu: the epoch of each env
	portGone atomic.Bool    // a worker found the private port closed under it

	deliverMu sync.RWMutex // held for reading by deliveries of held completions (see hold), taken by the last WSPCleanup
}

// env is what an instance works with between its first WSPStartup and its
// last WSPCleanup. It is immutable: a later WSPStartup stores a copy with
// the new services.
type env struct {
	upcalls  spi.WSPUpcallTable
	imports  spi.Imports
	next     spi.NextLayer
	lowerIFS bool                // the next layer's handles are IFS handles
	owner    spi.CatalogEntryId  // the entry that owns the instance's handles
	info     spi.WSAProtocolInfo // the entry WSPStartup was called for
	port     spi.Handle          // the private completion port
	epoch    uint64              // the load: the same for the copies a later WSPStartup stores
}

// WSPStartup starts the instance up, or adds a reference if it is started.
// The first call finds the provider's layered entry in info's protocol
// chain (WSAEINVAL if it is not there), loads the next layer with
// [spi.Imports.LoadNext], creates the private completion port and starts
// the workers; later calls keep the upcall table and imports they are
// given, which the instance uses from then on. It accepts versions from
// 2.0 and negotiates up to 2.2 (WSAVERNOTSUPPORTED below 2.0). Each success
// must be undone by one WSPCleanup; the returned table is the same for
// every call.
//
// The upcall table and imports must be complete; WSPStartup panics
// otherwise (programmer misuse).
func (in *Instance) WSPStartup(version uint16, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
	if missing := upcalls.Missing(); len(missing) > 0 {
		panic("layered: WSPStartup with an incomplete upcall table")
	}
	if imports.WPUCompleteOverlappedRequest == nil || imports.LoadNext == nil || imports.CreateIoCompletionPort == nil ||
		imports.GetQueuedCompletionStatus == nil || imports.PostQueuedCompletionStatus == nil ||
		imports.SetFileCompletionNotificationModes == nil || imports.CloseHandle == nil ||
		imports.CreateThread == nil || imports.ExitThread == nil {
		panic("layered: WSPStartup with incomplete imports")
	}
	data := spi.WSPData{HighVersion: spi.WINSOCK_VERSION, Description: "wsspi layered provider kit (non-IFS)"}
	v, ok := negotiate(version)
	if !ok {
		return data, spi.WSPProcTable{}, spi.WSAVERNOTSUPPORTED
	}
	data.Version = v
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.starts > 0 {
		e := *in.env.Load()
		e.upcalls, e.imports = upcalls, imports
		in.env.Store(&e)
		in.starts++
		return data, in.table, nil
	}
	if info == nil {
		return data, spi.WSPProcTable{}, spi.WSAEINVAL
	}
	owner, err := HandleOwner(info, in.p.layered)
	if err != nil {
		return data, spi.WSPProcTable{}, err
	}
	next, err := imports.LoadNext(info, in.p.layered)
	if err != nil {
		return data, spi.WSPProcTable{}, err
	}
	workers := in.p.cfg.Workers
	port, err := imports.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, uint32(workers))
	if err != nil {
		_ = next.Cleanup()
		return data, spi.WSPProcTable{}, err
	}
	in.epochs++
	e := &env{upcalls: upcalls, imports: imports, next: next, lowerIFS: next.Info.IFS(),
		owner: owner, info: *info, port: port, epoch: in.epochs}
	threads := make([]spi.ThreadID, 0, workers)
	for range workers {
		id, err := imports.CreateThread()
		if err != nil {
			for _, id := range threads {
				_ = imports.ExitThread(id)
			}
			_ = imports.CloseHandle(port)
			_ = next.Cleanup()
			return data, spi.WSPProcTable{}, err
		}
		threads = append(threads, id)
	}
	in.env.Store(e)
	in.starts = 1
	in.live = workers
	in.portGone.Store(false)
	in.p.instances.Add(1)
	for _, id := range threads {
		in.workers.Add(1)
		in.p.workers.Add(1)
		go in.serve(e, id)
	}
	return data, in.table, nil
}

// wspCleanup undoes one WSPStartup. The last one ends everything without
// notifying anyone: it stops the workers (a stop packet each, as the
// sample's StopOverlappedManager posts, so that no worker ever waits on
// the port's handle value once the port is closed and the value may name
// another port), closes the private port (dropping what is left on it),
// destroys the hidden window of WSPAsyncSelect, if one was made, and
// stops the timers of messages a hook delays, closes the layer's lower
// sockets abortively,
// ends the outstanding operations silently, those whose completion a hook
// holds included (their client overlapped gets
// WSA_OPERATION_ABORTED in Internal and OffsetHigh, and nobody is told, as
// WSPCleanup documents), closes the layer's handles, and cleans the next
// layer up.
func (in *Instance) wspCleanup() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.starts == 0 {
		return spi.WSANOTINITIALISED
	}
	in.starts--
	if in.starts > 0 {
		return nil
	}
	e := in.env.Swap(nil)
	in.smu.Lock()
	socks := in.socks
	in.socks = map[*Socket]struct{}{}
	in.lowers = map[spi.Socket]*Socket{}
	in.early = nil
	timers := in.msgTimers
	in.msgTimers = nil
	in.smu.Unlock()
	for t := range timers {
		t.Stop() // a delayed message that fires anyway finds the environment gone
	}

	for range in.live {
		if in.portGone.Load() || e.imports.PostQueuedCompletionStatus(e.port, 0, 0, &in.stop) != nil {
			break // the port was closed under the layer: its workers have ended
		}
	}
	in.workers.Wait()
	in.live = 0
	// A barrier: deliveries of held completions under way end here, and
	// later ones find the environment gone (see hold).
	in.deliverMu.Lock()
	//lint:ignore SA2001 the critical section is empty on purpose: it waits for the readers
	in.deliverMu.Unlock()
	if !in.portGone.Load() {
		_ = e.imports.CloseHandle(e.port)
	}
	// The hidden window goes before the lower sockets close: the layer
	// below can post nothing more to it (WPUPostMessage fails).
	in.destroyWindow(e)
	in.p.awaiting.dropInstance(in)
	linger, _ := spi.Linger{OnOff: 1}.MarshalBinary()
	for s := range socks {
		first := s.closing.CompareAndSwap(false, true)
		_ = e.next.ProcTable.WSPSetSockOpt(s.lower, spi.SOL_SOCKET, spi.SO_LINGER, linger)
		_ = e.next.ProcTable.WSPCloseSocket(s.lower)
		if first {
			in.onClose(s)
		}
		s.abandon(e)
	}
	err := e.next.Cleanup()
	in.p.instances.Add(-1)
	return err
}

// onClose runs the OnClose hook, if any.
func (in *Instance) onClose(s *Socket) {
	if h := in.p.cfg.Hooks.OnClose; h != nil {
		h(s)
	}
}

// current returns the instance's environment, or WSANOTINITIALISED.
func (in *Instance) current() (*env, error) {
	if e := in.env.Load(); e != nil {
		return e, nil
	}
	return nil, spi.WSANOTINITIALISED
}

// HandleOwner returns the catalog entry a layered provider names when it
// creates a handle for a socket of the chain info (WPUCreateSocketHandle)
// or registers one (WPUModifyIFSHandle), given its own layered entry self:
// the entry the process loaded it for, so that ws2_32 sends the calls on
// the handle back to it. That is info itself when self heads info's chain
// (the chain entry the client chose, or the chain a layer above passed
// down, as Microsoft's sample names its LayerProvider), and self when info
// is a chain passed down unchanged from a layer above (the process then
// loaded the provider through its layered entry). It fails with WSAEINVAL
// when self is not a layer of info's chain.
func HandleOwner(info *spi.WSAProtocolInfo, self spi.CatalogEntryId) (spi.CatalogEntryId, error) {
	ids := info.ProtocolChain.Entries()
	for i, id := range ids {
		switch {
		case id != self || !info.IsChain() || i == len(ids)-1:
			continue
		case i == 0:
			return info.CatalogEntryId, nil
		default:
			return self, nil
		}
	}
	return 0, spi.WSAEINVAL
}
