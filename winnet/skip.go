package winnet

import (
	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// SkipPolicy chooses which FILE_SKIP_* notification modes a socket of the
// stack gets (SetFileCompletionNotificationModes) right after it is
// associated with the stack's port.
type SkipPolicy int

// The policies.
const (
	// SkipProcessWide is Go's policy: New checks once whether every
	// IPPROTO_TCP entry WSAEnumProtocols lists has XP1_IFS_HANDLES
	// (Microsoft's KB 2568167 warns that a non-IFS layer can deliver a
	// packet for an operation that succeeded at once). If all do, every
	// socket gets FILE_SKIP_SET_EVENT_ON_HANDLE and
	// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS; if one does not, no socket
	// gets either.
	SkipProcessWide SkipPolicy = iota
	// SkipPerSocket is the policy golang/go#77448 proposes: every socket
	// gets FILE_SKIP_SET_EVENT_ON_HANDLE, which is always safe, and
	// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS when its own provider, read with
	// getsockopt(SO_PROTOCOL_INFOW), has XP1_IFS_HANDLES.
	SkipPerSocket
	// SkipNever sets no mode: every operation waits for its packet.
	SkipNever
	// SkipAlways sets both modes on every socket, whatever its provider:
	// the mistake the two policies above avoid. Over a layer that does not
	// honour FILE_SKIP_COMPLETION_PORT_ON_SUCCESS on its handles, an
	// operation that succeeds at once still gets a packet, which the stack
	// counts as stale (Stats.StalePackets) or a later wait of the same
	// direction takes for its own. (The kit of package layered honours the
	// mode, so over it this policy does no harm.)
	SkipAlways
)

// String names the policy as its constant.
func (p SkipPolicy) String() string {
	switch p {
	case SkipProcessWide:
		return "SkipProcessWide"
	case SkipPerSocket:
		return "SkipPerSocket"
	case SkipNever:
		return "SkipNever"
	case SkipAlways:
		return "SkipAlways"
	}
	return "SkipPolicy(?)"
}

const bothModes = spi.FILE_SKIP_SET_EVENT_ON_HANDLE | spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS

// modesFor returns the modes the stack's policy gives fd's socket.
func (st *Stack) modesFor(fd *netFD) uint8 {
	switch st.opts.Skip {
	case SkipProcessWide:
		if st.canSkip {
			return bothModes
		}
		return 0
	case SkipPerSocket:
		if socketIsIFS(fd.wop.th, fd.sock) {
			return bothModes
		}
		return spi.FILE_SKIP_SET_EVENT_ON_HANDLE
	case SkipAlways:
		return bothModes
	}
	return 0
}

// tcpEntriesAreIFS is Go's start-up check: WSAEnumProtocols over
// IPPROTO_TCP, and whether every entry it lists has XP1_IFS_HANDLES. A
// failing enumeration, as in Go, means no.
func tcpEntriesAreIFS(p *wsspi.Process) bool {
	entries, err := p.WSAEnumProtocols([]int32{spi.IPPROTO_TCP})
	if err != nil {
		return false
	}
	for _, e := range entries {
		if e.ServiceFlags1&spi.XP1_IFS_HANDLES == 0 {
			return false
		}
	}
	return true
}

// socketIsIFS reads the protocol info of s's own provider
// (getsockopt(SO_PROTOCOL_INFOW)) and reports whether it has
// XP1_IFS_HANDLES; a failure means no.
func socketIsIFS(th *wsspi.Thread, s spi.Socket) bool {
	buf := make([]byte, spi.WSAProtocolInfoSize)
	n, err := th.Getsockopt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf)
	if err != nil {
		return false
	}
	var info spi.WSAProtocolInfo
	if info.UnmarshalBinary(buf[:n]) != nil {
		return false
	}
	return info.ServiceFlags1&spi.XP1_IFS_HANDLES != 0
}
