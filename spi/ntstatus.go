package spi

import "strconv"

// NTStatus is an NTSTATUS value, the status the I/O manager keeps in an
// IO_STATUS_BLOCK and therefore in [Overlapped].Internal. It is spelled and
// valued as golang.org/x/sys/windows spells its NTStatus type.
//
// The top two bits are the severity: 0 success, 1 informational, 2 warning,
// 3 error ([NTStatus.IsSuccess] covers the first two, [NTStatus.IsError] the
// last). Bit 29 is the customer bit, bits 16-27 the facility.
//
// A client never sees the status itself: each API translates it, and the two
// families of API translate it differently. Kernel32 calls
// (GetQueuedCompletionStatus, GetOverlappedResult, ReadFile, WriteFile) report
// the Win32 code of [RtlNtStatusToDosError]; Winsock calls
// (WSAGetOverlappedResult, WSARecv, WSASend, a completion routine's dwError)
// report the Winsock code of [NtStatusToWinsockError]. The statuses this
// package names, and what each call family reports for them:
//
//	status                            Win32 (GQCS, ReadFile)          Winsock (WSAGetOverlappedResult)
//	STATUS_SUCCESS                    0                               0
//	STATUS_TIMEOUT                    ERROR_TIMEOUT 1460              ERROR_TIMEOUT 1460 (success path)
//	STATUS_PENDING                    ERROR_IO_PENDING 997            WSA_IO_PENDING 997
//	STATUS_USER_APC                   (a wait result, no mapping)     (no mapping)
//	STATUS_BUFFER_OVERFLOW            ERROR_MORE_DATA 234             WSAEMSGSIZE
//	STATUS_UNSUCCESSFUL               ERROR_GEN_FAILURE 31            WSAEINVAL
//	STATUS_NOT_IMPLEMENTED            ERROR_INVALID_FUNCTION 1        WSAEOPNOTSUPP
//	STATUS_INVALID_HANDLE             ERROR_INVALID_HANDLE 6          WSAENOTSOCK
//	STATUS_INVALID_PARAMETER          ERROR_INVALID_PARAMETER 87      WSAEINVAL
//	STATUS_INVALID_DEVICE_REQUEST     ERROR_INVALID_FUNCTION 1        WSAEINVAL
//	STATUS_NO_MEMORY                  ERROR_NOT_ENOUGH_MEMORY 8       WSAENOBUFS
//	STATUS_ACCESS_DENIED              ERROR_ACCESS_DENIED 5           WSAEACCES
//	STATUS_BUFFER_TOO_SMALL           ERROR_INSUFFICIENT_BUFFER 122   WSAEFAULT
//	STATUS_OBJECT_TYPE_MISMATCH       ERROR_INVALID_HANDLE 6          WSAENOTSOCK
//	STATUS_INSUFFICIENT_RESOURCES     ERROR_NO_SYSTEM_RESOURCES 1450  WSAENOBUFS
//	STATUS_DEVICE_NOT_READY           ERROR_NOT_READY 21              WSAEWOULDBLOCK
//	STATUS_PIPE_DISCONNECTED          ERROR_PIPE_NOT_CONNECTED 233    WSAESHUTDOWN
//	STATUS_IO_TIMEOUT                 ERROR_SEM_TIMEOUT 121           WSAETIMEDOUT
//	STATUS_NOT_SUPPORTED              ERROR_NOT_SUPPORTED 50          WSAEOPNOTSUPP
//	STATUS_OBJECT_NAME_NOT_FOUND      ERROR_FILE_NOT_FOUND 2          WSAEINVAL
//	STATUS_REMOTE_NOT_LISTENING       ERROR_REM_NOT_LIST 51           WSAECONNREFUSED
//	STATUS_NETWORK_NAME_DELETED       ERROR_NETNAME_DELETED 64        WSAEINVAL
//	STATUS_REQUEST_NOT_ACCEPTED       ERROR_REQ_NOT_ACCEP 71          WSAEWOULDBLOCK
//	STATUS_CANCELLED                  ERROR_OPERATION_ABORTED 995     WSA_OPERATION_ABORTED 995
//	STATUS_LOCAL_DISCONNECT           ERROR_NETNAME_DELETED 64        WSAECONNABORTED
//	STATUS_REMOTE_DISCONNECT          ERROR_NETNAME_DELETED 64        WSAECONNRESET
//	STATUS_INVALID_CONNECTION         ERROR_UNEXP_NET_ERR 59          WSAENOTCONN
//	STATUS_INVALID_ADDRESS            ERROR_UNEXP_NET_ERR 59          WSAEADDRNOTAVAIL
//	STATUS_INVALID_ADDRESS_COMPONENT  ERROR_INVALID_NETNAME 1214      WSAEADDRNOTAVAIL
//	STATUS_TOO_MANY_ADDRESSES         ERROR_TOO_MANY_NAMES 68         WSAENOBUFS
//	STATUS_ADDRESS_ALREADY_EXISTS     ERROR_DUP_NAME 52               WSAEADDRINUSE
//	STATUS_CONNECTION_DISCONNECTED    ERROR_NETNAME_DELETED 64        WSAECONNRESET
//	STATUS_CONNECTION_RESET           ERROR_NETNAME_DELETED 64        WSAECONNRESET
//	STATUS_NOT_FOUND                  ERROR_NOT_FOUND 1168            WSAEINVAL
//	STATUS_CONNECTION_REFUSED         ERROR_CONNECTION_REFUSED 1225   WSAECONNREFUSED
//	STATUS_GRACEFUL_DISCONNECT        ERROR_GRACEFUL_DISCONNECT 1226  WSAEDISCON
//	STATUS_CONNECTION_ACTIVE          ERROR_CONNECTION_ACTIVE 1230    WSAEISCONN
//	STATUS_NETWORK_UNREACHABLE        ERROR_NETWORK_UNREACHABLE 1231  WSAENETUNREACH
//	STATUS_HOST_UNREACHABLE           ERROR_HOST_UNREACHABLE 1232     WSAEHOSTUNREACH
//	STATUS_PROTOCOL_UNREACHABLE       ERROR_PROTOCOL_UNREACHABLE 1233 WSAENETUNREACH
//	STATUS_PORT_UNREACHABLE           ERROR_PORT_UNREACHABLE 1234     WSAECONNRESET
//	STATUS_REQUEST_ABORTED            ERROR_REQUEST_ABORTED 1235      WSAEINTR
//	STATUS_CONNECTION_ABORTED         ERROR_CONNECTION_ABORTED 1236   WSAECONNABORTED
//	STATUS_HOST_DOWN                  ERROR_HOST_DOWN 1256            WSAEHOSTDOWN
//	0xC007xxxx, 0x8007xxxx (NTWIN32)  the low word                    the low word
//
// So one failed packet shows two faces: a peer reset is ERROR_NETNAME_DELETED
// from GetQueuedCompletionStatus and WSAECONNRESET from WSAGetOverlappedResult.
//
// Sources. Microsoft does not publish either mapping whole (its KB table is
// offline, and msafd's Winsock mapping was never public), so the columns
// follow public reimplementations, cited per row in the tables at the end of
// this file:
//
//   - W-ERR: Wine dlls/ntdll/error.c, the RtlNtStatusToDosError tables and
//     rules (the Win32 column).
//   - W-WS: Wine dlls/ws2_32/socket.c, NtStatusToWSAError (the Winsock
//     column).
//   - UV-WS: libuv src/win/winsock.c, uv_ntstatus_to_winsock_error; it
//     agrees with Wine on every row above except STATUS_CANCELLED (libuv:
//     WSAEINTR), STATUS_TIMEOUT (libuv: WSAETIMEDOUT),
//     STATUS_TOO_MANY_ADDRESSES (libuv: WSAEADDRINUSE), and
//     STATUS_CONNECTION_ACTIVE and STATUS_HOST_DOWN (libuv has no row, so
//     WSAEINVAL). Wine is followed; for STATUS_CANCELLED, Wine's ws2_32 tests,
//     written against Windows, see ERROR_OPERATION_ABORTED for a cancelled
//     AcceptEx.
//   - D-RTL: Microsoft Learn, RtlNtStatusToDosError: no mapping gives
//     ERROR_MR_MID_NOT_FOUND.
type NTStatus uint32

// NT status values (ntstatus.h), the ones the simulated system stores in
// Overlapped.Internal or meets in a provider's report.
const (
	STATUS_SUCCESS                   NTStatus = 0x00000000
	STATUS_USER_APC                  NTStatus = 0x000000C0
	STATUS_TIMEOUT                   NTStatus = 0x00000102
	STATUS_PENDING                   NTStatus = 0x00000103
	STATUS_BUFFER_OVERFLOW           NTStatus = 0x80000005
	STATUS_UNSUCCESSFUL              NTStatus = 0xC0000001
	STATUS_NOT_IMPLEMENTED           NTStatus = 0xC0000002
	STATUS_INVALID_HANDLE            NTStatus = 0xC0000008
	STATUS_INVALID_PARAMETER         NTStatus = 0xC000000D
	STATUS_INVALID_DEVICE_REQUEST    NTStatus = 0xC0000010
	STATUS_NO_MEMORY                 NTStatus = 0xC0000017
	STATUS_ACCESS_DENIED             NTStatus = 0xC0000022
	STATUS_BUFFER_TOO_SMALL          NTStatus = 0xC0000023
	STATUS_OBJECT_TYPE_MISMATCH      NTStatus = 0xC0000024
	STATUS_INSUFFICIENT_RESOURCES    NTStatus = 0xC000009A
	STATUS_DEVICE_NOT_READY          NTStatus = 0xC00000A3
	STATUS_PIPE_DISCONNECTED         NTStatus = 0xC00000B0
	STATUS_IO_TIMEOUT                NTStatus = 0xC00000B5
	STATUS_NOT_SUPPORTED             NTStatus = 0xC00000BB
	STATUS_OBJECT_NAME_NOT_FOUND     NTStatus = 0xC0000034
	STATUS_REMOTE_NOT_LISTENING      NTStatus = 0xC00000BC
	STATUS_NETWORK_NAME_DELETED      NTStatus = 0xC00000C9
	STATUS_REQUEST_NOT_ACCEPTED      NTStatus = 0xC00000D0
	STATUS_CANCELLED                 NTStatus = 0xC0000120
	STATUS_LOCAL_DISCONNECT          NTStatus = 0xC000013B
	STATUS_REMOTE_DISCONNECT         NTStatus = 0xC000013C
	STATUS_INVALID_CONNECTION        NTStatus = 0xC0000140
	STATUS_INVALID_ADDRESS           NTStatus = 0xC0000141
	STATUS_INVALID_ADDRESS_COMPONENT NTStatus = 0xC0000207
	STATUS_TOO_MANY_ADDRESSES        NTStatus = 0xC0000209
	STATUS_ADDRESS_ALREADY_EXISTS    NTStatus = 0xC000020A
	STATUS_CONNECTION_DISCONNECTED   NTStatus = 0xC000020C
	STATUS_CONNECTION_RESET          NTStatus = 0xC000020D
	STATUS_NOT_FOUND                 NTStatus = 0xC0000225
	STATUS_CONNECTION_REFUSED        NTStatus = 0xC0000236
	STATUS_GRACEFUL_DISCONNECT       NTStatus = 0xC0000237
	STATUS_CONNECTION_ACTIVE         NTStatus = 0xC000023B
	STATUS_NETWORK_UNREACHABLE       NTStatus = 0xC000023C
	STATUS_HOST_UNREACHABLE          NTStatus = 0xC000023D
	STATUS_PROTOCOL_UNREACHABLE      NTStatus = 0xC000023E
	STATUS_PORT_UNREACHABLE          NTStatus = 0xC000023F
	STATUS_REQUEST_ABORTED           NTStatus = 0xC0000240
	STATUS_CONNECTION_ABORTED        NTStatus = 0xC0000241
	STATUS_HOST_DOWN                 NTStatus = 0xC0000350
)

// The parts of a status value (ntdef.h).
const (
	statusSeverityMask = 0xC0000000
	statusSeverityErr  = 0xC0000000
	statusCustomerBit  = 0x20000000
	facilityNTWin32    = 0x7 // FACILITY_NTWIN32: the low word is a Win32 code
)

// IsSuccess reports whether s has the success or informational severity, the
// test NT_SUCCESS makes. STATUS_PENDING and STATUS_TIMEOUT are successes in
// this sense; STATUS_BUFFER_OVERFLOW, a warning, is not.
func (s NTStatus) IsSuccess() bool { return int32(s) >= 0 }

// IsError reports whether s has the error severity, the test NT_ERROR makes.
// A warning such as STATUS_BUFFER_OVERFLOW is neither a success nor an error:
// the operation completed and transferred data, and still reports a code.
func (s NTStatus) IsError() bool { return s&statusSeverityMask == statusSeverityErr }

// String returns the status's ntstatus.h name and its value, as in
// "STATUS_CONNECTION_RESET (0xC000020D)". A status this package does not name
// shows as "NTSTATUS 0xC0000999"; one of facility NTWIN32 also gives the code
// in its low word.
func (s NTStatus) String() string {
	hex := statusHex(s)
	if r, ok := ntstatusRows[s]; ok {
		return r.name + " (" + hex + ")"
	}
	if ntwin32(s) {
		return "NTSTATUS " + hex + " (Win32 code " + strconv.FormatUint(uint64(s&0xFFFF), 10) + ")"
	}
	return "NTSTATUS " + hex
}

// Error returns the same text as [NTStatus.String], so a status can travel
// as an error.
func (s NTStatus) Error() string { return s.String() }

func statusHex(s NTStatus) string {
	const digits = "0123456789ABCDEF"
	b := []byte("0x00000000")
	for i := 9; i >= 2; i-- {
		b[i] = digits[s&0xF]
		s >>= 4
	}
	return string(b)
}

// ntwin32 reports whether s is a Win32 code carried in a status: facility
// NTWIN32 with the warning or error severity (0x8007xxxx, 0xC007xxxx), the
// form NTSTATUS_FROM_WIN32 builds.
func ntwin32(s NTStatus) bool {
	hi := s >> 16
	return hi == 0x8000|facilityNTWin32 || hi == 0xC000|facilityNTWin32
}

// RtlNtStatusToDosError models ntdll's RtlNtStatusToDosError: the Win32 code
// a kernel32 call (GetQueuedCompletionStatus, GetOverlappedResult, ReadFile)
// sets as its last error when the I/O ended with status s. The rules are
// Wine's (W-ERR), in this order:
//
//  1. 0, and any status with the customer bit, is returned unchanged.
//  2. 0xDxxxxxxx is read as 0xCxxxxxxx.
//  3. 0xC001xxxx, 0x8007xxxx and 0xC007xxxx (a Win32 code wrapped in a
//     status) give their low word.
//  4. A status of the table at the end of this file gives its row.
//  5. Anything else gives ERROR_MR_MID_NOT_FOUND (317), as Windows documents
//     (D-RTL).
//
// The table holds the statuses this package names; Windows and Wine know
// thousands more, which here fall under rule 5.
func RtlNtStatusToDosError(s NTStatus) Errno {
	if s == STATUS_SUCCESS || s&statusCustomerBit != 0 {
		return Errno(s)
	}
	if s&0xF0000000 == 0xD0000000 {
		s &^= 0x10000000
	}
	if hi := s >> 16; hi == 0xC001 || ntwin32(s) {
		return Errno(s & 0xFFFF)
	}
	if r, ok := ntstatusRows[s]; ok {
		return r.win32
	}
	return ERROR_MR_MID_NOT_FOUND
}

// NtStatusToWinsockError models the translation msafd makes when a Winsock
// call (WSAGetOverlappedResult, WSARecv and WSASend completing at once, the
// dwError of a completion routine) reports an I/O that ended with status s.
// Microsoft's own code is not public; the rules are Wine's NtStatusToWSAError
// (W-WS) with libuv's NTWIN32 rule (UV-WS), in this order:
//
//  1. A status of the Winsock table at the end of this file gives its row
//     (STATUS_PENDING is WSA_IO_PENDING, STATUS_CANCELLED is
//     WSA_OPERATION_ABORTED, STATUS_BUFFER_OVERFLOW is WSAEMSGSIZE).
//  2. 0x8007xxxx and 0xC007xxxx (facility NTWIN32) give their low word, the
//     Winsock or Win32 code the status carries (UV-WS; Wine lists only
//     ERROR_IO_INCOMPLETE in this form). [WinsockErrorToNtStatus] builds this
//     form for codes with no status of their own.
//  3. Any other success or informational status gives
//     [RtlNtStatusToDosError] of it (W-WS), so STATUS_SUCCESS is 0 and
//     STATUS_TIMEOUT is ERROR_TIMEOUT.
//  4. Any other warning or error gives WSAEINVAL (W-WS, UV-WS).
func NtStatusToWinsockError(s NTStatus) Errno {
	if s == STATUS_SUCCESS {
		return 0
	}
	if e, ok := winsockOfStatus[s]; ok {
		return e
	}
	if ntwin32(s) {
		return Errno(s & 0xFFFF)
	}
	if s.IsSuccess() {
		return RtlNtStatusToDosError(s)
	}
	return WSAEINVAL
}

// WinsockErrorToNtStatus is the status the simulator stores in
// Overlapped.Internal when a provider reports a Winsock code instead of a
// status: WSPSend failing with WSAECONNRESET, or the dwError of
// WPUCompleteOverlappedRequest. Windows has no such public function; this
// one is the inverse [NtStatusToWinsockError] needs:
//
//   - A code of the reverse table at the end of this file gives the status
//     whose Winsock mapping is that code (WSAECONNRESET is
//     STATUS_CONNECTION_RESET, so GetQueuedCompletionStatus reports
//     ERROR_NETNAME_DELETED, as on Windows).
//   - Any other code up to 0xFFFF is wrapped as NTSTATUS_FROM_WIN32 does,
//     0xC0070000|e (error severity, facility NTWIN32), which both mappings
//     unwrap to e again.
//   - A code above 0xFFFF is no Win32 or Winsock code and cannot be wrapped;
//     it gives STATUS_UNSUCCESSFUL (Winsock WSAEINVAL).
//
// For every e up to 0xFFFF, NtStatusToWinsockError(WinsockErrorToNtStatus(e))
// is e.
func WinsockErrorToNtStatus(e Errno) NTStatus {
	if e == 0 {
		return STATUS_SUCCESS // the common case, without a table lookup
	}
	if s, ok := statusOfWinsock[e]; ok {
		return s
	}
	if e > 0xFFFF {
		return STATUS_UNSUCCESSFUL
	}
	return statusSeverityErr | facilityNTWin32<<16 | NTStatus(e)
}

// The tables. Every mapping of this package reads them and nothing else;
// each row names its source: W-ERR (Wine dlls/ntdll/error.c), W-WS (Wine
// dlls/ws2_32/socket.c), UV-WS (libuv src/win/winsock.c), D-RTL (Microsoft
// Learn, RtlNtStatusToDosError).

type ntstatusRow struct {
	name  string
	win32 Errno // RtlNtStatusToDosError
}

// ntstatusRows names each status and gives its Win32 code (W-ERR unless
// said otherwise).
var ntstatusRows = map[NTStatus]ntstatusRow{
	STATUS_SUCCESS:                   {"STATUS_SUCCESS", ERROR_SUCCESS},                            // W-ERR: 0 passes through
	STATUS_USER_APC:                  {"STATUS_USER_APC", ERROR_MR_MID_NOT_FOUND},                  // W-ERR: no row; a wait returns it as WAIT_IO_COMPLETION itself
	STATUS_TIMEOUT:                   {"STATUS_TIMEOUT", ERROR_TIMEOUT},                            // W-ERR
	STATUS_PENDING:                   {"STATUS_PENDING", ERROR_IO_PENDING},                         // W-ERR
	STATUS_BUFFER_OVERFLOW:           {"STATUS_BUFFER_OVERFLOW", ERROR_MORE_DATA},                  // W-ERR
	STATUS_UNSUCCESSFUL:              {"STATUS_UNSUCCESSFUL", ERROR_GEN_FAILURE},                   // W-ERR
	STATUS_NOT_IMPLEMENTED:           {"STATUS_NOT_IMPLEMENTED", ERROR_INVALID_FUNCTION},           // W-ERR
	STATUS_INVALID_HANDLE:            {"STATUS_INVALID_HANDLE", ERROR_INVALID_HANDLE},              // W-ERR
	STATUS_INVALID_PARAMETER:         {"STATUS_INVALID_PARAMETER", ERROR_INVALID_PARAMETER},        // W-ERR
	STATUS_INVALID_DEVICE_REQUEST:    {"STATUS_INVALID_DEVICE_REQUEST", ERROR_INVALID_FUNCTION},    // W-ERR
	STATUS_NO_MEMORY:                 {"STATUS_NO_MEMORY", ERROR_NOT_ENOUGH_MEMORY},                // W-ERR
	STATUS_ACCESS_DENIED:             {"STATUS_ACCESS_DENIED", ERROR_ACCESS_DENIED},                // W-ERR
	STATUS_BUFFER_TOO_SMALL:          {"STATUS_BUFFER_TOO_SMALL", ERROR_INSUFFICIENT_BUFFER},       // W-ERR
	STATUS_OBJECT_TYPE_MISMATCH:      {"STATUS_OBJECT_TYPE_MISMATCH", ERROR_INVALID_HANDLE},        // W-ERR
	STATUS_INSUFFICIENT_RESOURCES:    {"STATUS_INSUFFICIENT_RESOURCES", ERROR_NO_SYSTEM_RESOURCES}, // W-ERR
	STATUS_DEVICE_NOT_READY:          {"STATUS_DEVICE_NOT_READY", ERROR_NOT_READY},                 // W-ERR
	STATUS_PIPE_DISCONNECTED:         {"STATUS_PIPE_DISCONNECTED", ERROR_PIPE_NOT_CONNECTED},       // W-ERR
	STATUS_IO_TIMEOUT:                {"STATUS_IO_TIMEOUT", ERROR_SEM_TIMEOUT},                     // W-ERR
	STATUS_NOT_SUPPORTED:             {"STATUS_NOT_SUPPORTED", ERROR_NOT_SUPPORTED},                // W-ERR
	STATUS_OBJECT_NAME_NOT_FOUND:     {"STATUS_OBJECT_NAME_NOT_FOUND", ERROR_FILE_NOT_FOUND},       // W-ERR
	STATUS_REMOTE_NOT_LISTENING:      {"STATUS_REMOTE_NOT_LISTENING", ERROR_REM_NOT_LIST},          // W-ERR
	STATUS_NETWORK_NAME_DELETED:      {"STATUS_NETWORK_NAME_DELETED", ERROR_NETNAME_DELETED},       // W-ERR
	STATUS_REQUEST_NOT_ACCEPTED:      {"STATUS_REQUEST_NOT_ACCEPTED", ERROR_REQ_NOT_ACCEP},         // W-ERR
	STATUS_CANCELLED:                 {"STATUS_CANCELLED", ERROR_OPERATION_ABORTED},                // W-ERR
	STATUS_LOCAL_DISCONNECT:          {"STATUS_LOCAL_DISCONNECT", ERROR_NETNAME_DELETED},           // W-ERR
	STATUS_REMOTE_DISCONNECT:         {"STATUS_REMOTE_DISCONNECT", ERROR_NETNAME_DELETED},          // W-ERR
	STATUS_INVALID_CONNECTION:        {"STATUS_INVALID_CONNECTION", ERROR_UNEXP_NET_ERR},           // W-ERR
	STATUS_INVALID_ADDRESS:           {"STATUS_INVALID_ADDRESS", ERROR_UNEXP_NET_ERR},              // W-ERR
	STATUS_INVALID_ADDRESS_COMPONENT: {"STATUS_INVALID_ADDRESS_COMPONENT", ERROR_INVALID_NETNAME},  // W-ERR
	STATUS_TOO_MANY_ADDRESSES:        {"STATUS_TOO_MANY_ADDRESSES", ERROR_TOO_MANY_NAMES},          // W-ERR
	STATUS_ADDRESS_ALREADY_EXISTS:    {"STATUS_ADDRESS_ALREADY_EXISTS", ERROR_DUP_NAME},            // W-ERR
	STATUS_CONNECTION_DISCONNECTED:   {"STATUS_CONNECTION_DISCONNECTED", ERROR_NETNAME_DELETED},    // W-ERR
	STATUS_CONNECTION_RESET:          {"STATUS_CONNECTION_RESET", ERROR_NETNAME_DELETED},           // W-ERR
	STATUS_NOT_FOUND:                 {"STATUS_NOT_FOUND", ERROR_NOT_FOUND},                        // W-ERR
	STATUS_CONNECTION_REFUSED:        {"STATUS_CONNECTION_REFUSED", ERROR_CONNECTION_REFUSED},      // W-ERR
	STATUS_GRACEFUL_DISCONNECT:       {"STATUS_GRACEFUL_DISCONNECT", ERROR_GRACEFUL_DISCONNECT},    // W-ERR
	STATUS_CONNECTION_ACTIVE:         {"STATUS_CONNECTION_ACTIVE", ERROR_CONNECTION_ACTIVE},        // W-ERR
	STATUS_NETWORK_UNREACHABLE:       {"STATUS_NETWORK_UNREACHABLE", ERROR_NETWORK_UNREACHABLE},    // W-ERR
	STATUS_HOST_UNREACHABLE:          {"STATUS_HOST_UNREACHABLE", ERROR_HOST_UNREACHABLE},          // W-ERR
	STATUS_PROTOCOL_UNREACHABLE:      {"STATUS_PROTOCOL_UNREACHABLE", ERROR_PROTOCOL_UNREACHABLE},  // W-ERR
	STATUS_PORT_UNREACHABLE:          {"STATUS_PORT_UNREACHABLE", ERROR_PORT_UNREACHABLE},          // W-ERR
	STATUS_REQUEST_ABORTED:           {"STATUS_REQUEST_ABORTED", ERROR_REQUEST_ABORTED},            // W-ERR
	STATUS_CONNECTION_ABORTED:        {"STATUS_CONNECTION_ABORTED", ERROR_CONNECTION_ABORTED},      // W-ERR
	STATUS_HOST_DOWN:                 {"STATUS_HOST_DOWN", ERROR_HOST_DOWN},                        // W-ERR
}

// winsockOfStatus is the explicit table of NtStatusToWinsockError (W-WS).
// Statuses not in it (STATUS_SUCCESS, STATUS_TIMEOUT, STATUS_UNSUCCESSFUL,
// STATUS_INVALID_PARAMETER, STATUS_INVALID_DEVICE_REQUEST,
// STATUS_NETWORK_NAME_DELETED, STATUS_NOT_FOUND, STATUS_USER_APC) take the
// general rules. Wine's table has further rows for statuses this package does
// not name (memory quotas, file names, links); those fall to WSAEINVAL here.
var winsockOfStatus = map[NTStatus]Errno{
	STATUS_PENDING:                             WSA_IO_PENDING,        // W-WS, UV-WS
	STATUS_BUFFER_OVERFLOW:                     WSAEMSGSIZE,           // W-WS, UV-WS
	STATUS_NOT_IMPLEMENTED:                     WSAEOPNOTSUPP,         // W-WS, UV-WS
	STATUS_INVALID_HANDLE:                      WSAENOTSOCK,           // W-WS, UV-WS
	STATUS_NO_MEMORY:                           WSAENOBUFS,            // W-WS, UV-WS
	STATUS_ACCESS_DENIED:                       WSAEACCES,             // W-WS, UV-WS
	STATUS_BUFFER_TOO_SMALL:                    WSAEFAULT,             // W-WS, UV-WS
	STATUS_OBJECT_TYPE_MISMATCH:                WSAENOTSOCK,           // W-WS, UV-WS
	STATUS_INSUFFICIENT_RESOURCES:              WSAENOBUFS,            // W-WS, UV-WS
	STATUS_DEVICE_NOT_READY:                    WSAEWOULDBLOCK,        // W-WS, UV-WS
	STATUS_PIPE_DISCONNECTED:                   WSAESHUTDOWN,          // W-WS, UV-WS
	STATUS_IO_TIMEOUT:                          WSAETIMEDOUT,          // W-WS, UV-WS
	STATUS_NOT_SUPPORTED:                       WSAEOPNOTSUPP,         // W-WS, UV-WS
	STATUS_REMOTE_NOT_LISTENING:                WSAECONNREFUSED,       // W-WS, UV-WS
	STATUS_REQUEST_NOT_ACCEPTED:                WSAEWOULDBLOCK,        // W-WS, UV-WS
	STATUS_CANCELLED:                           WSA_OPERATION_ABORTED, // W-WS (UV-WS: WSAEINTR)
	STATUS_LOCAL_DISCONNECT:                    WSAECONNABORTED,       // W-WS, UV-WS
	STATUS_REMOTE_DISCONNECT:                   WSAECONNRESET,         // W-WS, UV-WS
	STATUS_INVALID_CONNECTION:                  WSAENOTCONN,           // W-WS, UV-WS
	STATUS_INVALID_ADDRESS:                     WSAEADDRNOTAVAIL,      // W-WS, UV-WS
	STATUS_INVALID_ADDRESS_COMPONENT:           WSAEADDRNOTAVAIL,      // W-WS, UV-WS
	STATUS_TOO_MANY_ADDRESSES:                  WSAENOBUFS,            // W-WS (UV-WS: WSAEADDRINUSE)
	STATUS_ADDRESS_ALREADY_EXISTS:              WSAEADDRINUSE,         // W-WS, UV-WS
	STATUS_CONNECTION_DISCONNECTED:             WSAECONNRESET,         // W-WS, UV-WS
	STATUS_CONNECTION_RESET:                    WSAECONNRESET,         // W-WS, UV-WS
	STATUS_CONNECTION_REFUSED:                  WSAECONNREFUSED,       // W-WS, UV-WS
	STATUS_GRACEFUL_DISCONNECT:                 WSAEDISCON,            // W-WS, UV-WS
	STATUS_CONNECTION_ACTIVE:                   WSAEISCONN,            // W-WS (UV-WS: no row, WSAEINVAL)
	STATUS_NETWORK_UNREACHABLE:                 WSAENETUNREACH,        // W-WS, UV-WS
	STATUS_HOST_UNREACHABLE:                    WSAEHOSTUNREACH,       // W-WS, UV-WS
	STATUS_PROTOCOL_UNREACHABLE:                WSAENETUNREACH,        // W-WS, UV-WS
	STATUS_PORT_UNREACHABLE:                    WSAECONNRESET,         // W-WS, UV-WS
	STATUS_REQUEST_ABORTED:                     WSAEINTR,              // W-WS, UV-WS
	STATUS_CONNECTION_ABORTED:                  WSAECONNABORTED,       // W-WS, UV-WS
	STATUS_HOST_DOWN:                           WSAEHOSTDOWN,          // W-WS (UV-WS: no row, WSAEINVAL)
	0xC0010000 | NTStatus(ERROR_IO_INCOMPLETE): ERROR_IO_INCOMPLETE,   // W-WS: the one 0xC001xxxx row; the NTWIN32 forms follow rule 2
}

// statusOfWinsock is the reverse table of WinsockErrorToNtStatus: for each
// code, a status whose Winsock mapping (winsockOfStatus and the rules) gives
// the code back. Where several statuses give the same code, the row names
// the one a stream socket most often meets. A code with no row is wrapped in
// the NTWIN32 form.
var statusOfWinsock = map[Errno]NTStatus{
	ERROR_SUCCESS:         STATUS_SUCCESS,                // W-WS rule 3: success is 0
	WSA_IO_PENDING:        STATUS_PENDING,                // W-WS
	WSA_OPERATION_ABORTED: STATUS_CANCELLED,              // W-WS; also ERROR_OPERATION_ABORTED, the same value
	WSAEMSGSIZE:           STATUS_BUFFER_OVERFLOW,        // W-WS; the datagram was cut, a warning
	WSAEINTR:              STATUS_REQUEST_ABORTED,        // W-WS
	WSAEACCES:             STATUS_ACCESS_DENIED,          // W-WS
	WSAEINVAL:             STATUS_INVALID_PARAMETER,      // W-WS rule 4 (no row: error gives WSAEINVAL)
	WSAEWOULDBLOCK:        STATUS_DEVICE_NOT_READY,       // W-WS
	WSAENOTSOCK:           STATUS_INVALID_HANDLE,         // W-WS
	WSAEOPNOTSUPP:         STATUS_NOT_SUPPORTED,          // W-WS
	WSAEADDRINUSE:         STATUS_ADDRESS_ALREADY_EXISTS, // W-WS
	WSAEADDRNOTAVAIL:      STATUS_INVALID_ADDRESS,        // W-WS
	WSAENETUNREACH:        STATUS_NETWORK_UNREACHABLE,    // W-WS
	WSAECONNABORTED:       STATUS_CONNECTION_ABORTED,     // W-WS; Windows' tests see it for a receive pending at closesocket
	WSAECONNRESET:         STATUS_CONNECTION_RESET,       // W-WS
	WSAENOBUFS:            STATUS_INSUFFICIENT_RESOURCES, // W-WS
	WSAEISCONN:            STATUS_CONNECTION_ACTIVE,      // W-WS
	WSAENOTCONN:           STATUS_INVALID_CONNECTION,     // W-WS
	WSAESHUTDOWN:          STATUS_PIPE_DISCONNECTED,      // W-WS
	WSAETIMEDOUT:          STATUS_IO_TIMEOUT,             // W-WS
	WSAECONNREFUSED:       STATUS_CONNECTION_REFUSED,     // W-WS
	WSAEHOSTDOWN:          STATUS_HOST_DOWN,              // W-WS
	WSAEHOSTUNREACH:       STATUS_HOST_UNREACHABLE,       // W-WS
	WSAEDISCON:            STATUS_GRACEFUL_DISCONNECT,    // W-WS
}
