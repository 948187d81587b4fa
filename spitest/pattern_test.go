package spitest

import (
	"math/rand/v2"
	"testing"
)

// fillPattern's tables, built from states of one byte, give the bytes and
// the state of the register stepped bit by bit from any whole state, for
// any length.
func TestFillPatternStepsTheRegisterBitByBit(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		s := r.Uint32() | 1
		n := r.IntN(100)
		got, want := make([]byte, n), make([]byte, n)
		gs, ws := s, s
		fillPattern(&gs, got)
		for i := range want {
			want[i], ws = patternStep(ws)
		}
		if string(got) != string(want) || gs != ws {
			t.Fatalf("from state %#x, %d bytes: got % x (state %#x), want % x (state %#x)", s, n, got, gs, want, ws)
		}
	}
}
