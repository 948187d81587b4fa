package spitest

import (
	"math/rand/v2"
	"testing"
)

// fillPatternBitByBit is fillPattern as its doc defines it: the register
// stepped one bit at a time.
func fillPatternBitByBit(lfsr *uint32, b []byte) {
	s := *lfsr
	for i := range b {
		var x byte
		for range 8 {
			bit := s & 1
			s >>= 1
			if bit != 0 {
				s ^= patternTaps
			}
			x = x<<1 | byte(bit)
		}
		b[i] = x
	}
	*lfsr = s
}

// fillPattern's tables give the bytes and the state of the register
// stepped bit by bit, from any state, for any length.
func TestFillPatternStepsTheRegisterBitByBit(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		s := r.Uint32() | 1
		n := r.IntN(100)
		got, want := make([]byte, n), make([]byte, n)
		gs, ws := s, s
		fillPattern(&gs, got)
		fillPatternBitByBit(&ws, want)
		if string(got) != string(want) || gs != ws {
			t.Fatalf("from state %#x, %d bytes: got % x (state %#x), want % x (state %#x)", s, n, got, gs, want, ws)
		}
	}
}
