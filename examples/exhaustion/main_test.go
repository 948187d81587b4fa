package main

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/examples/internal/demotest"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

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

// TestCommandLine checks -mermaid against testdata/mermaid.golden (go
// test -update rewrites it), the text output, and the usage.
func TestCommandLine(t *testing.T) { demotest.CommandLine(t, cli, "exhaustion", "nothing leaked") }
