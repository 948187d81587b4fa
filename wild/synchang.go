package wild

import (
	"net/netip"
	"sync"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// InstallSyncHang installs, over the entries over, SyncHang: the kit of
// package layered, except that on a socket made without
// WSA_FLAG_OVERLAPPED (as socket() makes one in a thread whose SO_OPENTYPE
// is SO_SYNCHRONOUS_NONALERT or SO_SYNCHRONOUS_ALERT) it treats an
// overlapped send or receive as the SPI documents for such a socket: it
// ignores the overlapped and serves the call blocking (D:wspsend;
// docs/facts.md §2.5), so no completion is ever reported for it. Called by
// a client, that is only a synchronous answer; but ReadFile and WriteFile
// on the layer's handle reach it through ws2_32's redirector as overlapped
// WSPRecv and WSPSend calls, and the redirector waits for their completion,
// which never comes: the file call hangs. That is Perl/perl5#6860: Perl
// set SO_SYNCHRONOUS_NONALERT, socket() picked the non-IFS LSP's chain
// first, and print, a WriteFile, never returned in client or server; the
// cure was a socket made with WSASocket on an IFS entry (docs/facts.md
// §14.1). The kit instead refuses such calls with WSAEINVAL, the other
// answer the SPI allows. It returns the provider (its Stats) and its
// entries.
func InstallSyncHang(m layered.Machine, over ...spi.CatalogEntryId) (*layered.Provider, catalog.LSPEntries, error) {
	return installWrappedKit(m, syncHangID, over, layered.Config{}, func(t *spi.WSPProcTable, _ spi.Imports) {
		h := &syncHang{plain: map[spi.Socket]bool{}}
		h.wrap(t)
	})
}

// syncHang is SyncHang as loaded into one process: the sockets it made
// without WSA_FLAG_OVERLAPPED.
type syncHang struct {
	mu    sync.Mutex
	plain map[spi.Socket]bool // guarded by mu
}

func (h *syncHang) isPlain(s spi.Socket) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.plain[s]
}

func (h *syncHang) set(s spi.Socket, plain bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if plain {
		h.plain[s] = true
	} else {
		delete(h.plain, s)
	}
}

// wrap rewrites the kit's table t: WSPSocket and WSPAccept note the
// sockets that are not overlapped, WSPCloseSocket forgets them, and the
// sends and receives drop the overlapped of a call on one.
func (h *syncHang) wrap(t *spi.WSPProcTable) {
	socket, accept, closeSocket := t.WSPSocket, t.WSPAccept, t.WSPCloseSocket
	send, recv, sendTo, recvFrom := t.WSPSend, t.WSPRecv, t.WSPSendTo, t.WSPRecvFrom
	t.WSPSocket = func(af, typ, protocol int32, info *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
		s, err := socket(af, typ, protocol, info, g, flags)
		if err == nil && flags&spi.WSA_FLAG_OVERLAPPED == 0 {
			h.set(s, true)
		}
		return s, err
	}
	t.WSPAccept = func(l spi.Socket, cond spi.ConditionFunc, data any) (spi.Socket, netip.AddrPort, error) {
		s, addr, err := accept(l, cond, data)
		if err == nil && h.isPlain(l) {
			h.set(s, true) // an accepted socket has its listener's attributes
		}
		return s, addr, err
	}
	t.WSPCloseSocket = func(s spi.Socket) error {
		err := closeSocket(s)
		if err == nil {
			h.set(s, false)
		}
		return err
	}
	t.WSPSend = func(s spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		if h.isPlain(s) {
			ov, cr = nil, nil
		}
		return send(s, bufs, flags, ov, cr, th)
	}
	t.WSPRecv = func(s spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		if h.isPlain(s) {
			ov, cr = nil, nil
		}
		return recv(s, bufs, flags, ov, cr, th)
	}
	t.WSPSendTo = func(s spi.Socket, bufs [][]byte, flags uint32, to netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		if h.isPlain(s) {
			ov, cr = nil, nil
		}
		return sendTo(s, bufs, flags, to, ov, cr, th)
	}
	t.WSPRecvFrom = func(s spi.Socket, bufs [][]byte, flags *uint32, from *netip.AddrPort, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		if h.isPlain(s) {
			ov, cr = nil, nil
		}
		return recvFrom(s, bufs, flags, from, ov, cr, th)
	}
}
