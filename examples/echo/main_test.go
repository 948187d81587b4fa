package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEchoOverLoopback(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatal(err)
	}
	want := `server: listening on 127.0.0.1:7
client: connected, socket associated with a port under key 42
client: send completed: 15 bytes, key 42, our overlapped: true
client: echo received: "hello, loopback"
client: send completed: 14 bytes, key 42, our overlapped: true
client: echo received: "second message"
client: shutting down
server: peer closed, done
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}
