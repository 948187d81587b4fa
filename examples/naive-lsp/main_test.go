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
	if !strings.Contains(out.String(), "What the trace shows") {
		t.Errorf("no story after the timeline:\n%s", out.String())
	}
}

func TestBadArgumentsPrintUsage(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}} {
		var out, errs bytes.Buffer
		if code := cli(args, &out, &errs); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(errs.String(), "Usage of naive-lsp") || out.Len() != 0 {
			t.Errorf("%q: stdout %q, stderr %q; want only the usage, on stderr", args, out.String(), errs.String())
		}
	}
}

func mustRun(t *testing.T) *demo {
	t.Helper()
	d, err := run()
	if err != nil {
		t.Fatal(err)
	}
	return d
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
