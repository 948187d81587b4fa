package spitest

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestStreamChecksKeepRecords: a wrong byte in either direction of a
// connection is reported once, by the rule it breaks, and the records of
// what each end received stay what it received: later bytes are added to
// them, and no check writes the sender's bytes over them.
func TestStreamChecksKeepRecords(t *testing.T) {
	e := &env{seen: map[string]bool{}}
	s := &sock{name: "s0", peerSent: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	e.socks = []*sock{s}
	recv := func(data ...byte) {
		s.recvs = append(s.recvs, &op{s: s, buf: data, pending: true, notes: []note{{bytes: uint32(len(data))}}})
		e.advance()
	}
	rules := func() []string {
		var out []string
		for _, f := range e.findings {
			out = append(out, f.Rule.Name)
		}
		return out
	}

	recv(1, 2, 3)
	recv(9, 9) // changed: never sent
	if len(e.findings) != 0 {
		t.Fatalf("a wrong byte was judged before four bytes from it arrived: %v", e.findings)
	}
	recv(6, 7, 8)
	if diff := cmp.Diff([]byte{1, 2, 3, 9, 9, 6, 7, 8}, s.got); diff != "" {
		t.Errorf("what the client received (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"StreamData"}, rules()); diff != "" {
		t.Fatalf("findings (-want +got):\n%s\n%v", diff, e.findings)
	}
	if d := e.findings[0].Detail; !strings.Contains(d, "the client received 8 bytes [1 2 3 9 9 6 7 8]") || !strings.Contains(d, "at offset 3") {
		t.Errorf("the finding does not show what the client received, and where it went wrong: %s", d)
	}

	s.sent = []byte{10, 11, 12, 13, 14}
	s.peerGot = []byte{10, 11, 12, 13, 14}
	e.advance()
	s.peerGot = append(s.peerGot, 11, 12, 13, 14) // again: more than was sent
	e.advance()
	s.peerGot = append(s.peerGot, 99)
	e.advance()
	if diff := cmp.Diff([]byte{10, 11, 12, 13, 14, 11, 12, 13, 14, 99}, s.peerGot); diff != "" {
		t.Errorf("what the peer received (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"StreamData", "StreamOrder"}, rules()); diff != "" {
		t.Fatalf("findings (-want +got):\n%s\n%v", diff, e.findings)
	}
	if d := e.findings[1].Detail; !strings.Contains(d, "the peer received 9 bytes") || !strings.Contains(d, "from offset 5 on it has the stream's bytes from offset 1") {
		t.Errorf("the finding does not show what the peer received, and where it went wrong: %s", d)
	}
}

// TestPatternWindowsUnique: no four bytes of the payload pattern repeat in
// its first megabyte, so a piece of a stream found elsewhere in it is the
// stream's own.
func TestPatternWindowsUnique(t *testing.T) {
	lfsr := uint32(1)
	b := make([]byte, 1<<20)
	fillPattern(&lfsr, b)
	seen := make(map[uint32]int, len(b))
	for i := range len(b) - 3 {
		w := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
		if j, ok := seen[w]; ok {
			t.Fatalf("the four bytes at offset %d repeat those at %d", i, j)
		}
		seen[w] = i
	}
}

// TestStreamVerdicts: a wrong byte is judged once four bytes from it have
// arrived, or at the end of the run: bytes of the stream found elsewhere
// in it break StreamOrder, bytes never sent StreamData.
func TestStreamVerdicts(t *testing.T) {
	sent := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	for _, tc := range []struct {
		got   []byte
		final bool
		want  string // the rule, "" for none (yet)
	}{
		{[]byte{1, 2, 3}, false, ""},
		{sent, true, ""},
		{[]byte{1, 2, 5, 6, 7, 8}, false, "StreamOrder"},       // bytes lost
		{[]byte{1, 2, 3, 2, 3, 4, 5}, false, "StreamOrder"},    // bytes again
		{[]byte{5, 6, 7, 8, 1, 2, 3, 4}, false, "StreamOrder"}, // reordered
		{[]byte{1, 2, 3, 0x44, 0x45, 0x46, 0x47}, false, "StreamData"},
		{[]byte{1, 2, 3, 0x44}, false, ""}, // too few bytes to tell, yet
		{[]byte{1, 2, 3, 0x44}, true, "StreamData"},
		{[]byte{1, 2, 3, 5}, true, "StreamData"}, // a byte lost, or changed: one byte cannot tell
		{[]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}, true, "StreamData"},
	} {
		e := &env{seen: map[string]bool{}}
		s := &sock{name: "s0", got: tc.got, peerSent: sent}
		e.checkGot(s, tc.final)
		got := ""
		for _, f := range e.findings {
			got += f.Rule.Name
		}
		if got != tc.want {
			t.Errorf("client received %v of %v (final %v): rule %q, want %q", tc.got, sent, tc.final, got, tc.want)
		}
	}
}
