package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/examples/internal/demotest"
	"github.com/wsspi/wsspi/trace"
)

func TestTheLayerSeesWSASendAndWSARecvOnly(t *testing.T) {
	d := mustRun(t)
	var calls []string
	var modified bool
	for _, e := range d.events() {
		switch {
		case e.Kind == trace.WSPCall && e.Layer == d.layer:
			calls = append(calls, e.Func)
			if e.Caller.Kind != trace.LayerWinsock {
				t.Errorf("%s reached the layer from %v, not from ws2_32", e.Func, e.Caller)
			}
		case e.Kind == trace.Upcall && e.Caller == d.layer && e.Func == "WPUModifyIFSHandle":
			modified = e.Handle == d.socket
		}
	}
	want := []string{"WSPStartup", "WSPSocket", "WSPConnect", "WSPSend", "WSPRecv"}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("the layer's WSP calls (-want +got):\n%s", diff)
	}
	if !modified {
		t.Errorf("the layer did not register the client's socket %v with WPUModifyIFSHandle", d.socket)
	}
	if s, r := d.counts.sends.Load(), d.counts.recvs.Load(); s != 1 || r != 1 {
		t.Errorf("the layer counted %d sends and %d receives, want 1 and 1", s, r)
	}
	// ReadFile and WriteFile went to the IFS layer, and no provider was
	// called while they ran.
	var in string
	for _, e := range d.events() {
		switch {
		case e.Kind == trace.ClientCall && (e.Func == "ReadFile" || e.Func == "WriteFile"):
			in = e.Func
		case e.Kind == trace.ClientReturn && e.Func == in:
			in = ""
		case in != "" && e.Kind == trace.WSPCall:
			t.Errorf("%s called a provider: %+v", in, e)
		}
	}
}

func TestTheLayerCostsNoTransitionsAndForwardsNothing(t *testing.T) {
	d := mustRun(t)
	spent := map[string]uint64{}
	var total uint64
	var packets int
	for _, e := range d.events() {
		switch {
		case e.Kind == trace.Transition:
			if e.Handle != d.socket {
				t.Errorf("transitions on another handle: %+v", e)
			}
			spent[e.Func] += e.UserToKernel + e.KernelToUser
			total += e.UserToKernel + e.KernelToUser
		case e.Kind == trace.Upcall && e.Func == "WPUCompleteOverlappedRequest":
			t.Errorf("an IFS layer has nothing to forward: %+v", e)
		case e.Kind == trace.Completion:
			packets++
			if e.Handle != d.socket || e.Delivery != trace.DeliveredPort || e.Port != d.port || e.Key != clientKey {
				t.Errorf("completion %+v, want a packet on the client's socket to its port with key %d", e, clientKey)
			}
		}
	}
	if diff := cmp.Diff(map[string]uint64{"ReadFile": 2, "WriteFile": 2}, spent); diff != "" {
		t.Errorf("transitions (-want +got):\n%s", diff)
	}
	if total != d.cost.Total() {
		t.Errorf("the trace charges %d transitions, HandleTransitions says %+v", total, d.cost)
	}
	if packets != 4 {
		t.Errorf("%d completions, want 4", packets)
	}
}

// TestCommandLine checks -mermaid against testdata/mermaid.golden (go
// test -update rewrites it), the text output, and the usage.
func TestCommandLine(t *testing.T) { demotest.CommandLine(t, cli, "ifs-lsp", "What the trace shows") }

// mustRun runs the example, for a test of its trace.
func mustRun(t *testing.T) *demo { return demotest.Must(t, run) }

// A reader of the timeline meets every handle where it is made, and every
// return after its call.
func TestTheTimelineIntroducesEveryHandleAndCall(t *testing.T) {
	demotest.Readable(t, mustRun(t).events())
}
