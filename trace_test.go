package wsspi_test

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// The participants of the traces below.
var (
	trClient  = trace.Layer{Kind: trace.LayerClient}
	trWinsock = trace.Layer{Kind: trace.LayerWinsock}
	trIFS     = trace.Layer{Kind: trace.LayerIFS}
	trKernel  = trace.Layer{Kind: trace.LayerKernel}
	trTCP     = trace.Layer{Kind: trace.LayerProvider, ID: catalog.DefaultTCPIPv4, Name: "MSAFD Tcpip [TCP/IP]"}
)

// tracedConn is a TCP connection over loopback inside one process of a
// machine that records a trace: th owns the client socket c, sth the
// server socket s.
type tracedConn struct {
	m       *wsspi.Machine
	rec     *trace.Recorder
	p       *wsspi.Process
	th, sth *wsspi.Thread
	c, s    spi.Socket
}

// newTracedConn connects a client socket of the protocol info (nil for
// the first TCP/IPv4 entry) to a loopback server socket of the base
// TCP/IPv4 entry in a new process of m, and empties the recorder, so the
// trace starts after the setup.
func newTracedConn(t testing.TB, m *wsspi.Machine, rec *trace.Recorder, info *spi.WSAProtocolInfo) *tracedConn {
	t.Helper()
	k := &tracedConn{m: m, rec: rec, p: m.NewProcess()}
	t.Cleanup(func() { k.p.Close() })
	k.th, k.sth = k.p.NewThread(), k.p.NewThread()
	addr := netip.MustParseAddrPort("127.0.0.1:7000")
	base, _ := m.Catalog().View().Entry(catalog.DefaultTCPIPv4)
	l := must(k.sth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &base, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	check(t, k.sth.Bind(l, addr))
	check(t, k.sth.Listen(l, 1))
	k.c = must(k.th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, info, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	check(t, k.th.Connect(k.c, addr))
	k.s, _ = must2(k.sth.Accept(l))(t)
	if rec != nil {
		rec.Reset()
	}
	return k
}

// tracedMachine returns a machine recording into a new recorder.
func tracedMachine() (*wsspi.Machine, *trace.Recorder) {
	rec := new(trace.Recorder)
	return wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec}), rec
}

// numbered gives events the sequence numbers 1, 2, ... and process pid.
func numbered(pid uint32, events ...trace.Event) []trace.Event {
	for i := range events {
		events[i].Seq, events[i].PID = uint64(i+1), pid
	}
	return events
}

// wantTrace compares the recorded trace, volatile fields dropped, with want.
func wantTrace(t *testing.T, rec *trace.Recorder, want []trace.Event) {
	t.Helper()
	if diff := cmp.Diff(want, trace.Comparable(rec.Events())); diff != "" {
		var b strings.Builder
		trace.Text(&b, rec.Events())
		t.Errorf("trace (-want +got):\n%s\nthe trace:\n%s", diff, b.String())
	}
}

// call and ret are a call event and its return, as the recorder numbers
// them apart.
func call(kind trace.Kind, caller, layer trace.Layer, thread spi.Handle, fn string, h spi.Handle, entry spi.CatalogEntryId, bytes uint32) trace.Event {
	return trace.Event{Kind: kind, Layer: layer, Caller: caller, Thread: thread, Func: fn, Handle: h, Entry: entry, Bytes: bytes}
}

func ret(c trace.Event, err spi.Errno, bytes uint32) trace.Event {
	c.Kind = map[trace.Kind]trace.Kind{trace.ClientCall: trace.ClientReturn, trace.WSPCall: trace.WSPReturn, trace.Upcall: trace.UpcallReturn}[c.Kind]
	c.Err, c.Bytes = err, bytes
	return c
}

// dequeue is thread th's GetQueuedCompletionStatus on port, which gets a
// packet of bytes and key.
func dequeue(th, port spi.Handle, bytes uint32, key uintptr) (trace.Event, trace.Event) {
	c := call(trace.ClientCall, trClient, trKernel, th, "GetQueuedCompletionStatus", port, 0, 0)
	r := ret(c, 0, bytes)
	r.Key = key
	return c, r
}

func TestTraceOfAnOverlappedSendThroughAPort(t *testing.T) {
	m, rec := tracedMachine()
	k := newTracedConn(t, m, rec, nil)
	port := must(k.p.CreateIoCompletionPort(k.c, 0, 42, 0))(t)
	rec.Reset()

	var ov spi.Overlapped
	if _, err := k.th.WSASend(k.c, [][]byte{[]byte("hello")}, 0, &ov, nil); err != nil {
		t.Fatal(err)
	}
	must(k.th.GetQueuedCompletionStatus(port, long))(t)

	th := k.th.ID().ThreadHandle
	send := call(trace.ClientCall, trClient, trWinsock, th, "WSASend", k.c, 0, 5)
	wsp := call(trace.WSPCall, trWinsock, trTCP, th, "WSPSend", k.c, catalog.DefaultTCPIPv4, 5)
	get, got := dequeue(th, port, 5, 42)
	wantTrace(t, rec, numbered(k.p.ID(),
		send,
		wsp,
		trace.Event{Kind: trace.Completion, Layer: trKernel, Handle: k.c, Bytes: 5, Delivery: trace.DeliveredPort, Port: port, Key: 42},
		ret(wsp, 0, 5),
		ret(send, 0, 5),
		get,
		got,
	))
}

func TestTraceOfAnOverlappedReceiveSignallingAnEvent(t *testing.T) {
	m, rec := tracedMachine()
	k := newTracedConn(t, m, rec, nil)
	ev := must(k.p.WSACreateEvent())(t)
	rec.Reset()

	ov := spi.Overlapped{HEvent: ev}
	buf := make([]byte, 16)
	if _, err := k.th.WSARecv(k.c, [][]byte{buf}, nil, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSARecv: %v, want WSA_IO_PENDING", err)
	}
	must(k.sth.WSASend(k.s, [][]byte{[]byte("hi")}, 0, nil, nil))(t)
	if r := must(k.th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, long, false))(t); r != spi.WSA_WAIT_EVENT_0 {
		t.Fatalf("wait: %d", r)
	}

	th, sth := k.th.ID().ThreadHandle, k.sth.ID().ThreadHandle
	recv := call(trace.ClientCall, trClient, trWinsock, th, "WSARecv", k.c, 0, 16)
	wspRecv := call(trace.WSPCall, trWinsock, trTCP, th, "WSPRecv", k.c, catalog.DefaultTCPIPv4, 16)
	send := call(trace.ClientCall, trClient, trWinsock, sth, "WSASend", k.s, 0, 2)
	wspSend := call(trace.WSPCall, trWinsock, trTCP, sth, "WSPSend", k.s, catalog.DefaultTCPIPv4, 2)
	// WSARecv's event is reset by the I/O manager as the I/O starts (the
	// socket's file object), not by an upcall, so the trace shows no call.
	wait := call(trace.ClientCall, trClient, trKernel, th, "WSAWaitForMultipleEvents", 0, 0, 0)
	wantTrace(t, rec, numbered(k.p.ID(),
		recv,
		wspRecv,
		ret(wspRecv, spi.WSA_IO_PENDING, 0),
		ret(recv, spi.WSA_IO_PENDING, 0),
		send,
		wspSend,
		trace.Event{Kind: trace.Completion, Layer: trKernel, Handle: k.c, Bytes: 2, Delivery: trace.DeliveredEvent, EventHandle: ev},
		ret(wspSend, 0, 2),
		ret(send, 0, 2),
		wait,
		ret(wait, 0, 0),
	))
}

func TestTraceOfACompletionRoutineRunInAnAlertableWait(t *testing.T) {
	m, rec := tracedMachine()
	k := newTracedConn(t, m, rec, nil)

	var ov spi.Overlapped
	var ran uint32
	routine := func(_ spi.Errno, n uint32, _ *spi.Overlapped, _ uint32) { ran = n }
	if _, err := k.th.WSARecv(k.c, [][]byte{make([]byte, 16)}, nil, &ov, routine); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSARecv: %v, want WSA_IO_PENDING", err)
	}
	must(k.sth.WSASend(k.s, [][]byte{[]byte("hey")}, 0, nil, nil))(t)
	if r := must(k.th.SleepEx(long, true))(t); r != spi.WAIT_IO_COMPLETION || ran != 3 {
		t.Fatalf("SleepEx = %d, routine saw %d bytes", r, ran)
	}

	th, sth := k.th.ID().ThreadHandle, k.sth.ID().ThreadHandle
	recv := call(trace.ClientCall, trClient, trWinsock, th, "WSARecv", k.c, 0, 16)
	wspRecv := call(trace.WSPCall, trWinsock, trTCP, th, "WSPRecv", k.c, catalog.DefaultTCPIPv4, 16)
	send := call(trace.ClientCall, trClient, trWinsock, sth, "WSASend", k.s, 0, 3)
	wspSend := call(trace.WSPCall, trWinsock, trTCP, sth, "WSPSend", k.s, catalog.DefaultTCPIPv4, 3)
	sleep := call(trace.ClientCall, trClient, trKernel, th, "SleepEx", 0, 0, 0)
	slept := ret(sleep, 0, 0)
	slept.Value = spi.WAIT_IO_COMPLETION
	wantTrace(t, rec, numbered(k.p.ID(),
		recv,
		wspRecv,
		ret(wspRecv, spi.WSA_IO_PENDING, 0),
		ret(recv, spi.WSA_IO_PENDING, 0),
		send,
		wspSend,
		trace.Event{Kind: trace.Completion, Layer: trKernel, Thread: th, Handle: k.c, Bytes: 3, Delivery: trace.DeliveredAPC},
		ret(wspSend, 0, 3),
		ret(send, 0, 3),
		sleep,
		trace.Event{Kind: trace.APCRun, Layer: trKernel, Thread: th, Func: "completion routine", Bytes: 3},
		slept,
	))
}

func TestTraceShowsWhyACompletionMissedThePort(t *testing.T) {
	m, rec := tracedMachine()
	k := newTracedConn(t, m, rec, nil)
	port := must(k.p.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	ev := must(k.p.WSACreateEvent())(t)
	check(t, k.p.SetFileCompletionNotificationModes(k.c, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))
	rec.Reset()

	var ov spi.Overlapped
	must(k.th.WSASend(k.c, [][]byte{[]byte("a")}, 0, &ov, nil))(t) // an immediate success
	lowBit := spi.Overlapped{HEvent: ev | 1}
	must(k.th.WSASend(k.c, [][]byte{[]byte("b")}, 0, &lowBit, nil))(t)

	got := trace.Filter(trace.Comparable(rec.Events()), func(e trace.Event) bool { return e.Kind == trace.Completion })
	want := []trace.Event{
		{Seq: 3, PID: k.p.ID(), Kind: trace.Completion, Layer: trKernel, Handle: k.c, Bytes: 1, Delivery: trace.SkippedOnSuccess, Port: port, Key: 1},
		// Seq 8: the second send's event is reset by the I/O manager, not an
		// upcall the trace would show (two events fewer).
		{Seq: 8, PID: k.p.ID(), Kind: trace.Completion, Layer: trKernel, Handle: k.c, Bytes: 1, Delivery: trace.SkippedLowBit | trace.DeliveredEvent, Port: port, Key: 1, EventHandle: ev},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("completions (-want +got):\n%s", diff)
	}
}

func TestTraceOfFailingCallsShowsTheirWindowsErrors(t *testing.T) {
	m, rec := tracedMachine()
	p := m.NewProcess()
	t.Cleanup(func() { p.Close() })
	th := p.NewThread()
	unconnected := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	rec.Reset()

	const notASocket spi.Socket = 0x1230
	if _, err := th.WSASend(notASocket, nil, 0, nil, nil); !errors.Is(err, spi.WSAENOTSOCK) {
		t.Fatalf("WSASend on a non-socket: %v", err)
	}
	if _, err := th.WSARecv(unconnected, [][]byte{make([]byte, 4)}, nil, nil, nil); !errors.Is(err, spi.WSAENOTCONN) {
		t.Fatalf("WSARecv on an unconnected socket: %v", err)
	}

	tid := th.ID().ThreadHandle
	bad := call(trace.ClientCall, trClient, trWinsock, tid, "WSASend", notASocket, 0, 0)
	recv := call(trace.ClientCall, trClient, trWinsock, tid, "WSARecv", unconnected, 0, 4)
	wsp := call(trace.WSPCall, trWinsock, trTCP, tid, "WSPRecv", unconnected, catalog.DefaultTCPIPv4, 4)
	wantTrace(t, rec, numbered(p.ID(),
		bad,
		ret(bad, spi.WSAENOTSOCK, 0),
		recv,
		wsp,
		ret(wsp, spi.WSAENOTCONN, 0),
		ret(recv, spi.WSAENOTCONN, 0),
	))
	var text bytes.Buffer
	check(t, trace.Text(&text, rec.Events()))
	for _, want := range []string{"WSASend = WSAENOTSOCK (10038)", "WSPRecv = WSAENOTCONN (10057)", "WSARecv = WSAENOTCONN (10057)"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the timeline does not say %q:\n%s", want, text.String())
		}
	}
}

func TestTraceOfClosesocketShowsTheHandleClosed(t *testing.T) {
	m, rec := tracedMachine()
	k := newTracedConn(t, m, rec, nil)
	check(t, k.th.Closesocket(k.c))

	th := k.th.ID().ThreadHandle
	closeCall := call(trace.ClientCall, trClient, trWinsock, th, "closesocket", k.c, 0, 0)
	wsp := call(trace.WSPCall, trWinsock, trTCP, th, "WSPCloseSocket", k.c, catalog.DefaultTCPIPv4, 0)
	wsp.Thread = 0 // WSPCloseSocket takes no thread id
	// The provider asks whether this is the socket's last descriptor
	// (sockets can be shared) before it closes the socket.
	release := call(trace.Upcall, trTCP, trWinsock, 0, "ReleaseFileHandle", k.c, 0, 0)
	wantTrace(t, rec, numbered(k.p.ID(),
		closeCall,
		wsp,
		release,
		ret(release, 0, 0),
		trace.Event{Kind: trace.HandleClosed, Layer: trKernel, Handle: k.c, Object: "IFS socket", Entry: catalog.DefaultTCPIPv4},
		ret(wsp, 0, 0),
		ret(closeCall, 0, 0),
	))
}

func TestTraceNamesTheProcessOfEachEvent(t *testing.T) {
	m, rec := tracedMachine()
	a, b := m.NewProcess(), m.NewProcess()
	t.Cleanup(func() { a.Close(); b.Close() })
	rec.Reset()
	must(a.WSACreateEvent())(t)
	must(b.WSACreateEvent())(t)

	var pids []uint32
	for _, e := range rec.Events() {
		pids = append(pids, e.PID)
	}
	want := []uint32{a.ID(), a.ID(), a.ID(), b.ID(), b.ID(), b.ID()} // call, handle created, return
	if diff := cmp.Diff(want, pids); diff != "" {
		t.Errorf("process ids (-want +got):\n%s", diff)
	}
}

func TestTracingOffRecordsNothing(t *testing.T) {
	rec := new(trace.Recorder)
	traced := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
	quiet := wsspi.NewMachine()
	k := newTracedConn(t, quiet, rec, nil)
	port := must(k.p.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	var ov spi.Overlapped
	must(k.th.WSASend(k.c, [][]byte{[]byte("x")}, 0, &ov, nil))(t)
	must(k.th.GetQueuedCompletionStatus(port, long))(t)
	check(t, k.th.Closesocket(k.c))
	if n := rec.Len(); n != 0 {
		t.Errorf("a machine without a recorder recorded %d events into another's", n)
	}

	p := traced.NewProcess() // the recorder still works for its own machine
	t.Cleanup(func() { p.Close() })
	must(p.WSACreateEvent())(t)
	if rec.Len() == 0 {
		t.Error("the traced machine recorded nothing")
	}
}

func TestTraceKeepsTheHandleTableSinkOfTheOptions(t *testing.T) {
	var mu sync.Mutex
	var created []spi.Handle
	rec := new(trace.Recorder)
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec, Handles: handles.Options{Trace: func(e trace.Event) {
		mu.Lock()
		defer mu.Unlock()
		if e.Kind == trace.HandleCreated {
			created = append(created, e.Handle)
		}
	}}})
	p := m.NewProcess()
	t.Cleanup(func() { p.Close() })
	ev := must(p.WSACreateEvent())(t)
	mu.Lock()
	defer mu.Unlock()
	if len(created) == 0 || created[len(created)-1] != ev {
		t.Errorf("the options' sink saw %v, want it to end with %v", created, ev)
	}
	if len(trace.Filter(rec.Events(), func(e trace.Event) bool { return e.Kind == trace.HandleCreated && e.Handle == ev })) != 1 {
		t.Error("the recorder did not see the event created")
	}
}

// A minimal non-IFS layered provider: it creates its handles with
// WPUCreateSocketHandle over sockets of the layer below, which it reaches
// through LoadNext, and completes the client's overlapped operations with
// WPUCompleteOverlappedRequest. It forwards only operations that complete
// at once (it keeps no state for pending ones), which is enough for
// deterministic traces of what a layered provider does.
const (
	passPath = `C:\trace\pass.dll`
	passName = "Pass-through LSP"
)

var passGUID = spi.MustParseGUID("{7A3E0001-0000-4000-8000-0000000000A1}")

func passStartup(version uint16, info *spi.WSAProtocolInfo, up spi.WSPUpcallTable, im spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
	self := info.ProtocolChain.ChainEntries[0]
	next, err := im.LoadNext(info, self)
	if err != nil {
		return spi.WSPData{}, spi.WSPProcTable{}, err
	}
	lower := func(s spi.Socket) spi.Socket {
		ctx, err := up.WPUQuerySocketHandleContext(s)
		if err != nil {
			return spi.INVALID_SOCKET
		}
		return ctx.(spi.Socket)
	}
	// complete forwards the result of a lower call made with an overlapped
	// of the layer's own to the client's overlapped ov.
	complete := func(s spi.Socket, ov *spi.Overlapped, n uint32, err error) (uint32, error) {
		if ov == nil || err != nil {
			return n, err
		}
		ov.SetInProgress() // the convention WPUCompleteOverlappedRequest checks
		if err := im.WPUCompleteOverlappedRequest(s, ov, 0, n); err != nil {
			return 0, err
		}
		return n, nil
	}
	var procs spi.WSPProcTable
	procs.WSPSocket = func(af, typ, protocol int32, _ *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
		l, err := next.ProcTable.WSPSocket(af, typ, protocol, &next.Info, g, flags)
		if err != nil {
			return spi.INVALID_SOCKET, err
		}
		return up.WPUCreateSocketHandle(info.CatalogEntryId, l) // ws2_32 routes the chain's calls to the chain's provider
	}
	procs.WSPConnect = func(s spi.Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *spi.QOS) error {
		return next.ProcTable.WSPConnect(lower(s), name, callerData, calleeData, sqos, gqos)
	}
	procs.WSPSend = func(s spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, _ spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		var mine *spi.Overlapped
		if ov != nil {
			mine = new(spi.Overlapped)
		}
		n, err := next.ProcTable.WSPSend(lower(s), bufs, flags, mine, nil, th)
		return complete(s, ov, n, err)
	}
	procs.WSPRecv = func(s spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, _ spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		var mine *spi.Overlapped
		if ov != nil {
			mine = new(spi.Overlapped)
		}
		n, err := next.ProcTable.WSPRecv(lower(s), bufs, flags, mine, nil, th)
		return complete(s, ov, n, err)
	}
	procs.WSPCloseSocket = func(s spi.Socket) error {
		if err := next.ProcTable.WSPCloseSocket(lower(s)); err != nil {
			return err
		}
		return up.WPUCloseSocketHandle(s)
	}
	procs.WSPCleanup = next.Cleanup
	procs.FillNotSupported()
	return spi.WSPData{Version: version, HighVersion: version, Description: passName}, procs, nil
}

// installPass installs the pass-through provider over TCP/IPv4 and returns
// its layered entry's id and its chain's protocol info.
func installPass(t testing.TB, m *wsspi.Machine) (spi.CatalogEntryId, *spi.WSAProtocolInfo) {
	t.Helper()
	ids, err := m.Catalog().InstallLSP(catalog.LSP{
		ProviderId: passGUID, Path: passPath, Name: passName, Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
	})
	check(t, err)
	m.RegisterProvider(passPath, passStartup)
	chain, ok := m.Catalog().View().Entry(ids.Chains[0])
	if !ok {
		t.Fatal("the chain is not in the catalog")
	}
	return ids.Layered, &chain
}

func TestTraceShowsALayeredProviderCallingTheLayerBelow(t *testing.T) {
	m, rec := tracedMachine()
	layered, chain := installPass(t, m)
	k := newTracedConn(t, m, rec, chain)
	port := must(k.p.CreateIoCompletionPort(k.c, 0, 42, 0))(t)
	rec.Reset()

	var ov spi.Overlapped
	must(k.th.WSASend(k.c, [][]byte{[]byte("hello")}, 0, &ov, nil))(t)
	must(k.th.GetQueuedCompletionStatus(port, long))(t)

	th := k.th.ID().ThreadHandle
	pass := trace.Layer{Kind: trace.LayerProvider, ID: layered, Name: passName}
	lower := k.lowerOf(t, k.c)
	send := call(trace.ClientCall, trClient, trWinsock, th, "WSASend", k.c, 0, 5)
	top := call(trace.WSPCall, trWinsock, pass, th, "WSPSend", k.c, chain.CatalogEntryId, 5)
	query := call(trace.Upcall, pass, trWinsock, 0, "WPUQuerySocketHandleContext", k.c, 0, 0)
	below := call(trace.WSPCall, pass, trTCP, th, "WSPSend", lower, catalog.DefaultTCPIPv4, 5)
	forward := trace.Event{Kind: trace.Upcall, Layer: trWinsock, Caller: pass, Func: "WPUCompleteOverlappedRequest", Handle: k.c, Bytes: 5}
	get, got := dequeue(th, port, 5, 42)
	wantTrace(t, rec, numbered(k.p.ID(),
		send,
		top,
		query,
		ret(query, 0, 0),
		below,
		// The lower handle has no port: the client's port hears nothing of it.
		trace.Event{Kind: trace.Completion, Layer: trKernel, Handle: lower, Bytes: 5},
		ret(below, 0, 5),
		forward,
		trace.Event{Kind: trace.Transition, Layer: trIFS, Func: "WPUCompleteOverlappedRequest", Handle: k.c, UserToKernel: 1, KernelToUser: 1},
		trace.Event{Kind: trace.Completion, Layer: trKernel, Handle: k.c, Bytes: 5, Delivery: trace.DeliveredPort, Port: port, Key: 42},
		ret(forward, 0, 0),
		ret(top, 0, 5),
		ret(send, 0, 5),
		get,
		got,
	))
}

func TestTraceShowsReadFileOnALayeredHandleRedirectedToItsProvider(t *testing.T) {
	m, rec := tracedMachine()
	layered, chain := installPass(t, m)
	k := newTracedConn(t, m, rec, chain)
	lower := k.lowerOf(t, k.c)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("data")}, 0, nil, nil))(t)
	rec.Reset()

	buf := make([]byte, 8)
	if n := must(k.th.ReadFile(k.c, buf, nil))(t); n != 4 {
		t.Fatalf("ReadFile read %d bytes", n)
	}

	th := k.th.ID().ThreadHandle
	pass := trace.Layer{Kind: trace.LayerProvider, ID: layered, Name: passName}
	read := call(trace.ClientCall, trClient, trIFS, th, "ReadFile", k.c, 0, 8)
	up := call(trace.WSPCall, trIFS, pass, 0, "WSPRecv", k.c, chain.CatalogEntryId, 8) // no thread id: ws2ifsl's helper thread
	query := call(trace.Upcall, pass, trWinsock, 0, "WPUQuerySocketHandleContext", k.c, 0, 0)
	below := call(trace.WSPCall, pass, trTCP, 0, "WSPRecv", lower, catalog.DefaultTCPIPv4, 8)
	wantTrace(t, rec, numbered(k.p.ID(),
		read,
		trace.Event{Kind: trace.Transition, Layer: trIFS, Func: "ReadFile", Handle: k.c, UserToKernel: 1, KernelToUser: 1},
		trace.Event{Kind: trace.Transition, Layer: trIFS, Func: "WSPRecv", Handle: k.c, UserToKernel: 2, KernelToUser: 2},
		up,
		query,
		ret(query, 0, 0),
		below,
		ret(below, 0, 4),
		ret(up, 0, 4),
		ret(read, 0, 4),
	))
}

// lowerOf returns the handle of the lower socket behind the pass-through
// provider's handle h.
func (k *tracedConn) lowerOf(t *testing.T, h spi.Handle) spi.Socket {
	t.Helper()
	e, ok := k.p.Handles().Lookup(h)
	if !ok {
		t.Fatalf("%v is not a live handle", h)
	}
	return e.Context.(spi.Socket)
}

func TestTraceOfAProviderStartupShowsItLoadingTheLayerBelow(t *testing.T) {
	m, rec := tracedMachine()
	layered, chain := installPass(t, m)
	p := m.NewProcess()
	t.Cleanup(func() { p.Close() })
	th := p.NewThread()
	rec.Reset()
	must(th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, chain, 0, spi.WSA_FLAG_OVERLAPPED))(t)

	pass := trace.Layer{Kind: trace.LayerProvider, ID: layered, Name: passName}
	var got []string
	for _, e := range rec.Events() {
		if e.Kind == trace.WSPCall || e.Kind == trace.Upcall && e.Func == "LoadNext" {
			got = append(got, e.Caller.String()+" -> "+e.Layer.String()+": "+e.Func)
		}
	}
	want := []string{
		"ws2_32 -> " + pass.String() + ": WSPStartup",
		pass.String() + " -> ws2_32: LoadNext",
		"ws2_32 -> " + trTCP.String() + ": WSPStartup",
		"ws2_32 -> " + pass.String() + ": WSPSocket",
		pass.String() + " -> " + trTCP.String() + ": WSPSocket",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}
