package spi

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
)

// Errno is a Windows error code: a Windows Sockets code (WSABASEERR + n) or
// one of the Win32 codes the simulated system returns, with the value Windows
// uses. It models the value of WSAGetLastError and GetLastError.
//
// Compare with errors.Is, which also sees through [*OpError]:
//
//	if errors.Is(err, spi.WSAENOTSOCK) { ... }
type Errno uint32

// Win32 codes (winerror.h) that the simulated system returns.
const (
	ERROR_SUCCESS               Errno = 0
	ERROR_INVALID_FUNCTION      Errno = 1
	ERROR_FILE_NOT_FOUND        Errno = 2
	ERROR_ACCESS_DENIED         Errno = 5
	ERROR_INVALID_HANDLE        Errno = 6
	ERROR_NOT_ENOUGH_MEMORY     Errno = 8
	ERROR_NOT_READY             Errno = 21
	ERROR_GEN_FAILURE           Errno = 31
	ERROR_NOT_SUPPORTED         Errno = 50
	ERROR_REM_NOT_LIST          Errno = 51
	ERROR_DUP_NAME              Errno = 52
	ERROR_UNEXP_NET_ERR         Errno = 59
	ERROR_NETNAME_DELETED       Errno = 64
	ERROR_TOO_MANY_NAMES        Errno = 68
	ERROR_REQ_NOT_ACCEP         Errno = 71
	ERROR_INVALID_PARAMETER     Errno = 87
	ERROR_CALL_NOT_IMPLEMENTED  Errno = 120
	ERROR_SEM_TIMEOUT           Errno = 121
	ERROR_INSUFFICIENT_BUFFER   Errno = 122
	ERROR_PIPE_NOT_CONNECTED    Errno = 233
	ERROR_MORE_DATA             Errno = 234
	WAIT_TIMEOUT                Errno = 258
	ERROR_MR_MID_NOT_FOUND      Errno = 317
	ERROR_ABANDONED_WAIT_0      Errno = 735
	ERROR_OPERATION_ABORTED     Errno = 995
	ERROR_IO_INCOMPLETE         Errno = 996
	ERROR_IO_PENDING            Errno = 997
	ERROR_PROCESS_ABORTED       Errno = 1067
	ERROR_NOT_FOUND             Errno = 1168
	ERROR_INVALID_NETNAME       Errno = 1214
	ERROR_CONNECTION_REFUSED    Errno = 1225
	ERROR_GRACEFUL_DISCONNECT   Errno = 1226
	ERROR_CONNECTION_ACTIVE     Errno = 1230
	ERROR_NETWORK_UNREACHABLE   Errno = 1231
	ERROR_HOST_UNREACHABLE      Errno = 1232
	ERROR_PROTOCOL_UNREACHABLE  Errno = 1233
	ERROR_PORT_UNREACHABLE      Errno = 1234
	ERROR_REQUEST_ABORTED       Errno = 1235
	ERROR_CONNECTION_ABORTED    Errno = 1236
	ERROR_INVALID_WINDOW_HANDLE Errno = 1400
	ERROR_HOST_DOWN             Errno = 1256
	ERROR_NO_SYSTEM_RESOURCES   Errno = 1450
	ERROR_TIMEOUT               Errno = 1460

	// ERROR_OBJECT_ALREADY_EXISTS is what CreateUnicastIpAddressEntry
	// returns for an address the interface already has.
	ERROR_OBJECT_ALREADY_EXISTS Errno = 5010
)

// The WSA_* overlapped codes of winsock2.h. Each is an alias with the value of
// the Win32 code it is defined as.
const (
	WSA_INVALID_HANDLE    = ERROR_INVALID_HANDLE
	WSA_NOT_ENOUGH_MEMORY = ERROR_NOT_ENOUGH_MEMORY
	WSA_INVALID_PARAMETER = ERROR_INVALID_PARAMETER
	WSA_OPERATION_ABORTED = ERROR_OPERATION_ABORTED
	WSA_IO_INCOMPLETE     = ERROR_IO_INCOMPLETE
	WSA_IO_PENDING        = ERROR_IO_PENDING
	WSA_WAIT_TIMEOUT      = WAIT_TIMEOUT
)

// WSABASEERR is the base of the Windows Sockets error codes.
const WSABASEERR = 10000

// Windows Sockets error codes (winsock2.h, _wsa_errnos.h).
const (
	WSAEINTR               Errno = 10004
	WSAEBADF               Errno = 10009
	WSAEACCES              Errno = 10013
	WSAEFAULT              Errno = 10014
	WSAEINVAL              Errno = 10022
	WSAEMFILE              Errno = 10024
	WSAEWOULDBLOCK         Errno = 10035
	WSAEINPROGRESS         Errno = 10036
	WSAEALREADY            Errno = 10037
	WSAENOTSOCK            Errno = 10038
	WSAEDESTADDRREQ        Errno = 10039
	WSAEMSGSIZE            Errno = 10040
	WSAEPROTOTYPE          Errno = 10041
	WSAENOPROTOOPT         Errno = 10042
	WSAEPROTONOSUPPORT     Errno = 10043
	WSAESOCKTNOSUPPORT     Errno = 10044
	WSAEOPNOTSUPP          Errno = 10045
	WSAEPFNOSUPPORT        Errno = 10046
	WSAEAFNOSUPPORT        Errno = 10047
	WSAEADDRINUSE          Errno = 10048
	WSAEADDRNOTAVAIL       Errno = 10049
	WSAENETDOWN            Errno = 10050
	WSAENETUNREACH         Errno = 10051
	WSAENETRESET           Errno = 10052
	WSAECONNABORTED        Errno = 10053
	WSAECONNRESET          Errno = 10054
	WSAENOBUFS             Errno = 10055
	WSAEISCONN             Errno = 10056
	WSAENOTCONN            Errno = 10057
	WSAESHUTDOWN           Errno = 10058
	WSAETOOMANYREFS        Errno = 10059
	WSAETIMEDOUT           Errno = 10060
	WSAECONNREFUSED        Errno = 10061
	WSAELOOP               Errno = 10062
	WSAENAMETOOLONG        Errno = 10063
	WSAEHOSTDOWN           Errno = 10064
	WSAEHOSTUNREACH        Errno = 10065
	WSAENOTEMPTY           Errno = 10066
	WSAEPROCLIM            Errno = 10067
	WSAEUSERS              Errno = 10068
	WSAEDQUOT              Errno = 10069
	WSAESTALE              Errno = 10070
	WSAEREMOTE             Errno = 10071
	WSASYSNOTREADY         Errno = 10091
	WSAVERNOTSUPPORTED     Errno = 10092
	WSANOTINITIALISED      Errno = 10093
	WSAEDISCON             Errno = 10101
	WSAENOMORE             Errno = 10102
	WSAECANCELLED          Errno = 10103
	WSAEINVALIDPROCTABLE   Errno = 10104
	WSAEINVALIDPROVIDER    Errno = 10105
	WSAEPROVIDERFAILEDINIT Errno = 10106
	WSASYSCALLFAILURE      Errno = 10107
	WSASERVICE_NOT_FOUND   Errno = 10108
	WSATYPE_NOT_FOUND      Errno = 10109
	WSA_E_NO_MORE          Errno = 10110
	WSA_E_CANCELLED        Errno = 10111
	WSAEREFUSED            Errno = 10112
	WSAHOST_NOT_FOUND      Errno = 11001
	WSATRY_AGAIN           Errno = 11002
	WSANO_RECOVERY         Errno = 11003
	WSANO_DATA             Errno = 11004
)

// errnoText holds our own one-line descriptions, in the spirit of
// FormatMessage but not its wording.
var errnoText = map[Errno]string{
	ERROR_SUCCESS:               "the operation completed successfully",
	ERROR_INVALID_FUNCTION:      "incorrect function",
	ERROR_FILE_NOT_FOUND:        "file not found",
	ERROR_ACCESS_DENIED:         "access denied",
	ERROR_INVALID_HANDLE:        "invalid handle",
	ERROR_NOT_ENOUGH_MEMORY:     "not enough memory",
	ERROR_NOT_READY:             "device not ready",
	ERROR_GEN_FAILURE:           "general failure",
	ERROR_NOT_SUPPORTED:         "request not supported",
	ERROR_REM_NOT_LIST:          "remote side not listening",
	ERROR_DUP_NAME:              "duplicate name (address already in use)",
	ERROR_UNEXP_NET_ERR:         "unexpected network error",
	ERROR_NETNAME_DELETED:       "network name no longer available",
	ERROR_TOO_MANY_NAMES:        "too many names or addresses",
	ERROR_REQ_NOT_ACCEP:         "request not accepted by the remote side",
	ERROR_INVALID_PARAMETER:     "invalid parameter",
	ERROR_CALL_NOT_IMPLEMENTED:  "call not implemented",
	ERROR_SEM_TIMEOUT:           "semaphore wait timed out",
	ERROR_INSUFFICIENT_BUFFER:   "buffer too small",
	ERROR_PIPE_NOT_CONNECTED:    "pipe not connected",
	ERROR_MORE_DATA:             "more data is available",
	WAIT_TIMEOUT:                "wait timed out",
	ERROR_MR_MID_NOT_FOUND:      "no message text for this status (no mapping)",
	ERROR_ABANDONED_WAIT_0:      "completion port closed while waiting",
	ERROR_OPERATION_ABORTED:     "I/O operation aborted",
	ERROR_IO_INCOMPLETE:         "overlapped I/O not yet complete",
	ERROR_IO_PENDING:            "overlapped I/O in progress",
	ERROR_PROCESS_ABORTED:       "the process terminated unexpectedly",
	ERROR_NOT_FOUND:             "element not found",
	ERROR_INVALID_NETNAME:       "invalid network address",
	ERROR_CONNECTION_REFUSED:    "connection refused by the remote side",
	ERROR_GRACEFUL_DISCONNECT:   "connection closed gracefully",
	ERROR_INVALID_WINDOW_HANDLE: "invalid window handle",
	ERROR_CONNECTION_ACTIVE:     "connection already active",
	ERROR_NETWORK_UNREACHABLE:   "network unreachable",
	ERROR_HOST_UNREACHABLE:      "host unreachable",
	ERROR_PROTOCOL_UNREACHABLE:  "protocol unreachable",
	ERROR_PORT_UNREACHABLE:      "port unreachable",
	ERROR_REQUEST_ABORTED:       "request aborted",
	ERROR_CONNECTION_ABORTED:    "connection aborted locally",
	ERROR_HOST_DOWN:             "host is down",
	ERROR_NO_SYSTEM_RESOURCES:   "system resources exhausted",
	ERROR_TIMEOUT:               "operation timed out",
	WAIT_IO_COMPLETION:          "wait ended to run queued APCs (WAIT_IO_COMPLETION)",

	ERROR_OBJECT_ALREADY_EXISTS: "the object already exists",

	WSAEINTR:               "blocking call interrupted",
	WSAEBADF:               "bad file handle",
	WSAEACCES:              "permission denied",
	WSAEFAULT:              "bad address or buffer too small",
	WSAEINVAL:              "invalid argument",
	WSAEMFILE:              "too many open sockets",
	WSAEWOULDBLOCK:         "operation would block",
	WSAEINPROGRESS:         "a blocking operation is in progress",
	WSAEALREADY:            "operation already in progress",
	WSAENOTSOCK:            "not a socket",
	WSAEDESTADDRREQ:        "destination address required",
	WSAEMSGSIZE:            "message too long",
	WSAEPROTOTYPE:          "wrong protocol type for socket",
	WSAENOPROTOOPT:         "bad protocol option",
	WSAEPROTONOSUPPORT:     "protocol not supported",
	WSAESOCKTNOSUPPORT:     "socket type not supported",
	WSAEOPNOTSUPP:          "operation not supported",
	WSAEPFNOSUPPORT:        "protocol family not supported",
	WSAEAFNOSUPPORT:        "address family not supported",
	WSAEADDRINUSE:          "address already in use",
	WSAEADDRNOTAVAIL:       "address not available",
	WSAENETDOWN:            "network is down",
	WSAENETUNREACH:         "network unreachable",
	WSAENETRESET:           "connection reset by the network",
	WSAECONNABORTED:        "connection aborted by the local host",
	WSAECONNRESET:          "connection reset by peer",
	WSAENOBUFS:             "no buffer space available",
	WSAEISCONN:             "socket already connected",
	WSAENOTCONN:            "socket not connected",
	WSAESHUTDOWN:           "socket already shut down",
	WSAETOOMANYREFS:        "too many references",
	WSAETIMEDOUT:           "connection timed out",
	WSAECONNREFUSED:        "connection refused",
	WSAELOOP:               "cannot translate name",
	WSAENAMETOOLONG:        "name too long",
	WSAEHOSTDOWN:           "host is down",
	WSAEHOSTUNREACH:        "no route to host",
	WSAENOTEMPTY:           "directory not empty",
	WSAEPROCLIM:            "too many processes",
	WSAEUSERS:              "user quota exceeded",
	WSAEDQUOT:              "disk quota exceeded",
	WSAESTALE:              "stale file handle reference",
	WSAEREMOTE:             "item is remote",
	WSASYSNOTREADY:         "network subsystem unavailable",
	WSAVERNOTSUPPORTED:     "Winsock version not supported",
	WSANOTINITIALISED:      "WSAStartup not yet performed",
	WSAEDISCON:             "graceful shutdown in progress",
	WSAENOMORE:             "no more results",
	WSAECANCELLED:          "call cancelled",
	WSAEINVALIDPROCTABLE:   "invalid procedure table from service provider",
	WSAEINVALIDPROVIDER:    "invalid service provider version",
	WSAEPROVIDERFAILEDINIT: "service provider failed to initialize",
	WSASYSCALLFAILURE:      "system call failure",
	WSASERVICE_NOT_FOUND:   "service not found",
	WSATYPE_NOT_FOUND:      "class type not found",
	WSA_E_NO_MORE:          "no more results",
	WSA_E_CANCELLED:        "call cancelled",
	WSAEREFUSED:            "database query refused",
	WSAHOST_NOT_FOUND:      "host not found",
	WSATRY_AGAIN:           "nonauthoritative host not found",
	WSANO_RECOVERY:         "nonrecoverable error",
	WSANO_DATA:             "valid name, no data record of requested type",
}

// Error returns a short description of the code and its number.
func (e Errno) Error() string {
	if s, ok := errnoText[e]; ok {
		return s + " (" + strconv.FormatUint(uint64(e), 10) + ")"
	}
	return "winsock error " + strconv.FormatUint(uint64(e), 10)
}

// Is reports whether e matches one of the portable errors of the standard
// library: [errors.ErrUnsupported], [os.ErrDeadlineExceeded],
// [fs.ErrPermission], [fs.ErrInvalid] and [fs.ErrClosed].
func (e Errno) Is(target error) bool {
	switch target {
	case errors.ErrUnsupported:
		return e == WSAEOPNOTSUPP || e == ERROR_NOT_SUPPORTED ||
			e == ERROR_CALL_NOT_IMPLEMENTED || e == WSAEPROTONOSUPPORT ||
			e == WSAESOCKTNOSUPPORT || e == WSAEAFNOSUPPORT || e == WSAEPFNOSUPPORT
	case os.ErrDeadlineExceeded:
		return e == WAIT_TIMEOUT || e == WSAETIMEDOUT
	case fs.ErrPermission:
		return e == WSAEACCES || e == ERROR_ACCESS_DENIED
	case fs.ErrInvalid:
		return e == WSAEINVAL || e == ERROR_INVALID_PARAMETER
	case fs.ErrClosed:
		return e == WSAENOTSOCK || e == ERROR_INVALID_HANDLE || e == ERROR_ABANDONED_WAIT_0
	}
	return false
}

// Timeout reports whether the code means that time ran out or that the call
// would have had to wait (WSAETIMEDOUT, WAIT_TIMEOUT, WSAEWOULDBLOCK), as
// syscall.Errno does for its counterparts.
func (e Errno) Timeout() bool {
	return e == WSAETIMEDOUT || e == WAIT_TIMEOUT || e == WSAEWOULDBLOCK
}

// Temporary reports whether retrying may succeed: interruptions, resource
// exhaustion, resets by the peer, and every [Errno.Timeout] code.
func (e Errno) Temporary() bool {
	switch e {
	case WSAEINTR, WSAEMFILE, WSAENOBUFS, WSAECONNRESET, WSAECONNABORTED, WSATRY_AGAIN:
		return true
	}
	return e.Timeout()
}

// OpError is the error every simulated call returns: the operation (the
// Windows function name, such as "WSASend" or "WPUCreateSocketHandle"), the
// handle it was called on (a socket, port, event, thread or file; 0 when
// there is none), and the cause, usually an
// [Errno]. It plays the role [io/fs.PathError] plays for files.
type OpError struct {
	Op     string
	Handle Handle
	Err    error
}

// Error formats the operation, the handle when there is one, and the cause.
func (e *OpError) Error() string {
	if e.Handle == 0 {
		return e.Op + ": " + e.Err.Error()
	}
	return e.Op + " " + e.Handle.String() + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// Timeout reports whether the cause is a timeout.
func (e *OpError) Timeout() bool {
	t, ok := e.Err.(interface{ Timeout() bool })
	return ok && t.Timeout()
}

// Temporary reports whether the cause is temporary.
func (e *OpError) Temporary() bool {
	t, ok := e.Err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// NewOpError wraps err with op and s. A nil err gives a nil error, so a call
// can end with return spi.NewOpError("WSASend", s, err). An err that is
// already an [*OpError] of op is returned as it is, so that an error is
// wrapped once with its operation, never "WSASocket: WSASocket: ...".
func NewOpError(op string, s Handle, err error) error {
	if err == nil {
		return nil
	}
	if oe, ok := err.(*OpError); ok && oe.Op == op {
		return err
	}
	return &OpError{Op: op, Handle: s, Err: err}
}

// RenameOpError returns err as operation op reports it: an [*OpError] of
// another operation (the kernel's SetEvent behind WSASetEvent, say) is
// copied with Op set to op; anything else is wrapped as [NewOpError] does.
func RenameOpError(op string, s Handle, err error) error {
	if oe, ok := err.(*OpError); ok {
		if oe.Op == op {
			return err
		}
		c := *oe
		c.Op = op
		return &c
	}
	return NewOpError(op, s, err)
}

// ErrnoOf returns the Windows code an error carries: the [Errno] inside it,
// the Win32 code of an [NTStatus] inside it ([RtlNtStatusToDosError]),
// ERROR_SUCCESS for nil, and WSASYSCALLFAILURE for an error that carries none
// (the code ws2_32 uses when a provider fails without setting one).
func ErrnoOf(err error) Errno {
	switch x := err.(type) {
	case nil:
		return ERROR_SUCCESS
	case Errno: // the common cases, without errors.As's allocation
		return x
	case *OpError:
		if e, ok := x.Err.(Errno); ok {
			return e
		}
	}
	var e Errno
	if errors.As(err, &e) {
		return e
	}
	var st NTStatus
	if errors.As(err, &st) {
		return RtlNtStatusToDosError(st)
	}
	return WSASYSCALLFAILURE
}
