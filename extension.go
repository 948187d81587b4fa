package wsspi

import (
	"encoding/binary"
	"net/netip"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// extensionBase is the first cookie [Process.registerExtension] hands out;
// cookies step by extensionStep, so they look like code addresses and are
// never 0. On a 64-bit host the base is 0x7ff8_0000_1000, where 64-bit
// Windows maps system DLLs; on a 32-bit host, where a cookie must fit a
// 32-bit uintptr, it is 0x7400_1000, where 32-bit Windows maps them.
// (ptr64 is 1 on a 64-bit host and 0 on a 32-bit one; the shift keeps the
// constant representable on both.)
const (
	ptr64         = ^uintptr(0) >> 63
	extensionBase = (ptr64*0x7ff8)<<32 | (1-ptr64)*0x7400_0000 | 0x1000
	extensionStep = 0x10
)

// registerExtension serves [spi.Imports.RegisterExtension]: it records fn
// and returns its cookie, stable and never reused.
func (p *Process) registerExtension(fn any) uintptr {
	if fn == nil {
		panic("wsspi: RegisterExtension: nil function")
	}
	p.extMu.Lock()
	defer p.extMu.Unlock()
	p.ext = append(p.ext, fn)
	return extensionBase + uintptr(len(p.ext)-1)*extensionStep
}

// ExtensionFunction returns the extension function a provider of the
// process registered under cookie, the "function pointer" that
// WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) wrote, and whether there is
// one. The function has the type the provider registered, such as
// [spi.AcceptExFunc] or [spi.ConnectExFunc]. It is safe for concurrent use.
func (p *Process) ExtensionFunction(cookie uintptr) (any, bool) {
	if cookie < extensionBase || (cookie-extensionBase)%extensionStep != 0 {
		return nil, false
	}
	i := (cookie - extensionBase) / extensionStep
	p.extMu.Lock()
	defer p.extMu.Unlock()
	if i >= uintptr(len(p.ext)) {
		return nil, false
	}
	return p.ext[i], true
}

// extensionFunction fetches the extension function named by id through
// WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) on s, as a client does, and
// fails for op with WSAEFAULT if the pointer names no function and with
// WSAEINVAL if the function is not an F.
func extensionFunction[F any](t *Thread, op string, s spi.Socket, id spi.GUID) (F, error) {
	var none F
	in := id.Bytes()
	var out [spi.ExtensionPointerSize]byte
	if _, err := t.WSAIoctl(s, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, in[:], out[:], nil, nil); err != nil {
		return none, err
	}
	// The pointer is 8 bytes on every host ([spi.ExtensionPointerSize]); on
	// a 32-bit host a value with high bits set is no cookie, not a
	// truncated one.
	v := binary.LittleEndian.Uint64(out[:])
	fn, ok := t.p.ExtensionFunction(uintptr(v))
	if !ok || uint64(uintptr(v)) != v {
		return none, spi.NewOpError(op, s, spi.WSAEFAULT)
	}
	f, ok := fn.(F)
	if !ok {
		return none, spi.NewOpError(op, s, spi.WSAEINVAL)
	}
	return f, nil
}

// AcceptEx fetches AcceptEx with WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER,
// [spi.WSAID_ACCEPTEX]) on listen, as a client does, and calls it: it
// accepts the next connection of listen onto accept, a socket that is
// neither bound nor connected, and with buf not empty also receives the
// first data into it (see [spi.AcceptExFunc]). ov is required; the
// completion comes through listen's port or ov's event, and the overlapped
// rules of [Thread.WSASend] apply. After it completes, the client may call
// setsockopt(SO_UPDATE_ACCEPT_CONTEXT) on accept.
func (t *Thread) AcceptEx(listen, accept spi.Socket, buf []byte, ov *spi.Overlapped) (uint32, error) {
	acceptEx, err := extensionFunction[spi.AcceptExFunc](t, "AcceptEx", listen, spi.WSAID_ACCEPTEX)
	if err != nil {
		return 0, err
	}
	c := t.traceCall(trace.LayerWinsock, "AcceptEx", listen, buf)
	n, err := acceptEx(listen, accept, buf, ov, &t.id)
	return c.endN(n, spi.NewOpError("AcceptEx", listen, err))
}

// ConnectEx fetches ConnectEx with
// WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER, [spi.WSAID_CONNECTEX]) on s,
// as a client does, and calls it: it connects s, which must be bound, to
// name and sends sendBuf, if not empty (see [spi.ConnectExFunc]). ov is
// required, and the overlapped rules of [Thread.WSASend] apply. After it
// completes, the client may call setsockopt(SO_UPDATE_CONNECT_CONTEXT) on s.
func (t *Thread) ConnectEx(s spi.Socket, name netip.AddrPort, sendBuf []byte, ov *spi.Overlapped) (uint32, error) {
	connectEx, err := extensionFunction[spi.ConnectExFunc](t, "ConnectEx", s, spi.WSAID_CONNECTEX)
	if err != nil {
		return 0, err
	}
	c := t.traceCall(trace.LayerWinsock, "ConnectEx", s, sendBuf)
	n, err := connectEx(s, name, sendBuf, ov, &t.id)
	return c.endN(n, spi.NewOpError("ConnectEx", s, err))
}
