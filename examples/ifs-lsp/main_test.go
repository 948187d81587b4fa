package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

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
		if !strings.Contains(errs.String(), "Usage of ifs-lsp") || out.Len() != 0 {
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
