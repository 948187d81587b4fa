package spitest_test

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
)

// xorBytes returns b with every byte XORed with key.
func xorBytes(b []byte, key byte) []byte {
	out := make([]byte, len(b))
	for i, x := range b {
		out[i] = x ^ key
	}
	return out
}

// xorLayer installs a layer of package layered that XORs every byte it
// carries with key: OnSend returns new buffers (the client's are not the
// layer's to write), OnRecv changes the client's buffers in place. The
// target declares tr.
func xorLayer(key byte, tr *spitest.Transform) spitest.Factory {
	return hookLayer("XOR", 1, tr, layered.Hooks{
		OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte {
			out := make([][]byte, len(bufs))
			for i, b := range bufs {
				out[i] = xorBytes(b, key)
			}
			return out
		},
		OnRecv: func(_ *layered.Socket, bufs [][]byte, n uint32) {
			for _, b := range bufs {
				k := min(uint32(len(b)), n)
				for i := range b[:k] {
					b[i] ^= key
				}
				n -= k
			}
		},
	})
}

// hookLayer installs a layer of package layered with hooks over TCP/IPv4,
// declaring tr; n tells the layers' GUIDs apart.
func hookLayer(name string, n uint16, tr *spitest.Transform, hooks layered.Hooks) spitest.Factory {
	return func(m *wsspi.Machine) (spitest.Target, error) {
		g := spi.MustParseGUID("{5EC0A7E1-3333-4000-8000-00000000F0D0}")
		g.Data2 = n
		_, ids, err := layered.Install(m, layered.Options{
			Name: name, GUID: g, Path: `C:\lsp\` + strings.ToLower(name) + `.dll`, Over: over,
			Config: layered.Config{Hooks: hooks},
		})
		return spitest.Target{Entries: ids.Chains, Transform: tr}, err
	}
}

// xorTransform declares an XOR with key: one byte on the wire for each
// plain byte.
func xorTransform(key byte) *spitest.Transform {
	return &spitest.Transform{
		Wire:   func(sends [][]byte) []byte { return xorBytes(bytes.Join(sends, nil), key) },
		Unwire: func(wire []byte) ([]byte, error) { return xorBytes(wire, key), nil },
	}
}

// TestTransformXOR: a layer that XORs the data it carries passes every
// case, the workload included, when its target declares the XOR.
func TestTransformXOR(t *testing.T) {
	spitest.Run(t, xorLayer(0x5a, xorTransform(0x5a)))
}

// findingsOf runs the cases of f named by cases in a bubble and returns
// the findings.
func findingsOf(t *testing.T, f spitest.Factory, opts ...spitest.Option) []*spitest.Finding {
	t.Helper()
	var fs []*spitest.Finding
	synctest.Test(t, func(t *testing.T) {
		for _, e := range unjoin(spitest.Check(f, append(opts, spitest.Bubble())...)) {
			var x *spitest.Finding
			if !errors.As(e, &x) {
				t.Fatalf("Check returned %T, not a *Finding: %v", e, e)
			}
			fs = append(fs, x)
		}
	})
	return fs
}

// rulesOf returns the names of the rules fs break, sorted, once each.
func rulesOf(fs []*spitest.Finding) []string {
	var rules []string
	for _, f := range fs {
		rules = append(rules, f.Rule.Name)
	}
	slices.Sort(rules)
	return slices.Compact(rules)
}

// TestTransformMissingOrWrong: the XOR layer with no Transform declared,
// or with another key, breaks StreamData, the rule of data changed, and
// no other: not StreamOrder, since its bytes are in order; and each
// direction of a connection is reported once, at its first wrong byte,
// however many bytes follow.
func TestTransformMissingOrWrong(t *testing.T) {
	for name, tr := range map[string]*spitest.Transform{"undeclared": nil, "wrong key": xorTransform(0x33)} {
		t.Run(name, func(t *testing.T) {
			for _, c := range []string{"Notify/port", "Notify/routine", "ReadFileWriteFile", "StreamOrder", "Workload"} {
				fs := findingsOf(t, xorLayer(0x5a, tr), spitest.Cases(c))
				if diff := cmp.Diff([]string{"StreamData"}, rulesOf(fs)); diff != "" {
					t.Errorf("case %s: the rules broken (-want +got):\n%s\n%v", c, diff, fs)
					continue
				}
				perDirection := map[string]int{}
				for _, f := range fs {
					s, _, _ := strings.Cut(f.Detail, ": ")
					dir := "to the peer"
					if strings.Contains(f.Detail, "the client received") {
						dir = "to the client"
					}
					perDirection[s+" "+dir]++
				}
				for k, n := range perDirection {
					if n != 1 {
						t.Errorf("case %s: %s reported %d times, not once:\n%v", c, k, n, fs)
					}
				}
				if name == "undeclared" && !strings.Contains(fs[0].Detail, "declares how in Target.Transform") {
					t.Errorf("case %s: the finding does not say that a data-changing layer declares a Transform:\n%v", c, fs[0])
				}
				if c == "Notify/port" {
					t.Logf("caught:\n%v", firstLines(fs[0].Error(), 2))
				}
			}
		})
	}
}

// TestTransformOrderStillOrder: a layer that sends each buffer with its
// halves swapped carries the client's bytes, out of order: that breaks
// StreamOrder, not StreamData, with or without a Transform declared.
func TestTransformOrderStillOrder(t *testing.T) {
	swap := layered.Hooks{OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte {
		var out [][]byte
		for _, b := range bufs {
			h := len(b) / 2
			out = append(out, append(slices.Clone(b[h:]), b[:h]...))
		}
		return out
	}}
	for name, tr := range map[string]*spitest.Transform{"undeclared": nil, "identity": xorTransform(0)} {
		t.Run(name, func(t *testing.T) {
			fs := findingsOf(t, hookLayer("Swap", 2, tr, swap), spitest.Cases("Notify/port", "StreamOrder"))
			if diff := cmp.Diff([]string{"StreamOrder"}, rulesOf(fs)); diff != "" {
				t.Errorf("the rules broken (-want +got):\n%s\n%v", diff, fs)
			}
		})
	}
}

// TestBadTransforms: a Transform the kit cannot check through gives one
// Factory finding, and nothing is run.
func TestBadTransforms(t *testing.T) {
	join := func(sends [][]byte) []byte { return bytes.Join(sends, nil) }
	same := func(w []byte) ([]byte, error) { return w, nil }
	for name, tc := range map[string]struct {
		tr   *spitest.Transform
		want string
	}{
		"no Unwire": {&spitest.Transform{Wire: join}, "needs both Wire and Unwire"},
		"not inverse": {&spitest.Transform{Wire: join, Unwire: func(w []byte) ([]byte, error) { return xorBytes(w, 1), nil }},
			"Unwire does not undo Wire"},
		"not incremental": {&spitest.Transform{Wire: func(sends [][]byte) []byte {
			return append([]byte{byte(len(sends))}, join(sends)...) // a count of the sends first: it changes
		}, Unwire: func(w []byte) ([]byte, error) { return w[min(1, len(w)):], nil }}, "Wire is not incremental"},
		"rejects a prefix": {&spitest.Transform{Wire: join, Unwire: func(w []byte) ([]byte, error) {
			if len(w) == 4 { // inside the second send's bytes
				return nil, errors.New("cut")
			}
			return w, nil
		}}, "a transfer may end anywhere"},
		"panics": {&spitest.Transform{Wire: func([][]byte) []byte { panic("boom") }, Unwire: same}, "panicked on a sample stream: boom"},
	} {
		t.Run(name, func(t *testing.T) {
			fs := findingsOf(t, xorLayer(0, tc.tr))
			if len(fs) != 1 || fs[0].Rule.Name != "Factory" || !strings.Contains(fs[0].Detail, tc.want) {
				t.Fatalf("Check = %v; want one Factory finding saying %q", fs, tc.want)
			}
		})
	}
}
