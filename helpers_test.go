package wsspi_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"runtime"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// TB is what the helpers need of a test: *testing.T, *testing.B and
// *rapid.T all have it.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// long is how long a test waits for something that must happen; it only
// runs out when the simulator is broken.
const long = 10 * time.Second

func must[T any](v T, err error) func(TB) T {
	return func(tb TB) T {
		tb.Helper()
		check(tb, err)
		return v
	}
}

func check(tb TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// opErr is the error a simulated call returns: op on h failed with e.
// notOverlapped is the cause of an overlapped call on a socket made
// without WSA_FLAG_OVERLAPPED.
var notOverlapped = spi.Because(spi.WSAEINVAL, "the socket was not created with WSA_FLAG_OVERLAPPED")

func opErr(op string, h spi.Handle, e spi.Errno) error {
	return &spi.OpError{Op: op, Handle: h, Err: e}
}

// wantErr compares an error with the one expected, wrapper included.
func wantErr(tb TB, what string, want, got error) {
	tb.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("%s: error (-want +got):\n%s", what, diff)
	}
}

// world is a machine with two processes, a client and a server, each
// with one thread, as most tests here need. The processes are closed when
// the test ends.
type world struct {
	m              *wsspi.Machine
	client, server *wsspi.Process
	cth, sth       *wsspi.Thread
}

func newWorld(tb TB) *world {
	tb.Helper()
	m := wsspi.NewMachine()
	w := &world{m: m, client: m.NewProcess(), server: m.NewProcess()}
	tb.Cleanup(func() { w.client.Close(); w.server.Close() })
	w.cth, w.sth = w.client.NewThread(), w.server.NewThread()
	return w
}

// loopbackAddr is the loopback address of family af with port.
func loopbackAddr(af int32, port uint16) netip.AddrPort {
	if af == spi.AF_INET6 {
		return netip.AddrPortFrom(netip.IPv6Loopback(), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
}

// families are the address families the loopback provider serves.
var families = []struct {
	name string
	af   int32
}{{"IPv4", spi.AF_INET}, {"IPv6", spi.AF_INET6}}

// listen makes a TCP socket of th bound to addr and listening.
func listen(tb TB, th *wsspi.Thread, addr netip.AddrPort, backlog int32) spi.Socket {
	tb.Helper()
	return must(th.ListenTCP(addr, wsspi.ListenOptions{Backlog: backlog}))(tb).Socket
}

// conn is a TCP connection over loopback between the client and the
// server of a world: c is the client's socket, made with clientFlags, s
// the server's, accepted from listener l (which made with socket() is
// overlapped).
type conn struct {
	*world
	addr    netip.AddrPort
	l, c, s spi.Socket
}

func newConn(tb TB, af int32, clientFlags uint32) *conn {
	tb.Helper()
	return newWorld(tb).connect(tb, af, clientFlags)
}

func (w *world) connect(tb TB, af int32, clientFlags uint32) *conn {
	tb.Helper()
	pr := must(w.cth.SocketPair(wsspi.PairOptions{Server: w.sth, Addr: loopbackAddr(af, 9000),
		NotOverlapped: clientFlags&spi.WSA_FLAG_OVERLAPPED == 0, KeepListener: true}))(tb)
	return &conn{world: w, addr: pr.Addr, l: pr.Listener.Socket, c: pr.Client, s: pr.Server}
}

func must2[T, U any](v T, u U, err error) func(TB) (T, U) {
	return func(tb TB) (T, U) {
		tb.Helper()
		check(tb, err)
		return v, u
	}
}

// u32 encodes v as a 4-byte little-endian value (an int or BOOL option,
// an ioctl's u_long).
func u32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// setNonblocking sets or clears FIONBIO on s.
func setNonblocking(tb TB, th *wsspi.Thread, s spi.Socket, on bool) {
	tb.Helper()
	v := uint32(0)
	if on {
		v = 1
	}
	must(th.WSAIoctl(s, spi.FIONBIO, u32(v), nil, nil, nil))(tb)
}

// setInt sets an int socket option at SOL_SOCKET.
func setInt(tb TB, th *wsspi.Thread, s spi.Socket, name int32, v uint32) {
	tb.Helper()
	check(tb, th.Setsockopt(s, spi.SOL_SOCKET, name, u32(v)))
}

// getInt reads an int socket option at SOL_SOCKET.
func getInt(tb TB, th *wsspi.Thread, s spi.Socket, name int32) uint32 {
	tb.Helper()
	var b [4]byte
	n := must(th.Getsockopt(s, spi.SOL_SOCKET, name, b[:]))(tb)
	if n != 4 {
		tb.Fatalf("getsockopt(%d) length = %d, want 4", name, n)
	}
	return binary.LittleEndian.Uint32(b[:])
}

// setLinger sets SO_LINGER on s.
func setLinger(tb TB, th *wsspi.Thread, s spi.Socket, onOff, secs uint16) {
	tb.Helper()
	b, err := spi.Linger{OnOff: onOff, Linger: secs}.MarshalBinary()
	check(tb, err)
	check(tb, th.Setsockopt(s, spi.SOL_SOCKET, spi.SO_LINGER, b))
}

// recvAll receives on s with blocking calls until it holds n bytes.
func recvAll(tb TB, th *wsspi.Thread, s spi.Socket, n int) []byte {
	tb.Helper()
	got := make([]byte, 0, n)
	buf := make([]byte, n)
	for len(got) < n {
		k := must(th.WSARecv(s, [][]byte{buf[:n-len(got)]}, nil, nil, nil))(tb)
		if k == 0 {
			tb.Fatalf("recv: end of stream after %d of %d bytes", len(got), n)
		}
		got = append(got, buf[:k]...)
	}
	return got
}

// fionread returns what FIONREAD reports for s.
func fionread(tb TB, th *wsspi.Thread, s spi.Socket) uint32 {
	tb.Helper()
	var out [4]byte
	if n := must(th.WSAIoctl(s, spi.FIONREAD, nil, out[:], nil, nil))(tb); n != 4 {
		tb.Fatalf("FIONREAD filled %d bytes, want 4", n)
	}
	return binary.LittleEndian.Uint32(out[:])
}

// pattern returns n bytes that differ from those of other offsets, so
// that lost, repeated or reordered bytes show.
func pattern(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte((off + i) * 7 / 3)
	}
	return b
}

// liveObjects lists the kinds of the live handles of p other than its
// threads: what is left of sockets, ports and events.
func liveObjects(p *wsspi.Process) map[spi.Handle]handles.Kind {
	live := map[spi.Handle]handles.Kind{}
	for _, e := range p.Handles().Snapshot().Live {
		if e.Kind != handles.KindThread {
			live[e.Handle] = e.Kind
		}
	}
	return live
}

// checkNoHandles fails if p holds any handle but its threads', or any
// handle closed while referenced and not yet freed.
func checkNoHandles(tb TB, p *wsspi.Process) {
	tb.Helper()
	snap := p.Handles().Snapshot()
	if live := liveObjects(p); len(live) != 0 || len(snap.Closing) != 0 {
		tb.Errorf("process %d leaks handles: live %v, closing %v", p.ID(), live, snap.Closing)
	}
}

// checkNoGoroutineLeak fails the test if, once it and its cleanups have
// run, more goroutines are left than when it started. Call it first, so
// that its cleanup runs last.
func checkNoGoroutineLeak(tb TB) {
	tb.Helper()
	before := runtime.NumGoroutine()
	tb.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			tb.Errorf("%d goroutines before the test, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

// result is what a notification says about one overlapped operation.
type result struct {
	Ov    *spi.Overlapped
	Bytes uint32
	Err   spi.Errno
}

// A notifier is one of the three ways a client learns that an overlapped
// operation on a socket ended: a packet on a completion port, an event
// and WSAGetOverlappedResult, or a completion routine run in an alertable
// wait of the issuing thread.
type notifier interface {
	// prepare returns the overlapped and completion routine of a new
	// operation.
	prepare() (*spi.Overlapped, spi.CompletionRoutine)
	// next waits for the next notification and returns what it says.
	next(tb TB) result
	// none fails if a notification is waiting.
	none(tb TB)
}

// styles makes a notifier of each style for socket s of thread th.
var styles = []struct {
	name string
	new  func(tb TB, th *wsspi.Thread, s spi.Socket) notifier
}{
	{"port", newPortNotifier},
	{"event", newEventNotifier},
	{"routine", newRoutineNotifier},
}

// portKey is the completion key a port notifier associates its socket with.
const portKey = 42

// portNotifier associates the socket with a new completion port and reads
// its packets.
type portNotifier struct {
	th   *wsspi.Thread
	port spi.Handle
}

func newPortNotifier(tb TB, th *wsspi.Thread, s spi.Socket) notifier {
	tb.Helper()
	port := must(th.Process().CreateIoCompletionPort(s, 0, portKey, 0))(tb)
	tb.Cleanup(func() { th.Process().CloseHandle(port) })
	return &portNotifier{th: th, port: port}
}

func (n *portNotifier) prepare() (*spi.Overlapped, spi.CompletionRoutine) {
	return new(spi.Overlapped), nil
}

func (n *portNotifier) next(tb TB) result {
	tb.Helper()
	e, err := n.th.GetQueuedCompletionStatus(n.port, long)
	if e.Overlapped == nil {
		tb.Fatalf("no packet: %v", err)
	}
	// The packet carries the NTSTATUS the OVERLAPPED holds;
	// GetQueuedCompletionStatus reports its Win32 code, and the result is
	// its Winsock code, what the other notifiers report.
	status := spi.NTStatus(e.Internal)
	if win32 := spi.RtlNtStatusToDosError(status); win32 != 0 {
		wantErr(tb, "GetQueuedCompletionStatus", opErr("GetQueuedCompletionStatus", n.port, win32), err)
	} else if err != nil {
		tb.Errorf("a packet of status %v failed: %v", status, err)
	}
	if e.CompletionKey != portKey || e.Internal != e.Overlapped.LoadInternal() {
		tb.Errorf("packet %+v: want key %d and the OVERLAPPED's Internal %#x", e, portKey, e.Overlapped.LoadInternal())
	}
	return result{e.Overlapped, e.NumberOfBytesTransferred, spi.NtStatusToWinsockError(status)}
}

func (n *portNotifier) none(tb TB) {
	tb.Helper()
	e, err := n.th.GetQueuedCompletionStatus(n.port, 0)
	wantErr(tb, "GetQueuedCompletionStatus with nothing to report", opErr("GetQueuedCompletionStatus", n.port, spi.WAIT_TIMEOUT), err)
	if e.Overlapped != nil {
		tb.Errorf("unexpected packet %+v", e)
	}
}

// eventNotifier gives each operation an event of its own, waits with
// WSAWaitForMultipleEvents and reads the result with
// WSAGetOverlappedResult, or from the status block (Internal and
// InternalHigh) once the socket is closed and its handle gone.
type eventNotifier struct {
	th      *wsspi.Thread
	s       spi.Socket
	pending []*spi.Overlapped
}

func newEventNotifier(tb TB, th *wsspi.Thread, s spi.Socket) notifier {
	return &eventNotifier{th: th, s: s}
}

func (n *eventNotifier) prepare() (*spi.Overlapped, spi.CompletionRoutine) {
	ev, err := n.th.Process().WSACreateEvent()
	if err != nil {
		panic(err)
	}
	ov := &spi.Overlapped{HEvent: ev}
	n.pending = append(n.pending, ov)
	return ov, nil
}

func (n *eventNotifier) events() []spi.Handle {
	var evs []spi.Handle
	for _, ov := range n.pending {
		evs = append(evs, ov.HEvent)
	}
	return evs
}

func (n *eventNotifier) next(tb TB) result {
	tb.Helper()
	r, err := n.th.WSAWaitForMultipleEvents(n.events(), false, long, false)
	if err != nil || r >= uint32(len(n.pending)) {
		tb.Fatalf("WSAWaitForMultipleEvents = %#x, %v", r, err)
	}
	ov := n.pending[r]
	n.pending = append(n.pending[:r], n.pending[r+1:]...)
	check(tb, n.th.Process().WSACloseEvent(ov.HEvent))
	bytes, _, err := n.th.WSAGetOverlappedResult(n.s, ov, false)
	// A socket being closed refuses calls before a layer closes its handle
	// (once its last completion is forwarded): the status block tells.
	if _, open := liveObjects(n.th.Process())[n.s]; !open || errors.Is(err, spi.WSAENOTSOCK) {
		if !errors.Is(err, spi.WSAENOTSOCK) {
			tb.Errorf("WSAGetOverlappedResult on the closed socket: %v, want WSAENOTSOCK", err)
		}
		return result{ov, uint32(ov.LoadInternalHigh()), spi.NtStatusToWinsockError(spi.NTStatus(ov.LoadInternal()))}
	}
	return result{ov, bytes, spi.ErrnoOf(err)}
}

func (n *eventNotifier) none(tb TB) {
	tb.Helper()
	if len(n.pending) == 0 {
		return
	}
	if r, err := n.th.WSAWaitForMultipleEvents(n.events(), false, 0, false); r != uint32(spi.WSA_WAIT_TIMEOUT) || err != nil {
		tb.Errorf("an event is signalled: WSAWaitForMultipleEvents = %#x, %v", r, err)
	}
}

// routineNotifier gives each operation a completion routine and runs
// them in alertable sleeps of the issuing thread.
type routineNotifier struct {
	th  *wsspi.Thread
	ran []result
}

func newRoutineNotifier(tb TB, th *wsspi.Thread, s spi.Socket) notifier {
	return &routineNotifier{th: th}
}

func (n *routineNotifier) prepare() (*spi.Overlapped, spi.CompletionRoutine) {
	return new(spi.Overlapped), func(e spi.Errno, bytes uint32, ov *spi.Overlapped, _ uint32) {
		n.ran = append(n.ran, result{ov, bytes, e})
	}
}

func (n *routineNotifier) next(tb TB) result {
	tb.Helper()
	if len(n.ran) == 0 {
		if r, err := n.th.SleepEx(long, true); r != spi.WAIT_IO_COMPLETION || err != nil {
			tb.Fatalf("SleepEx = %#x, %v; want WAIT_IO_COMPLETION", r, err)
		}
	}
	if len(n.ran) == 0 {
		tb.Fatal("an alertable wait ended with no completion routine run")
	}
	r := n.ran[0]
	n.ran = n.ran[1:]
	return r
}

func (n *routineNotifier) none(tb TB) {
	tb.Helper()
	if r, err := n.th.SleepEx(0, true); r != 0 || err != nil || len(n.ran) != 0 {
		tb.Errorf("SleepEx = %#x, %v, routines run %+v; want none", r, err, n.ran)
	}
}

// pendRecv issues an overlapped WSARecv into buf on s that must pend.
func pendRecv(tb TB, th *wsspi.Thread, s spi.Socket, buf []byte, ov *spi.Overlapped, cr spi.CompletionRoutine) {
	tb.Helper()
	_, err := th.WSARecv(s, [][]byte{buf}, nil, ov, cr)
	wantErr(tb, "WSARecv", opErr("WSARecv", s, spi.WSA_IO_PENDING), err)
}

// blocks runs f on a goroutine of the synctest bubble the test runs in,
// checks that f waits, and returns the channel its result will arrive on.
func blocks[R any](tb TB, what string, f func() R) <-chan R {
	tb.Helper()
	done := make(chan R, 1)
	go func() { done <- f() }()
	synctest.Wait()
	select {
	case r := <-done:
		tb.Fatalf("%s returned %+v instead of waiting", what, r)
	default:
	}
	return done
}

// pendingConn returns a connection whose client socket has an overlapped
// WSARecv of 8 bytes pending, with an event of its own when withEvent is
// set, or else with its socket associated with a completion port (key 1),
// returned.
func pendingConn(tb TB, withEvent bool) (k *conn, port spi.Handle, ov *spi.Overlapped) {
	tb.Helper()
	k = newConn(tb, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	ov = new(spi.Overlapped)
	if withEvent {
		ov.HEvent = must(k.client.WSACreateEvent())(tb)
	} else {
		port = must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(tb)
	}
	pendRecv(tb, k.cth, k.c, make([]byte, 8), ov, nil)
	return k, port, ov
}
