// Package spi is the vocabulary of the Windows Sockets 2 Service Provider
// Interface as wsspi models it: handle and id types, [WSAProtocolInfo] and
// protocol chains, [Overlapped], every WSA and Win32 error code as an [Errno],
// the flag and ioctl constants, and the two function tables that a provider
// and ws2_32 exchange at startup, [WSPProcTable] and [WSPUpcallTable].
//
// The package holds no state. Every other package of the module speaks it.
//
// Citation keys in comments, such as D:wspsend, are defined in docs/facts.md,
// the project's fact sheet, which gives the public source of each fact.
//
// # Names
//
// Constants keep their Windows names and values verbatim (WSAENOBUFS,
// XP1_IFS_HANDLES, LAYERED_PROTOCOL), so a reader can move between this code,
// Microsoft's documentation and real Windows code without a translation table.
// Types and fields are spelled as golang.org/x/sys/windows spells them
// (WSAProtocolInfo.ServiceFlags1, Overlapped.HEvent); what x/sys lacks, the SPI
// side, is named in the same style.
//
// # Where Go differs from C
//
//   - Buffers are [][]byte instead of WSABUF arrays.
//   - Results come back as (value, error) instead of through lpErrno; the error
//     is an [Errno], possibly wrapped in an [*OpError].
//   - A socket context is an any: a DWORD_PTR cannot hold a Go pointer.
//   - Socket addresses are [net/netip.AddrPort] values.
//   - Option values (getsockopt, setsockopt) and ioctl buffers stay byte slices,
//     as in C, so that a layered provider can rewrite what passes through it;
//     [WSAProtocolInfo] and [Linger] have MarshalBinary and UnmarshalBinary for
//     the Windows layouts.
package spi
