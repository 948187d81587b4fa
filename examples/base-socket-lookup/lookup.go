package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// A lookup finds the base provider's socket under a socket a client made,
// the socket AFD poll needs.
type lookup struct {
	name string
	find func(th *wsspi.Thread, s spi.Socket) (spi.Socket, error)
}

var lookups = []lookup{
	{"SIO_BASE_HANDLE only", baseHandleOnly},
	{"mio's fallbacks", mioFallbacks},
	{"wepoll's loop", wepollLoop},
}

// ioctlSocket asks s for a socket with the ioctl code, blocking.
func ioctlSocket(th *wsspi.Thread, s spi.Socket, code uint32) (spi.Socket, error) {
	out := make([]byte, 8)
	if _, err := th.WSAIoctl(s, code, nil, out, nil, nil); err != nil {
		return 0, err
	}
	return spi.Socket(binary.LittleEndian.Uint64(out)), nil
}

// baseHandleOnly asks for SIO_BASE_HANDLE and nothing else, as mio 0.7.0
// and trio did before the reports of tokio-rs/mio#1314 and
// python-trio/trio#1659.
func baseHandleOnly(th *wsspi.Thread, s spi.Socket) (spi.Socket, error) {
	b, err := ioctlSocket(th, s, spi.SIO_BASE_HANDLE)
	if err != nil {
		return 0, fmt.Errorf("SIO_BASE_HANDLE: %w", err)
	}
	return b, nil
}

// mioFallbacks is mio's lookup since tokio-rs/mio#1316: SIO_BASE_HANDLE,
// and if it fails, SIO_BSP_HANDLE_SELECT, SIO_BSP_HANDLE_POLL and
// SIO_BSP_HANDLE in turn, taking the first answer that is another socket;
// if none is, the first error.
func mioFallbacks(th *wsspi.Thread, s spi.Socket) (spi.Socket, error) {
	b, err := ioctlSocket(th, s, spi.SIO_BASE_HANDLE)
	if err == nil {
		return b, nil
	}
	for _, code := range []uint32{spi.SIO_BSP_HANDLE_SELECT, spi.SIO_BSP_HANDLE_POLL, spi.SIO_BSP_HANDLE} {
		if b, ferr := ioctlSocket(th, s, code); ferr == nil && b != s {
			return b, nil
		}
	}
	return 0, fmt.Errorf("SIO_BASE_HANDLE: %w", err)
}

// wepollLoop is wepoll's ws_get_base_socket: SIO_BASE_HANDLE; on an error
// other than WSAENOTSOCK, SIO_BSP_HANDLE_POLL, and on an answer that is
// another socket, SIO_BASE_HANDLE again on that one, peeling a layer a
// round.
func wepollLoop(th *wsspi.Thread, s spi.Socket) (spi.Socket, error) {
	for {
		b, err := ioctlSocket(th, s, spi.SIO_BASE_HANDLE)
		if err == nil {
			return b, nil
		}
		if errors.Is(err, spi.WSAENOTSOCK) {
			return 0, fmt.Errorf("SIO_BASE_HANDLE: %w", err)
		}
		next, perr := ioctlSocket(th, s, spi.SIO_BSP_HANDLE_POLL)
		if perr != nil || next == s {
			return 0, fmt.Errorf("SIO_BASE_HANDLE: %w", err)
		}
		s = next
	}
}
