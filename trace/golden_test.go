package trace_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

var update = flag.Bool("update", false, "rewrite the Mermaid golden files in testdata")

// TestMermaidGolden compares Mermaid renderings with testdata/<name>.golden;
// go test -run TestMermaidGolden -update rewrites them.
func TestMermaidGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events func(t *testing.T) []trace.Event
	}{
		{"empty", func(*testing.T) []trace.Event { return nil }},
		{"loopback", loopbackStory},
		{"two-processes", twoProcesses},
		{"escaping", func(*testing.T) []trace.Event { return escaping }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got bytes.Buffer
			if err := trace.Mermaid(&got, tc.events(t)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// loopbackStory is one process over loopback: a send through a completion
// port, a receive that signals an event, a receive whose completion
// routine runs in an alertable wait, a ReadFile, and a call that fails.
func loopbackStory(t *testing.T) []trace.Event {
	m, rec := tracedMachine()
	p := m.NewProcess()
	defer p.Close()
	th, peer := p.NewThread(), p.NewThread()
	c, s, _ := connect(t, th, peer)
	port, _ := p.CreateIoCompletionPort(c, 0, 42, 0)
	ev, _ := p.WSACreateEvent()
	rec.Reset()

	var sendOV spi.Overlapped
	_, _ = th.WSASend(c, [][]byte{[]byte("hello")}, 0, &sendOV, nil)
	_, _ = th.GetQueuedCompletionStatus(port, time.Second)

	evOV := spi.Overlapped{HEvent: ev | 1} // the low bit keeps it off the port
	if _, err := th.WSARecv(c, [][]byte{make([]byte, 8)}, nil, &evOV, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatal(err)
	}
	_, _ = peer.WSASend(s, [][]byte{[]byte("hi")}, 0, nil, nil)
	_, _ = th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, time.Second, false)

	var rOV spi.Overlapped
	if _, err := peer.WSARecv(s, [][]byte{make([]byte, 8)}, nil, &rOV, func(spi.Errno, uint32, *spi.Overlapped, uint32) {}); err != nil {
		t.Fatal(err) // "hello" is waiting: an immediate success, still delivered as an APC
	}
	_, _ = peer.SleepEx(0, true)

	_, _ = th.WriteFile(c, []byte("bye"), nil)
	_, _ = peer.ReadFile(s, make([]byte, 8), nil)
	_ = th.Closesocket(0x1230)
	return trace.Comparable(rec.Events())
}

// twoProcesses is a client process sending to a server process.
func twoProcesses(t *testing.T) []trace.Event {
	m, rec := tracedMachine()
	server, client := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()
	sth, cth := server.NewThread(), client.NewThread()
	c, s, _ := connect(t, cth, sth)
	rec.Reset()
	_, _ = cth.WSASend(c, [][]byte{[]byte("hello")}, 0, nil, nil)
	_, _ = sth.WSARecv(s, [][]byte{make([]byte, 8)}, nil, nil, nil)
	return trace.Comparable(rec.Events())
}

// escaping has names with the characters Mermaid reads as syntax.
var escaping = []trace.Event{
	{Seq: 1, PID: 8, Kind: trace.WSPCall, Caller: trace.Layer{Kind: trace.LayerWinsock}, Layer: trace.Layer{Kind: trace.LayerProvider, ID: 1005, Name: "LSP #1; test"}, Func: "WSPIoctl", Handle: 0x10},
	{Seq: 2, PID: 8, Kind: trace.HandleCreated, Layer: trace.Layer{Kind: trace.LayerKernel}, Handle: 0x14, Object: "odd#object;"},
	{Seq: 3, PID: 8, Kind: trace.WSPReturn, Caller: trace.Layer{Kind: trace.LayerWinsock}, Layer: trace.Layer{Kind: trace.LayerProvider, ID: 1005, Name: "LSP #1; test"}, Func: "WSPIoctl", Handle: 0x10, Err: spi.WSAEINVAL},
}
