package main

import (
	"strings"
	"testing"

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
