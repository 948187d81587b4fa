package wild

import (
	"encoding/binary"
	"net/netip"
	"sync"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// InstallOwnExtensions installs, over the entries over, OwnExtensions: the
// kit of package layered, except that SIO_GET_EXTENSION_FUNCTION_POINTER
// for AcceptEx or ConnectEx hands out a function of its own for each
// socket it is asked on. python-trio/trio#52 notes that an LSP may replace
// these pointers per socket, so that a client caching one pointer for the
// whole process, as Twisted and asyncio do, is wrong; quinn-rs/quinn#2825
// is a later crash from reusing a WSARecvMsg pointer across sockets
// (docs/facts.md §14.1, §15.4).
//
// Each function serves only the socket it was fetched for (for AcceptEx,
// the listening socket): called with any other socket, it fails with
// WSAENOTSOCK before anything starts, the package's choice of a failure a
// client can see (what a real LSP's function does with a socket it was not
// made for is undocumented). Asked twice on one socket, the layer returns
// the same function. It returns the provider (its Stats) and its entries.
func InstallOwnExtensions(m layered.Machine, over ...spi.CatalogEntryId) (*layered.Provider, catalog.LSPEntries, error) {
	return installWrappedKit(m, ownExtensionsID, over, layered.Config{}, func(t *spi.WSPProcTable, im spi.Imports) {
		own := &ownExtensions{im: im, kitIoctl: t.WSPIoctl, cookies: map[extKey]uintptr{}}
		t.WSPIoctl = own.ioctl
	})
}

// ownExtensions is OwnExtensions as loaded into one process: the kit's
// WSPIoctl and the functions it handed out, by socket and GUID.
type ownExtensions struct {
	im       spi.Imports
	kitIoctl func(s spi.Socket, code uint32, in, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error)

	mu      sync.Mutex
	cookies map[extKey]uintptr // guarded by mu
}

// extKey names a function the layer handed out: for which socket, which
// GUID. A socket value closed and made again finds the function of the
// old socket, which serves the new one just as well, since it names its
// socket by value.
type extKey struct {
	s spi.Socket
	g spi.GUID
}

// ioctl is the layer's WSPIoctl: the kit's, with the answer to
// SIO_GET_EXTENSION_FUNCTION_POINTER for AcceptEx and ConnectEx replaced by
// the socket's own function.
func (o *ownExtensions) ioctl(s spi.Socket, code uint32, in, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
	n, err := o.kitIoctl(s, code, in, out, ov, cr, th)
	g, ok := spi.GUIDFromBytes(in)
	if err != nil || code != spi.SIO_GET_EXTENSION_FUNCTION_POINTER || ov != nil || !ok ||
		(g != spi.WSAID_ACCEPTEX && g != spi.WSAID_CONNECTEX) || o.im.RegisterExtension == nil {
		return n, err
	}
	kitFn, ok := o.im.ExtensionFunction(uintptr(binary.LittleEndian.Uint64(out)))
	if !ok {
		return n, err
	}
	binary.LittleEndian.PutUint64(out, uint64(o.cookie(extKey{s, g}, kitFn)))
	return n, nil
}

// cookie returns the cookie of the function for k, registering one that
// calls kitFn on k's socket alone the first time.
func (o *ownExtensions) cookie(k extKey, kitFn any) uintptr {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, ok := o.cookies[k]; ok {
		return c
	}
	var fn any
	switch f := kitFn.(type) {
	case spi.AcceptExFunc:
		fn = spi.AcceptExFunc(func(listen, accept spi.Socket, buf []byte, ov *spi.Overlapped, th *spi.ThreadID) (uint32, error) {
			if listen != k.s {
				return 0, spi.WSAENOTSOCK
			}
			return f(listen, accept, buf, ov, th)
		})
	case spi.ConnectExFunc:
		fn = spi.ConnectExFunc(func(s spi.Socket, name netip.AddrPort, buf []byte, ov *spi.Overlapped, th *spi.ThreadID) (uint32, error) {
			if s != k.s {
				return 0, spi.WSAENOTSOCK
			}
			return f(s, name, buf, ov, th)
		})
	default:
		fn = kitFn
	}
	c := o.im.RegisterExtension(fn)
	o.cookies[k] = c
	return c
}
