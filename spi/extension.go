package spi

import (
	"encoding/binary"
	"net/netip"
)

// The GUIDs of the Microsoft extension functions a client fetches with
// WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) (mswsock.h).
var (
	// WSAID_ACCEPTEX names AcceptEx: {B5367DF1-CBAC-11CF-95CA-00805F48A192}.
	WSAID_ACCEPTEX = GUID{0xB5367DF1, 0xCBAC, 0x11CF, [8]byte{0x95, 0xCA, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92}}
	// WSAID_CONNECTEX names ConnectEx: {25A207B9-DDF3-4660-8EE9-76E58C74063E}.
	WSAID_CONNECTEX = GUID{0x25A207B9, 0xDDF3, 0x4660, [8]byte{0x8E, 0xE9, 0x76, 0xE5, 0x8C, 0x74, 0x06, 0x3E}}
)

// GUIDSize is the size of a GUID in memory, as the in buffer of
// SIO_GET_EXTENSION_FUNCTION_POINTER holds it.
const GUIDSize = 16

// ExtensionPointerSize is the size of the "function pointer" that
// SIO_GET_EXTENSION_FUNCTION_POINTER writes into its out buffer: the cookie
// returned by [Imports.RegisterExtension], little-endian. It is 8 on every
// host, the pointer of 64-bit Windows, as the simulator's other pointer-sized
// ioctl outputs (the SOCKET of SIO_BASE_HANDLE) are; on a 32-bit host the
// upper four bytes are 0.
const ExtensionPointerSize = 8

// Bytes returns g laid out as in memory on Windows: Data1, Data2 and Data3
// little-endian, then Data4.
func (g GUID) Bytes() [GUIDSize]byte {
	var b [GUIDSize]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], g.Data1)
	le.PutUint16(b[4:], g.Data2)
	le.PutUint16(b[6:], g.Data3)
	copy(b[8:], g.Data4[:])
	return b
}

// GUIDFromBytes reads a GUID laid out as [GUID.Bytes] lays it out; ok is
// false when b is shorter than [GUIDSize].
func GUIDFromBytes(b []byte) (g GUID, ok bool) {
	if len(b) < GUIDSize {
		return g, false
	}
	le := binary.LittleEndian
	g.Data1 = le.Uint32(b[0:])
	g.Data2 = le.Uint16(b[4:])
	g.Data3 = le.Uint16(b[6:])
	copy(g.Data4[:], b[8:16])
	return g, true
}

// AcceptExFunc models AcceptEx, the extension function named by
// [WSAID_ACCEPTEX]: it accepts the next connection of listening socket
// listen onto accept, a stream socket of the same protocol that is neither
// bound nor connected. When buf is not empty the operation also receives
// the first block of data into it and completes only once data (or the
// peer's FIN) arrives; the count returned is the bytes received. (The local
// and remote addresses that AcceptEx writes after the data come from
// getsockname and getpeername on accept instead.) The operation is always
// overlapped (a nil ov fails with WSAEINVAL); it completes on listen's
// handle (its completion port, the event of ov) and follows the WSPSend
// rules of [WSPProcTable]. thread is the issuing thread.
type AcceptExFunc func(listen, accept Socket, buf []byte, ov *Overlapped, thread *ThreadID) (uint32, error)

// ConnectExFunc models ConnectEx, the extension function named by
// [WSAID_CONNECTEX]: it connects stream socket s, which must be bound
// (WSAEINVAL otherwise), to name and then sends sendBuf, if not empty; the
// count returned is the bytes sent. The operation is always overlapped (a
// nil ov fails with WSAEINVAL) and follows the WSPSend rules of
// [WSPProcTable]. thread is the issuing thread.
type ConnectExFunc func(s Socket, name netip.AddrPort, sendBuf []byte, ov *Overlapped, thread *ThreadID) (uint32, error)

// PutExtensionPointer answers SIO_GET_EXTENSION_FUNCTION_POINTER for a
// provider: it reads the GUID from in, asks pointer for the cookie of that
// function (which the provider got from [Imports.RegisterExtension]) and
// writes it into out. It fails with WSAEFAULT when in is shorter than a
// GUID or out shorter than [ExtensionPointerSize], and with WSAEINVAL for a
// GUID pointer does not know. It returns the bytes written.
func PutExtensionPointer(in, out []byte, pointer func(GUID) (uintptr, bool)) (uint32, error) {
	g, ok := GUIDFromBytes(in)
	if !ok || len(out) < ExtensionPointerSize {
		return 0, WSAEFAULT
	}
	cookie, ok := pointer(g)
	if !ok {
		return 0, WSAEINVAL
	}
	binary.LittleEndian.PutUint64(out, uint64(cookie))
	return ExtensionPointerSize, nil
}
