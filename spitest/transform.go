package spitest

import (
	"bytes"
	"fmt"
)

// Transform is the change a data-changing layer (one that encrypts,
// compresses or frames what it carries) makes to the bytes of a stream
// connection: what goes on the wire for what the client sends, and how
// the plain bytes come back from the wire. Give it in [Target.Transform].
//
// The kit's peers are sockets of the base entry, below every layer under
// test, so they see the wire. The kit reads what a peer receives through
// Unwire and requires the plain bytes to be what the client sent, in
// order, once; it makes what a peer sends with Wire and requires the
// client to receive the plain bytes. The counts the client is told are its
// own, whatever the wire carries: a send completes with the count of the
// client's bytes it took, a receive with the count of plain bytes it put
// in the client's buffers.
//
// Both functions see whole streams, from the connection's first byte, so
// that neither has to keep state: a layer that encodes each send on its
// own (a compressed or framed block per send) and one that encodes the
// stream as a whole (a stream cipher) are declared alike. They must not
// keep or change the slices they are given, and may be called from any
// goroutine of the kit.
type Transform struct {
	// Wire returns the bytes on the wire of a stream whose plain bytes
	// were sent in sends, one slice per send of the layer, in order (a
	// send of no bytes is none). It is incremental, as bytes on a wire
	// cannot be taken back: Wire(sends[:k]) is a prefix of Wire(sends).
	Wire func(sends [][]byte) []byte
	// Unwire returns the plain bytes that wire carries: every plain byte
	// of a whole stream Wire made, and of a prefix of one (a wire cut
	// anywhere, as a transfer may cut it) the plain bytes complete in the
	// prefix, so that the plain bytes of a prefix are a prefix of the
	// plain bytes of the stream. An error says wire is not the prefix of
	// any stream Wire makes.
	Unwire func(wire []byte) ([]byte, error)
}

// checkTransform checks that t is a transform the kit can check through:
// both functions set, Wire incremental, Unwire its inverse on a sample
// stream and on every prefix of its wire. It returns what is wrong, or "".
func checkTransform(t *Transform) (bad string) {
	if t.Wire == nil || t.Unwire == nil {
		return "Target.Transform needs both Wire and Unwire"
	}
	defer func() {
		if r := recover(); r != nil {
			bad = fmt.Sprintf("Target.Transform panicked on a sample stream: %v", r)
		}
	}()
	lfsr := uint32(0x5eed)
	var sends [][]byte
	var plain, wire []byte
	for _, n := range []int{1, 7, 48, 3, 200} {
		b := make([]byte, n)
		fillPattern(&lfsr, b)
		sends = append(sends, b)
		plain = append(plain, b...)
		w := t.Wire(sends)
		if !bytes.HasPrefix(w, wire) {
			return fmt.Sprintf("Target.Transform.Wire is not incremental: Wire of %d sends (%s) does not begin with Wire of the first %d (%s)",
				len(sends), show(w), len(sends)-1, show(wire))
		}
		wire = w
		if got, err := t.Unwire(w); err != nil || !bytes.Equal(got, plain) {
			return fmt.Sprintf("Target.Transform.Unwire does not undo Wire: the %d plain bytes of %d sends, %s, go on the wire as %s, which Unwire reads as %s (error %v)",
				len(plain), len(sends), show(plain), show(w), show(got), err)
		}
	}
	for n := range len(wire) {
		got, err := t.Unwire(wire[:n])
		if err != nil || !bytes.HasPrefix(plain, got) {
			return fmt.Sprintf("Target.Transform.Unwire of the first %d bytes of the wire %s gives %s (error %v), not a prefix of the plain bytes %s: a transfer may end anywhere in the wire",
				n, show(wire), show(got), err, show(plain))
		}
	}
	return ""
}

// fillPattern fills b with the next bytes of the kit's pattern from the
// state *lfsr (nonzero): the output of a 32-bit maximal-length linear
// feedback shift register (taps 32, 22, 2, 1), eight bits a byte. Its
// period is 2^32-1 bits, and every 32 bits of it appear once in a period,
// so no four bytes a run sends appear twice: a piece of a stream found in
// the wrong place is the stream's own bytes out of order or repeated, and
// bytes found nowhere were changed.
func fillPattern(lfsr *uint32, b []byte) {
	s := *lfsr
	for i := range b {
		b[i], s = patternByte[s&0xFF], s>>8^patternNext[s&0xFF]
	}
	*lfsr = s
}

// patternTaps is the feedback of fillPattern's register.
const patternTaps = 0x80200003

// patternByte and patternNext step fillPattern's register eight bits at
// once. A step is linear over GF(2), and a state whose low byte is zero
// outputs eight zero bits and is only shifted by them; so the byte
// depends on the state's low byte alone, and the state after it is the
// state shifted by eight XOR what the low byte alone becomes.
var patternByte, patternNext = patternTables()

func patternTables() (out [256]byte, next [256]uint32) {
	for low := range uint32(256) {
		out[low], next[low] = patternStep(low)
	}
	return out, next
}

// patternStep steps fillPattern's register from state s eight times, one
// bit at a time, as the definition goes: the byte it outputs (first bit
// highest) and the state after.
func patternStep(s uint32) (byte, uint32) {
	var x byte
	for range 8 {
		bit := s & 1
		s >>= 1
		if bit != 0 {
			s ^= patternTaps
		}
		x = x<<1 | byte(bit)
	}
	return x, s
}

// firstDiff returns the first offset where got differs from want, or
// len(want) when want is a prefix of got.
func firstDiff(got, want []byte) int {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	return i
}

// around shows the bytes of b near offset i.
func around(b []byte, i int) string {
	lo, hi := max(0, i-4), min(len(b), i+8)
	if lo >= hi {
		return fmt.Sprintf("(nothing at offset %d of %d bytes)", i, len(b))
	}
	return fmt.Sprintf("%v at offset %d", b[lo:hi], lo)
}
