package spi_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/wsspi/wsspi/spi"
)

func TestExtensionGUIDsHaveTheirMswsockValues(t *testing.T) {
	for _, tc := range []struct {
		g    spi.GUID
		want string
	}{
		{spi.WSAID_ACCEPTEX, "{B5367DF1-CBAC-11CF-95CA-00805F48A192}"},
		{spi.WSAID_CONNECTEX, "{25A207B9-DDF3-4660-8EE9-76E58C74063E}"},
	} {
		if got := tc.g.String(); got != tc.want {
			t.Errorf("GUID = %s, want %s", got, tc.want)
		}
	}
}

func TestGUIDBytesUseTheWindowsLayoutAndRoundTrip(t *testing.T) {
	b := spi.WSAID_ACCEPTEX.Bytes()
	want := []byte{0xF1, 0x7D, 0x36, 0xB5, 0xAC, 0xCB, 0xCF, 0x11, 0x95, 0xCA, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92}
	if !bytes.Equal(b[:], want) {
		t.Errorf("Bytes = % X, want % X", b, want)
	}
	g, ok := spi.GUIDFromBytes(b[:])
	if !ok || g != spi.WSAID_ACCEPTEX {
		t.Errorf("GUIDFromBytes = %v, %v; want %v, true", g, ok, spi.WSAID_ACCEPTEX)
	}
	if _, ok := spi.GUIDFromBytes(b[:15]); ok {
		t.Error("GUIDFromBytes of 15 bytes: ok")
	}
}

func TestPutExtensionPointerWritesTheCookieOrFails(t *testing.T) {
	pointer := func(g spi.GUID) (uintptr, bool) { return 0x55667788, g == spi.WSAID_CONNECTEX } // fits a 32-bit uintptr
	in := spi.WSAID_CONNECTEX.Bytes()
	out := bytes.Repeat([]byte{0xEE}, 8)
	n, err := spi.PutExtensionPointer(in[:], out, pointer)
	if n != 8 || err != nil || !bytes.Equal(out, []byte{0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0}) {
		t.Errorf("PutExtensionPointer = %d, %v, out % X", n, err, out)
	}
	other := spi.WSAID_ACCEPTEX.Bytes()
	for _, tc := range []struct {
		name    string
		in, out []byte
		want    error
	}{
		{"short in", in[:8], make([]byte, 8), spi.WSAEFAULT},
		{"short out", in[:], make([]byte, 4), spi.WSAEFAULT},
		{"unknown GUID", other[:], make([]byte, 8), spi.WSAEINVAL},
	} {
		if _, err := spi.PutExtensionPointer(tc.in, tc.out, pointer); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}
