package spi

import (
	"encoding/hex"
	"fmt"
	"strconv"
)

// Handle is a kernel object handle (HANDLE): a socket, an event (WSAEVENT),
// an I/O completion port or a thread. Valid values are nonzero multiples of 4.
type Handle uintptr

// Socket is a socket descriptor (SOCKET). On Windows a socket is a handle,
// and [ReadFile]-style calls accept it, so it is an alias of [Handle].
type Socket = Handle

// Special handle values (winsock2.h, handleapi.h).
const (
	// INVALID_SOCKET is (SOCKET)(~0), returned by calls that fail to make a socket.
	INVALID_SOCKET Socket = ^Socket(0)
	// INVALID_HANDLE_VALUE is (HANDLE)(-1); it has the same bits as INVALID_SOCKET.
	INVALID_HANDLE_VALUE Handle = ^Handle(0)
	// WSA_INVALID_EVENT is the null event handle.
	WSA_INVALID_EVENT Handle = 0
)

// SOCKET_ERROR is the int result C functions return on failure. The Go API
// returns an error instead; the constant is kept for readers of C code.
const SOCKET_ERROR = -1

// String formats the handle as Windows tools do, in hexadecimal.
func (h Handle) String() string {
	if h == INVALID_SOCKET {
		return "INVALID_SOCKET"
	}
	return "0x" + strconv.FormatUint(uint64(h), 16)
}

// HWND is a window handle, used only by WPUPostMessage and WSPAsyncSelect.
type HWND uintptr

// WindowProc is the procedure of a provider's hidden window (see
// [Imports.CreateWindow]): it receives each message posted to the window.
type WindowProc func(msg uint32, wParam, lParam uintptr)

// CatalogEntryId is the id ws2_32 gives each protocol catalog entry
// (WSAPROTOCOL_INFOW.dwCatalogEntryId). The simulator numbers entries from
// 1001 and never reuses an id.
type CatalogEntryId uint32

// ThreadID models WSATHREADID: the identity of a thread that issued an
// overlapped call, kept by a provider so it can queue the completion routine
// to that thread with WPUQueueApc. A provider keeps a copy of the struct, not
// a pointer to the caller's.
type ThreadID struct {
	// ThreadHandle is a handle to the thread in the issuing process.
	ThreadHandle Handle
	// Reserved belongs to ws2_32.
	Reserved uintptr
}

// GUID is a globally unique identifier, laid out as Windows lays it out.
// Providers are identified by a GUID (WSAPROTOCOL_INFOW.ProviderId).
type GUID struct {
	Data1 uint32
	Data2 uint16
	Data3 uint16
	Data4 [8]byte
}

// String returns the registry form, {XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}.
func (g GUID) String() string {
	return fmt.Sprintf("{%08X-%04X-%04X-%02X%02X-%X}", g.Data1, g.Data2, g.Data3,
		g.Data4[0], g.Data4[1], g.Data4[2:])
}

// IsZero reports whether g is GUID_NULL.
func (g GUID) IsZero() bool { return g == GUID{} }

// ParseGUID parses the form String returns, with or without braces, in
// either case.
func ParseGUID(s string) (GUID, error) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	var g GUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("spi: malformed GUID %q", s)
	}
	hexes := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	var b [16]byte
	if _, err := hex.Decode(b[:], []byte(hexes)); err != nil {
		return g, fmt.Errorf("spi: malformed GUID %q: %w", s, err)
	}
	g.Data1 = uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	g.Data2 = uint16(b[4])<<8 | uint16(b[5])
	g.Data3 = uint16(b[6])<<8 | uint16(b[7])
	copy(g.Data4[:], b[8:])
	return g, nil
}

// MustParseGUID is like [ParseGUID] but panics on a malformed string. It is
// meant for GUID literals in provider code and tests.
func MustParseGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}
