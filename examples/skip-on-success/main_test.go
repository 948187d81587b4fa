package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/examples/internal/demotest"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// outcome is what a machine's trace says of the send.
type outcome struct {
	Sent       spi.Errno        // what WSASend returned
	Deliveries []trace.Delivery // of the completions on the client's socket
	Forwarded  int              // WPUCompleteOverlappedRequest calls on it
	Waited     spi.Errno        // what GetQueuedCompletionStatus returned
	Key        uintptr          // and the key of its packet
}

func outcomeOf(r *machineRun) outcome {
	var o outcome
	for _, e := range r.events {
		switch {
		case e.Kind == trace.ClientReturn && e.Func == "WSASend":
			o.Sent = e.Err
		case e.Kind == trace.Completion && e.Handle == r.socket:
			o.Deliveries = append(o.Deliveries, e.Delivery)
		case e.Kind == trace.Upcall && e.Func == "WPUCompleteOverlappedRequest" && e.Handle == r.socket:
			o.Forwarded++
		case e.Kind == trace.ClientReturn && e.Func == "GetQueuedCompletionStatus":
			o.Waited, o.Key = e.Err, e.Key
		}
	}
	return o
}

func TestSkipOnSuccessHoldsWithoutAnLSPAndBreaksWithOne(t *testing.T) {
	runs, err := run()
	if err != nil {
		t.Fatal(err)
	}
	plain, lsp := runs[0], runs[1]

	// The check: every TCP entry is IFS on the plain machine, not on the
	// one with the LSP, whose chain comes first.
	if !plain.ifs || lsp.ifs {
		t.Errorf("every TCP entry IFS: %v without the LSP, %v with it; want true, false", plain.ifs, lsp.ifs)
	}
	if len(lsp.tcp) == 0 || lsp.tcp[0].IFS() || !lsp.tcp[0].IsChain() {
		t.Errorf("the first TCP entry with the LSP is %+v; want its chain, without XP1_IFS_HANDLES", lsp.tcp)
	}

	// Without the LSP the immediate success posts nothing.
	want := outcome{Sent: 0, Deliveries: []trace.Delivery{trace.SkippedOnSuccess}, Waited: spi.WAIT_TIMEOUT}
	if diff := cmp.Diff(want, outcomeOf(plain)); diff != "" {
		t.Errorf("without an LSP (-want +got):\n%s", diff)
	}
	// With it, the send succeeds at once too, yet the layer's forwarding
	// posts a packet to the client's port.
	want = outcome{Sent: 0, Deliveries: []trace.Delivery{trace.DeliveredPort}, Forwarded: 1, Waited: 0, Key: clientKey}
	if diff := cmp.Diff(want, outcomeOf(lsp)); diff != "" {
		t.Errorf("with a non-IFS LSP (-want +got):\n%s", diff)
	}
	for _, e := range lsp.events {
		if e.Kind == trace.Upcall && e.Func == "WPUCompleteOverlappedRequest" && e.Caller != lsp.layer {
			t.Errorf("forwarded by %v, not the layer", e.Caller)
		}
		if e.Kind == trace.Completion && e.Handle == lsp.socket && e.Port != lsp.port {
			t.Errorf("the packet went to %v, not the client's port %v", e.Port, lsp.port)
		}
	}
}

// TestCommandLine checks -mermaid against testdata/mermaid.golden (go
// test -update rewrites it), the text output, and the usage.
func TestCommandLine(t *testing.T) {
	demotest.CommandLine(t, cli, "skip-on-success", "yet a packet came for it")
}
