package wsspi

import (
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// DuplicateHandle gives target (p itself, or another process of the same
// machine) a new handle to the socket behind h, as DuplicateHandle does
// with DUPLICATE_SAME_ACCESS, and returns its value in target. Both
// handles name one file object: one socket, one connection, one port
// association for life (a packet of I/O issued through either handle goes
// to the port the file object was associated with, from either process),
// and closing one handle, with closesocket or CloseHandle, cancels
// nothing: the socket ends with its last handle.
//
// Only a base provider's (IFS) socket handle can be duplicated. A handle
// from WPUCreateSocketHandle fails with ERROR_NOT_SUPPORTED: a non-IFS
// layered provider finds its socket by the context it recorded against the
// handle, which a new handle lacks (Microsoft warns that layered providers
// can make DuplicateHandle on sockets fail, and advises WSADuplicateSocket,
// which every provider here serves). Ports, events and threads cannot be
// duplicated in the simulator (ERROR_NOT_SUPPORTED), nor anything into a
// closed process (ERROR_INVALID_HANDLE).
func (p *Process) DuplicateHandle(h spi.Handle, target *Process) (spi.Handle, error) {
	const op = "DuplicateHandle"
	c := p.traceCall(trace.LayerKernel, op, h)
	if target == nil || target.m != p.m || target.kernel.Terminated() {
		return c.endHandle(0, spi.NewOpError(op, h, spi.ERROR_INVALID_HANDLE))
	}
	if _, err := p.ifs.Socket(op, h); err != nil {
		if e, ok := p.table.Lookup(h); ok && e.Object != nil {
			return c.endHandle(0, spi.NewOpError(op, h, spi.ERROR_NOT_SUPPORTED))
		}
		return c.endHandle(0, err)
	}
	return c.endHandle(p.ifs.DuplicateFile(h, target.ifs))
}

// providerDuplicateHandle serves [spi.Imports.DuplicateHandle].
func (p *Process) providerDuplicateHandle(h spi.Handle, pid uint32) (spi.Handle, error) {
	target, ok := p.m.process(pid)
	if !ok || target.kernel.Terminated() {
		return 0, spi.NewOpError("NtDuplicateObject", h, spi.WSAEINVAL)
	}
	d, err := p.ifs.DuplicateFile(h, target.ifs)
	if err != nil && spi.ErrnoOf(err) != spi.WSAENOBUFS {
		return 0, spi.NewOpError("NtDuplicateObject", h, spi.WSAENOTSOCK)
	}
	return d, err
}

// providerFileDriver serves [spi.Imports.FileDriver].
func (p *Process) providerFileDriver(h spi.Handle) (spi.FileDriver, bool) {
	o, err := p.ifs.Socket("", h)
	if err != nil || o.Driver() == nil {
		return nil, false
	}
	return o.Driver(), true
}

// WSADuplicateSocket returns the protocol info with which the process whose
// id is pid (this one included) makes a new descriptor of socket s, as
// WSADuplicateSocketW does: that process passes it to WSASocket
// (FROM_PROTOCOL_INFO, or the socket's own af, type and protocol) once.
// The descriptors share one socket; closing one cancels nothing, and the
// socket ends with its last descriptor. The provider that owns s answers
// (WSPDuplicateSocket): the base provider duplicates its handle into the
// target, as msafd does, and names it in ProviderReserved; a layered
// provider duplicates its lower socket and puts its own catalog entry
// around the lower provider's ProviderReserved, as Microsoft's LSP sample
// does. An unknown pid is WSAEINVAL.
func (t *Thread) WSADuplicateSocket(s spi.Socket, pid uint32) (spi.WSAProtocolInfo, error) {
	const op = "WSADuplicateSocket"
	c := t.traceCall(trace.LayerWinsock, op, s)
	pt, err := t.call(op, s)
	if err != nil {
		return spi.WSAProtocolInfo{}, c.end(err)
	}
	info, err := pt.WSPDuplicateSocket(s, pid)
	return info, c.end(spi.NewOpError(op, s, err))
}
