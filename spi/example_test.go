package spi_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/wsspi/wsspi/spi"
)

// Every simulated call fails with an [*spi.OpError] naming the Windows
// function and the handle, around an [spi.Errno] with the Windows value.
// errors.Is and errors.As see through the wrapper, and Errno also matches
// the portable errors of the standard library.
func ExampleOpError() {
	var err error = &spi.OpError{Op: "WSARecv", Handle: 0x1c, Err: spi.WSAECONNRESET}
	fmt.Println(err)
	fmt.Println(errors.Is(err, spi.WSAECONNRESET), spi.ErrnoOf(err) == 10054)

	var oe *spi.OpError
	if errors.As(err, &oe) {
		fmt.Println(oe.Op, oe.Handle)
	}
	fmt.Println("temporary:", oe.Temporary())

	// A call on a closed socket is WSAENOTSOCK, which is also os.ErrClosed.
	closed := &spi.OpError{Op: "WSASend", Handle: 0x1c, Err: spi.WSAENOTSOCK}
	fmt.Println(errors.Is(closed, os.ErrClosed))
	// Output:
	// WSARecv 0x1c: connection reset by peer (10054)
	// true true
	// WSARecv 0x1c
	// temporary: true
	// true
}

// NewOpError wraps an error once with its operation: a provider's error
// that already names the call passes through unchanged, and nil stays
// nil, so a call can end with return spi.NewOpError(op, s, err).
func ExampleNewOpError() {
	inner := spi.NewOpError("WSASocket", 0, spi.WSAEAFNOSUPPORT)
	fmt.Println(spi.NewOpError("WSASocket", 0, inner))
	fmt.Println(spi.NewOpError("WSASend", 0x1c, nil) == nil)
	// Output:
	// WSASocket: address family not supported (10047)
	// true
}

// Overlapped.Internal holds an NTSTATUS, and each API family reports it
// its own way: kernel32 calls (GetQueuedCompletionStatus, ReadFile,
// GetOverlappedResult) through RtlNtStatusToDosError, Winsock calls
// (WSAGetOverlappedResult, a completion routine's dwError) through
// NtStatusToWinsockError.
func ExampleNtStatusToWinsockError() {
	for _, s := range []spi.NTStatus{spi.STATUS_SUCCESS, spi.STATUS_CONNECTION_RESET, spi.STATUS_CANCELLED, spi.STATUS_BUFFER_OVERFLOW} {
		fmt.Printf("%-40v kernel32 %-5d Winsock %d\n", s, spi.RtlNtStatusToDosError(s), spi.NtStatusToWinsockError(s))
	}
	// Output:
	// STATUS_SUCCESS (0x00000000)              kernel32 0     Winsock 0
	// STATUS_CONNECTION_RESET (0xC000020D)     kernel32 64    Winsock 10054
	// STATUS_CANCELLED (0xC0000120)            kernel32 995   Winsock 995
	// STATUS_BUFFER_OVERFLOW (0x80000005)      kernel32 234   Winsock 10040
}

// A provider that reports a Winsock code gets a status stored for it: the
// status whose Winsock mapping is that code, or, for a code with no
// status of its own, the code wrapped in facility NTWIN32. Either way the
// client hears the code back.
func ExampleWinsockErrorToNtStatus() {
	for _, e := range []spi.Errno{spi.WSAECONNRESET, spi.WSAEPROVIDERFAILEDINIT} {
		s := spi.WinsockErrorToNtStatus(e)
		fmt.Printf("%d -> %v -> %d\n", e, s, spi.NtStatusToWinsockError(s))
	}
	// Output:
	// 10054 -> STATUS_CONNECTION_RESET (0xC000020D) -> 10054
	// 10106 -> NTSTATUS 0xC007277A (Win32 code 10106) -> 10106
}

// A protocol chain lists its layers from the top down to the base
// provider, and MarshalBinary lays a WSAPROTOCOL_INFOW out as Windows
// does, the bytes getsockopt(SO_PROTOCOL_INFOW) fills.
func ExampleWSAProtocolInfo() {
	info := spi.WSAProtocolInfo{
		ServiceFlags1:  spi.XP1_IFS_HANDLES,
		CatalogEntryId: 1006,
		ProtocolChain:  spi.WSAProtocolChain{ChainLen: 2, ChainEntries: [spi.MAX_PROTOCOL_CHAIN]spi.CatalogEntryId{1005, 1001}},
		AddressFamily:  spi.AF_INET,
		SocketType:     spi.SOCK_STREAM,
		Protocol:       spi.IPPROTO_TCP,
		ProtocolName:   "Byte counter over [TCP/IP]",
	}
	fmt.Println(info.IsChain(), info.ProtocolChain.Entries(), info.IFS())

	b, err := info.MarshalBinary()
	if err != nil {
		panic(err)
	}
	var back spi.WSAProtocolInfo
	if err := back.UnmarshalBinary(b); err != nil {
		panic(err)
	}
	fmt.Println(len(b) == spi.WSAProtocolInfoSize, back == info)
	// Output:
	// true [1005 1001] true
	// true true
}
