package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/examples/internal/demotest"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// call is a WSP call into the layer, and the kind of its caller.
type call struct {
	Func   string
	Caller trace.LayerKind
}

func TestTheLayerSeesEveryOperation(t *testing.T) {
	d := mustRun(t)
	var got []call
	for _, e := range d.events() {
		if e.Kind == trace.WSPCall && e.Layer == d.layer {
			got = append(got, call{e.Func, e.Caller.Kind})
		}
	}
	ws2, ifs := trace.LayerWinsock, trace.LayerIFS
	want := []call{
		{"WSPStartup", ws2}, {"WSPSocket", ws2}, {"WSPConnect", ws2},
		{"WSPSend", ws2}, // WSASend
		{"WSPSend", ifs}, // WriteFile, redirected
		{"WSPRecv", ws2}, // WSARecv
		{"WSPRecv", ifs}, // ReadFile, redirected
		{"WSPCloseSocket", ws2},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the layer's WSP calls (-want +got):\n%s", diff)
	}
	if s, n, r, m := d.counter.sends.Load(), d.counter.sent.Load(), d.counter.recvs.Load(), d.counter.rcvd.Load(); s != 2 || n != 10 || r != 2 || m != 10 {
		t.Errorf("the hooks counted %d sends of %d bytes, %d receives of %d bytes; want 2 of 10 each way", s, n, r, m)
	}
	// The ReadFile on the base provider's socket reaches no provider's
	// WSPRecv: it goes to the driver.
	read, reading := false, false
	for _, e := range d.events() {
		if e.Kind == trace.ClientCall && e.Func == "ReadFile" && e.Handle == d.direct {
			read, reading = true, true
		}
		if reading && e.Kind == trace.WSPCall {
			t.Errorf("the ReadFile on the direct socket called a provider: %+v", e)
		}
		if e.Kind == trace.ClientReturn && e.Func == "ReadFile" {
			reading = false
		}
	}
	if !read {
		t.Error("no ReadFile on the direct socket in the trace")
	}
}

func TestReadFileOnTheLayersHandleCostsFourMoreTransitions(t *testing.T) {
	d := mustRun(t)
	spent := func(h spi.Handle) (map[string]uint64, uint64) {
		by, total := map[string]uint64{}, uint64(0)
		for _, e := range d.events() {
			if e.Kind == trace.Transition && e.Handle == h {
				by[e.Func] += e.UserToKernel + e.KernelToUser
				total += e.UserToKernel + e.KernelToUser
			}
		}
		return by, total
	}
	layered, lt := spent(d.layered)
	direct, dt := spent(d.direct)
	// One ReadFile on each: 2 to enter the kernel and come back; on the
	// layer's handle 4 more (WSPRecv), the trip up to the layer and back.
	// The same for WriteFile, and 2 for each completion the layer forwards.
	want := map[string]uint64{"ReadFile": 2, "WSPRecv": 4, "WriteFile": 2, "WSPSend": 4, "WPUCompleteOverlappedRequest": 8}
	if diff := cmp.Diff(want, layered); diff != "" {
		t.Errorf("transitions on the layer's handle (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]uint64{"ReadFile": 2}, direct); diff != "" {
		t.Errorf("transitions on the direct socket (-want +got):\n%s", diff)
	}
	if lt != d.layeredCost.Total() || dt != d.directCost.Total() {
		t.Errorf("the trace charges %d and %d; HandleTransitions says %+v and %+v", lt, dt, d.layeredCost, d.directCost)
	}
}

func TestTheLayerForwardsEveryCompletionToTheClientsPort(t *testing.T) {
	d := mustRun(t)
	var port spi.Handle // the client's
	var keys []uintptr  // of the packets the client dequeued
	var forwards int
	lower := map[trace.Delivery]int{}
	var lowerSocket spi.Handle
	for _, e := range d.events() {
		switch {
		case e.Kind == trace.ClientCall && e.Func == "GetQueuedCompletionStatus":
			port = e.Handle
		case e.Kind == trace.ClientReturn && e.Func == "GetQueuedCompletionStatus":
			keys = append(keys, e.Key)
		case e.Kind == trace.Upcall && e.Caller == d.layer && e.Func == "WPUCompleteOverlappedRequest":
			forwards++
			if e.Handle != d.layered || e.Err != 0 || e.Bytes != 5 {
				t.Errorf("forwarded %+v, want 5 bytes, ok, on the layer's handle", e)
			}
		case e.Kind == trace.WSPCall && e.Caller == d.layer && e.Func == "WSPSend" && lowerSocket == 0:
			lowerSocket = e.Handle
		}
	}
	if forwards != 4 {
		t.Errorf("%d WPUCompleteOverlappedRequest upcalls, want 4", forwards)
	}
	if diff := cmp.Diff([]uintptr{layeredKey, layeredKey, layeredKey, layeredKey, directKey}, keys); diff != "" {
		t.Errorf("the keys of the client's packets (-want +got):\n%s", diff)
	}
	for _, e := range d.events() {
		if e.Kind != trace.Completion {
			continue
		}
		switch e.Handle {
		case d.layered:
			if e.Delivery != trace.DeliveredPort || e.Port != port || e.Key != layeredKey {
				t.Errorf("completion on the layer's handle %+v, want a packet to port %v with key %d", e, port, layeredKey)
			}
		case lowerSocket:
			lower[e.Delivery]++
			if e.Port == port {
				t.Errorf("the lower socket completed to the client's port: %+v", e)
			}
		}
	}
	// Three immediate successes: the kit set skip-on-success on its lower
	// socket. The pending receive went to its private port.
	if diff := cmp.Diff(map[trace.Delivery]int{trace.SkippedOnSuccess: 3, trace.DeliveredPort: 1}, lower); diff != "" {
		t.Errorf("completions on the lower socket (-want +got):\n%s", diff)
	}
}

// TestCommandLine checks -mermaid against testdata/mermaid.golden (go
// test -update rewrites it), the text output, and the usage.
func TestCommandLine(t *testing.T) { demotest.CommandLine(t, cli, "lsp", "What the trace shows") }

// mustRun runs the example, for a test of its trace.
func mustRun(t *testing.T) *demo { return demotest.Must(t, run) }

// The README shows the diagram this program prints; the copy must match.
func TestTheREADMEHasTheDiagram(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	diagram, err := os.ReadFile(filepath.Join("testdata", "mermaid.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("```mermaid\n"+string(diagram)+"```\n")) {
		t.Error("README.md does not hold the diagram of go run ./examples/lsp -mermaid in a ```mermaid block; paste testdata/mermaid.golden there")
	}
}

// A reader of the timeline meets every handle where it is made, and every
// return after its call.
func TestTheTimelineIntroducesEveryHandleAndCall(t *testing.T) {
	demotest.Readable(t, mustRun(t).events())
}
