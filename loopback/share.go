package loopback

import (
	"cmp"
	"slices"

	"github.com/wsspi/wsspi/spi"
)

// Shared sockets. A socket may have several descriptors, in this process
// or in others: WSPDuplicateSocket gives the target process a new handle to
// the socket's file object (as msafd duplicates the AFD handle into the
// target) and names it in ProviderReserved; WSPSocket with that protocol
// info takes it up, once. A handle that DuplicateHandle made is taken up
// the first time a call names it, as msafd's SockImportHandle does. Each
// process's copy of the provider keeps its own descriptors in its table;
// the socket itself, with its connection, is one. Closing a descriptor
// that is not the last (WSPCloseSocket, or the last WSPCleanup of its
// process) closes only its handle and cancels nothing; the last one closes
// the socket, as closesocket documents for shared sockets.

// imported returns the socket behind a handle of the process the provider
// did not make or take up yet, registering it; nil if h is no socket of
// this network.
func (p *Provider) imported(h spi.Socket) *socket {
	_, imports, err := p.services()
	if err != nil || imports.FileDriver == nil {
		return nil
	}
	d, ok := imports.FileDriver(h)
	if !ok {
		return nil
	}
	s, ok := d.(*socket)
	if !ok || s.n != p.n {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.starts == 0 {
		return nil
	}
	if prior := p.socks[h]; prior != nil {
		return prior
	}
	p.socks[h] = s
	return s
}

// duplicate serves WSPDuplicateSocket: a new handle to s's file object in
// process pid, named in the ProviderReserved of the socket's own catalog
// entry.
func (p *Provider) duplicate(h spi.Socket, pid uint32) (spi.WSAProtocolInfo, error) {
	s, err := p.lookup(h)
	if err != nil {
		return spi.WSAProtocolInfo{}, err
	}
	_, imports, err := p.services()
	if err != nil {
		return spi.WSAProtocolInfo{}, err
	}
	if imports.DuplicateHandle == nil {
		return spi.WSAProtocolInfo{}, spi.WSAEOPNOTSUPP
	}
	d, err := imports.DuplicateHandle(h, pid)
	if err != nil {
		return spi.WSAProtocolInfo{}, spi.ErrnoOf(err)
	}
	info := *s.info
	info.ProviderReserved = uint32(d)
	return info, nil
}

// takeUp serves WSPSocket with the protocol info of WSPDuplicateSocket: the
// handle it names must be a socket of this network that this process has
// not taken up yet (WSAEINVAL otherwise: the info serves once).
func (p *Provider) takeUp(reserved uint32) (spi.Socket, error) {
	h := spi.Socket(reserved)
	p.mu.RLock()
	_, known := p.socks[h]
	p.mu.RUnlock()
	if known {
		return spi.INVALID_SOCKET, spi.WSAEINVAL
	}
	if p.imported(h) == nil {
		return spi.INVALID_SOCKET, spi.WSAEINVAL
	}
	return h, nil
}

// release closes descriptor h of s: it reports whether h was the socket's
// last descriptor, which the caller closes the socket for; otherwise only
// the handle closed. A handle the client closed already with CloseHandle
// reports false.
func (p *Provider) release(h spi.Socket) bool {
	_, imports, err := p.services()
	if err != nil {
		return true
	}
	return release(imports, h)
}

// release is Provider.release with the given services.
func release(imports spi.Imports, h spi.Socket) bool {
	if imports.ReleaseFileHandle == nil {
		return true // a system without shared sockets
	}
	last, err := imports.ReleaseFileHandle(h)
	return err == nil && last
}

// releaseAll closes the descriptors of the last WSPCleanup and returns the
// sockets they were the last descriptors of, in handle order.
func releaseAll(imports spi.Imports, socks map[spi.Socket]*socket) []*socket {
	hs := make([]spi.Socket, 0, len(socks))
	for h := range socks {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, cmp.Compare)
	var last []*socket
	for _, h := range hs {
		if release(imports, h) {
			last = append(last, socks[h])
		}
	}
	return last
}
