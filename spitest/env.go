package spitest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/handles"
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
	// before and after are the socket action's handle lists, kept to be
	// reused (see snapshotInto); peerBuf is the peers' receive buffer.
	before, after []handles.Entry
	peerBuf       [][]byte
	faults        *Faults
	rec           *trace.Recorder     // the machine's trace: the upcalls the handle checks read
	entry         spi.WSAProtocolInfo // the target entry
	base          spi.WSAProtocolInfo // the base entry below it
	ifs           bool                // entry has XP1_IFS_HANDLES
	threads       []*wsspi.Thread     // client threads
	poller        *wsspi.Thread       // dequeues the port
	peerTh        *wsspi.Thread       // the peer side's thread
	port          spi.Handle          // the port of port-mode sockets, made on first use
	listener      spi.Socket
	addr          netip.AddrPort
	socks         []*sock
	ops           map[*spi.Overlapped]*op
	allOps        []*op
	evOps         []*op // the operations notified by events
	events        []spi.Handle
	nextKey       uintptr
	pattern       byte // next payload byte
	clientOp      int  // client API calls made, for the benchmark

	alertable *wsspi.Thread // the thread in an alertable wait, while collect runs one
	findings  []*Finding
	seen      map[string]bool // rule and detail of findings already reported
	log       []logLine       // what the run did, for reports
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

	sends, recvs []*op // in issue order, until the stream check consumes them
	sent         []byte
	got          []byte // what the client received, in issue order of its receives
	peerSent     []byte
	peerGot      []byte
	reset        bool // a fault reset the connection
	short        bool // a short-transfer fault was armed
}

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
	pending   bool // the call returned WSA_IO_PENDING
	immediate bool // the call returned success
	notes     []note
	closedAt  bool // the socket was closed while the operation was outstanding
	ioctl     bool
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
// finding reports it (logText): formatting every step was a sixth of a
// run's time. Every argument is a value (names, handles, counts, errors)
// that does not change afterwards, so the late text is the same.
func (e *env) logf(format string, args ...any) {
	e.log = append(e.log, logLine{format, args})
}

// logLine is one step of the run's log, unformatted.
type logLine struct {
	format string
	args   []any
}

// logText formats the last n lines of the log.
func (e *env) logText(n int) []string {
	tail := e.log[max(0, len(e.log)-n):]
	out := make([]string, len(tail))
	for i, l := range tail {
		out[i] = fmt.Sprintf(l.format, l.args...)
	}
	return out
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
		// (nil f): tracing makes a run two to five times slower.
		rec = new(trace.Recorder)
		opts.Trace = rec
	}
	if sched != nil {
		opts.Scheduler = sched
	}
	m := wsspi.NewMachineWith(opts)
	if _, fs := runFactory(f, m); fs != nil {
		return nil, fs
	}
	e := &env{cfg: cfg, m: m, sched: sched, faults: faults, rec: rec, ops: map[*spi.Overlapped]*op{}, seen: map[string]bool{}}
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

// snapshot returns the live handles of the process, sorted by value.
func (e *env) snapshot() []handles.Entry { return e.p.Handles().Snapshot().Live }

// snapshotInto is snapshot into *buf, reusing its storage: the socket
// action looks at the table before and after every WSASocket, and
// allocating two lists each time cost a tenth of the workload.
func (e *env) snapshotInto(buf *[]handles.Entry) []handles.Entry {
	*buf = e.p.Handles().AppendLive((*buf)[:0])
	return *buf
}

// added returns the entries of after that are not in before (both sorted
// by value): the handles made in between.
func added(before, after []handles.Entry) []handles.Entry {
	var out []handles.Entry
	i := 0
	for _, a := range after {
		for i < len(before) && before[i].Handle < a.Handle {
			i++
		}
		if i < len(before) && before[i].Handle == a.Handle && before[i].Generation == a.Generation {
			continue
		}
		out = append(out, a)
	}
	return out
}

// socket makes a client socket through the target entry, checks what
// kind of handle it is, connects it to a new peer and sets up its
// notifications. It returns nil when the socket could not be made (a
// finding says why, unless fails is set: a fault was armed).
func (e *env) socket(th *wsspi.Thread, m mech) *sock {
	before := e.snapshotInto(&e.before)
	e.clientOp++
	h, err := th.WSASocket(e.entry.AddressFamily, e.entry.SocketType, e.entry.Protocol, &e.entry, 0, spi.WSA_FLAG_OVERLAPPED)
	if err != nil {
		e.logf("WSASocket: %v", err)
		return nil
	}
	s := &sock{name: "s" + itoa(len(e.socks)), h: h, th: th, mech: m}
	e.socks = append(e.socks, s)
	after := e.snapshotInto(&e.after)
	e.logf("%s = WSASocket(entry %d) = %v, notified by %v", s.name, e.entry.CatalogEntryId, h, m)
	e.checkNewSocket(s, before, after)
	e.clientOp++
	if err := th.Connect(h, e.addr); err != nil {
		e.logf("connect %s: %v", s.name, err)
		return s
	}
	peer, _, err := e.peerTh.Accept(e.listener)
	if err != nil {
		e.fail(ruleStream, "%s: connect returned success but the peer's listener has no connection to accept: %v", s.name, err)
		return s
	}
	s.peer = peer
	if m == viaPort {
		if e.port == 0 {
			port, err := e.p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0)
			if err != nil {
				panic("spitest: CreateIoCompletionPort: " + err.Error())
			}
			e.port = port
		}
		e.nextKey += 0x10
		s.key = 0x5000 + e.nextKey
		e.clientOp++
		if _, err := e.p.CreateIoCompletionPort(h, e.port, s.key, 0); err != nil {
			e.fail(ruleMechanism, "%s: CreateIoCompletionPort(%v) on the client's socket failed: %v", s.name, h, err)
		}
	}
	return s
}

// checkNewSocket checks the handle a WSASocket call returned against the
// handles the call made: its kind against XP1_IFS_HANDLES, its owner and
// context, and it finds the base provider's socket for SIO_BASE_HANDLE.
func (e *env) checkNewSocket(s *sock, before, after []handles.Entry) {
	var en handles.Entry
	var ifsNew []spi.Handle
	for _, a := range added(before, after) {
		if a.Handle == s.h {
			en = a
		}
		if a.Kind == handles.KindIFSSocket {
			ifsNew = append(ifsNew, a.Handle)
		}
	}
	if en.Handle == 0 {
		e.fail(ruleIFSFlag, "%s: WSASocket returned %v, which is not a handle it made", s.name, s.h)
		return
	}
	if len(ifsNew) == 1 {
		s.base = ifsNew[0]
	}
	switch {
	case e.ifs && en.Kind != handles.KindIFSSocket:
		e.fail(ruleIFSFlag, "entry %d sets XP1_IFS_HANDLES, but the socket WSASocket returned (%v) is a %v handle (from WPUCreateSocketHandle), not an IFS handle",
			e.entry.CatalogEntryId, s.h, en.Kind)
	case !e.ifs && en.Kind != handles.KindSocket:
		e.fail(ruleIFSFlag, "entry %d does not set XP1_IFS_HANDLES, but the socket WSASocket returned (%v) is a %v handle, not one from WPUCreateSocketHandle",
			e.entry.CatalogEntryId, s.h, en.Kind)
	}
	if en.Kind != handles.KindSocket {
		return
	}
	chainTop := spi.CatalogEntryId(e.entry.ProtocolChain.ChainEntries[0])
	if en.Owner != e.entry.CatalogEntryId && en.Owner != chainTop {
		e.fail(ruleContext, "%s: the handle is owned by catalog entry %d, neither the chain %d nor its layer %d: ws2_32 routes calls on it elsewhere",
			s.name, en.Owner, e.entry.CatalogEntryId, chainTop)
	}
	ctx, err := e.p.Handles().QuerySocketHandleContext(s.h)
	if err != nil {
		e.fail(ruleContext, "%s: WPUQuerySocketHandleContext(%v) failed: %v", s.name, s.h, err)
	} else if !sameContext(ctx, en.Context) {
		e.fail(ruleContext, "%s: WPUQuerySocketHandleContext(%v) returned %T, not the context registered (%T)", s.name, s.h, ctx, en.Context)
	}
}

// sameContext compares two contexts by identity where it can.
func sameContext(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = true // not comparable: nothing to say
		}
	}()
	return a == b
}

// payload returns n bytes of the run's byte pattern: every byte sent in a
// run differs from its neighbours, so a duplicate or a reordering shows.
func (e *env) payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = e.pattern
		e.pattern++
		if e.pattern == 251 {
			e.pattern = 0
		}
	}
	return b
}

// issue starts an overlapped send or receive on s: through WSASend or
// WSARecv, or through WriteFile or ReadFile when file is set.
func (e *env) issue(s *sock, send, file bool, size int) *op {
	o := &op{s: s, ov: new(spi.Overlapped), mech: s.mech, send: send}
	if file && o.mech == viaRoutine {
		o.mech = viaEvent // ReadFile and WriteFile take no routine
	}
	cr := e.arm(o)
	verb := map[[2]bool]string{{true, false}: "WSASend", {false, false}: "WSARecv", {true, true}: "WriteFile", {false, true}: "ReadFile"}[[2]bool{send, file}]
	o.name = s.name + "." + verb + "#" + itoa(len(e.allOps))
	if send {
		o.buf = e.payload(size)
	} else {
		o.buf = make([]byte, size)
	}
	e.ops[o.ov] = o
	e.allOps = append(e.allOps, o)
	if send {
		s.sends = append(s.sends, o)
	} else {
		s.recvs = append(s.recvs, o)
	}
	e.clientOp++
	switch {
	case send && file:
		o.retBytes, o.ret = s.th.WriteFile(s.h, o.buf, o.ov)
	case file:
		o.retBytes, o.ret = s.th.ReadFile(s.h, o.buf, o.ov)
	case send:
		o.retBytes, o.ret = s.th.WSASend(s.h, [][]byte{o.buf}, 0, o.ov, cr)
	default:
		var flags uint32
		o.retBytes, o.ret = s.th.WSARecv(s.h, [][]byte{o.buf}, &flags, o.ov, cr)
	}
	e.classify(o)
	return o
}

// arm prepares o's notification mechanism: an event of its own in HEvent,
// or the completion routine to pass; nil for a port.
func (e *env) arm(o *op) spi.CompletionRoutine {
	switch o.mech {
	case viaEvent:
		ev, err := e.p.WSACreateEvent()
		if err != nil {
			panic("spitest: WSACreateEvent: " + err.Error())
		}
		e.events = append(e.events, ev)
		e.evOps = append(e.evOps, o)
		o.event, o.ov.HEvent = ev, ev
	case viaRoutine:
		return e.routine(o)
	}
	return nil
}

// ioctl issues an overlapped SIO_BASE_HANDLE on s, which completes at
// once and must be notified like any overlapped operation.
func (e *env) ioctl(s *sock) *op {
	o := &op{s: s, ov: new(spi.Overlapped), mech: s.mech, ioctl: true, buf: make([]byte, 8)}
	cr := e.arm(o)
	o.name = s.name + ".WSAIoctl(SIO_BASE_HANDLE, overlapped)#" + itoa(len(e.allOps))
	e.ops[o.ov] = o
	e.allOps = append(e.allOps, o)
	e.clientOp++
	o.retBytes, o.ret = s.th.WSAIoctl(s.h, spi.SIO_BASE_HANDLE, nil, o.buf, o.ov, cr)
	e.classify(o)
	if o.immediate {
		e.checkBaseHandle(s, o.buf, o.retBytes)
	}
	return o
}

// baseHandle asks s for SIO_BASE_HANDLE without an overlapped and checks
// the answer.
func (e *env) baseHandle(s *sock) {
	out := make([]byte, 8)
	e.clientOp++
	n, err := s.th.WSAIoctl(s.h, spi.SIO_BASE_HANDLE, nil, out, nil, nil)
	e.logf("WSAIoctl(%s, SIO_BASE_HANDLE) = %d, %v", s.name, n, err)
	if err != nil {
		if !s.closed && !s.reset {
			e.fail(ruleBaseHandle, "%s: WSAIoctl(SIO_BASE_HANDLE) failed: %v; the base provider answers it", s.name, err)
		}
		return
	}
	e.checkBaseHandle(s, out, n)
}

func (e *env) checkBaseHandle(s *sock, out []byte, n uint32) {
	if n < 8 {
		e.fail(ruleBaseHandle, "%s: SIO_BASE_HANDLE returned %d bytes, not a SOCKET", s.name, n)
		return
	}
	got := spi.Handle(binary.LittleEndian.Uint64(out))
	if s.base != 0 && got != s.base {
		e.fail(ruleBaseHandle, "%s: SIO_BASE_HANDLE answered %v, but the base provider's socket under %v is %v", s.name, got, s.h, s.base)
	}
}

// classify records what the call that started o returned.
func (e *env) classify(o *op) {
	switch {
	case o.ret == nil:
		o.immediate = true
	case errors.Is(o.ret, spi.WSA_IO_PENDING):
		o.pending = true
	}
	e.logf("%s(%d bytes) = %d, %v", o.name, len(o.buf), o.retBytes, errText(o.ret))
}

func errText(err error) string {
	if err == nil {
		return "success"
	}
	return spi.ErrnoOf(err).Error()
}

// routine returns the completion routine of o.
func (e *env) routine(o *op) spi.CompletionRoutine {
	return func(status spi.Errno, n uint32, ov *spi.Overlapped, _ uint32) {
		if ov != o.ov {
			e.fail(ruleMechanism, "%s: its completion routine was called with overlapped %p, not the operation's %p", o.name, ov, o.ov)
		}
		e.note(o, note{via: viaRoutine, status: status, bytes: n, thread: e.alertable})
	}
}

// note records and checks one notification of o.
func (e *env) note(o *op, n note) {
	o.notes = append(o.notes, n)
	e.logf("notified: %s by %v: %d bytes, %v", o.name, n.via, n.bytes, errText(errOrNil(n.status)))
	switch {
	case !o.expectsNote():
		e.fail(ruleImmediate, "%s failed at once (%v), so nothing started, yet it was notified by %v (status %v)",
			o.name, errText(o.ret), n.via, errText(errOrNil(n.status)))
	case len(o.notes) == 2:
		e.fail(ruleCompletesOnce, "%s completed twice: first by %v (%d bytes, %v), then by %v (%d bytes, %v)", o.name,
			o.notes[0].via, o.notes[0].bytes, errText(errOrNil(o.notes[0].status)), n.via, n.bytes, errText(errOrNil(n.status)))
	}
	if n.via != o.mech {
		e.fail(ruleMechanism, "%s asked for notification by %v but was notified by %v", o.name, o.mech, n.via)
	}
	if n.via == viaPort && n.key != o.s.key {
		e.fail(rulePortKey, "%s: its packet carries key %#x, not the key %#x the client associated %v with", o.name, n.key, o.s.key, o.s.h)
	}
	if n.via == viaRoutine && n.thread != o.s.th {
		where := "outside any alertable wait"
		if n.thread != nil {
			where = "in an alertable wait of another thread"
		}
		e.fail(ruleMechanism, "%s: its completion routine ran %s, not in an alertable wait of the issuing thread", o.name, where)
	}
	if o.immediate && len(o.notes) == 1 && n.status == 0 && n.bytes != o.retBytes {
		e.fail(ruleCompletesOnce, "%s returned success with %d bytes, but its notification says %d", o.name, o.retBytes, n.bytes)
	}
	if n.status == 0 {
		switch {
		case o.send && n.bytes != uint32(len(o.buf)) && !o.s.short:
			e.fail(ruleCompletesOnce, "%s sent %d bytes but completed with %d and no error", o.name, len(o.buf), n.bytes)
		case n.bytes > uint32(len(o.buf)):
			e.fail(ruleCompletesOnce, "%s completed with %d bytes, more than its %d-byte buffer", o.name, n.bytes, len(o.buf))
		}
	}
}

func errOrNil(e spi.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// collect takes every notification waiting for the client: packets on the
// port, signalled events, and completion routines, each thread in an
// alertable wait of its own.
func (e *env) collect() {
	if e.port != 0 {
		for {
			en, err := e.poller.GetQueuedCompletionStatus(e.port, 0)
			if en.Overlapped == nil {
				break
			}
			o := e.ops[en.Overlapped]
			if o == nil {
				e.fail(ruleMechanism, "a packet (key %#x, %d bytes) names an overlapped the client never used", en.CompletionKey, en.NumberOfBytesTransferred)
				continue
			}
			// The packet carries the NTSTATUS; the client's Winsock view of it
			// is what the rules speak of, and GetQueuedCompletionStatus must
			// report its Win32 code.
			status := spi.NtStatusToWinsockError(spi.NTStatus(en.Internal))
			if win32 := spi.RtlNtStatusToDosError(spi.NTStatus(en.Internal)); spi.ErrnoOf(err) != win32 {
				e.fail(ruleResult, "GetQueuedCompletionStatus of %s reported %v for a packet of status %#x, want %v", o.name, errText(err), en.Internal, win32)
			}
			e.note(o, note{via: viaPort, status: status, bytes: en.NumberOfBytesTransferred, key: en.CompletionKey})
			e.checkResult(o, status, en.NumberOfBytesTransferred)
		}
	}
	for _, o := range e.evOps {
		ev, err := e.p.Kernel().Event(o.event)
		if err != nil || !ev.Snapshot().Signaled {
			continue
		}
		_ = e.p.WSAResetEvent(o.event)
		status, n := spi.NtStatusToWinsockError(spi.NTStatus(o.ov.LoadInternal())), uint32(o.ov.LoadInternalHigh())
		e.note(o, note{via: viaEvent, status: status, bytes: n})
		e.checkResult(o, status, n)
	}
	for _, th := range e.threads {
		e.alertable = th
		for {
			r, _ := th.SleepEx(0, true)
			if r != spi.WAIT_IO_COMPLETION {
				break
			}
		}
		e.alertable = nil
	}
	e.advance()
}

// checkResult compares the status block and WSAGetOverlappedResult with
// what a packet or an event reported.
func (e *env) checkResult(o *op, status spi.Errno, n uint32) {
	if o.ov.InProgress() {
		e.fail(ruleResult, "%s was notified while its overlapped still says WSS_OPERATION_IN_PROGRESS", o.name)
		return
	}
	if got := uint32(o.ov.LoadInternalHigh()); got != n {
		e.fail(ruleResult, "%s: InternalHigh is %d but the notification says %d bytes", o.name, got, n)
	}
	if o.s.closed || o.ioctl {
		return
	}
	e.clientOp++
	bytes, _, err := o.s.th.WSAGetOverlappedResult(o.s.h, o.ov, false)
	if errors.Is(err, spi.WSAENOTSOCK) && (o.s.closed || o.s.reset) {
		return
	}
	if got := spi.ErrnoOf(err); got != status || (err == nil && bytes != n) {
		e.fail(ruleResult, "%s: WSAGetOverlappedResult says %d bytes, %v; the notification said %d bytes, %v",
			o.name, bytes, errText(err), n, errText(errOrNil(status)))
	}
}

// advance feeds the finished operations of each socket, in issue order,
// to the stream check.
func (e *env) advance() {
	for _, s := range e.socks {
		for len(s.recvs) > 0 && s.recvs[0].done() {
			o := s.recvs[0]
			s.recvs = s.recvs[1:]
			if status, n := o.result(); status == 0 && len(o.notes) > 0 {
				s.got = append(s.got, o.buf[:min(int(n), len(o.buf))]...)
			}
			if len(s.got) > len(s.peerSent) || !bytes.Equal(s.got, s.peerSent[:len(s.got)]) {
				e.fail(ruleStream, "%s: the client received %s; the peer sent %s", s.name, show(s.got), show(s.peerSent))
				s.got = append(s.got[:0], s.peerSent[:min(len(s.got), len(s.peerSent))]...)
			}
		}
		for len(s.sends) > 0 && s.sends[0].done() {
			o := s.sends[0]
			s.sends = s.sends[1:]
			if status, n := o.result(); status == 0 && len(o.notes) > 0 {
				s.sent = append(s.sent, o.buf[:min(int(n), len(o.buf))]...)
			}
		}
		e.checkPeerGot(s)
	}
}

// checkPeerGot checks that the peer received a prefix of what the client
// sent, in order and once.
func (e *env) checkPeerGot(s *sock) {
	n := min(len(s.peerGot), len(s.sent))
	possible := len(s.sent)
	for _, o := range s.sends {
		if o.expectsNote() {
			possible += len(o.buf)
		}
	}
	if !bytes.Equal(s.peerGot[:n], s.sent[:n]) || len(s.peerGot) > possible {
		e.fail(ruleStream, "%s: the peer received %s; the client sent %s", s.name, show(s.peerGot), show(s.sent))
		s.peerGot = append(s.peerGot[:0], s.sent[:n]...)
	}
}

// show prints a byte stream briefly.
func show(b []byte) string {
	if len(b) <= 24 {
		return fmt.Sprintf("%d bytes %v", len(b), b)
	}
	return fmt.Sprintf("%d bytes %v…%v", len(b), b[:12], b[len(b)-12:])
}

// peerSend sends n bytes from the peer of s (nonblocking).
func (e *env) peerSend(s *sock, n int) {
	if s.peer == 0 || s.gone {
		return
	}
	b := e.payload(n)
	k, err := e.peerTh.WSASend(s.peer, [][]byte{b}, 0, nil, nil)
	e.logf("peer of %s sends %d bytes: %d, %v", s.name, n, k, errText(err))
	if err == nil {
		s.peerSent = append(s.peerSent, b[:k]...)
	}
}

// peerRecv reads everything the peer of s has been sent.
func (e *env) peerRecv(s *sock) {
	if s.peer == 0 || s.gone {
		return
	}
	if e.peerBuf == nil {
		e.peerBuf = [][]byte{make([]byte, 4096)}
	}
	for {
		k, err := e.peerTh.WSARecv(s.peer, e.peerBuf, nil, nil, nil)
		if err != nil || k == 0 {
			break
		}
		s.peerGot = append(s.peerGot, e.peerBuf[0][:k]...)
	}
	e.checkPeerGot(s)
}

// peerClose closes the peer of s gracefully.
func (e *env) peerClose(s *sock) {
	if s.peer == 0 || s.gone {
		return
	}
	e.peerRecv(s)
	s.gone = true
	e.logf("peer of %s closes", s.name)
	_ = e.peerTh.Closesocket(s.peer)
}

// close closes client socket s.
func (e *env) close(s *sock) {
	if s.closed {
		return
	}
	for _, o := range e.allOps {
		if o.s == s && len(o.notes) == 0 && o.expectsNote() {
			o.closedAt = true
		}
	}
	if s.base != 0 {
		e.faults.disarm(s.base)
	}
	e.clientOp++
	err := s.th.Closesocket(s.h)
	e.logf("closesocket(%s) = %v", s.name, errText(err))
	s.closed = true
	if err != nil {
		e.fail(ruleCloseAborts, "closesocket(%s) failed: %v", s.name, err)
	}
}

// settle runs the scheduler's queued work and lets the provider's own
// goroutines finish theirs, until nothing is left to run.
func (e *env) settle() {
	for range 1000 {
		if e.sched != nil {
			e.sched.Drain()
		}
		e.quiesce()
		if e.sched == nil || e.sched.Len() == 0 {
			return
		}
	}
}

// quiesce waits for the provider's goroutines: synctest.Wait inside a
// bubble. Outside one it yields the processor, when that can help: while
// an operation awaits its notification (with none awaited, the provider's
// goroutines have nothing to deliver that the client could see now), and
// with one processor only (with more, a goroutine the client's call woke
// runs on another). Each yield wakes an idle processor to look for work,
// and yielding at every settle cost the workload a tenth of its speed.
// Nothing depends on the yield: awaitAll waits for late notifications.
func (e *env) quiesce() {
	if e.cfg.bubble {
		synctest.Wait()
		return
	}
	if runtime.GOMAXPROCS(0) == 1 && e.awaiting() {
		runtime.Gosched()
	}
}

// awaiting reports whether an operation expects a notification and has
// none yet.
func (e *env) awaiting() bool {
	for _, o := range slices.Backward(e.allOps) { // the latest are likeliest
		if !o.done() {
			return true
		}
	}
	return false
}

// awaitAll settles and collects until every operation that expects a
// notification has one, or, outside a bubble, the timeout passes.
func (e *env) awaitAll() {
	deadline := time.Now().Add(e.cfg.timeout)
	for {
		e.settle()
		e.collect()
		missing := false
		for _, o := range e.allOps {
			if o.expectsNote() && len(o.notes) == 0 {
				missing = true
			}
		}
		if !missing || e.cfg.bubble || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// finish ends the run: it closes every socket, waits for every
// notification, checks each operation was notified once, checks that the
// provider closed its handles, then cleans the process up and checks that
// nothing of it is left.
func (e *env) finish() {
	if e.closed {
		return
	}
	e.closed = true
	for _, s := range e.socks {
		e.close(s)
	}
	e.awaitAll()
	for _, s := range e.socks {
		e.peerRecv(s)
	}
	e.advance()
	for _, o := range e.allOps {
		if o.expectsNote() && len(o.notes) == 0 {
			r, how := ruleCompletesOnce, "pending"
			switch {
			case o.immediate:
				r, how = ruleImmediate, "successful at once"
			case o.closedAt:
				r, how = ruleCloseAborts, "pending, its socket was closed,"
			}
			e.fail(r, "%s returned %s but was never notified by %v", o.name, how, o.mech)
		}
		if o.closedAt && len(o.notes) > 0 {
			if st := o.notes[0].status; st != 0 && !abortStatus(st) && !resetStatus(st) {
				e.fail(ruleCloseAborts, "%s, pending when its socket was closed, completed with %v", o.name, st)
			}
		}
	}
	e.awaitHandles()
	leaked := map[spi.Handle]bool{}
	for _, en := range e.p.Handles().Snapshot().Live {
		if en.Kind == handles.KindSocket {
			leaked[en.Handle] = true
			e.fail(ruleHandleClose, "handle %v from WPUCreateSocketHandle (entry %d) is still open after every socket was closed and every operation completed",
				en.Handle, en.Owner)
		}
	}
	if e.listener != 0 {
		_ = e.peerTh.Closesocket(e.listener)
	}
	for _, s := range e.socks {
		if s.peer != 0 && !s.gone {
			_ = e.peerTh.Closesocket(s.peer)
		}
	}
	e.settle()
	e.collect()
	e.checkOpenIDs()
	for _, ev := range e.events {
		_ = e.p.WSACloseEvent(ev)
	}
	if e.port != 0 {
		_ = e.p.CloseHandle(e.port)
	}
	for _, th := range append(e.threads, e.poller, e.peerTh) {
		th.Exit()
	}
	if err := e.p.Close(); err != nil {
		e.fail(ruleCleanup, "WSACleanup failed: %v", err)
	}
	e.settle()
	for _, en := range e.p.Handles().Snapshot().Live {
		e.fail(ruleCleanup, "after WSACleanup the process still has handle %v: %v (owner %d)", en.Handle, en.Kind, en.Owner)
	}
	e.checkHandleTrace(leaked)
}

// awaitHandles waits, outside a bubble, up to the timeout for the
// provider's own goroutines to close the handles it made with
// WPUCreateSocketHandle: a layer closes a handle from the last forwarding
// of its operations, which may follow the client's notification.
func (e *env) awaitHandles() {
	if e.cfg.bubble {
		return
	}
	deadline := time.Now().Add(e.cfg.timeout)
	for time.Now().Before(deadline) {
		left := false
		for _, en := range e.p.Handles().Snapshot().Live {
			left = left || en.Kind == handles.KindSocket
		}
		if !left {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// checkOpenIDs checks that no thread id from WPUOpenCurrentThread is left
// open on the client's threads once everything completed.
func (e *env) checkOpenIDs() {
	for _, th := range e.threads {
		if n := th.Kernel().Snapshot().OpenIDs; n > 0 {
			e.fail(ruleCleanup, "%d thread ids opened with WPUOpenCurrentThread on a client thread are still open after every operation completed", n)
		}
	}
}

// abortStatus reports whether st is how closesocket ends an operation
// pending on the socket: WSA_OPERATION_ABORTED, as WSPCloseSocket's
// documentation says, or WSAECONNABORTED (STATUS_CONNECTION_ABORTED), what
// Windows since Vista reports on a connected stream socket (Wine's tests of
// Windows, docs/facts.md §9.4), as the loopback provider does.
func abortStatus(st spi.Errno) bool {
	return st == spi.WSA_OPERATION_ABORTED || st == spi.WSAECONNABORTED
}

func resetStatus(st spi.Errno) bool {
	return st == spi.WSAECONNRESET || st == spi.WSAECONNABORTED || st == spi.ERROR_NETNAME_DELETED
}
