package spi

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// WSAProtocolChain models WSAPROTOCOLCHAIN. ChainLen is LAYERED_PROTOCOL (0)
// for a layered entry, BASE_PROTOCOL (1) for a base entry, and 2 to
// MAX_PROTOCOL_CHAIN for a chain, whose ChainEntries run from the top layer
// (index 0) down to the base provider (index ChainLen-1).
type WSAProtocolChain struct {
	ChainLen     int32
	ChainEntries [MAX_PROTOCOL_CHAIN]CatalogEntryId
}

// Entries returns the used part of ChainEntries. For a layered or malformed
// chain it returns nil.
func (c *WSAProtocolChain) Entries() []CatalogEntryId {
	if c.ChainLen < 1 || c.ChainLen > MAX_PROTOCOL_CHAIN {
		return nil
	}
	return c.ChainEntries[:c.ChainLen]
}

// WSAProtocolInfo models WSAPROTOCOL_INFOW, the description of one protocol
// catalog entry. Fields are spelled as in golang.org/x/sys/windows, except
// that ProtocolName is a Go string (szProtocol, at most WSAPROTOCOL_LEN UTF-16
// code units).
type WSAProtocolInfo struct {
	ServiceFlags1     uint32
	ServiceFlags2     uint32
	ServiceFlags3     uint32
	ServiceFlags4     uint32
	ProviderFlags     uint32
	ProviderId        GUID
	CatalogEntryId    CatalogEntryId
	ProtocolChain     WSAProtocolChain
	Version           int32
	AddressFamily     int32
	MaxSockAddr       int32
	MinSockAddr       int32
	SocketType        int32
	Protocol          int32
	ProtocolMaxOffset int32
	NetworkByteOrder  int32
	SecurityScheme    int32
	MessageSize       uint32
	ProviderReserved  uint32
	ProtocolName      string
}

// IsLayered reports whether the entry is a layered (dummy) entry, ChainLen 0.
func (p *WSAProtocolInfo) IsLayered() bool { return p.ProtocolChain.ChainLen == LAYERED_PROTOCOL }

// IsBase reports whether the entry is a base provider entry, ChainLen 1.
func (p *WSAProtocolInfo) IsBase() bool { return p.ProtocolChain.ChainLen == BASE_PROTOCOL }

// IsChain reports whether the entry is a protocol chain, ChainLen 2 or more.
func (p *WSAProtocolInfo) IsChain() bool { return p.ProtocolChain.ChainLen > BASE_PROTOCOL }

// IFS reports whether the entry advertises XP1_IFS_HANDLES.
func (p *WSAProtocolInfo) IFS() bool { return p.ServiceFlags1&XP1_IFS_HANDLES != 0 }

// Hidden reports whether the entry has PFL_HIDDEN.
func (p *WSAProtocolInfo) Hidden() bool { return p.ProviderFlags&PFL_HIDDEN != 0 }

// WSAProtocolInfoSize is the size of WSAPROTOCOL_INFOW in bytes, the layout
// [WSAProtocolInfo.MarshalBinary] writes.
const WSAProtocolInfoSize = 628

const protocolNameOffset = 116

// MarshalBinary encodes p in the WSAPROTOCOL_INFOW layout (little-endian,
// 628 bytes), as getsockopt(SO_PROTOCOL_INFOW) returns it. It fails if
// ProtocolName does not fit in WSAPROTOCOL_LEN UTF-16 code units.
func (p *WSAProtocolInfo) MarshalBinary() ([]byte, error) {
	b := make([]byte, WSAProtocolInfoSize)
	if err := p.PutBinary(b); err != nil {
		return nil, err
	}
	return b, nil
}

// PutBinary is [WSAProtocolInfo.MarshalBinary] into a caller's buffer, which
// must hold at least WSAProtocolInfoSize bytes; a shorter one gives WSAEFAULT,
// as getsockopt does.
func (p *WSAProtocolInfo) PutBinary(b []byte) error {
	if len(b) < WSAProtocolInfoSize {
		return WSAEFAULT
	}
	name := utf16.Encode([]rune(p.ProtocolName))
	if len(name) > WSAPROTOCOL_LEN {
		return fmt.Errorf("spi: protocol name of %d UTF-16 units exceeds WSAPROTOCOL_LEN: %w", len(name), WSAEINVAL)
	}
	le := binary.LittleEndian
	words := []uint32{p.ServiceFlags1, p.ServiceFlags2, p.ServiceFlags3, p.ServiceFlags4, p.ProviderFlags}
	for i, w := range words {
		le.PutUint32(b[4*i:], w)
	}
	le.PutUint32(b[20:], p.ProviderId.Data1)
	le.PutUint16(b[24:], p.ProviderId.Data2)
	le.PutUint16(b[26:], p.ProviderId.Data3)
	copy(b[28:36], p.ProviderId.Data4[:])
	le.PutUint32(b[36:], uint32(p.CatalogEntryId))
	le.PutUint32(b[40:], uint32(p.ProtocolChain.ChainLen))
	for i, id := range p.ProtocolChain.ChainEntries {
		le.PutUint32(b[44+4*i:], uint32(id))
	}
	ints := []int32{p.Version, p.AddressFamily, p.MaxSockAddr, p.MinSockAddr, p.SocketType,
		p.Protocol, p.ProtocolMaxOffset, p.NetworkByteOrder, p.SecurityScheme}
	for i, v := range ints {
		le.PutUint32(b[72+4*i:], uint32(v))
	}
	le.PutUint32(b[108:], p.MessageSize)
	le.PutUint32(b[112:], p.ProviderReserved)
	clear(b[protocolNameOffset:WSAProtocolInfoSize])
	for i, u := range name {
		le.PutUint16(b[protocolNameOffset+2*i:], u)
	}
	return nil
}

// UnmarshalBinary decodes the WSAPROTOCOL_INFOW layout. It fails with
// WSAEFAULT if b is shorter than WSAProtocolInfoSize and with WSAEINVAL if
// szProtocol is not NUL-terminated. Chain fields are copied as they are;
// whether they make sense is for the catalog to judge.
func (p *WSAProtocolInfo) UnmarshalBinary(b []byte) error {
	if len(b) < WSAProtocolInfoSize {
		return WSAEFAULT
	}
	le := binary.LittleEndian
	var name []uint16
	terminated := false
	for i := protocolNameOffset; i < WSAProtocolInfoSize; i += 2 {
		u := le.Uint16(b[i:])
		if u == 0 {
			terminated = true
			break
		}
		name = append(name, u)
	}
	if !terminated {
		return fmt.Errorf("spi: szProtocol is not NUL-terminated: %w", WSAEINVAL)
	}
	*p = WSAProtocolInfo{
		ServiceFlags1: le.Uint32(b[0:]),
		ServiceFlags2: le.Uint32(b[4:]),
		ServiceFlags3: le.Uint32(b[8:]),
		ServiceFlags4: le.Uint32(b[12:]),
		ProviderFlags: le.Uint32(b[16:]),
		ProviderId: GUID{
			Data1: le.Uint32(b[20:]),
			Data2: le.Uint16(b[24:]),
			Data3: le.Uint16(b[26:]),
		},
		CatalogEntryId:    CatalogEntryId(le.Uint32(b[36:])),
		ProtocolChain:     WSAProtocolChain{ChainLen: int32(le.Uint32(b[40:]))},
		Version:           int32(le.Uint32(b[72:])),
		AddressFamily:     int32(le.Uint32(b[76:])),
		MaxSockAddr:       int32(le.Uint32(b[80:])),
		MinSockAddr:       int32(le.Uint32(b[84:])),
		SocketType:        int32(le.Uint32(b[88:])),
		Protocol:          int32(le.Uint32(b[92:])),
		ProtocolMaxOffset: int32(le.Uint32(b[96:])),
		NetworkByteOrder:  int32(le.Uint32(b[100:])),
		SecurityScheme:    int32(le.Uint32(b[104:])),
		MessageSize:       le.Uint32(b[108:]),
		ProviderReserved:  le.Uint32(b[112:]),
		ProtocolName:      string(utf16.Decode(name)),
	}
	copy(p.ProviderId.Data4[:], b[28:36])
	for i := range p.ProtocolChain.ChainEntries {
		p.ProtocolChain.ChainEntries[i] = CatalogEntryId(le.Uint32(b[44+4*i:]))
	}
	return nil
}
