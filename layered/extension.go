package layered

import (
	"encoding/binary"
	"net/netip"

	"github.com/wsspi/wsspi/spi"
)

// The extension functions the kit wraps, as the non-IFS sample does in its
// WSPIoctl: SIO_GET_EXTENSION_FUNCTION_POINTER for one of them returns a
// pointer to the layer's own function, which maps the layer's handles to
// the lower ones and substitutes its overlapped, then calls the function
// the layer below returns for the same GUID.

// extensionIoctl reports whether a WSPIoctl call is one the kit answers
// itself: SIO_GET_EXTENSION_FUNCTION_POINTER, not overlapped, for AcceptEx
// or ConnectEx.
func extensionIoctl(code uint32, in []byte, ov *spi.Overlapped) (spi.GUID, bool) {
	if code != spi.SIO_GET_EXTENSION_FUNCTION_POINTER || ov != nil {
		return spi.GUID{}, false
	}
	g, ok := spi.GUIDFromBytes(in)
	return g, ok && (g == spi.WSAID_ACCEPTEX || g == spi.WSAID_CONNECTEX)
}

// extensionPointer answers SIO_GET_EXTENSION_FUNCTION_POINTER for g on
// layered socket h: the layer below must know the function (its error is
// returned otherwise, and its answer is returned unchanged when the
// process cannot register or resolve functions); then the layer's wrapper
// is registered, once per instance and GUID, and its cookie written.
func (in *Instance) extensionPointer(h spi.Socket, g spi.GUID, inBuf, out []byte, thread *spi.ThreadID) (uint32, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return 0, err
	}
	n, err := e.next.ProcTable.WSPIoctl(s.lower, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, inBuf, out, nil, nil, thread)
	if err != nil || e.imports.RegisterExtension == nil || e.imports.ExtensionFunction == nil {
		return n, err
	}
	in.extMu.Lock()
	defer in.extMu.Unlock()
	cookie, ok := in.cookies[g]
	if !ok {
		var fn any = spi.ConnectExFunc(in.connectEx)
		if g == spi.WSAID_ACCEPTEX {
			fn = spi.AcceptExFunc(in.acceptEx)
		}
		cookie = e.imports.RegisterExtension(fn)
		if in.cookies == nil {
			in.cookies = make(map[spi.GUID]uintptr)
		}
		in.cookies[g] = cookie
	}
	binary.LittleEndian.PutUint64(out, uint64(cookie))
	return spi.ExtensionPointerSize, nil
}

// lowerExtension fetches the function the layer below returns for g on
// lower socket lower, asked at each call since a layer may hand out a
// different function for each socket.
func lowerExtension(e *env, lower spi.Socket, g spi.GUID, thread *spi.ThreadID) (any, error) {
	in := g.Bytes()
	var out [spi.ExtensionPointerSize]byte
	if _, err := e.next.ProcTable.WSPIoctl(lower, spi.SIO_GET_EXTENSION_FUNCTION_POINTER, in[:], out[:], nil, nil, thread); err != nil {
		return nil, err
	}
	fn, ok := e.imports.ExtensionFunction(uintptr(binary.LittleEndian.Uint64(out[:])))
	if !ok {
		return nil, spi.WSAEINVAL
	}
	return fn, nil
}

// acceptEx is the layer's AcceptEx: both handles are mapped to the lower
// sockets, the operation is substituted on the listener (where it
// completes, as on Windows), and the first data, if any, goes through
// OnRecv.
func (in *Instance) acceptEx(listen, accept spi.Socket, buf []byte, ov *spi.Overlapped, thread *spi.ThreadID) (uint32, error) {
	e, l, err := in.resolve(listen)
	if err != nil {
		return 0, err
	}
	a, err := in.lookup(e, accept)
	if err != nil {
		return 0, err
	}
	fn, err := lowerExtension(e, l.lower, spi.WSAID_ACCEPTEX, thread)
	if err != nil {
		return 0, err
	}
	lowerAcceptEx, ok := fn.(spi.AcceptExFunc)
	if !ok {
		return 0, spi.WSAEINVAL
	}
	if ov == nil {
		return lowerAcceptEx(l.lower, a.lower, buf, nil, thread)
	}
	o, err := in.begin(e, l, ov, nil, thread)
	if err != nil {
		return 0, err
	}
	if len(buf) > 0 {
		o.recv = true
		if in.p.cfg.Hooks.OnRecv != nil {
			o.bufs = append(o.bufArr[:0], buf)
		}
	}
	n, err := lowerAcceptEx(l.lower, a.lower, buf, &o.ov, &o.thread)
	return in.issued(e, o, n, err)
}

// connectEx is the layer's ConnectEx: the handle is mapped to the lower
// socket, the data to send goes through OnSend, and the operation is
// substituted.
func (in *Instance) connectEx(h spi.Socket, name netip.AddrPort, sendBuf []byte, ov *spi.Overlapped, thread *spi.ThreadID) (uint32, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return 0, err
	}
	fn, err := lowerExtension(e, s.lower, spi.WSAID_CONNECTEX, thread)
	if err != nil {
		return 0, err
	}
	lowerConnectEx, ok := fn.(spi.ConnectExFunc)
	if !ok {
		return 0, spi.WSAEINVAL
	}
	if hook := in.p.cfg.Hooks.OnSend; hook != nil && len(sendBuf) > 0 {
		var joined []byte
		for _, b := range hook(s, [][]byte{sendBuf}) {
			joined = append(joined, b...)
		}
		sendBuf = joined
	}
	if ov == nil {
		return lowerConnectEx(s.lower, name, sendBuf, nil, thread)
	}
	o, err := in.begin(e, s, ov, nil, thread)
	if err != nil {
		return 0, err
	}
	n, err := lowerConnectEx(s.lower, name, sendBuf, &o.ov, &o.thread)
	return in.issued(e, o, n, err)
}
