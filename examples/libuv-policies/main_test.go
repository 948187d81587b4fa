package main

import (
	"flag"
	"os"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi/clienttest"

	"github.com/google/go-cmp/cmp"
)

func TestLibuvDetectsNonIFSPerFamilyAndItsPortEmulationSurvivesTheNaiveLayer(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `== IFS detection: a dummy TCP socket per family, getsockopt(SO_PROTOCOL_INFOW)
machine                  IPv4                         IPv6
no LSP                   IFS: skip-on-success         IFS: skip-on-success
Kit over TCP/IPv4        non-IFS: no skip-on-success  IFS: skip-on-success
IFSPassThrough over TCP  IFS: skip-on-success         IFS: skip-on-success
Naive over TCP/IPv4      non-IFS: no skip-on-success  IFS: skip-on-success

== one overlapped receive: on a socket the loop owns, and on one another port has
machine                  owned socket  imported, emulated  imported, no low bit
no LSP                   packet        packet              packet + STRAY
Kit over TCP/IPv4        packet        packet              packet + STRAY
IFSPassThrough over TCP  packet        packet              packet + STRAY
Naive over TCP/IPv4      LOST          packet              packet

packet: the receive's packet reached the loop's port (for an imported socket, posted by the registered wait)
LOST: no packet reached the loop's port
+ STRAY: the port the socket already had got a packet too
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/matrix.golden with the matrix this run prints")

// The matrix runs in a bubble so that the loop's bounded waits, which
// a lost completion runs out, cost no real time, and so that each seed
// replays its run.
func TestPoliciesThroughTheClientKit(t *testing.T) {
	var out strings.Builder
	synctest.Test(t, func(t *testing.T) {
		results, err := checkAll(true, clienttest.Seeds(1), clienttest.Bubble())
		if err != nil {
			t.Fatal(err)
		}
		if err := printMatrix(&out, results); err != nil {
			t.Fatal(err)
		}
	})
	const golden = "testdata/matrix.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("matrix (-want +got):\n%s", diff)
	}
}
