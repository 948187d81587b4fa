package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPerSocketPolicyKeepsTheShortcutOnIPv6AndStaysCorrectOnIPv4(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `machine                    policy        TCP/IPv4                TCP/IPv6
no LSP                     always        shortcut                shortcut
no LSP                     process-wide  shortcut                shortcut
no LSP                     per-socket    shortcut                shortcut
non-IFS LSP over TCP/IPv4  always        shortcut, STRAY PACKET  shortcut
non-IFS LSP over TCP/IPv4  process-wide  no shortcut             no shortcut
non-IFS LSP over TCP/IPv4  per-socket    no shortcut             shortcut

shortcut: FILE_SKIP_COMPLETION_PORT_ON_SUCCESS set; the send's result handled inline
no shortcut: the mode left off; the send's result taken from its packet
STRAY PACKET: the layer posted a packet for a send the client had already handled
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
