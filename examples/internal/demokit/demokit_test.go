package demokit

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/trace"
)

// TestScriptCutsStepsOfOneProcess checks that a script keeps, in each
// step, the events of its process that Drop lets through, numbered from 1
// across the steps, and nothing from before the first step.
func TestScriptCutsStepsOfOneProcess(t *testing.T) {
	rec := new(trace.Recorder)
	call := func(pid uint32, f string) { rec.Record(trace.Event{PID: pid, Kind: trace.ClientCall, Func: f}) }
	wait := trace.Event{PID: 1, Kind: trace.Upcall, Caller: trace.Layer{Kind: trace.LayerProvider}, Func: "GetQueuedCompletionStatus"}
	sc := &Script{Rec: rec, PID: 1, Drop: WorkerWaits}
	call(1, "before")
	sc.Step("one")
	call(1, "a")
	call(2, "other process")
	rec.Record(wait)
	call(1, "b")
	sc.Step("two")
	sc.Step("three")
	call(1, "c")
	sc.Step("")
	call(1, "after")

	type ev struct {
		Seq  uint64
		Func string
	}
	var got [][]ev
	var about []string
	for _, s := range sc.Steps() {
		about = append(about, s.About)
		var es []ev
		for _, e := range s.Events {
			es = append(es, ev{e.Seq, e.Func})
		}
		got = append(got, es)
	}
	if diff := cmp.Diff([]string{"one", "two", "three"}, about); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([][]ev{{{1, "a"}, {2, "b"}}, nil, {{3, "c"}}}, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if n := len(Events(sc.Steps())); n != 3 {
		t.Errorf("Events: %d events, want 3", n)
	}
}

func TestProcessEvents(t *testing.T) {
	events := []trace.Event{{Seq: 7, PID: 2}, {Seq: 8, PID: 1, Func: "x"}, {Seq: 9, PID: 2}}
	got := ProcessEvents(events, 2)
	if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 || events[0].Seq != 7 {
		t.Errorf("ProcessEvents: %+v (input now %+v)", got, events)
	}
}

func TestCLI(t *testing.T) {
	show := func(w io.Writer, mermaid bool) error {
		if mermaid {
			return errors.New("no diagram")
		}
		_, err := io.WriteString(w, "story\n")
		return err
	}
	for _, c := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{nil, 0, "story\n", ""},
		{[]string{"-mermaid"}, 1, "", "ex: no diagram\n"},
		{[]string{"extra"}, 2, "", "Usage of ex:\n  -mermaid\n    \tdraw it\n"},
	} {
		var out, errs bytes.Buffer
		code := CLI("ex", "draw it", c.args, &out, &errs, show)
		if code != c.code || out.String() != c.stdout || errs.String() != c.stderr {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want %d, %q, %q", c.args, code, out.String(), errs.String(), c.code, c.stdout, c.stderr)
		}
	}
	var errs bytes.Buffer
	if code := CLI("ex", "draw it", []string{"-bogus"}, io.Discard, &errs, show); code != 2 || !strings.Contains(errs.String(), "Usage of ex") {
		t.Errorf("-bogus: exit %d, stderr %q", code, errs.String())
	}
}
