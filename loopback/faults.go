package loopback

import "github.com/wsspi/wsspi/spi"

// Faults makes the provider misbehave in the ways Windows allows a base
// provider to, so that tests reach the error paths of the code above it:
// a startup that fails, a connection reset by the network, a short
// transfer, an operation that fails before it starts. Set it with
// [Options.Faults]; with none, the provider pays one nil check per
// call. Package spitest has an implementation whose faults are
// chosen by a test. Implementations must be safe for concurrent use.
type Faults interface {
	// StartupFault is asked at every WSPStartup; a non-nil error fails
	// that WSPStartup, which returns it.
	StartupFault() error
	// TransferFault is asked as a send or a receive on a stream socket
	// starts (WSPSend, WSPRecv, WriteFile and ReadFile, overlapped
	// or not), with the socket's handle and the bytes the call asks to
	// move.
	TransferFault(s spi.Socket, send bool, size int) Fault
}

// Fault is what [Faults] decides for one transfer: one WSPSend, WSPRecv,
// WriteFile or ReadFile on a stream socket. The zero value is no fault.
type Fault struct {
	// Fail, when not 0, fails the call at once with this code, as a
	// WSPSend or WSPRecv that returns SOCKET_ERROR: nothing starts and
	// nothing is notified.
	Fail spi.Errno
	// Reset resets the connection first, as an RST from the peer would:
	// the socket loses its unread bytes, and this call and every pending
	// and later operation on it fail with WSAECONNRESET (the peer's with
	// WSAECONNABORTED).
	Reset bool
	// Short, when positive and below the size of the call, caps the
	// transfer: a receive returns at most Short bytes, leaving the rest
	// buffered; a send moves only its first Short bytes and completes with
	// that count, and the rest is never sent.
	Short int
}

// transferFault applies the fault Faults decides for a transfer of bufs
// starting on s: it returns the buffers to use (cut to the short length)
// or the error that fails the call.
func (s *socket) transferFault(bufs [][]byte, send bool) ([][]byte, error) {
	n := s.n
	size := totalLen(bufs)
	f := n.faults.TransferFault(s.h, send, size)
	if f.Fail != 0 {
		return nil, f.Fail
	}
	if f.Reset {
		var fl flushList
		n.mu.Lock()
		if d := s.peer; d != nil && !s.closed {
			n.resetConnLocked(d, &fl)
		}
		n.mu.Unlock()
		fl.flush()
	}
	if f.Short <= 0 || f.Short >= size {
		return bufs, nil
	}
	cut := make([][]byte, 0, len(bufs))
	left := f.Short
	for _, b := range bufs {
		if left == 0 {
			break
		}
		b = b[:min(len(b), left)]
		left -= len(b)
		cut = append(cut, b)
	}
	return cut, nil
}
