package spi

import "encoding/binary"

// AFD poll: the device control that wepoll, mio and libuv issue on a base
// provider's socket handle with NtDeviceIoControlFile to wait for
// readiness on several sockets through one completion port (docs/facts.md
// §5). The values are those published by ReactOS's afd headers, wepoll and
// mio.

// IOCTL_AFD_POLL is the AFD device control that polls sockets
// (_AFD_CONTROL_CODE(AFD_POLL, METHOD_BUFFERED): 0x00012024).
const IOCTL_AFD_POLL = 0x00012024

// Events of AFD_POLL_HANDLE_INFO.
const (
	AFD_POLL_RECEIVE           = 0x0001 // data to read, or a datagram
	AFD_POLL_RECEIVE_EXPEDITED = 0x0002 // out-of-band data
	AFD_POLL_SEND              = 0x0004 // room to send
	AFD_POLL_DISCONNECT        = 0x0008 // the peer shut its sending side down
	AFD_POLL_ABORT             = 0x0010 // the connection was reset
	AFD_POLL_LOCAL_CLOSE       = 0x0020 // the socket was closed by this process
	AFD_POLL_CONNECT           = 0x0040 // connected (reported on every poll while it is)
	AFD_POLL_ACCEPT            = 0x0080 // a connection waits to be accepted
	AFD_POLL_CONNECT_FAIL      = 0x0100 // a connect failed
	// AFD_POLL_ALL is every event above, what a poller that wants to hear
	// of anything asks for.
	AFD_POLL_ALL = 0x01FF
)

// AFDPollHandleInfo models AFD_POLL_HANDLE_INFO: a socket to poll, the
// events asked for, and after the poll the events that occurred and a
// status.
type AFDPollHandleInfo struct {
	Handle Handle
	Events uint32
	Status NTStatus
}

// AFDPollInfo models AFD_POLL_INFO, the input and output buffer of
// IOCTL_AFD_POLL: the timeout (100 ns units, relative when negative as
// for any NT timeout, absolute when positive; clients pass INT64_MAX to
// wait for ever), whether the poll is exclusive (it then cancels the
// earlier exclusive polls of the same sockets), and the sockets.
type AFDPollInfo struct {
	Timeout   int64
	Exclusive bool
	Handles   []AFDPollHandleInfo
}

// AFD_POLL_INFO's layout is that of 64-bit Windows, whatever the GOARCH:
// a 16-byte header (Timeout, NumberOfHandles, Exclusive) and 16 bytes per
// handle (Handle as 8 bytes, Events, Status), little-endian.
const (
	afdPollHeaderSize = 16
	afdPollEntrySize  = 16
)

// AFDPollInfoSize is the size in bytes of an AFD_POLL_INFO naming n
// handles, in the 64-bit layout the simulator uses.
func AFDPollInfoSize(n int) int { return afdPollHeaderSize + n*afdPollEntrySize }

// Marshal returns the AFD_POLL_INFO as the bytes a client passes to
// NtDeviceIoControlFile, in the 64-bit Windows layout.
func (p *AFDPollInfo) Marshal() []byte {
	b := make([]byte, AFDPollInfoSize(len(p.Handles)))
	p.MarshalTo(b)
	return b
}

// MarshalTo writes the AFD_POLL_INFO into b, which must hold
// AFDPollInfoSize(len(p.Handles)) bytes, and returns that size. It panics
// if b is too short.
func (p *AFDPollInfo) MarshalTo(b []byte) int {
	size := AFDPollInfoSize(len(p.Handles))
	if len(b) < size {
		panic("spi: AFDPollInfo.MarshalTo: buffer too short")
	}
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(p.Timeout))
	le.PutUint32(b[8:], uint32(len(p.Handles)))
	var excl uint32
	if p.Exclusive {
		excl = 1
	}
	le.PutUint32(b[12:], excl)
	for i, h := range p.Handles {
		e := b[afdPollHeaderSize+i*afdPollEntrySize:]
		le.PutUint64(e[0:], uint64(h.Handle))
		le.PutUint32(e[8:], h.Events)
		le.PutUint32(e[12:], uint32(h.Status))
	}
	return size
}

// ParseAFDPollInfo reads an AFD_POLL_INFO from b, as AFD reads its input
// buffer and as a client reads the output after the poll. It fails with
// STATUS_INVALID_PARAMETER when b is shorter than its header or than the
// NumberOfHandles entries it announces, or names no handle.
func ParseAFDPollInfo(b []byte) (AFDPollInfo, error) {
	if len(b) < afdPollHeaderSize {
		return AFDPollInfo{}, STATUS_INVALID_PARAMETER
	}
	le := binary.LittleEndian
	n := le.Uint32(b[8:])
	if n == 0 || uint64(n) > uint64(len(b)-afdPollHeaderSize)/afdPollEntrySize {
		return AFDPollInfo{}, STATUS_INVALID_PARAMETER
	}
	p := AFDPollInfo{
		Timeout:   int64(le.Uint64(b[0:])),
		Exclusive: le.Uint32(b[12:]) != 0,
		Handles:   make([]AFDPollHandleInfo, n),
	}
	for i := range p.Handles {
		e := b[afdPollHeaderSize+i*afdPollEntrySize:]
		p.Handles[i] = AFDPollHandleInfo{
			Handle: Handle(le.Uint64(e[0:])),
			Events: le.Uint32(e[8:]),
			Status: NTStatus(le.Uint32(e[12:])),
		}
	}
	return p, nil
}
