package wsspi

import (
	"encoding/binary"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// SO_OPENTYPE is an option of ws2_32, not of a provider: it lives in
// ws2_32's per-thread state, and setsockopt and getsockopt serve it before
// looking at the socket, as ReactOS's ws2_32 does (docs/facts.md §2.5,
// §8.1). Microsoft documents it as affecting whether the sockets created
// afterwards are non-overlapped, and advises WSASocket without
// WSA_FLAG_OVERLAPPED instead. Values other than the two SO_SYNCHRONOUS_*
// are kept as given, as ws2_32 keeps them; any nonzero value makes socket()
// omit WSA_FLAG_OVERLAPPED.

// setOpenType sets the thread's SO_OPENTYPE from optval (a DWORD; shorter
// is WSAEFAULT).
func (t *Thread) setOpenType(s spi.Socket, optval []byte) error {
	const op = "setsockopt"
	c := t.traceCall(trace.LayerWinsock, op, s)
	if _, err := t.p.activeLoader(op, s); err != nil {
		return c.end(err)
	}
	if len(optval) < 4 {
		return c.end(spi.NewOpError(op, s, spi.WSAEFAULT))
	}
	t.openType = binary.LittleEndian.Uint32(optval)
	return c.end(nil)
}

// getOpenType writes the thread's SO_OPENTYPE into optval (a DWORD;
// shorter is WSAEFAULT) and returns its length.
func (t *Thread) getOpenType(s spi.Socket, optval []byte) (int, error) {
	const op = "getsockopt"
	c := t.traceCall(trace.LayerWinsock, op, s)
	if _, err := t.p.activeLoader(op, s); err != nil {
		return 0, c.end(err)
	}
	if len(optval) < 4 {
		return 0, c.end(spi.NewOpError(op, s, spi.WSAEFAULT))
	}
	binary.LittleEndian.PutUint32(optval, t.openType)
	return 4, c.end(nil)
}
