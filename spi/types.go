package spi

import (
	"encoding/binary"
	"net/netip"
)

// Linger models struct linger, the value of SO_LINGER. OnOff 0 is a graceful
// close that returns at once; OnOff nonzero with Linger 0 is a hard reset.
type Linger struct {
	OnOff  uint16
	Linger uint16
}

// LingerSize is the size of struct linger in bytes.
const LingerSize = 4

// MarshalBinary encodes l as struct linger (two little-endian u_shorts).
func (l Linger) MarshalBinary() ([]byte, error) {
	b := make([]byte, LingerSize)
	binary.LittleEndian.PutUint16(b, l.OnOff)
	binary.LittleEndian.PutUint16(b[2:], l.Linger)
	return b, nil
}

// UnmarshalBinary decodes struct linger; a short buffer gives WSAEFAULT.
func (l *Linger) UnmarshalBinary(b []byte) error {
	if len(b) < LingerSize {
		return WSAEFAULT
	}
	l.OnOff = binary.LittleEndian.Uint16(b)
	l.Linger = binary.LittleEndian.Uint16(b[2:])
	return nil
}

// FDSet models fd_set: up to FD_SETSIZE sockets, as WSPSelect and WPUFDIsSet
// use it.
type FDSet struct {
	Count uint32
	Array [FD_SETSIZE]Socket
}

// Set adds s (FD_SET); a full set or a socket already present is left alone.
func (f *FDSet) Set(s Socket) {
	if f.IsSet(s) || f.Count >= FD_SETSIZE {
		return
	}
	f.Array[f.Count] = s
	f.Count++
}

// Clear removes s (FD_CLR).
func (f *FDSet) Clear(s Socket) {
	for i := uint32(0); i < f.Count && i < FD_SETSIZE; i++ {
		if f.Array[i] == s {
			copy(f.Array[i:f.Count], f.Array[i+1:f.Count])
			f.Count--
			f.Array[f.Count] = 0
			return
		}
	}
}

// IsSet reports whether s is in the set, as WPUFDIsSet (FD_ISSET) does.
func (f *FDSet) IsSet(s Socket) bool {
	if f == nil {
		return false
	}
	for i := uint32(0); i < f.Count && i < FD_SETSIZE; i++ {
		if f.Array[i] == s {
			return true
		}
	}
	return false
}

// Zero empties the set (FD_ZERO).
func (f *FDSet) Zero() { *f = FDSet{} }

// Flowspec models FLOWSPEC, one direction of a quality-of-service request.
type Flowspec struct {
	TokenRate          uint32
	TokenBucketSize    uint32
	PeakBandwidth      uint32
	Latency            uint32
	DelayVariation     uint32
	ServiceType        uint32
	MaxSduSize         uint32
	MinimumPolicedSize uint32
}

// QOS models QOS, the quality of service of a connection.
type QOS struct {
	SendingFlowspec   Flowspec
	ReceivingFlowspec Flowspec
	ProviderSpecific  []byte
}

// WSANetworkEvents models WSANETWORKEVENTS, the result of
// WSPEnumNetworkEvents: which FD_* events occurred and the error of each,
// indexed by the event's bit number (FD_READ_BIT = 0, ...).
type WSANetworkEvents struct {
	NetworkEvents int32
	ErrorCode     [FD_MAX_EVENTS]Errno
}

// WSPData models WSPDATA, what WSPStartup reports about the provider.
// Description is at most WSPDESCRIPTION_LEN UTF-16 code units.
type WSPData struct {
	Version     uint16
	HighVersion uint16
	Description string
}

// ConditionFunc models LPCONDITIONPROC, the accept condition function of
// WSPAccept. It returns CF_ACCEPT, CF_REJECT or CF_DEFER and may set
// calleeData and g.
type ConditionFunc func(callerID netip.AddrPort, callerData []byte, sqos, gqos *QOS,
	calleeID netip.AddrPort, calleeData *[]byte, g *Group, callbackData any) int32
