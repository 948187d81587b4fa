package wsspi

import (
	"encoding/binary"

	"github.com/wsspi/wsspi/spi"
)

// WSAEventSelect asks for the network events in lNetworkEvents (FD_READ,
// FD_WRITE, ...) of s to be recorded and event set when one is, as
// WSAEventSelect does; read and clear them with
// [Thread.WSAEnumNetworkEvents]. Each event is recorded once and again only
// after the call that re-enables it (recv for FD_READ, a send that failed
// with WSAEWOULDBLOCK for FD_WRITE, accept for FD_ACCEPT; FD_CONNECT and
// FD_CLOSE once), as the provider implements Windows' rules (see the
// loopback package). A nonzero selection makes s non-blocking, and
// FIONBIO cannot make it blocking again (WSAEINVAL) until lNetworkEvents 0
// cancels the selection. It replaces an earlier WSAAsyncSelect. The
// socket's provider serves it (WSPEventSelect); a layer passes it down.
func (t *Thread) WSAEventSelect(s spi.Socket, event spi.Handle, lNetworkEvents int32) error {
	return t.winsock("WSAEventSelect", s, func(pt *spi.WSPProcTable) error {
		return pt.WSPEventSelect(s, event, lNetworkEvents)
	})
}

// WSAEnumNetworkEvents reports the network events recorded for s since the
// last call, each with its error indexed by its FD_*_BIT number, clears
// them, and resets event when it is not 0, as WSAEnumNetworkEvents does
// (WSPEnumNetworkEvents).
func (t *Thread) WSAEnumNetworkEvents(s spi.Socket, event spi.Handle) (spi.WSANetworkEvents, error) {
	var ne spi.WSANetworkEvents
	err := t.winsock("WSAEnumNetworkEvents", s, func(pt *spi.WSPProcTable) (err error) {
		ne, err = pt.WSPEnumNetworkEvents(s, event)
		return err
	})
	return ne, err
}

// WSAAsyncSelect asks for a window message for each network event in
// lEvent of s, as WSAAsyncSelect does: msg is posted to hWnd with wParam
// the socket and lParam [spi.WSAMAKESELECTREPLY](event, error). The
// simulator has no windows: the messages are queued for the process (see
// [Process.GetMessage] and [Process.PostedMessages]). The recording and
// re-enabling rules, the non-blocking mode and the cancellation with
// lEvent 0 are those of [Thread.WSAEventSelect], which it replaces. The
// socket's provider serves it (WSPAsyncSelect); a non-IFS layer has the
// lower socket's messages posted to a window of its own and reposts them
// with its own handle.
func (t *Thread) WSAAsyncSelect(s spi.Socket, hWnd spi.HWND, msg uint32, lEvent int32) error {
	return t.winsock("WSAAsyncSelect", s, func(pt *spi.WSPProcTable) error {
		return pt.WSPAsyncSelect(s, hWnd, msg, lEvent)
	})
}

// Ioctlsocket controls the mode of s, as ioctlsocket does: FIONBIO sets
// (*argp nonzero) or clears non-blocking mode, FIONREAD sets *argp to the
// bytes a receive would return at once, SIOCATMARK to whether no urgent
// data waits. It is WSAIoctl with a 4-byte u_long in and out, as ws2_32
// implements it; clearing FIONBIO while WSAEventSelect or WSAAsyncSelect
// is on fails with WSAEINVAL. A nil argp is WSAEFAULT.
func (t *Thread) Ioctlsocket(s spi.Socket, cmd uint32, argp *uint32) error {
	const op = "ioctlsocket"
	if argp == nil {
		return t.winsock(op, s, func(*spi.WSPProcTable) error { return spi.WSAEFAULT })
	}
	var in, out [4]byte
	binary.LittleEndian.PutUint32(in[:], *argp)
	return t.winsock(op, s, func(pt *spi.WSPProcTable) error {
		var outBuf []byte
		if cmd != spi.FIONBIO {
			outBuf = out[:]
		}
		n, err := pt.WSPIoctl(s, cmd, in[:], outBuf, nil, nil, &t.id)
		if err == nil && n >= 4 {
			*argp = binary.LittleEndian.Uint32(out[:])
		}
		return err
	})
}
