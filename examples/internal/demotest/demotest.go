// Package demotest holds the test helpers that the example programs'
// tests share: the golden-file comparison, with the -update flag that
// rewrites the files, the checks of an example's command line, and the
// check that a timeline introduces what it shows.
package demotest

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Golden compares got with testdata/name, or rewrites it with -update.
func Golden(t *testing.T, name string, got []byte) {
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

// Must returns what run returns, and ends the test if run fails: the
// example's run, for a test that reads its trace.
func Must[D any](t *testing.T, run func() (D, error)) D {
	t.Helper()
	d, err := run()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// CLI is an example's command line: it runs with args and returns the
// exit status.
type CLI func(args []string, stdout, stderr io.Writer) int

// CommandLine checks the command line of the example called name, in
// three subtests: its -mermaid output is testdata/mermaid.golden (Mermaid);
// without arguments it succeeds, and its output holds the story's words
// want (Text); bad arguments give only the usage and exit status 2
// (BadArguments).
func CommandLine(t *testing.T, cli CLI, name, want string) {
	t.Run("mermaid", func(t *testing.T) { Mermaid(t, cli) })
	t.Run("text", func(t *testing.T) { Text(t, cli, want) })
	t.Run("bad arguments", func(t *testing.T) {
		BadArguments(t, cli, name, []string{"-bogus"}, []string{"extra"}, []string{"-mermaid=maybe"})
	})
}

// Mermaid runs cli with -mermaid, which must succeed, and compares its
// output with testdata/mermaid.golden (Golden).
func Mermaid(t *testing.T, cli CLI) {
	t.Helper()
	var out, errs bytes.Buffer
	if code := cli([]string{"-mermaid"}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	Golden(t, "mermaid.golden", out.Bytes())
}

// Text runs cli without arguments, which must succeed with nothing on
// stderr, and checks that its output holds the story's words want.
func Text(t *testing.T, cli CLI, want string) {
	t.Helper()
	var out, errs bytes.Buffer
	if code := cli(nil, &out, &errs); code != 0 || errs.Len() != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), want) {
		t.Errorf("no %q in the output:\n%s", want, out.String())
	}
}

// BadArguments runs cli, the command name, with each of the bad
// arguments, and checks that each gives exit status 2 and only the usage,
// on stderr.
func BadArguments(t *testing.T, cli CLI, name string, bad ...[]string) {
	t.Helper()
	for _, args := range bad {
		var out, errs bytes.Buffer
		if code := cli(args, &out, &errs); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
		if !strings.Contains(errs.String(), "Usage of "+name) || out.Len() != 0 {
			t.Errorf("%q: stdout %q, stderr %q; want only the usage, on stderr", args, out.String(), errs.String())
		}
	}
}

// Readable checks what a reader of a timeline needs: every handle an event
// names (a socket, a port, a thread, an event) is one the timeline showed
// created before, and every return follows the call it ends.
func Readable(t *testing.T, events []trace.Event) {
	t.Helper()
	created := map[spi.Handle]bool{}
	type site struct {
		fn             string
		caller, callee trace.Layer
	}
	open := map[site]int{}
	for _, e := range events {
		if e.Kind == trace.HandleCreated {
			created[e.Handle] = true
			continue
		}
		for _, h := range []spi.Handle{e.Handle, e.Port, e.Thread, e.EventHandle, e.NewHandle} {
			if h != 0 && h != spi.INVALID_HANDLE_VALUE && !created[h] {
				t.Errorf("event %d (%v %s) names handle %v, which the timeline did not show created before", e.Seq, e.Kind, e.Func, h)
			}
		}
		s := site{e.Func, e.Caller, e.Layer}
		switch {
		case e.Kind.IsCall():
			open[s]++
		case e.Kind.IsReturn() && open[s] == 0:
			t.Errorf("event %d: %s returns, but the timeline does not show %v calling it", e.Seq, e.Func, e.Caller)
		case e.Kind.IsReturn():
			open[s]--
		}
	}
}
