package spitest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/catalog"
)

// TestCollectSeesEverySignalledEvent: collect notes each operation whose
// event is signalled, among more events than one wait can name, once per
// signal: an event signalled again after the client reset it is a second
// completion, found wherever it stands, and an event closed under the
// client does not hide the others.
func TestCollectSeesEverySignalledEvent(t *testing.T) {
	e, fs := newEnv(newConfig(nil), nil, catalog.DefaultTCPIPv4, nil)
	if fs != nil {
		t.Fatal(joinFindings(fs))
	}
	defer e.p.Close()
	s := &sock{name: "s0", th: e.threads[0], mech: viaEvent, closed: true}
	var ops []*op
	for range 70 {
		o := newOp(s)
		o.name, o.pending = "op", true
		e.arm(o)
		e.allOps = append(e.allOps, o)
		ops = append(ops, o)
	}
	set := func(is ...int) {
		for _, i := range is {
			if err := e.p.WSASetEvent(ops[i].event); err != nil {
				t.Fatal(err)
			}
		}
	}
	notes := func() map[int]int {
		out := map[int]int{}
		for i, o := range ops {
			if len(o.notes) > 0 {
				out[i] = len(o.notes)
			}
		}
		return out
	}

	set(0, 3, 63, 64, 69)
	e.collect()
	if diff := cmp.Diff(map[int]int{0: 1, 3: 1, 63: 1, 64: 1, 69: 1}, notes()); diff != "" {
		t.Fatalf("notifications per operation (-want +got):\n%s", diff)
	}
	if len(e.findings) != 0 {
		t.Fatalf("findings after one signal each: %v", joinFindings(e.findings))
	}
	e.collect()
	if diff := cmp.Diff(map[int]int{0: 1, 3: 1, 63: 1, 64: 1, 69: 1}, notes()); diff != "" {
		t.Fatalf("a collect with nothing signalled changed the notifications (-want +got):\n%s", diff)
	}

	if err := e.p.WSACloseEvent(ops[10].event); err != nil {
		t.Fatal(err)
	}
	set(11, 64)
	e.collect()
	if diff := cmp.Diff(map[int]int{0: 1, 3: 1, 11: 1, 63: 1, 64: 2, 69: 1}, notes()); diff != "" {
		t.Fatalf("notifications per operation (-want +got):\n%s", diff)
	}
	if len(e.findings) != 1 || e.findings[0].Rule.Name != ruleCompletesOnce.Name {
		t.Fatalf("a second signal is not one CompletesOnce finding: %v", joinFindings(e.findings))
	}
}
