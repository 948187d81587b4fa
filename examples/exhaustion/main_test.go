package main

import (
	"bytes"
	"errors"
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

// step is an event of the failing call, as the test follows it.
type step struct {
	Kind   trace.Kind
	What   string // the function or the object
	Handle spi.Handle
	Err    spi.Errno
}

func TestTheLayerClosesTheSocketBelowWhenItsHandleFails(t *testing.T) {
	d, err := run()
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(d.err, spi.WSAENOBUFS) {
		t.Errorf("socket() in a full table: %v, want WSAENOBUFS", d.err)
	}
	// The socket below is the one the base provider's WSPSocket returned.
	var lower spi.Handle
	var got []step
	for _, e := range d.failed {
		switch {
		case e.Kind == trace.WSPReturn && e.Func == "WSPSocket" && e.Layer != d.layer:
			lower = e.NewHandle
		case e.Kind == trace.HandleCreated || e.Kind == trace.HandleClosed:
			got = append(got, step{e.Kind, e.Object, e.Handle, 0})
		case e.Kind == trace.UpcallReturn && e.Func == "WPUCreateSocketHandle",
			e.Kind == trace.WSPCall && e.Caller == d.layer && e.Func == "WSPCloseSocket",
			e.Kind == trace.WSPReturn && e.Layer == d.layer,
			e.Kind == trace.ClientReturn:
			got = append(got, step{e.Kind, e.Func, e.Handle, e.Err})
		}
	}
	if lower == 0 {
		t.Fatal("the base provider made no socket")
	}
	want := []step{
		{trace.HandleCreated, "IFS socket", lower, 0},                    // the socket below takes the last handle
		{trace.UpcallReturn, "WPUCreateSocketHandle", 0, spi.WSAENOBUFS}, // the layer's own handle fails
		{trace.WSPCall, "WSPCloseSocket", lower, 0},                      // so the layer closes the socket below
		{trace.HandleClosed, "IFS socket", lower, 0},                     // which frees its handle
		{trace.WSPReturn, "WSPSocket", 0, spi.WSAENOBUFS},                // and fails the call
		{trace.ClientReturn, "WSASocket", 0, spi.WSAENOBUFS},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the failing socket() (-want +got):\n%s", diff)
	}

	if n := len(d.full.Live); n != capacity-1 {
		t.Errorf("%d handles live before the failure, want %d", n, capacity-1)
	}
	if !sameTable(d.full, d.afterFailure) {
		t.Errorf("the table changed across the failure:\nbefore %+v\nafter  %+v", d.full, d.afterFailure)
	}
	var reopened bool
	for _, e := range d.recovery {
		reopened = reopened || e.Kind == trace.ClientReturn && e.Func == "WSASocket" && e.Err == 0
	}
	if !reopened || len(d.reopened.Live) != capacity-1 {
		t.Errorf("after a close, socket() succeeded: %v; %d handles live, want %d", reopened, len(d.reopened.Live), capacity-1)
	}
	if len(d.empty.Live) != 1 || d.empty.Live[0].Kind.String() != "thread" || len(d.empty.Closing) != 0 {
		t.Errorf("after WSACleanup: %+v; want the client's thread alone", d.empty)
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
	if !strings.Contains(out.String(), "nothing leaked") {
		t.Errorf("the story does not end well:\n%s", out.String())
	}
}

func TestBadArgumentsPrintUsage(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"extra"}} {
		var out, errs bytes.Buffer
		if code := cli(args, &out, &errs); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(errs.String(), "Usage of exhaustion") || out.Len() != 0 {
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
