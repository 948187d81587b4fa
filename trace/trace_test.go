package trace_test

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

var (
	winsock = trace.Layer{Kind: trace.LayerWinsock}
	lsp     = trace.Layer{Kind: trace.LayerProvider, ID: 1005, Name: "Test LSP"}
	base    = trace.Layer{Kind: trace.LayerProvider, ID: 1001, Name: "MSAFD Tcpip [TCP/IP]"}
)

// collect is a sink that keeps what it receives.
type collect struct {
	mu     sync.Mutex
	events []trace.Event
}

func (c *collect) sink(e trace.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

func (c *collect) diff(t *testing.T, want ...trace.Event) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if diff := cmp.Diff(want, c.events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	c.events = nil
}

func TestRecorderNumbersEventsInTheOrderTheyArrive(t *testing.T) {
	var rec trace.Recorder
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				rec.Record(trace.Event{PID: uint32(g), Value: uint32(i)})
			}
		})
	}
	wg.Wait()
	events := rec.Events()
	if len(events) != goroutines*each || rec.Len() != len(events) {
		t.Fatalf("recorded %d (Len %d), want %d", len(events), rec.Len(), goroutines*each)
	}
	next := make([]uint32, goroutines)
	for i, e := range events {
		if e.Seq != uint64(i+1) {
			t.Fatalf("event %d has Seq %d", i, e.Seq)
		}
		if e.Value != next[e.PID] {
			t.Fatalf("goroutine %d's event %d arrived as its %d", e.PID, e.Value, next[e.PID])
		}
		next[e.PID]++
		if e.Time.IsZero() {
			t.Fatalf("event %d has no time", i)
		}
	}
}

func TestRecorderResetStartsNumberingAgain(t *testing.T) {
	var rec trace.Recorder
	rec.Record(trace.Event{Func: "a"})
	rec.Reset()
	if rec.Len() != 0 || rec.Events() != nil {
		t.Fatalf("after Reset: Len %d, events %v", rec.Len(), rec.Events())
	}
	rec.Record(trace.Event{Func: "b"})
	want := []trace.Event{{Seq: 1, Func: "b"}}
	if diff := cmp.Diff(want, trace.Comparable(rec.Events())); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestRecorderEventsIsACopy(t *testing.T) {
	var rec trace.Recorder
	rec.Record(trace.Event{Func: "a"})
	rec.Events()[0].Func = "changed"
	if got := rec.Events()[0].Func; got != "a" {
		t.Errorf("the recorder's event changed to %q", got)
	}
}

func TestComparableDropsOnlyTheTime(t *testing.T) {
	e := trace.Event{Seq: 3, PID: 8, Kind: trace.Completion, Handle: 0xc, Bytes: 5, Time: time.Unix(1, 2)}
	got := trace.Comparable([]trace.Event{e})
	e.Time = time.Time{}
	if diff := cmp.Diff([]trace.Event{e}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if trace.Comparable(nil) != nil || trace.Comparable([]trace.Event{}) != nil {
		t.Error("Comparable of an empty trace is not nil")
	}
}

func TestFilterKeepsTheChosenEventsInOrder(t *testing.T) {
	events := []trace.Event{{Seq: 1, Kind: trace.ClientCall}, {Seq: 2, Kind: trace.Completion}, {Seq: 3, Kind: trace.ClientReturn}}
	got := trace.Filter(events, func(e trace.Event) bool { return e.Kind != trace.Completion })
	if diff := cmp.Diff([]trace.Event{events[0], events[2]}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNamesOfKindsLayersAndDeliveries(t *testing.T) {
	got := []string{
		trace.ClientCall.String(), trace.WSPReturn.String(), trace.HandleClosed.String(), trace.Kind(99).String(),
		trace.LayerIFS.String(), trace.LayerKind(0).String(),
		winsock.String(), base.String(), trace.Layer{Kind: trace.LayerProvider, ID: 1007}.String(),
		trace.Delivery(0).String(), (trace.DeliveredPort | trace.DeliveredEvent).String(),
		(trace.SkippedLowBit | trace.DeliveredEvent).String(), (trace.Dropped | 0x80).String(),
	}
	want := []string{
		"client call", "WSP return", "handle closed", "Kind(99)",
		"IFS", "LayerKind(0)",
		"ws2_32", "MSAFD Tcpip [TCP/IP] 1001", "provider 1007",
		"none", "port+event",
		"event+skipped port (hEvent low bit)", "dropped (port closed)+Delivery(128)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for k := trace.ClientCall; k <= trace.HandleClosed; k++ {
		if k.IsCall() == k.IsReturn() && (k.IsCall() || k <= trace.UpcallReturn) {
			t.Errorf("%v: IsCall %v, IsReturn %v", k, k.IsCall(), k.IsReturn())
		}
	}
}

func TestWrapProcTableReportsCallsAndResults(t *testing.T) {
	var procs spi.WSPProcTable
	procs.WSPSend = func(s spi.Socket, bufs [][]byte, _ uint32, _ *spi.Overlapped, _ spi.CompletionRoutine, _ *spi.ThreadID) (uint32, error) {
		return 7, nil
	}
	procs.WSPRecv = func(spi.Socket, [][]byte, *uint32, *spi.Overlapped, spi.CompletionRoutine, *spi.ThreadID) (uint32, error) {
		return 0, spi.NewOpError("WSPRecv", 0x10, spi.WSA_IO_PENDING)
	}
	procs.WSPSocket = func(int32, int32, int32, *spi.WSAProtocolInfo, spi.Group, uint32) (spi.Socket, error) {
		return 0x40, nil
	}
	procs.WSPAccept = func(spi.Socket, spi.ConditionFunc, any) (spi.Socket, netip.AddrPort, error) {
		return spi.INVALID_SOCKET, netip.AddrPort{}, spi.WSAEWOULDBLOCK
	}
	var c collect
	w := trace.WrapProcTable(procs, lsp, base, 1001, c.sink)
	if w.WSPBind != nil {
		t.Error("a nil entry was wrapped")
	}

	th := spi.ThreadID{ThreadHandle: 0x4}
	n, err := w.WSPSend(0x10, [][]byte{make([]byte, 3), make([]byte, 4)}, 0, nil, nil, &th)
	if n != 7 || err != nil {
		t.Fatalf("WSPSend through the wrapper = %d, %v", n, err)
	}
	send := trace.Event{Kind: trace.WSPCall, Layer: base, Caller: lsp, Thread: 0x4, Func: "WSPSend", Handle: 0x10, Entry: 1001, Bytes: 7}
	sent := send
	sent.Kind = trace.WSPReturn
	c.diff(t, send, sent)

	if _, err := w.WSPRecv(0x10, [][]byte{make([]byte, 9)}, new(uint32), nil, nil, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSPRecv through the wrapper: %v", err)
	}
	recv := trace.Event{Kind: trace.WSPCall, Layer: base, Caller: lsp, Func: "WSPRecv", Handle: 0x10, Entry: 1001, Bytes: 9}
	pending := recv
	pending.Kind, pending.Bytes, pending.Err = trace.WSPReturn, 0, spi.WSA_IO_PENDING
	c.diff(t, recv, pending)

	if s, _ := w.WSPSocket(spi.AF_INET, spi.SOCK_STREAM, 0, nil, 0, 0); s != 0x40 {
		t.Fatalf("WSPSocket through the wrapper = %v", s)
	}
	sock := trace.Event{Kind: trace.WSPCall, Layer: base, Caller: lsp, Func: "WSPSocket", Entry: 1001}
	made := sock
	made.Kind, made.NewHandle = trace.WSPReturn, 0x40
	c.diff(t, sock, made)

	_, _, _ = w.WSPAccept(0x8, nil, nil)
	accept := trace.Event{Kind: trace.WSPCall, Layer: base, Caller: lsp, Func: "WSPAccept", Handle: 0x8, Entry: 1001}
	refused := accept
	refused.Kind, refused.Err = trace.WSPReturn, spi.WSAEWOULDBLOCK // no NewHandle for a failure
	c.diff(t, accept, refused)
}

func TestWrappersWithoutASinkChangeNothing(t *testing.T) {
	var procs spi.WSPProcTable
	procs.FillNotSupported()
	w := trace.WrapProcTable(procs, lsp, base, 1001, nil)
	if reflect.ValueOf(w.WSPSend).Pointer() != reflect.ValueOf(procs.WSPSend).Pointer() {
		t.Error("WrapProcTable with a nil sink replaced WSPSend")
	}
	up := spi.WSPUpcallTable{WPUCreateEvent: func() (spi.Handle, error) { return 4, nil }}
	if reflect.ValueOf(trace.WrapUpcalls(up, lsp, nil).WPUCreateEvent).Pointer() != reflect.ValueOf(up.WPUCreateEvent).Pointer() {
		t.Error("WrapUpcalls with a nil sink replaced WPUCreateEvent")
	}
}

func TestWrapUpcallsReportsTheProvidersCalls(t *testing.T) {
	up := spi.WSPUpcallTable{
		WPUCreateSocketHandle: func(spi.CatalogEntryId, any) (spi.Socket, error) { return 0x20, nil },
		WPUQueueApc:           func(*spi.ThreadID, spi.UserAPC, any) error { return spi.WSAEFAULT },
		WPUFDIsSet:            func(spi.Socket, *spi.FDSet) bool { return true },
	}
	var c collect
	w := trace.WrapUpcalls(up, lsp, c.sink)
	if s, _ := w.WPUCreateSocketHandle(1006, "ctx"); s != 0x20 {
		t.Fatalf("WPUCreateSocketHandle through the wrapper = %v", s)
	}
	_ = w.WPUQueueApc(&spi.ThreadID{ThreadHandle: 0x4}, func(any) {}, nil)
	if !w.WPUFDIsSet(0x20, nil) {
		t.Fatal("WPUFDIsSet through the wrapper lost its result")
	}
	create := trace.Event{Kind: trace.Upcall, Layer: winsock, Caller: lsp, Func: "WPUCreateSocketHandle", Entry: 1006}
	created := create
	created.Kind, created.NewHandle = trace.UpcallReturn, 0x20
	queue := trace.Event{Kind: trace.Upcall, Layer: winsock, Caller: lsp, Func: "WPUQueueApc", Thread: 0x4}
	failed := queue
	failed.Kind, failed.Err = trace.UpcallReturn, spi.WSAEFAULT
	isSet := trace.Event{Kind: trace.Upcall, Layer: winsock, Caller: lsp, Func: "WPUFDIsSet", Handle: 0x20}
	wasSet := isSet
	wasSet.Kind = trace.UpcallReturn
	c.diff(t, create, created, queue, failed, isSet, wasSet)
}

func TestWrapImportsReportsStatusesBytesAndKeys(t *testing.T) {
	im := spi.Imports{
		WPUCompleteOverlappedRequest: func(spi.Socket, *spi.Overlapped, spi.Errno, uint32) error { return nil },
		PostQueuedCompletionStatus:   func(spi.Handle, uint32, uintptr, *spi.Overlapped) error { return nil },
		GetQueuedCompletionStatus: func(spi.ThreadID, spi.Handle, time.Duration) (spi.OverlappedEntry, error) {
			return spi.OverlappedEntry{CompletionKey: 9, NumberOfBytesTransferred: 3}, spi.WSA_OPERATION_ABORTED
		},
		CreateThread: func() (spi.ThreadID, error) { return spi.ThreadID{ThreadHandle: 0x2c}, nil },
	}
	var c collect
	w := trace.WrapImports(im, lsp, c.sink)
	_ = w.WPUCompleteOverlappedRequest(0x20, new(spi.Overlapped), spi.WSA_OPERATION_ABORTED, 12)
	_ = w.PostQueuedCompletionStatus(0x18, 4, 77, nil)
	_, _ = w.GetQueuedCompletionStatus(spi.ThreadID{ThreadHandle: 0x2c}, 0x18, time.Second)
	_, _ = w.CreateThread()

	complete := trace.Event{Kind: trace.Upcall, Layer: winsock, Caller: lsp, Func: "WPUCompleteOverlappedRequest", Handle: 0x20, Err: spi.WSA_OPERATION_ABORTED, Bytes: 12}
	completed := trace.Event{Kind: trace.UpcallReturn, Layer: winsock, Caller: lsp, Func: "WPUCompleteOverlappedRequest", Handle: 0x20}
	post := trace.Event{Kind: trace.Upcall, Layer: winsock, Caller: lsp, Func: "PostQueuedCompletionStatus", Handle: 0x18, Bytes: 4, Key: 77}
	posted := trace.Event{Kind: trace.UpcallReturn, Layer: winsock, Caller: lsp, Func: "PostQueuedCompletionStatus", Handle: 0x18}
	get := trace.Event{Kind: trace.Upcall, Layer: winsock, Caller: lsp, Func: "GetQueuedCompletionStatus", Thread: 0x2c, Handle: 0x18}
	got := get
	got.Kind, got.Err, got.Bytes, got.Key = trace.UpcallReturn, spi.WSA_OPERATION_ABORTED, 3, 9 // a failed packet still carries its count and key
	thread := trace.Event{Kind: trace.Upcall, Layer: winsock, Caller: lsp, Func: "CreateThread"}
	made := thread
	made.Kind, made.NewHandle = trace.UpcallReturn, 0x2c
	c.diff(t, complete, completed, post, posted, get, got, thread, made)
}

func TestRenderersOfAnEmptyTrace(t *testing.T) {
	for _, events := range [][]trace.Event{nil, {}} {
		var text, mermaid bytes.Buffer
		if err := trace.Text(&text, events); err != nil {
			t.Fatal(err)
		}
		if err := trace.Mermaid(&mermaid, events); err != nil {
			t.Fatal(err)
		}
		if text.String() != "no events\n" || mermaid.String() != "sequenceDiagram\n" {
			t.Errorf("empty trace: text %q, mermaid %q", text.String(), mermaid.String())
		}
	}
}

// connect connects a TCP/IPv4 socket of cth over loopback to a socket of
// sth, which listens on l, and returns the two ends.
func connect(t testing.TB, cth, sth *wsspi.Thread) (c, s, l spi.Socket) {
	t.Helper()
	addr := netip.MustParseAddrPort("127.0.0.1:80")
	l, _ = sth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	_ = sth.Bind(l, addr)
	_ = sth.Listen(l, 1)
	c, _ = cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	_ = cth.Connect(c, addr)
	s, _, err := sth.Accept(l)
	if err != nil {
		t.Fatal(err)
	}
	return c, s, l
}

// tracedMachine returns a machine recording into a new recorder.
func tracedMachine() (*wsspi.Machine, *trace.Recorder) {
	rec := new(trace.Recorder)
	return wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec}), rec
}

// loopbackTrace records n overlapped sends through a completion port over
// loopback, each with its dequeue, after the connection's setup.
func loopbackTrace(t testing.TB, n int) []trace.Event {
	m, rec := tracedMachine()
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	c, s, _ := connect(t, th, th)
	port, _ := p.CreateIoCompletionPort(c, 0, 1, 0)
	var ov spi.Overlapped
	buf := [][]byte{make([]byte, 64<<10)}
	for i := range n {
		if _, err := th.WSASend(c, [][]byte{[]byte("ping")}, 0, &ov, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := th.GetQueuedCompletionStatus(port, time.Second); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			_, _ = th.WSARecv(s, buf, nil, nil, nil)
		}
	}
	return rec.Events()
}

func TestRenderersOfThousandsOfEvents(t *testing.T) {
	events := loopbackTrace(t, 2000)
	if len(events) < 10000 {
		t.Fatalf("only %d events", len(events))
	}
	var text, mermaid bytes.Buffer
	if err := trace.Text(&text, events); err != nil {
		t.Fatal(err)
	}
	if err := trace.Mermaid(&mermaid, events); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(text.String(), "\n"), "\n")
	if len(lines) != len(events)+1 {
		t.Errorf("text: %d lines for %d events", len(lines), len(events))
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(strings.TrimSpace(last), strconv.Itoa(len(events))+" ") {
		t.Errorf("the last line is not the last event: %q", last)
	}
	var participants, messages int
	for _, line := range strings.Split(strings.TrimSuffix(mermaid.String(), "\n"), "\n")[1:] {
		switch {
		case strings.HasPrefix(line, "    participant "):
			participants++
		case strings.Contains(line, ": "):
			messages++
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	if messages != len(events) || participants != 4 { // client, ws2_32, the base provider, the kernel
		t.Errorf("mermaid: %d participants and %d messages for %d events", participants, messages, len(events))
	}
}

// errnoConstants returns the Errno constants package spi declares, by
// name, from its source: those declared with type Errno and a literal
// value, and the aliases declared as another of them.
func errnoConstants(t *testing.T) map[string]spi.Errno {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "spi", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]spi.Errno{}
	aliases := map[string]string{}
	fset := token.NewFileSet()
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				v := spec.(*ast.ValueSpec)
				for i, name := range v.Names {
					if i >= len(v.Values) {
						continue
					}
					switch val := v.Values[i].(type) {
					case *ast.BasicLit:
						if typ, ok := v.Type.(*ast.Ident); ok && typ.Name == "Errno" {
							n, err := strconv.ParseUint(val.Value, 0, 32)
							if err != nil {
								t.Fatalf("%s: %v", name.Name, err)
							}
							out[name.Name] = spi.Errno(n)
						}
					case *ast.Ident:
						aliases[name.Name] = val.Name
					}
				}
			}
		}
	}
	for name, of := range aliases {
		if code, ok := out[of]; ok {
			out[name] = code
		}
	}
	if len(out) < 80 {
		t.Fatalf("found only %d Errno constants", len(out))
	}
	return out
}

func TestTimelineNamesEveryWindowsErrorTheSimulatorReturns(t *testing.T) {
	for name, code := range errnoConstants(t) {
		if code == 0 {
			continue // success reads "ok"
		}
		fn := "ReadFile" // a Win32 function shows ERROR_ names
		if strings.HasPrefix(name, "WSA") {
			fn = "WSASend" // a Winsock function shows WSA_ names
		}
		var b bytes.Buffer
		_ = trace.Text(&b, []trace.Event{{Seq: 1, Kind: trace.ClientReturn, Layer: winsock, Caller: trace.Layer{Kind: trace.LayerClient}, Func: fn, Err: code}})
		want := fn + " = " + name + " (" + strconv.Itoa(int(code)) + ")"
		if !strings.Contains(b.String(), want) {
			t.Errorf("%s: the timeline says\n%s\nwant %q", name, b.String(), want)
		}
	}
}
