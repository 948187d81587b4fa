package loopback

import "github.com/wsspi/wsspi/spi"

// OpenAFDHelper opens an AFD helper handle in the provider's process: what
// NtCreateFile on a name under \Device\Afd\ with no extended attributes
// gives wepoll (\Device\Afd\Wepoll) and mio (\Device\Afd\Mio), an AFD file
// object with no endpoint (docs/facts.md §13). It is not a socket: every
// Winsock call on it fails with WSAENOTSOCK. It serves IOCTL_AFD_POLL for
// the process's sockets, which is why pollers use one: the poll's packet
// goes to the helper's completion port, so the polled sockets' own ports
// (a layer's private one, say) play no part. CloseHandle closes it, and
// with it its pending polls (STATUS_CANCELLED); WSPCleanup closes it with
// the process's sockets. It fails with WSANOTINITIALISED when the provider
// is not started and WSAENOBUFS when the handle table is full.
func (p *Provider) OpenAFDHelper() (spi.Handle, error) {
	_, imports, err := p.services()
	if err != nil {
		return 0, err
	}
	s := newSocket(p.n, &helperInfo, true)
	s.helper = true
	fo, err := imports.CreateFileObject(s, true)
	if err != nil {
		return 0, err
	}
	s.fo, s.p, s.h = fo, p, fo.Handle()
	if err := p.register(s.h, s); err != nil {
		fo.Close()
		return 0, err
	}
	return s.h, nil
}

// helperInfo is the protocol info of every AFD helper: none.
var helperInfo spi.WSAProtocolInfo
