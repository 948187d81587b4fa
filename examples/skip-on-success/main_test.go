package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

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

func TestMermaid(t *testing.T) {
	var out, errs bytes.Buffer
	if code := cli([]string{"-mermaid"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	golden(t, "mermaid.golden", out.Bytes())
}

func TestTextRuns(t *testing.T) {
	var out, errs bytes.Buffer
	if code := cli(nil, &out, &errs); code != 0 || errs.Len() != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "yet a packet came for it") {
		t.Errorf("no story after the timelines:\n%s", out.String())
	}
}

func TestBadArgumentsPrintUsage(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}} {
		var out, errs bytes.Buffer
		if code := cli(args, &out, &errs); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(errs.String(), "Usage of skip-on-success") || out.Len() != 0 {
			t.Errorf("%q: stdout %q, stderr %q; want only the usage, on stderr", args, out.String(), errs.String())
		}
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}
