package handles_test

import (
	"encoding/binary"
	"testing"

	"github.com/wsspi/wsspi/spi"
)

// maxFuzzSteps bounds the operations one input runs.
const maxFuzzSteps = 256

// byteReader hands out the fuzz input a piece at a time, zeros once it is
// used up.
type byteReader []byte

func (r *byteReader) byte() byte {
	if len(*r) == 0 {
		return 0
	}
	b := (*r)[0]
	*r = (*r)[1:]
	return b
}

func (r *byteReader) uint64() uint64 {
	var b [8]byte
	n := copy(b[:], *r)
	*r = (*r)[n:]
	return binary.LittleEndian.Uint64(b[:])
}

// value decodes a handle value: a live one, any ever handed out, an edge
// value, or eight bytes taken as they are.
func (r *byteReader) value(h *harness) spi.Handle {
	sel := r.byte()
	pick := func(vs []spi.Handle) spi.Handle { return vs[int(r.byte())%len(vs)] }
	switch sel % 4 {
	case 0:
		if vs := h.sortedValues(true); len(vs) > 0 {
			return pick(vs)
		}
	case 1:
		if vs := h.sortedValues(false); len(vs) > 0 {
			return pick(vs)
		}
	case 2:
		return spi.Handle(r.uint64())
	}
	return pick(specialValues(h.capacity))
}

// FuzzHandleOps decodes a table configuration and a sequence of operations
// on arbitrary handle values from its input, runs them on a table and on
// the model, and compares the two after every step: no input makes the
// table panic or drift from the model, and draining it at the end finds no
// leak.
//
// Input: byte 0 gives the capacity (1 + b%16) and DetectStale (b&0x80);
// then each operation is one byte and its operands. Only the first
// maxFuzzSteps operations run, so the fuzzer spends its time on variety
// rather than length.
func FuzzHandleOps(f *testing.F) {
	f.Add([]byte{0x03, 0, 1, 5, 2, 0, 0, 4, 0, 0, 4, 0, 0})
	f.Add([]byte{0x81, 0, 1, 0, 6, 0, 0, 5, 0, 0, 2, 1, 0, 3, 1, 0, 9, 1, 0, 1})
	f.Add([]byte{0x00, 1, 0, 7, 1, 0, 0, 6, 0, 0, 8, 0, 3, 0, 0})
	f.Add([]byte{0x8f, 11, 10, 0, 1, 0, 4, 0, 0, 0, 1, 2, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := byteReader(data)
		cfg := r.byte()
		h := newHarness(t, 1+int(cfg%16), cfg&0x80 != 0)
		for step := 0; len(r) > 0 && step < maxFuzzSteps; step++ {
			switch op := r.byte() % 12; op {
			case 0:
				h.create(catalogIds[int(r.byte())%len(catalogIds)], int(r.byte()))
			case 1:
				h.insert(insertable[int(r.byte())%len(insertable)])
			case 2:
				h.query(r.value(h))
			case 3:
				h.close(r.value(h), true)
			case 4:
				h.close(r.value(h), false)
			case 5:
				h.modify(catalogIds[int(r.byte())%len(catalogIds)], r.value(h))
			case 6:
				h.acquire(r.value(h))
			case 7:
				if len(h.refs) > 0 {
					h.release(int(r.byte()) % len(h.refs))
				}
			case 8:
				h.check(r.value(h), uint32(r.byte()%5))
			case 9:
				if len(h.refs) > 0 {
					h.close(h.refs[int(r.byte())%len(h.refs)].entry.Handle, r.byte()&1 == 0)
				}
			case 10:
				h.failNext = true
			case 11:
				h.exhaust()
			}
			h.invariant()
		}
		h.drain()
	})
}
