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
// is registered, once per instance and GUID, and its cookie written. e and
// s are the instance's environment and the socket of the call.
func (in *Instance) extensionPointer(e *env, s *Socket, g spi.GUID, inBuf, out []byte, thread *spi.ThreadID) (uint32, error) {
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
// OnRecv. Before and After see it as an OpAccept on the listener, with
// the accept socket in Accepted and the first data in Bufs.
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
	hooks := &in.p.cfg.Hooks
	describe := func(c *Call, overlapped bool) {
		*c = Call{Op: OpAccept, Func: fnAcceptEx, Socket: l, Overlapped: overlapped, Accepted: a,
			size: uint32(len(buf)), sized: true}
		if len(buf) > 0 {
			c.Bufs = [][]byte{buf}
		}
	}
	if ov == nil {
		if !hooks.acts() {
			return lowerAcceptEx(l.lower, a.lower, buf, nil, thread)
		}
		c := new(Call)
		describe(c, false)
		return in.sync(l, c, func(c *Call) (uint32, error) {
			return lowerAcceptEx(l.lower, a.lower, buf, nil, thread)
		}, nil)
	}
	o, err := in.begin(e, l, ov, nil, thread)
	if err != nil {
		return 0, err
	}
	if len(buf) > 0 {
		o.recv = true
		if hooks.OnRecv != nil || hooks.After != nil {
			o.bufs = append(o.bufArr[:0], buf)
		}
	}
	if hooks.acts() {
		describe(&o.call, true)
		if hooks.Before != nil {
			if done, n, err := in.before(e, o, hooks.Before(&o.call)); done {
				return n, err
			}
		}
	}
	n, err := lowerAcceptEx(l.lower, a.lower, buf, &o.ov, &o.thread)
	return in.issued(e, o, n, err)
}

// connectEx is the layer's ConnectEx: the handle is mapped to the lower
// socket, the data to send goes through OnSend, and the operation is
// substituted. Before and After see it as an OpConnect, with its data in
// Bufs (Before may change them and the address).
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
	hooks := &in.p.cfg.Hooks
	describe := func(c *Call, overlapped bool) {
		*c = Call{Op: OpConnect, Func: fnConnectEx, Socket: s, Overlapped: overlapped, Addr: name,
			size: uint32(len(sendBuf)), sized: true}
		if len(sendBuf) > 0 {
			c.Bufs = [][]byte{sendBuf}
		}
	}
	// adopt takes what Before left in c, and OnSend's change.
	adopt := func(c *Call) {
		if c != nil {
			name, sendBuf = c.Addr, joined(c.Bufs)
		}
		if hook := hooks.OnSend; hook != nil && len(sendBuf) > 0 {
			sendBuf = joined(hook(s, [][]byte{sendBuf}))
		}
	}
	if ov == nil {
		if !hooks.acts() {
			adopt(nil)
			return lowerConnectEx(s.lower, name, sendBuf, nil, thread)
		}
		c := new(Call)
		describe(c, false)
		return in.sync(s, c, func(c *Call) (uint32, error) {
			adopt(c)
			c.Bufs = nil
			if len(sendBuf) > 0 {
				c.Bufs = [][]byte{sendBuf}
			}
			return lowerConnectEx(s.lower, name, sendBuf, nil, thread)
		}, nil)
	}
	o, err := in.begin(e, s, ov, nil, thread)
	if err != nil {
		return 0, err
	}
	var c *Call
	if hooks.acts() {
		c = &o.call
		describe(c, true)
		if hooks.Before != nil {
			v := hooks.Before(c)
			if done, n, err := in.before(e, o, v); done {
				return n, err
			}
		}
	}
	adopt(c)
	if hooks.After != nil && len(sendBuf) > 0 {
		o.bufs = append(o.bufArr[:0], sendBuf)
	}
	n, err := lowerConnectEx(s.lower, name, sendBuf, &o.ov, &o.thread)
	return in.issued(e, o, n, err)
}

// joined returns bufs as one buffer: bufs[0] itself when there is one.
func joined(bufs [][]byte) []byte {
	switch len(bufs) {
	case 0:
		return nil
	case 1:
		return bufs[0]
	}
	var b []byte
	for _, x := range bufs {
		b = append(b, x...)
	}
	return b
}
