package iocp

import (
	"testing"
	"unsafe"
)

// TestPortSidesHaveCacheLinesOfTheirOwn checks the layout Port's comments
// promise on 64-bit machines: the dequeuing side's fields in the first 64
// bytes, the posting side's in the next 64, the rest after; and a size
// the allocator rounds to 192 bytes, whose objects start on a 64-byte
// boundary, so each side is one cache line.
func TestPortSidesHaveCacheLinesOfTheirOwn(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is planned for 64-bit machines")
	}
	var p Port
	for _, f := range []struct {
		name       string
		offset     uintptr
		start, end uintptr
	}{
		{"mu", unsafe.Offsetof(p.mu), 0, 64},
		{"running", unsafe.Offsetof(p.running), 0, 64},
		{"tailMu", unsafe.Offsetof(p.tailMu), 64, 128},
		{"pring", unsafe.Offsetof(p.pring), 64, 128},
		{"closed", unsafe.Offsetof(p.closed), 128, 192},
	} {
		if f.offset < f.start || f.offset >= f.end {
			t.Errorf("Port.%s at offset %d, want it in [%d, %d)", f.name, f.offset, f.start, f.end)
		}
	}
	if size := unsafe.Sizeof(p); size <= 176 || size > 192 {
		t.Errorf("Port is %d bytes, want 177 to 192 (the allocator's size class of 192)", size)
	}
}
