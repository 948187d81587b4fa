package wsspi

import (
	"cmp"
	"errors"
	"net/netip"
	"slices"
	"sync"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// MachineOptions configures [NewMachineWith]. The zero value is the machine
// [NewMachine] returns.
type MachineOptions struct {
	// Catalog is the machine's protocol catalog. Nil means a catalog with
	// the loopback provider's TCP and UDP entries for IPv4 and IPv6 (ids
	// 1001 to 1004, see [catalog.NewDefault]).
	Catalog *catalog.Catalog
	// Processors is the number of processors of the simulated machine, the
	// concurrency of a completion port created with 0. Zero means
	// [iocp.DefaultProcessors].
	Processors int
	// Handles configures each process's handle table.
	Handles handles.Options
	// Scheduler, when set, decides when the loopback provider delivers
	// completions and finishes closes, and when the completion rule
	// notifies, instead of that work running inline (see [spi.Scheduler];
	// package spitest has a seeded one). Nil means inline, the default.
	// A call that waits for such work, as select and WSAPoll wait for the
	// AFD poll under them, returns only once the scheduler has run it:
	// make such calls on a goroutine other than the one that drives the
	// scheduler.
	Scheduler spi.Scheduler
	// Faults, when set, injects failures into the loopback provider (see
	// [loopback.Faults]). Nil means none.
	Faults loopback.Faults
	// Trace, when set, records what happens in every process of the
	// machine: client calls, WSP calls per layer, upcalls, transitions,
	// completions, APCs and handles (see package trace). Nil means no
	// recording, the default, at the cost of a nil check on the paths that
	// would record.
	Trace *trace.Recorder
}

// Machine is a simulated Windows machine: the protocol catalog, the
// provider "DLLs" installed on it, and the loopback network its processes
// share, so two processes of one machine can talk over loopback. A Machine
// is safe for concurrent use.
type Machine struct {
	catalog *catalog.Catalog
	network *loopback.Network
	opts    MachineOptions

	mu        sync.Mutex                    // guards dlls, processes, nextPID
	dlls      map[string]spi.WSPStartupFunc // provider "DLLs" registered by users
	processes map[*Process]struct{}         // processes not yet closed
	nextPID   uint32
}

// NewMachine returns a machine whose catalog holds the loopback TCP and UDP
// entries for IPv4 and IPv6, so Winsock works with no setup.
func NewMachine() *Machine { return NewMachineWith(MachineOptions{}) }

// NewMachineWith returns a machine configured by opts.
func NewMachineWith(opts MachineOptions) *Machine {
	if opts.Catalog == nil {
		opts.Catalog = catalog.NewDefault()
	}
	if opts.Processors == 0 {
		opts.Processors = iocp.DefaultProcessors
	}
	return &Machine{
		catalog:   opts.Catalog,
		network:   loopback.NewNetworkWith(loopback.Options{Scheduler: opts.Scheduler, Faults: opts.Faults}),
		opts:      opts,
		dlls:      map[string]spi.WSPStartupFunc{},
		processes: map[*Process]struct{}{},
		nextPID:   4,
	}
}

// Catalog returns the machine's protocol catalog. Changes to it are seen by
// processes that call WSAStartup afterwards, as on Windows.
func (m *Machine) Catalog() *catalog.Catalog { return m.catalog }

// RegisterProvider places a provider "DLL" at path, the path its catalog
// entries are installed with (see [catalog.Catalog.WSCInstallProvider]).
// Running processes that have not loaded the path yet see it at once.
// The built-in loopback provider lives at [catalog.LoopbackPath].
func (m *Machine) RegisterProvider(path string, startup spi.WSPStartupFunc) {
	if startup == nil {
		panic("wsspi: RegisterProvider with a nil startup function for " + path)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dlls[path] = startup
	for p := range m.processes {
		p.register(path, startup)
	}
}

// NewProcess starts a process that has called WSAStartup(2.2) once.
func (m *Machine) NewProcess() *Process {
	p := m.NewProcessWithoutStartup()
	if _, err := p.WSAStartup(spi.WINSOCK_VERSION); err != nil {
		panic("wsspi: WSAStartup of a new process: " + err.Error())
	}
	return p
}

// NewProcessWithoutStartup starts a process that has not called
// WSAStartup, as a Windows process starts: every Winsock call fails with
// WSANOTINITIALISED until it does. The machine's options (trace, scheduler,
// processors, handle table) apply to it as to every process.
func (m *Machine) NewProcessWithoutStartup() *Process {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextPID += 4
	p := newProcess(m, m.nextPID)
	for path, startup := range m.dlls {
		p.register(path, startup)
	}
	m.processes[p] = struct{}{}
	return p
}

// Shutdown ends every process still running on the machine, each as
// [Process.Close] ends it (its threads' waits end, its sockets close, its
// providers clean up), as Windows ends every process when it shuts down
// (ExitWindowsEx). It returns the errors of those closes, joined. A test
// harness uses it to end a client that hangs in a wait of the machine
// (package clienttest does). The machine stays usable: a process started
// afterwards runs as on a fresh boot.
func (m *Machine) Shutdown() error {
	m.mu.Lock()
	running := make([]*Process, 0, len(m.processes))
	for p := range m.processes {
		running = append(running, p)
	}
	m.mu.Unlock()
	// Close in the order the processes started, so a shutdown is the same
	// every time for the same processes.
	slices.SortFunc(running, func(a, b *Process) int { return cmp.Compare(a.pid, b.pid) })
	var errs []error
	for _, p := range running {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

// forget drops a closed process.
func (m *Machine) forget(p *Process) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.processes, p)
}

// AddAddress adds a to the machine's local addresses, as an address
// appearing on one of its interfaces does on Windows (an adapter coming
// up, a DHCP lease, CreateUnicastIpAddressEntry). Every
// SIO_ADDRESS_LIST_CHANGE pending on a socket of a's family, in any
// process, completes with success and 0 bytes, and SIO_ADDRESS_LIST_QUERY
// lists a from then on unless it is a loopback or link-local address,
// which Windows leaves out of the list (docs/facts.md §11).
//
// a must be a unicast address without a zone (ERROR_INVALID_PARAMETER
// otherwise); one already present is ERROR_OBJECT_ALREADY_EXISTS, what
// CreateUnicastIpAddressEntry returns for a duplicate. Errors are wrapped
// in an [spi.OpError] naming CreateUnicastIpAddressEntry. The address is
// listed only: binding and connecting still follow the loopback rules
// (127.0.0.0/8 and ::1; see package loopback, "Simulator decisions").
func (m *Machine) AddAddress(a netip.Addr) error {
	return spi.NewOpError("CreateUnicastIpAddressEntry", 0, m.network.AddAddress(a))
}

// RemoveAddress removes a from the machine's local addresses, as an
// address leaving one of its interfaces does on Windows (an adapter going
// down, a lease expiring, DeleteUnicastIpAddressEntry). Every
// SIO_ADDRESS_LIST_CHANGE pending on a socket of a's family completes with
// success and 0 bytes. An address not present is ERROR_NOT_FOUND, what
// DeleteUnicastIpAddressEntry returns for an entry it cannot find, wrapped
// in an [spi.OpError] naming that function. Sockets bound to a keep
// working: the list does not govern binding (see [Machine.AddAddress]).
func (m *Machine) RemoveAddress(a netip.Addr) error {
	return spi.NewOpError("DeleteUnicastIpAddressEntry", 0, m.network.RemoveAddress(a))
}

// Addresses returns a snapshot of the machine's local addresses, in the
// order they were added: 127.0.0.1 and ::1 on a new machine.
// SIO_ADDRESS_LIST_QUERY reports those of a socket's family that are
// neither loopback nor link-local, so a new machine lists none.
func (m *Machine) Addresses() []netip.Addr { return m.network.Addresses() }

// process returns the running process whose id is pid.
func (m *Machine) process(pid uint32) (*Process, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for p := range m.processes {
		if p.pid == pid {
			return p, true
		}
	}
	return nil, false
}
