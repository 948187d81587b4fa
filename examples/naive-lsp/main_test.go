package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/examples/internal/demotest"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

func TestTheClientsPortNeverGetsAPacket(t *testing.T) {
	d := mustRun(t)
	var waits []spi.Errno
	for _, e := range d.events() {
		switch {
		case e.Kind == trace.ClientReturn && e.Func == "GetQueuedCompletionStatus":
			waits = append(waits, e.Err)
		case e.Kind == trace.Upcall && e.Func == "WPUCompleteOverlappedRequest":
			t.Errorf("the naive layer forwarded a completion: %+v", e)
		case e.Kind == trace.Completion && (e.Handle == d.socket || e.Port == d.port):
			t.Errorf("a completion reached the client's socket or port: %+v", e)
		}
	}
	timeout := spi.WAIT_TIMEOUT
	if diff := cmp.Diff([]spi.Errno{timeout, timeout, timeout, timeout}, waits); diff != "" {
		t.Errorf("the client's waits on its port (-want +got):\n%s", diff)
	}
}

func TestEveryOperationCompletesOnTheLowerSocket(t *testing.T) {
	d := mustRun(t)
	// The layer calls down with its lower socket and the client's own
	// overlapped, and the base provider completes each operation there.
	lower := map[spi.Handle]bool{}
	var down []string
	var done []trace.Event
	for _, e := range d.events() {
		switch {
		case e.Kind == trace.WSPCall && e.Caller == d.layer && (e.Func == "WSPSend" || e.Func == "WSPRecv"):
			down = append(down, e.Func)
			lower[e.Handle] = true
		case e.Kind == trace.Completion:
			done = append(done, e)
		}
	}
	if diff := cmp.Diff([]string{"WSPSend", "WSPSend", "WSPRecv", "WSPRecv"}, down); diff != "" {
		t.Errorf("the layer's calls down (-want +got):\n%s", diff)
	}
	if len(lower) != 1 || lower[d.socket] {
		t.Fatalf("the layer called down on %v; want one lower socket, not the client's %v", lower, d.socket)
	}
	if len(done) != 4 {
		t.Fatalf("%d completions, want 4: %+v", len(done), done)
	}
	for _, e := range done {
		if !lower[e.Handle] || e.Err != 0 || e.Bytes != 5 || e.Delivery != 0 || e.Port != 0 {
			t.Errorf("completion %+v; want 5 bytes, ok, on the lower socket, which has no port, delivered to nobody", e)
		}
	}
}

// TestCommandLine checks -mermaid against testdata/mermaid.golden (go
// test -update rewrites it), the text output, and the usage.
func TestCommandLine(t *testing.T) { demotest.CommandLine(t, cli, "naive-lsp", "What the trace shows") }

// mustRun runs the example, for a test of its trace.
func mustRun(t *testing.T) *demo { return demotest.Must(t, run) }

// A reader of the timeline meets every handle where it is made, and every
// return after its call.
func TestTheTimelineIntroducesEveryHandleAndCall(t *testing.T) {
	demotest.Readable(t, mustRun(t).events())
}
