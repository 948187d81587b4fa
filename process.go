package wsspi

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/redirect"
	"github.com/wsspi/wsspi/spi"
)

// Process is one simulated process: one ws2_32 instance with its handle
// table, the providers it loaded, its completion ports, events and threads.
// Each process sees the catalog as it was at its first WSAStartup. A
// Process is safe for concurrent use.
type Process struct {
	m        *Machine
	pid      uint32
	table    *handles.Table
	kernel   *iocp.Kernel
	ifs      *redirect.Layer                // socket objects, ReadFile/WriteFile routing, transitions
	tr       *tracer                        // nil when the machine records no trace
	registry *catalog.Registry              // the machine's DLLs, plus this process's copy of loopback
	lb       *loopback.Provider             // the loopback "DLL" as loaded into this process
	loader   atomic.Pointer[catalog.Loader] // nil before WSAStartup and after the last WSACleanup

	mu         sync.Mutex                     // guards startups, loaded, worker, the window fields, closed
	startups   int                            // WSAStartup calls not undone by WSACleanup
	loaded     map[spi.GUID]*catalog.Provider // providers ws2_32 itself loaded for sockets
	worker     *worker                        // the thread WPUOpenCurrentThread names
	messages   []PostedMessage                // messages posted to the client's windows, in order
	taken      []bool                         // which of messages GetMessage took
	posted     chan struct{}                  // closed at the next post or at Close; nil when nobody waits
	windows    map[spi.HWND]spi.WindowProc    // the providers' hidden windows
	nextWindow spi.HWND                       // the value of the next provider window
	closed     bool

	extMu sync.Mutex // guards ext
	ext   []any      // extension functions by cookie index (see registerExtension)
}

func newProcess(m *Machine, pid uint32) *Process {
	tr := newTracer(m.opts.Trace, pid)
	table := handles.New(tr.handleOptions(m.opts.Handles))
	p := &Process{
		m:        m,
		pid:      pid,
		table:    table,
		kernel:   iocp.NewKernel(table, iocp.Options{Processors: m.opts.Processors, Scheduler: m.opts.Scheduler, Trace: tr.traceSink()}),
		registry: catalog.NewRegistry(),
		lb:       m.network.NewProvider(),
		loaded:   map[spi.GUID]*catalog.Provider{},
		tr:       tr,
	}
	p.ifs = redirect.New(table, p.kernel, p.redirectOwner(), redirect.Options{Trace: tr.traceSink()})
	p.register(catalog.LoopbackPath, p.lb.WSPStartup)
	return p
}

// ID returns the process id (GetCurrentProcessId).
func (p *Process) ID() uint32 { return p.pid }

// Machine returns the machine the process runs on.
func (p *Process) Machine() *Machine { return p.m }

// Handles returns the process's handle table, for inspection in tests
// (see [handles.Table.Snapshot]).
func (p *Process) Handles() *handles.Table { return p.table }

// Kernel returns the process's kernel objects: ports, events and threads.
func (p *Process) Kernel() *iocp.Kernel { return p.kernel }

// WSAData models WSADATA, what WSAStartup reports.
type WSAData struct {
	Version      uint16
	HighVersion  uint16
	Description  string
	SystemStatus string
}

// WSAStartup initiates use of Winsock by the process, as WSAStartup does.
// The first call takes the process's view of the catalog; later calls add
// a reference, each undone by one WSACleanup. ws2_32 supports versions 1.0
// to 2.2: a request below 1.0 fails with WSAVERNOTSUPPORTED, and a request
// above 2.2 gets 2.2.
func (p *Process) WSAStartup(version uint16) (WSAData, error) {
	data := WSAData{HighVersion: spi.WINSOCK_VERSION, Description: "WinSock 2.0", SystemStatus: "Running"}
	if version&0xff < 1 {
		return data, spi.NewOpError("WSAStartup", 0, spi.WSAVERNOTSUPPORTED)
	}
	data.Version = version
	if version&0xff > 2 || (version&0xff == 2 && version>>8 > 2) {
		data.Version = spi.WINSOCK_VERSION
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return data, spi.NewOpError("WSAStartup", 0, spi.WSASYSNOTREADY)
	}
	if p.startups == 0 {
		p.loader.Store(catalog.NewLoader(p.m.catalog.View(), p.registry, p.services))
	}
	p.startups++
	return data, nil
}

// WSACleanup undoes one WSAStartup, as WSACleanup does. The last one calls
// WSPCleanup once for every provider the process loaded for its sockets
// (each provider cancels its pending operations without notification and
// closes its sockets), and drops the catalog view; Winsock calls then fail
// with WSANOTINITIALISED. Errors of the providers' WSPCleanup are joined.
func (p *Process) WSACleanup() error {
	p.mu.Lock()
	if p.startups == 0 {
		p.mu.Unlock()
		return spi.NewOpError("WSACleanup", 0, spi.WSANOTINITIALISED)
	}
	p.startups--
	if p.startups > 0 {
		p.mu.Unlock()
		return nil
	}
	loader := p.loader.Swap(nil)
	loaded := p.loaded
	p.loaded = map[spi.GUID]*catalog.Provider{}
	p.mu.Unlock()

	var errs []error
	for _, prov := range loaded {
		if err := loader.Cleanup(prov); err != nil {
			errs = append(errs, err)
		}
	}
	return joinOpError("WSACleanup", errs)
}

// Close ends the process, as process exit does: WSAStartup fails from the
// moment it begins; it undoes every outstanding WSAStartup (the last
// WSACleanup cleans up every provider the process loaded, which closes
// their sockets and ends their pending operations without notification);
// it stops the worker thread; then it terminates the process's kernel
// ([iocp.Kernel.Terminate]): every port, event and remaining handle
// closes, threads waiting on a port wake with ERROR_ABANDONED_WAIT_0,
// those in WSAWaitForMultipleEvents or SleepEx with ERROR_PROCESS_ABORTED,
// and later waits fail with ERROR_PROCESS_ABORTED. Finally the machine
// forgets the process. A closed process cannot start Winsock again. Close
// is idempotent; the errors of the providers' WSPCleanup are returned.
func (p *Process) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.posted != nil {
		close(p.posted)
		p.posted = nil
	}
	p.mu.Unlock()
	var errs []error
	for p.started() { // no WSAStartup succeeds any more, so this ends
		if err := p.WSACleanup(); err != nil && !errors.Is(err, spi.WSANOTINITIALISED) {
			errs = append(errs, err)
		}
	}
	p.mu.Lock()
	w := p.worker
	p.worker = nil
	p.mu.Unlock()
	if w != nil {
		w.stop()
	}
	p.kernel.Terminate()
	p.m.forget(p)
	return errors.Join(errs...)
}

// started reports whether a WSAStartup is not yet undone.
func (p *Process) started() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.startups > 0
}

// activeLoader returns the process's loader, or WSANOTINITIALISED.
func (p *Process) activeLoader(op string, s spi.Handle) (*catalog.Loader, error) {
	if l := p.loader.Load(); l != nil {
		return l, nil
	}
	return nil, spi.NewOpError(op, s, spi.WSANOTINITIALISED)
}

// loadForSocket loads the provider of a catalog entry for WSASocket and
// keeps it loaded until the last WSACleanup, as ws2_32 does.
func (p *Process) loadForSocket(l *catalog.Loader, entry spi.WSAProtocolInfo) (*catalog.Provider, error) {
	p.mu.Lock()
	prov, ok := p.loaded[entry.ProviderId]
	p.mu.Unlock()
	if ok {
		return prov, nil
	}
	prov, err := l.Load(entry.CatalogEntryId)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if l != p.loader.Load() {
		// WSACleanup ran while the provider loaded: give it back.
		p.mu.Unlock()
		_ = l.Cleanup(prov)
		p.mu.Lock()
		return nil, spi.WSANOTINITIALISED
	}
	if prior, ok := p.loaded[entry.ProviderId]; ok {
		p.mu.Unlock()
		_ = l.Cleanup(prov)
		p.mu.Lock()
		return prior, nil
	}
	p.loaded[entry.ProviderId] = prov
	return prov, nil
}

// socketOwner finds the proc table of the provider that owns socket s: the
// provider of the catalog entry the handle table names as its owner, loaded
// on first use.
func (p *Process) socketOwner(op string, s spi.Socket) (*spi.WSPProcTable, error) {
	l, err := p.activeLoader(op, s)
	if err != nil {
		return nil, err
	}
	e, ok := p.table.Lookup(s)
	if !ok || (e.Kind != handles.KindSocket && e.Kind != handles.KindIFSSocket) || e.Owner == 0 {
		return nil, p.table.Error(op, s, spi.WSAENOTSOCK)
	}
	o, _ := e.Object.(*redirect.Socket)
	if o != nil {
		if procs := o.CachedOwner(p.ifs, e.Owner); procs != nil {
			return procs, nil
		}
	}
	prov, ok := l.Provider(e.Owner)
	if !ok {
		// A handle another process duplicated into this one, of a provider
		// this process has not loaded yet: ws2_32 loads the provider that
		// owns the socket, as for a socket of its own.
		entry, known := l.View().Entry(e.Owner)
		var err error
		if !known {
			return nil, spi.NewOpError(op, s, spi.WSAENOTSOCK)
		}
		if prov, err = p.loadForSocket(l, entry); err != nil {
			return nil, spi.NewOpError(op, s, err)
		}
	}
	if o != nil {
		o.CacheOwner(p.ifs, e.Owner, &prov.ProcTable)
	}
	return &prov.ProcTable, nil
}

// joinOpError wraps the joined errors in one OpError, or returns nil.
func joinOpError(op string, errs []error) error {
	return spi.NewOpError(op, 0, errors.Join(errs...))
}

// Transitions returns the user/kernel transitions the process has spent in
// the IFS layer: ReadFile and WriteFile on socket handles, their
// redirection to non-IFS providers, and WPUCompleteOverlappedRequest (see
// package redirect for the model).
func (p *Process) Transitions() redirect.Transitions { return p.ifs.Transitions() }

// HandleTransitions returns the transitions spent on socket handle h, or
// ERROR_INVALID_HANDLE if h is not a live socket handle.
func (p *Process) HandleTransitions(h spi.Handle) (redirect.Transitions, error) {
	return p.ifs.HandleTransitions(h)
}
