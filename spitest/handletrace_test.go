package spitest

import (
	"strings"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// TestCheckHandleTrace feeds the handle check made-up upcalls: a value
// made, closed and made again is two generations, each closed once; a
// second close, a close of another layer's handle, a close of a handle
// never made, and a handle never closed are each reported.
func TestCheckHandleTrace(t *testing.T) {
	a := trace.Layer{Kind: trace.LayerProvider, ID: 1005, Name: "A"}
	b := trace.Layer{Kind: trace.LayerProvider, ID: 1007, Name: "B"}
	create := func(l trace.Layer, h spi.Handle) []trace.Event {
		return []trace.Event{
			{Kind: trace.Upcall, Caller: l, Func: "WPUCreateSocketHandle", Entry: l.ID + 1},
			{Kind: trace.UpcallReturn, Caller: l, Func: "WPUCreateSocketHandle", Entry: l.ID + 1, NewHandle: h},
		}
	}
	closeH := func(l trace.Layer, h spi.Handle, err spi.Errno) []trace.Event {
		return []trace.Event{
			{Kind: trace.Upcall, Caller: l, Func: "WPUCloseSocketHandle", Handle: h},
			{Kind: trace.UpcallReturn, Caller: l, Func: "WPUCloseSocketHandle", Handle: h, Err: err},
		}
	}
	for name, tc := range map[string]struct {
		events [][]trace.Event
		want   []string // one substring per finding, in order
	}{
		"reused value": {[][]trace.Event{create(a, 0x24), closeH(a, 0x24, 0), create(a, 0x24), create(b, 0x28), closeH(b, 0x28, 0), closeH(a, 0x24, 0)}, nil},
		"closed twice": {[][]trace.Event{create(a, 0x24), closeH(a, 0x24, 0), closeH(a, 0x24, spi.WSAENOTSOCK)},
			[]string{"called twice by A 1005 for generation 1"}},
		"second generation closed twice": {[][]trace.Event{create(a, 0x24), closeH(a, 0x24, 0), create(a, 0x24), closeH(a, 0x24, 0), closeH(a, 0x24, spi.WSAENOTSOCK)},
			[]string{"called twice by A 1005 for generation 2"}},
		"other layer's handle": {[][]trace.Event{create(a, 0x24), closeH(b, 0x24, 0), closeH(a, 0x24, spi.WSAENOTSOCK)},
			[]string{"by B 1007 (event 3) closes generation 1 of the handle, which A 1005 made", "by A 1005 (event 5) on a handle that is not open: generation 1, made by A 1005 (event 2), was closed by B 1007 at event 3"}},
		"never made":   {[][]trace.Event{closeH(a, 0x30, spi.WSAENOTSOCK)}, []string{"that WPUCreateSocketHandle never made; ws2_32 answered"}},
		"never closed": {[][]trace.Event{create(a, 0x24), create(a, 0x28), closeH(a, 0x28, 0)}, []string{"handle 0x24: generation 1 of the handle, made by WPUCreateSocketHandle of A 1005 for entry 1006 (event 2), was never closed"}},
		"failed close": {[][]trace.Event{create(a, 0x24), closeH(a, 0x24, spi.WSAENOTSOCK)}, []string{"failed with", "was never"}},
	} {
		t.Run(name, func(t *testing.T) {
			p := wsspi.NewMachine().NewProcess()
			defer p.Close()
			e := &env{p: p, rec: new(trace.Recorder), seen: map[string]bool{}}
			for _, evs := range tc.events {
				for _, ev := range evs {
					ev.PID = p.ID()
					e.rec.Record(ev)
				}
			}
			e.checkHandleTrace(nil)
			if len(e.findings) != len(tc.want) {
				t.Fatalf("%d findings, want %d: %v", len(e.findings), len(tc.want), joinFindings(e.findings))
			}
			for i, f := range e.findings {
				if f.Rule.Name != "HandleClose" || !strings.Contains(f.Detail, tc.want[i]) {
					t.Errorf("finding %d = %s: %s; want HandleClose saying %q", i, f.Rule.Name, f.Detail, tc.want[i])
				}
			}
		})
	}
}
