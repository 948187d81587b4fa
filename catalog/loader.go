package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/wsspi/wsspi/spi"
)

// ErrNotRegistered is the cause of a load whose path has no startup function
// in the [Registry]: the simulator's LoadLibrary failing to find the DLL.
var ErrNotRegistered = errors.New("no provider DLL registered at this path")

// UpcallsFunc builds what a provider receives at WSPStartup besides the
// version: the WSPUPCALLTABLE (passed by value) and the functions it links
// from ws2_32 directly. It is called before every call of a startup
// function, with the entry being started up, possibly from several
// goroutines at once when a [Loader] is used concurrently.
type UpcallsFunc func(entry *spi.WSAProtocolInfo) (spi.WSPUpcallTable, spi.Imports)

// Provider is a provider loaded into one process: the result of a
// successful WSPStartup, shared by every entry of the provider's GUID.
// Its fields must not be changed; so kept, a Provider is safe for
// concurrent use, as far as its proc table's functions are.
type Provider struct {
	// ProviderId is the GUID the provider was loaded for.
	ProviderId spi.GUID
	// Path is the "DLL path" it was loaded from.
	Path string
	// Data is what WSPStartup reported (negotiated and highest version,
	// description).
	Data spi.WSPData
	// ProcTable is the provider's proc table; every entry is set.
	ProcTable spi.WSPProcTable
}

// LoadError is the cause of a failed provider load (LoadLibrary or
// WSPStartup failing, as ws2_32 reports it), inside the [*spi.OpError] that
// [Loader.Load] and [Loader.LoadNext] return. errors.Is matches both its
// Errno and its cause. It is a plain value, not changed after it is
// returned.
type LoadError struct {
	// Name, Path and ProviderId name the provider that failed to load:
	// the ProtocolName of the catalog entry it was loaded for (the name
	// WSAEnumProtocols shows, "Sniffer over MSAFD Tcpip [TCP/IP]" for an
	// LSP's chain), its "DLL" path, and the GUID of that entry.
	Name       string
	Path       string
	ProviderId spi.GUID
	// Errno is what ws2_32 reports: WSAEPROVIDERFAILEDINIT (the DLL is
	// missing, or WSPStartup failed or panicked), WSAEINVALIDPROVIDER (it
	// negotiated a version that is not 2.0 to 2.2), or
	// WSAEINVALIDPROCTABLE (its proc table has nil entries).
	Errno spi.Errno
	// Missing names the nil proc table entries, for WSAEINVALIDPROCTABLE.
	Missing []string
	// Err is the cause: the startup function's error, a panic, or
	// [ErrNotRegistered].
	Err error
}

// Error says which provider failed, by its name and path, how, and why.
func (e *LoadError) Error() string {
	var b strings.Builder
	switch {
	case e.Name != "":
		fmt.Fprintf(&b, "provider %q (%s): ", e.Name, e.Path)
	case e.Path != "":
		fmt.Fprintf(&b, "provider %s: ", e.Path)
	}
	b.WriteString(e.Errno.Name())
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the Errno and the cause, so that errors.Is matches either.
func (e *LoadError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Errno}
	}
	return []error{e.Errno, e.Err}
}

// Loader loads providers into one simulated process, the part of ws2_32
// that turns catalog entries into proc tables. Each process has its own
// Loader, made at its WSAStartup from the [View] it took then, so it sees
// the catalog as it was at that moment.
//
// A provider is loaded once per process and GUID: the first [Loader.Load]
// or [Loader.LoadNext] of any entry of the GUID calls its startup function
// (WSPStartup with version 2.2); later ones share the loaded provider and
// add a reference. Each successful load needs one [Loader.Cleanup]; only the
// last calls the provider's WSPCleanup, once, and unloads it, so that the
// next load starts it up afresh. This is the per-process count D:wspstartup
// asks of providers, kept here so a simulated provider need not keep it.
//
// Startup and cleanup functions run without any lock held, so a layered
// provider may call [Loader.LoadNext] and [Loader.Cleanup] from inside them.
// Two goroutines that load the same provider for the first time at once may
// both run its startup function; the one that finishes second cleans its
// table up at once and shares the first (D:wspstartup allows repeated
// WSPStartup calls per process).
//
// A Loader is safe for concurrent use.
type Loader struct {
	view    *View
	reg     *Registry
	upcalls UpcallsFunc

	mu     sync.Mutex                   // guards loaded and loads
	loaded map[spi.GUID]*loadedProvider // providers with references
	loads  uint64                       // count of providers loaded, for load order
}

// loadedProvider is the bookkeeping of one loaded provider.
type loadedProvider struct {
	p     *Provider
	refs  int
	order uint64             // when it was loaded, for Snapshot
	entry spi.CatalogEntryId // CatalogEntryId of the info passed to WSPStartup
}

// NewLoader returns the loader of a process that took view at WSAStartup
// and finds provider "DLLs" in reg. upcalls builds each provider's upcall
// table and imports; with nil, providers get a table whose only entry is
// WPUGetProviderPath, served from view, and no imports. A nil view or
// registry is a programming error and panics.
func NewLoader(view *View, reg *Registry, upcalls UpcallsFunc) *Loader {
	if view == nil || reg == nil {
		panic("catalog: NewLoader needs a view and a registry")
	}
	if upcalls == nil {
		upcalls = func(*spi.WSAProtocolInfo) (spi.WSPUpcallTable, spi.Imports) {
			return spi.WSPUpcallTable{WPUGetProviderPath: view.WPUGetProviderPath}, spi.Imports{}
		}
	}
	return &Loader{view: view, reg: reg, upcalls: upcalls, loaded: map[spi.GUID]*loadedProvider{}}
}

// View returns the catalog view the process took at WSAStartup.
func (l *Loader) View() *View { return l.view }

// Load loads the provider of the catalog entry id, as ws2_32 does before
// calling WSPSocket on the entry chosen for a socket, and adds a reference
// to it. A provider not yet loaded is started up with the entry's own
// protocol info (for a chain, the chain entry, so a layered provider can
// find its position in it).
//
// Errors, in an [*spi.OpError] whose Op is "WSPStartup": WSAEINVAL if id is
// not in the process's view; otherwise a [*LoadError] carrying
// WSAEPROVIDERFAILEDINIT, WSAEINVALIDPROVIDER or WSAEINVALIDPROCTABLE. A
// failed load leaves nothing loaded and no reference taken.
func (l *Loader) Load(id spi.CatalogEntryId) (*Provider, error) {
	e, ok := l.view.Entry(id)
	if !ok {
		return nil, spi.NewOpError("WSPStartup", 0, fmt.Errorf("catalog entry %d is not in this process's catalog: %w", id, spi.WSAEINVAL))
	}
	p, err := l.acquire(&e, e)
	return p, spi.NewOpError("WSPStartup", 0, err)
}

// LoadNext is what a layered provider does to reach the layer below it, in
// WSPStartup or lazily in WSPSocket, done the way a real LSP does it
// (D:wspstartup "Layering", docs/facts.md §8.2): find its own id self in the
// chain's ProtocolChain, take the next element, find that entry in the
// process's catalog (WSCEnumProtocols), get its provider's path
// (WSCGetProviderPath), load it and start it up. It returns the next
// layer's provider, with a reference the caller drops with
// [Loader.Cleanup] in its own WSPCleanup, and the protocol info to pass to
// that layer's WSPSocket (and the other calls D:wspstartup lists):
//
//   - the chain unchanged when the next element is a layered entry (another
//     LSP's hidden entry);
//   - the base provider's own entry when the next element is the base, so
//     base providers never see chains;
//   - the named chain entry itself when the next element is a chain, as
//     Microsoft's installer writes chains over other LSPs' chains.
//
// The same info is what the next provider's WSPStartup receives if this
// call starts it up.
//
// Errors, in an [*spi.OpError] whose Op is "WSPStartup": WSAEINVAL if self
// is not in the chain or is its last element (there is no next layer); a
// [*LoadError] with WSAEPROVIDERFAILEDINIT if the next entry is not in the
// catalog, and the errors of [Loader.Load] otherwise. A nil chain is a
// programming error and panics.
func (l *Loader) LoadNext(chain *spi.WSAProtocolInfo, self spi.CatalogEntryId) (*Provider, spi.WSAProtocolInfo, error) {
	next, info, err := l.nextOf(chain, self)
	if err != nil {
		return nil, spi.WSAProtocolInfo{}, spi.NewOpError("WSPStartup", 0, err)
	}
	p, err := l.acquire(&next, info)
	if err != nil {
		return nil, spi.WSAProtocolInfo{}, spi.NewOpError("WSPStartup", 0, err)
	}
	return p, info, nil
}

// nextOf finds the entry below self in chain and the info to pass to it.
func (l *Loader) nextOf(chain *spi.WSAProtocolInfo, self spi.CatalogEntryId) (spi.WSAProtocolInfo, spi.WSAProtocolInfo, error) {
	if chain == nil {
		panic("catalog: LoadNext with a nil chain")
	}
	ids := chain.ProtocolChain.Entries()
	pos := slices.Index(ids, self)
	switch {
	case pos < 0 || !chain.IsChain():
		return spi.WSAProtocolInfo{}, spi.WSAProtocolInfo{}, fmt.Errorf("entry %d is not a layer of chain %d: %w",
			self, chain.CatalogEntryId, spi.WSAEINVAL)
	case pos == len(ids)-1:
		return spi.WSAProtocolInfo{}, spi.WSAProtocolInfo{}, fmt.Errorf("entry %d is the base of chain %d; there is no next layer: %w",
			self, chain.CatalogEntryId, spi.WSAEINVAL)
	}
	nextID := ids[pos+1]
	next, ok := l.view.Entry(nextID)
	if !ok {
		return spi.WSAProtocolInfo{}, spi.WSAProtocolInfo{}, &LoadError{Errno: spi.WSAEPROVIDERFAILEDINIT,
			Err: fmt.Errorf("chain %d names entry %d below %d, which is not in this process's catalog", chain.CatalogEntryId, nextID, self)}
	}
	if next.IsLayered() {
		return next, *chain, nil
	}
	return next, next, nil
}

// Provider returns the loaded provider that serves the catalog entry id, if
// its GUID is loaded in this process. It takes no reference; ws2_32 uses it
// to find the proc table of a socket's owner.
func (l *Loader) Provider(id spi.CatalogEntryId) (*Provider, bool) {
	e, ok := l.view.Entry(id)
	if !ok {
		return nil, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lp, ok := l.loaded[e.ProviderId]
	if !ok {
		return nil, false
	}
	return lp.p, true
}

// Cleanup drops one reference to p, taken by [Loader.Load] or
// [Loader.LoadNext]: the WSPCleanup that each successful WSPStartup needs.
// The last one calls the provider's WSPCleanup, once, and unloads the
// provider; it returns WSPCleanup's error (a panic in it becomes an error
// too). A p that is no longer loaded, because its references are all
// dropped, gives WSANOTINITIALISED and changes nothing. Errors are wrapped
// in an [*spi.OpError] whose Op is "WSPCleanup". A nil p is a programming
// error and panics.
func (l *Loader) Cleanup(p *Provider) error {
	if p == nil {
		panic("catalog: Loader.Cleanup of a nil provider")
	}
	l.mu.Lock()
	lp, ok := l.loaded[p.ProviderId]
	if !ok || lp.p != p {
		l.mu.Unlock()
		return spi.NewOpError("WSPCleanup", 0, fmt.Errorf("provider %v is not loaded: %w", p.ProviderId, spi.WSANOTINITIALISED))
	}
	lp.refs--
	if lp.refs > 0 {
		l.mu.Unlock()
		return nil
	}
	delete(l.loaded, p.ProviderId)
	l.mu.Unlock()
	return spi.NewOpError("WSPCleanup", 0, callCleanup(&p.ProcTable))
}

// LoaderSnapshot is what a [Loader] holds at one moment, for tests: the
// per-process provider reference counts of D:wspstartup. It is a fresh copy
// the caller owns.
type LoaderSnapshot struct {
	// Serial is the change serial of the process's catalog view.
	Serial uint64
	// Providers are the loaded providers, in the order their loads
	// completed (a layered provider that loads the next layer from its
	// WSPStartup completes after that layer).
	Providers []LoadedProvider
}

// LoadedProvider describes one loaded provider in a [LoaderSnapshot]; a
// plain value.
type LoadedProvider struct {
	ProviderId spi.GUID
	Path       string
	// StartedFor is the CatalogEntryId of the protocol info its WSPStartup
	// received.
	StartedFor spi.CatalogEntryId
	// Version is the version WSPStartup negotiated.
	Version uint16
	// Refs counts the successful loads not yet cleaned up.
	Refs int
}

// Snapshot returns the loaded providers and their reference counts.
func (l *Loader) Snapshot() LoaderSnapshot {
	type ordered struct {
		order uint64
		lp    LoadedProvider
	}
	l.mu.Lock()
	all := make([]ordered, 0, len(l.loaded))
	for _, lp := range l.loaded {
		all = append(all, ordered{lp.order, LoadedProvider{
			ProviderId: lp.p.ProviderId, Path: lp.p.Path, StartedFor: lp.entry,
			Version: lp.p.Data.Version, Refs: lp.refs,
		}})
	}
	l.mu.Unlock()
	slices.SortFunc(all, func(a, b ordered) int { return cmp.Compare(a.order, b.order) })
	s := LoaderSnapshot{Serial: l.view.Serial(), Providers: []LoadedProvider{}}
	for _, o := range all {
		s.Providers = append(s.Providers, o.lp)
	}
	return s
}

// acquire adds a reference to the provider of entry e, starting it up with
// info if it is not loaded yet.
func (l *Loader) acquire(e *spi.WSAProtocolInfo, info spi.WSAProtocolInfo) (*Provider, error) {
	if p, ok := l.ref(e.ProviderId); ok {
		return p, nil
	}
	path, err := l.view.providerPath(e.ProviderId)
	if err != nil { // cannot happen: every entry in a view has a path
		return nil, &LoadError{Name: e.ProtocolName, ProviderId: e.ProviderId, Errno: spi.WSAEPROVIDERFAILEDINIT, Err: err}
	}
	p, err := l.start(e, path, info)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	if lp, ok := l.loaded[e.ProviderId]; ok { // lost a race with another first load
		lp.refs++
		l.mu.Unlock()
		_ = callCleanup(&p.ProcTable)
		return lp.p, nil
	}
	l.loads++
	l.loaded[e.ProviderId] = &loadedProvider{p: p, refs: 1, order: l.loads, entry: info.CatalogEntryId}
	l.mu.Unlock()
	return p, nil
}

// ref adds a reference to a loaded provider.
func (l *Loader) ref(id spi.GUID) (*Provider, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lp, ok := l.loaded[id]
	if !ok {
		return nil, false
	}
	lp.refs++
	return lp.p, true
}

// start runs the provider's startup function and checks what it returns.
// On any failure after a successful startup it calls the provider's
// WSPCleanup, if it has one, so nothing stays half loaded.
func (l *Loader) start(e *spi.WSAProtocolInfo, path string, info spi.WSAProtocolInfo) (*Provider, error) {
	id := e.ProviderId
	fail := func(errno spi.Errno, err error) error {
		return &LoadError{Name: e.ProtocolName, Path: path, ProviderId: id, Errno: errno, Err: err}
	}
	startup, ok := l.reg.Lookup(path)
	if !ok {
		return nil, fail(spi.WSAEPROVIDERFAILEDINIT, ErrNotRegistered)
	}
	upcalls, imports := l.upcalls(&info)
	data, table, err := callStartup(startup, &info, upcalls, imports)
	if err != nil {
		return nil, fail(spi.WSAEPROVIDERFAILEDINIT, err)
	}
	if !versionOK(data) {
		_ = callCleanup(&table)
		return nil, fail(spi.WSAEINVALIDPROVIDER, fmt.Errorf("WSPStartup negotiated version %s (highest %s); want 2.0 to 2.2",
			versionString(data.Version), versionString(data.HighVersion)))
	}
	if missing := table.Missing(); len(missing) > 0 {
		_ = callCleanup(&table)
		e := fail(spi.WSAEINVALIDPROCTABLE, fmt.Errorf("nil proc table entries: %s", strings.Join(missing, ", "))).(*LoadError)
		e.Missing = missing
		return nil, e
	}
	return &Provider{ProviderId: id, Path: path, Data: data, ProcTable: table}, nil
}

// versionOK reports whether WSPStartup negotiated a version ws2_32 2.2 can
// use: major 2, minor 0 to 2 (never above what was requested), and a highest
// version not below it (simulator decision after D:wspstartup and W:errors).
func versionOK(d spi.WSPData) bool {
	major, minor := d.Version&0xff, d.Version>>8
	hiMajor, hiMinor := d.HighVersion&0xff, d.HighVersion>>8
	return major == 2 && minor <= 2 && (hiMajor > 2 || hiMajor == 2 && hiMinor >= minor)
}

func versionString(v uint16) string { return fmt.Sprintf("%d.%d", v&0xff, v>>8) }

// callStartup calls a startup function, turning a panic into an error.
func callStartup(startup spi.WSPStartupFunc, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (data spi.WSPData, table spi.WSPProcTable, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, table, err = spi.WSPData{}, spi.WSPProcTable{}, panicError("WSPStartup", r)
		}
	}()
	return startup(spi.WINSOCK_VERSION, info, upcalls, imports)
}

// callCleanup calls a table's WSPCleanup, if it has one, turning a panic
// into an error.
func callCleanup(t *spi.WSPProcTable) (err error) {
	if t.WSPCleanup == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = panicError("WSPCleanup", r)
		}
	}()
	return t.WSPCleanup()
}

func panicError(fn string, r any) error {
	if e, ok := r.(error); ok {
		return fmt.Errorf("%s panicked: %w", fn, e)
	}
	return fmt.Errorf("%s panicked: %v", fn, r)
}
