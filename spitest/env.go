package spitest

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// mech is how a client socket hears of its overlapped operations.
type mech uint8

const (
	viaPort    mech = iota // a completion port with the socket's key
	viaEvent               // an event per operation
	viaRoutine             // a completion routine, run on the issuing thread
)

var mechNames = [...]string{"port", "event", "completion routine"}

func (m mech) String() string { return mechNames[m] }

// env is one run of the kit: a fresh machine with the user's providers, one
// process, the client sockets made through the target entry and their
// peers made on the base entry, and everything the client has seen. Its
// methods run on one goroutine.
type env struct {
	cfg   *config
	m     *wsspi.Machine
	p     *wsspi.Process
	sched *Scheduler // nil: inline
	// lists are the socket action's handle lists, kept to be reused (see
	// snapshotInto); peerBuf is the peers' receive buffer.
	lists     *handleLists
	peerBuf   [][]byte
	arena     []byte          // what is left of the block bytes cuts buffers from
	names     strings.Builder // the block name cuts names from
	faults    *Faults
	rec       *trace.Recorder     // the machine's trace: the upcalls the handle checks read
	entry     spi.WSAProtocolInfo // the target entry
	base      spi.WSAProtocolInfo // the base entry below it
	ifs       bool                // entry has XP1_IFS_HANDLES
	threads   []*wsspi.Thread     // client threads
	poller    *wsspi.Thread       // dequeues the port
	peerTh    *wsspi.Thread       // the peer side's thread
	port      spi.Handle          // the port of port-mode sockets, made on first use
	listener  spi.Socket
	addr      netip.AddrPort
	socks     []*sock
	open      []*sock // the sockets of socks not closed, in the same order
	ops       map[*spi.Overlapped]*op
	allOps    []*op
	evOps     []*op         // the operations notified by events
	events    []spi.Handle  // their events, in the same order
	evObjs    []*iocp.Event // the kernel's objects of events, which collect waits on
	nextKey   uintptr
	lfsr      uint32     // the state of the payload pattern (fillPattern)
	transform *Transform // the target's, or nil
	clientOp  int        // client API calls made, for the benchmark

	alertable *wsspi.Thread // the thread in an alertable wait, while collect runs one
	findings  []*Finding
	seen      map[string]bool // rule and detail of findings already reported
	log       []logLine       // the last steps of the run, for reports: a ring (nextLine)
	logNext   int             // with the ring full, the index of its oldest line
	closed    bool
}

// sock is a client socket made through the target entry, with its peer.
type sock struct {
	name   string
	h      spi.Socket
	th     *wsspi.Thread
	mech   mech
	key    uintptr
	base   spi.Handle // the base provider's socket under h, 0 if unknown
	peer   spi.Socket
	closed bool
	gone   bool // peer closed

	// The records of the connection's data, plain bytes unless said: they
	// hold what happened and are never rewritten.
	sends, recvs []*op    // in issue order, until the stream check consumes them
	sent         []byte   // what the client's sends took, completed in issue order
	got          []byte   // what the client received, in issue order of its receives
	peerSent     []byte   // what the peer sent
	peerGot      []byte   // what the peer received: the wire
	peerSends    [][]byte // with a transform: the peer's sends, of which Wire made peerWire
	peerWire     []byte   // with a transform: the wire of peerSends
	peerOut      int      // with a transform: the bytes of peerWire handed to the base provider
	peerPlain    []byte   // with a transform: Unwire(peerGot[:peerUnwired])
	peerUnwired  int
	// in and out are the first wrong byte the client received, and the
	// peer: the records go on, the checks of that direction stop.
	in, out *streamBreak
	fileIO  bool // ReadFile or WriteFile was issued on the socket
	reset   bool // a fault reset the connection
	short   bool // a short-transfer fault was armed
}

// String returns the socket's name, for the log: a pointer the log keeps
// costs no allocation, and the name does not change.
func (s *sock) String() string { return s.name }

// op is one overlapped operation the client issued.
type op struct {
	name      string
	s         *sock
	ov        *spi.Overlapped
	mech      mech
	event     spi.Handle
	send      bool
	buf       []byte
	ret       error
	retBytes  uint32
	pending   bool   // the call returned WSA_IO_PENDING
	immediate bool   // the call returned success
	notes     []note // in arrival order: almost always one, in firstNote
	closedAt  bool   // the socket was closed while the operation was outstanding
	ioctl     bool

	overlapped spi.Overlapped // what ov points to (newOp)
	bufs       [1][]byte      // the buffer list of WSASend and WSARecv: buf
	flags      uint32         // WSARecv's flags
	firstNote  [1]note        // the storage of the first of notes (newOp)
}

// note is one notification the client received for an operation.
type note struct {
	via    mech
	status spi.Errno
	bytes  uint32
	key    uintptr
	thread *wsspi.Thread
}

func (o *op) expectsNote() bool { return o.pending || o.immediate }

func (o *op) done() bool { return len(o.notes) > 0 || !o.expectsNote() }

func (o *op) result() (spi.Errno, uint32) {
	if len(o.notes) == 0 {
		return 0, 0
	}
	return o.notes[0].status, o.notes[0].bytes
}

// logf records a step of the run. The line is formatted only if a
// finding reports it (logText): a run logs every step and reports almost
// none, and formatting as it goes showed in the workload's speed
// (bench/README.md). Every argument is a value (names, handles, counts, errors)
// that does not change afterwards, so the late text is the same.
func (e *env) logf(format string, args ...any) {
	l := e.nextLine()
	l.format, l.op = format, nil
	l.args = append(l.args[:0], args...)
}

// logOp records the issue of o (note < 0) or its notes[note], the two
// steps a run logs most: the line keeps o and is formatted from its
// fields, which do not change once logged, so that logging them boxes no
// value (bench/README.md).
func (e *env) logOp(o *op, note int) {
	l := e.nextLine()
	l.format, l.op, l.note = "", o, note
	clear(l.args)
	l.args = l.args[:0]
}

// logLine is one step of the run's log, unformatted: a format and its
// arguments, or an operation's step (op set).
type logLine struct {
	format string
	args   []any
	op     *op
	note   int
}

// lineArgs is the room for arguments each line of the log starts with.
const lineArgs = 6

// defaultLogTail is how many of a run's last steps a finding shows.
const defaultLogTail = 40

// nextLine returns the line to record the next step in. The log keeps the
// last steps only, as many as a finding shows (config.logTail), in a ring
// whose lines and argument lists are reused: a run logs hundreds of steps.
func (e *env) nextLine() *logLine {
	if cap(e.log) == 0 {
		n := defaultLogTail
		if e.cfg != nil && e.cfg.logTail > 0 {
			n = e.cfg.logTail
		}
		lines, args := make([]logLine, n), make([]any, n*lineArgs)
		for i := range lines {
			lines[i].args = args[i*lineArgs : i*lineArgs : (i+1)*lineArgs]
		}
		e.log = lines[:0]
	}
	if len(e.log) < cap(e.log) {
		e.log = e.log[:len(e.log)+1]
		return &e.log[len(e.log)-1]
	}
	l := &e.log[e.logNext]
	e.logNext = (e.logNext + 1) % len(e.log)
	return l
}

// logText formats the last n lines of the log, oldest first.
func (e *env) logText(n int) []string {
	ordered := append(e.log[e.logNext:len(e.log):len(e.log)], e.log[:e.logNext]...)
	tail := ordered[max(0, len(ordered)-n):]
	out := make([]string, len(tail))
	for i, l := range tail {
		out[i] = l.text()
	}
	return out
}

func (l *logLine) text() string {
	switch o := l.op; {
	case o == nil:
		return fmt.Sprintf(l.format, l.args...)
	case l.note < 0:
		return fmt.Sprintf("%s(%d bytes) = %d, %v", o.name, len(o.buf), o.retBytes, errText(o.ret))
	default:
		n := o.notes[l.note]
		return fmt.Sprintf("notified: %s by %v: %d bytes, %v", o.name, n.via, n.bytes, errText(errOrNil(n.status)))
	}
}

// fail records a finding for rule.
func (e *env) fail(r Rule, format string, args ...any) {
	d := fmt.Sprintf(format, args...)
	if e.seen[r.Name+d] {
		return
	}
	e.seen[r.Name+d] = true
	e.findings = append(e.findings, &Finding{Rule: r, Entry: e.entry.CatalogEntryId,
		EntryName: e.entry.ProtocolName, Detail: d})
}

// newEnv makes the machine of one run, calls the factory, and prepares the
// target entry id and the peer's listener. A nil env comes with the
// findings that prevented it.
func newEnv(cfg *config, f Factory, id spi.CatalogEntryId, sched *Scheduler) (*env, []*Finding) {
	faults := new(Faults)
	opts := wsspi.MachineOptions{Faults: faults, Handles: handles.Options{FailAlloc: faults.FailAlloc}}
	var rec *trace.Recorder
	if f != nil && !cfg.ifs[id] {
		// The upcalls are traced for the handle checks
		// (checkHandleTrace), except over an entry with XP1_IFS_HANDLES,
		// whose providers make no WPUCreateSocketHandle handle (one that
		// does breaks IFSFlag), and over the loopback base provider alone
		// (nil f), which have no such handle to check: tracing is a
		// large part of a run's cost (bench/README.md).
		rec = new(trace.Recorder)
		opts.Trace = rec
	}
	if sched != nil {
		opts.Scheduler = sched
	}
	m := wsspi.NewMachineWith(opts)
	target, fs := runFactory(f, m)
	if fs != nil {
		return nil, fs
	}
	e := &env{cfg: cfg, m: m, sched: sched, faults: faults, rec: rec, ops: map[*spi.Overlapped]*op{}, seen: map[string]bool{},
		lfsr: 1, transform: target.Transform}
	e.lists = listPool.Get().(*handleLists)
	e.p = m.NewProcess()
	view := e.p.Loader().View()
	entry, ok := view.Entry(id)
	if !ok {
		e.p.Close()
		return nil, []*Finding{{Rule: ruleFactory, Entry: id, Detail: "the catalog has no entry " + itoa(int(id))}}
	}
	e.entry = entry
	e.ifs = entry.ServiceFlags1&spi.XP1_IFS_HANDLES != 0
	e.base = entry
	if n := entry.ProtocolChain.ChainLen; n > 1 {
		b, ok := view.Entry(spi.CatalogEntryId(entry.ProtocolChain.ChainEntries[n-1]))
		if !ok {
			e.p.Close()
			return nil, []*Finding{{Rule: ruleFactory, Entry: id, Detail: "the chain's base entry is not in the catalog"}}
		}
		e.base = b
	}
	e.threads = []*wsspi.Thread{e.p.NewThread(), e.p.NewThread()}
	e.poller, e.peerTh = e.p.NewThread(), e.p.NewThread()
	if err := e.listen(); err != nil {
		e.p.Close()
		return nil, []*Finding{{Rule: ruleFactory, Entry: id,
			Detail: "cannot listen on the base entry " + e.base.ProtocolName + ": " + err.Error()}}
	}
	return e, nil
}

// listen makes the peer's listener on the base entry, nonblocking, so that
// accepted peers are nonblocking too.
func (e *env) listen() error {
	th := e.peerTh
	l, err := th.WSASocket(e.base.AddressFamily, e.base.SocketType, e.base.Protocol, &e.base, 0, spi.WSA_FLAG_OVERLAPPED)
	if err != nil {
		return err
	}
	a := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)
	if e.base.AddressFamily == spi.AF_INET6 {
		a = netip.AddrPortFrom(netip.IPv6Loopback(), 0)
	}
	if err := th.Bind(l, a); err != nil {
		return err
	}
	if err := th.Listen(l, 64); err != nil {
		return err
	}
	if _, err := th.WSAIoctl(l, spi.FIONBIO, []byte{1, 0, 0, 0}, nil, nil, nil); err != nil {
		return err
	}
	addr, err := th.Getsockname(l)
	if err != nil {
		return err
	}
	e.listener, e.addr = l, addr
	return nil
}
