package spi_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
)

// FuzzProtocolInfoUnmarshal feeds arbitrary bytes where a WSAPROTOCOL_INFOW
// is expected (a user-controlled getsockopt buffer): decoding never panics,
// and whatever decodes re-encodes to the same value.
func FuzzProtocolInfoUnmarshal(f *testing.F) {
	p := sampleInfo()
	b, _ := p.MarshalBinary()
	f.Add(b)
	f.Add(make([]byte, 628))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p spi.WSAProtocolInfo
		if err := p.UnmarshalBinary(b); err != nil {
			return
		}
		enc, err := p.MarshalBinary()
		if err != nil {
			return // a name with unpaired surrogates decodes to U+FFFD runes
		}
		var q spi.WSAProtocolInfo
		if err := q.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if diff := cmp.Diff(p, q); diff != "" {
			t.Fatalf("round trip (-first +second):\n%s", diff)
		}
	})
}
