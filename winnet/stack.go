package winnet

import (
	"errors"
	"fmt"
	"sync"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// Options configures [New]. The zero value drives Winsock as Go's poller
// does today: the process-wide skip-on-success check, and CancelIoEx on
// the client's own handle only.
type Options struct {
	// Skip chooses how sockets get the FILE_SKIP_* notification modes.
	Skip SkipPolicy
	// CancelBaseHandle makes an interrupted operation, when CancelIoEx on
	// the socket finds nothing (ERROR_NOT_FOUND), also cancel on the
	// socket's SIO_BASE_HANDLE, as libuv does when it detected a non-IFS
	// layer: CancelIo there, from the simulated thread that issued the
	// operation, reaches the lower operation a layer issued on the
	// client's behalf, which then completes the client's with
	// ERROR_OPERATION_ABORTED. Go's poller does not do this, and hangs
	// over a non-IFS layer (see the package documentation).
	CancelBaseHandle bool
	// Base makes every socket of the stack on the base provider's TCP
	// entry for its family (WSASocket with that entry's protocol info),
	// below every layer, as wsspi.ListenOptions.Entry does: for the peer
	// of a test, whose failures are then the other side's alone. Go's
	// poller always takes the catalog's choice.
	Base bool
}

// Stack is one process's network stack as Go's poller sees it: a
// completion port, the goroutine that dequeues it, and the sockets made
// through it. Make one with [New]; it is safe for concurrent use.
type Stack struct {
	p    *wsspi.Process
	opts Options
	port spi.Handle
	// canSkip is the result of the process-wide check (see SkipPolicy).
	canSkip bool
	// base holds, with Options.Base, the base TCP entry of each family.
	base map[int32]*spi.WSAProtocolInfo

	ctlMu sync.Mutex // serializes ctl, the thread for control calls
	ctl   *wsspi.Thread

	mu      sync.Mutex // guards fds, nextKey and closed
	fds     map[uintptr]*netFD
	nextKey uintptr
	closed  bool

	poller *poller
	stats  stats
}

// New starts a stack on process p: it checks the catalog as Go's poller
// does at start (WSAEnumProtocols over IPPROTO_TCP), creates the completion
// port (CreateIoCompletionPort with INVALID_HANDLE_VALUE) and starts the
// goroutine that waits on it. Close the stack to stop it.
func New(p *wsspi.Process, opts Options) (*Stack, error) {
	if opts.Skip < SkipProcessWide || opts.Skip > SkipAlways {
		return nil, fmt.Errorf("winnet: unknown skip policy %d", opts.Skip)
	}
	canSkip := tcpEntriesAreIFS(p)
	var base map[int32]*spi.WSAProtocolInfo
	if opts.Base {
		var err error
		if base, err = baseEntries(p); err != nil {
			return nil, fmt.Errorf("winnet: %w", err)
		}
	}
	port, err := p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("winnet: %w", err)
	}
	ctl, err := p.CreateThread()
	if err != nil {
		_ = p.CloseHandle(port)
		return nil, fmt.Errorf("winnet: %w", err)
	}
	pth, err := p.CreateThread()
	if err != nil {
		ctl.Exit()
		_ = p.CloseHandle(port)
		return nil, fmt.Errorf("winnet: %w", err)
	}
	st := &Stack{p: p, opts: opts, port: port, canSkip: canSkip, base: base, ctl: ctl, fds: map[uintptr]*netFD{}}
	st.poller = startPoller(st, pth)
	return st, nil
}

// Process returns the process the stack runs in.
func (st *Stack) Process() *wsspi.Process { return st.p }

// ProcessWideSkip reports the result of the process-wide check New ran:
// whether every IPPROTO_TCP entry of WSAEnumProtocols has XP1_IFS_HANDLES,
// the condition under which Go's poller uses the skip modes at all.
func (st *Stack) ProcessWideSkip() bool { return st.canSkip }

// Close stops the stack: it closes its completion port (CloseHandle),
// which ends the poller's wait, and waits for the poller to return.
// Operations still waiting then end with net.ErrClosed. Close the
// connections and listeners first; Close does not close them.
func (st *Stack) Close() error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return nil
	}
	st.closed = true
	st.mu.Unlock()
	err := st.p.CloseHandle(st.port)
	if errors.Is(err, spi.ERROR_INVALID_HANDLE) {
		err = nil // the process closed it already
	}
	<-st.poller.done
	st.poller.th.Exit()
	st.control(func(th *wsspi.Thread) error { th.Exit(); return nil })
	return err
}

// control runs f on the stack's control thread, one call at a time.
func (st *Stack) control(f func(th *wsspi.Thread) error) error {
	st.ctlMu.Lock()
	defer st.ctlMu.Unlock()
	return f(st.ctl)
}

// register gives fd a completion key and associates its socket with the
// port under it (CreateIoCompletionPort), as Go's pollDesc.init does.
func (st *Stack) register(fd *netFD) error {
	st.mu.Lock()
	if st.closed {
		st.mu.Unlock()
		return errStackClosed
	}
	st.nextKey++
	key := st.nextKey
	st.fds[key] = fd
	st.mu.Unlock()
	if _, err := st.p.CreateIoCompletionPort(fd.sock, st.port, key, 0); err != nil {
		st.forget(key)
		return err
	}
	fd.key = key
	return nil
}

// forget drops the fd registered under key.
func (st *Stack) forget(key uintptr) {
	st.mu.Lock()
	delete(st.fds, key)
	st.mu.Unlock()
}

// lookup returns the fd registered under key, or nil.
func (st *Stack) lookup(key uintptr) *netFD {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.fds[key]
}

var errStackClosed = errors.New("winnet: stack closed")

// baseEntries returns the first base provider entry (BASE_PROTOCOL) for
// TCP over each family that WSAEnumProtocols lists.
func baseEntries(p *wsspi.Process) (map[int32]*spi.WSAProtocolInfo, error) {
	entries, err := p.WSAEnumProtocols([]int32{spi.IPPROTO_TCP})
	if err != nil {
		return nil, err
	}
	base := map[int32]*spi.WSAProtocolInfo{}
	for i := range entries {
		e := &entries[i]
		if e.ProtocolChain.ChainLen == spi.BASE_PROTOCOL && base[e.AddressFamily] == nil {
			base[e.AddressFamily] = e
		}
	}
	return base, nil
}
