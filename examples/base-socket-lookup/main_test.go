package main

import (
	"os"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/clienttest"
)

func TestOnlyTheFallbacksSurviveALayerThatRefusesTheBaseHandleAndNoneOneThatFakesIt(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `layers over TCP/IPv4                SIO_BASE_HANDLE only                                mio's fallbacks                                     wepoll's loop
none                                readable                                            readable                                            readable
Kit                                 readable                                            readable                                            readable
FailBaseHandle                      lookup fails: WSAEFAULT                             readable                                            readable
FailBaseHandle over Kit             lookup fails: WSAEFAULT                             readable                                            readable
FailBaseHandle over IFSPassThrough  lookup fails: WSAEFAULT                             readable                                            readable
OwnBaseHandle                       AFD poll fails: STATUS_INVALID_HANDLE (0xC0000008)  AFD poll fails: STATUS_INVALID_HANDLE (0xC0000008)  AFD poll fails: STATUS_INVALID_HANDLE (0xC0000008)
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

// The golden is the table -matrix prints, run here in a bubble so that a
// seed replays its run and a lost packet costs no real time; the README's
// section for library authors quotes it. Regenerate it with
// go run ./examples/base-socket-lookup -matrix > testdata/matrix.golden
// and read the diff: each changed cell is a change of behaviour.
func TestLookupsThroughTheClientKit(t *testing.T) {
	want, err := os.ReadFile("testdata/matrix.golden")
	if err != nil {
		t.Fatal(err)
	}
	// The golden is the matrix of one seed; a wider or narrower run asked
	// for in the environment would be another table.
	t.Setenv("CLIENTTEST_SEEDS", "")
	t.Setenv("CLIENTTEST_CONFIGS", "")
	var out strings.Builder
	synctest.Test(t, func(t *testing.T) {
		if err := runMatrix(&out, clienttest.Bubble()); err != nil {
			t.Error(err)
		}
	})
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("-matrix table (-want +got):\n%s", diff)
	}
}

// No layout of today's matrix ends otherwise under a seed, so the mark
// is checked on results made up for it.
func TestACellThatDependsOnTheSeedIsMarked(t *testing.T) {
	lost := &familyError{"TCP/IPv4", &failure{"AFD poll", errNoPacket}}
	rs := []clienttest.Result{
		{Config: clienttest.Config{Name: "Naive/tcp4"}},
		{Config: clienttest.Config{Name: "Naive/tcp4/seed1", Seed: 1}, Err: lost},
	}
	c, note := cell("Naive/tcp4", "wepoll's loop", rs)
	if diff := cmp.Diff([]string{"pass*", "* Naive/tcp4, wepoll's loop: pass with no scheduler, no packet with seed 1"}, []string{c, note}); diff != "" {
		t.Errorf("cell and note (-want +got):\n%s", diff)
	}
}
