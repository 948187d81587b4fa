package trace

import (
	"strconv"
	"strings"

	"github.com/wsspi/wsspi/spi"
)

// errnoNames are the Windows names of the codes the simulator returns.
// Where winsock2.h defines a WSA_ alias of a Win32 code, the Win32 name is
// here and the alias in wsaAliases.
var errnoNames = map[spi.Errno]string{
	spi.ERROR_SUCCESS:               "ERROR_SUCCESS",
	spi.ERROR_INVALID_FUNCTION:      "ERROR_INVALID_FUNCTION",
	spi.ERROR_FILE_NOT_FOUND:        "ERROR_FILE_NOT_FOUND",
	spi.ERROR_ACCESS_DENIED:         "ERROR_ACCESS_DENIED",
	spi.ERROR_INVALID_HANDLE:        "ERROR_INVALID_HANDLE",
	spi.ERROR_NOT_ENOUGH_MEMORY:     "ERROR_NOT_ENOUGH_MEMORY",
	spi.ERROR_NOT_SUPPORTED:         "ERROR_NOT_SUPPORTED",
	spi.ERROR_NETNAME_DELETED:       "ERROR_NETNAME_DELETED",
	spi.ERROR_INVALID_PARAMETER:     "ERROR_INVALID_PARAMETER",
	spi.ERROR_CALL_NOT_IMPLEMENTED:  "ERROR_CALL_NOT_IMPLEMENTED",
	spi.ERROR_INSUFFICIENT_BUFFER:   "ERROR_INSUFFICIENT_BUFFER",
	spi.ERROR_MORE_DATA:             "ERROR_MORE_DATA",
	spi.WAIT_TIMEOUT:                "WAIT_TIMEOUT",
	spi.ERROR_ABANDONED_WAIT_0:      "ERROR_ABANDONED_WAIT_0",
	spi.ERROR_OPERATION_ABORTED:     "ERROR_OPERATION_ABORTED",
	spi.ERROR_IO_INCOMPLETE:         "ERROR_IO_INCOMPLETE",
	spi.ERROR_IO_PENDING:            "ERROR_IO_PENDING",
	spi.ERROR_NOT_FOUND:             "ERROR_NOT_FOUND",
	spi.ERROR_INVALID_NETNAME:       "ERROR_INVALID_NETNAME",
	spi.ERROR_OBJECT_ALREADY_EXISTS: "ERROR_OBJECT_ALREADY_EXISTS",
	spi.ERROR_NOT_READY:             "ERROR_NOT_READY",
	spi.ERROR_GEN_FAILURE:           "ERROR_GEN_FAILURE",
	spi.ERROR_REM_NOT_LIST:          "ERROR_REM_NOT_LIST",
	spi.ERROR_DUP_NAME:              "ERROR_DUP_NAME",
	spi.ERROR_UNEXP_NET_ERR:         "ERROR_UNEXP_NET_ERR",
	spi.ERROR_TOO_MANY_NAMES:        "ERROR_TOO_MANY_NAMES",
	spi.ERROR_REQ_NOT_ACCEP:         "ERROR_REQ_NOT_ACCEP",
	spi.ERROR_SEM_TIMEOUT:           "ERROR_SEM_TIMEOUT",
	spi.ERROR_PIPE_NOT_CONNECTED:    "ERROR_PIPE_NOT_CONNECTED",
	spi.ERROR_MR_MID_NOT_FOUND:      "ERROR_MR_MID_NOT_FOUND",
	spi.ERROR_PROCESS_ABORTED:       "ERROR_PROCESS_ABORTED",
	spi.ERROR_INVALID_WINDOW_HANDLE: "ERROR_INVALID_WINDOW_HANDLE",
	spi.ERROR_CONNECTION_REFUSED:    "ERROR_CONNECTION_REFUSED",
	spi.ERROR_GRACEFUL_DISCONNECT:   "ERROR_GRACEFUL_DISCONNECT",
	spi.ERROR_CONNECTION_ACTIVE:     "ERROR_CONNECTION_ACTIVE",
	spi.ERROR_NETWORK_UNREACHABLE:   "ERROR_NETWORK_UNREACHABLE",
	spi.ERROR_HOST_UNREACHABLE:      "ERROR_HOST_UNREACHABLE",
	spi.ERROR_PROTOCOL_UNREACHABLE:  "ERROR_PROTOCOL_UNREACHABLE",
	spi.ERROR_PORT_UNREACHABLE:      "ERROR_PORT_UNREACHABLE",
	spi.ERROR_REQUEST_ABORTED:       "ERROR_REQUEST_ABORTED",
	spi.ERROR_CONNECTION_ABORTED:    "ERROR_CONNECTION_ABORTED",
	spi.ERROR_HOST_DOWN:             "ERROR_HOST_DOWN",
	spi.ERROR_NO_SYSTEM_RESOURCES:   "ERROR_NO_SYSTEM_RESOURCES",
	spi.ERROR_TIMEOUT:               "ERROR_TIMEOUT",
	spi.WSAEINTR:                    "WSAEINTR",
	spi.WSAEBADF:                    "WSAEBADF",
	spi.WSAEACCES:                   "WSAEACCES",
	spi.WSAEFAULT:                   "WSAEFAULT",
	spi.WSAEINVAL:                   "WSAEINVAL",
	spi.WSAEMFILE:                   "WSAEMFILE",
	spi.WSAEWOULDBLOCK:              "WSAEWOULDBLOCK",
	spi.WSAEINPROGRESS:              "WSAEINPROGRESS",
	spi.WSAEALREADY:                 "WSAEALREADY",
	spi.WSAENOTSOCK:                 "WSAENOTSOCK",
	spi.WSAEDESTADDRREQ:             "WSAEDESTADDRREQ",
	spi.WSAEMSGSIZE:                 "WSAEMSGSIZE",
	spi.WSAEPROTOTYPE:               "WSAEPROTOTYPE",
	spi.WSAENOPROTOOPT:              "WSAENOPROTOOPT",
	spi.WSAEPROTONOSUPPORT:          "WSAEPROTONOSUPPORT",
	spi.WSAESOCKTNOSUPPORT:          "WSAESOCKTNOSUPPORT",
	spi.WSAEOPNOTSUPP:               "WSAEOPNOTSUPP",
	spi.WSAEPFNOSUPPORT:             "WSAEPFNOSUPPORT",
	spi.WSAEAFNOSUPPORT:             "WSAEAFNOSUPPORT",
	spi.WSAEADDRINUSE:               "WSAEADDRINUSE",
	spi.WSAEADDRNOTAVAIL:            "WSAEADDRNOTAVAIL",
	spi.WSAENETDOWN:                 "WSAENETDOWN",
	spi.WSAENETUNREACH:              "WSAENETUNREACH",
	spi.WSAENETRESET:                "WSAENETRESET",
	spi.WSAECONNABORTED:             "WSAECONNABORTED",
	spi.WSAECONNRESET:               "WSAECONNRESET",
	spi.WSAENOBUFS:                  "WSAENOBUFS",
	spi.WSAEISCONN:                  "WSAEISCONN",
	spi.WSAENOTCONN:                 "WSAENOTCONN",
	spi.WSAESHUTDOWN:                "WSAESHUTDOWN",
	spi.WSAETOOMANYREFS:             "WSAETOOMANYREFS",
	spi.WSAETIMEDOUT:                "WSAETIMEDOUT",
	spi.WSAECONNREFUSED:             "WSAECONNREFUSED",
	spi.WSAELOOP:                    "WSAELOOP",
	spi.WSAENAMETOOLONG:             "WSAENAMETOOLONG",
	spi.WSAEHOSTDOWN:                "WSAEHOSTDOWN",
	spi.WSAEHOSTUNREACH:             "WSAEHOSTUNREACH",
	spi.WSAENOTEMPTY:                "WSAENOTEMPTY",
	spi.WSAEPROCLIM:                 "WSAEPROCLIM",
	spi.WSAEUSERS:                   "WSAEUSERS",
	spi.WSAEDQUOT:                   "WSAEDQUOT",
	spi.WSAESTALE:                   "WSAESTALE",
	spi.WSAEREMOTE:                  "WSAEREMOTE",
	spi.WSASYSNOTREADY:              "WSASYSNOTREADY",
	spi.WSAVERNOTSUPPORTED:          "WSAVERNOTSUPPORTED",
	spi.WSANOTINITIALISED:           "WSANOTINITIALISED",
	spi.WSAEDISCON:                  "WSAEDISCON",
	spi.WSAENOMORE:                  "WSAENOMORE",
	spi.WSAECANCELLED:               "WSAECANCELLED",
	spi.WSAEINVALIDPROCTABLE:        "WSAEINVALIDPROCTABLE",
	spi.WSAEINVALIDPROVIDER:         "WSAEINVALIDPROVIDER",
	spi.WSAEPROVIDERFAILEDINIT:      "WSAEPROVIDERFAILEDINIT",
	spi.WSASYSCALLFAILURE:           "WSASYSCALLFAILURE",
	spi.WSASERVICE_NOT_FOUND:        "WSASERVICE_NOT_FOUND",
	spi.WSATYPE_NOT_FOUND:           "WSATYPE_NOT_FOUND",
	spi.WSA_E_NO_MORE:               "WSA_E_NO_MORE",
	spi.WSA_E_CANCELLED:             "WSA_E_CANCELLED",
	spi.WSAEREFUSED:                 "WSAEREFUSED",
	spi.WSAHOST_NOT_FOUND:           "WSAHOST_NOT_FOUND",
	spi.WSATRY_AGAIN:                "WSATRY_AGAIN",
	spi.WSANO_RECOVERY:              "WSANO_RECOVERY",
	spi.WSANO_DATA:                  "WSANO_DATA",
}

// wsaAliases are the WSA_ names winsock2.h gives some Win32 codes; Winsock
// functions and completions are shown with them.
var wsaAliases = map[spi.Errno]string{
	spi.WSA_INVALID_HANDLE:    "WSA_INVALID_HANDLE",
	spi.WSA_NOT_ENOUGH_MEMORY: "WSA_NOT_ENOUGH_MEMORY",
	spi.WSA_INVALID_PARAMETER: "WSA_INVALID_PARAMETER",
	spi.WSA_OPERATION_ABORTED: "WSA_OPERATION_ABORTED",
	spi.WSA_IO_INCOMPLETE:     "WSA_IO_INCOMPLETE",
	spi.WSA_IO_PENDING:        "WSA_IO_PENDING",
	spi.WSA_WAIT_TIMEOUT:      "WSA_WAIT_TIMEOUT",
}

// errnoString formats a code as its Windows name and number,
// "WSAENOTSOCK (10038)", preferring the WSA_ alias for a Winsock function
// and the Win32 name otherwise.
func errnoString(e spi.Errno, winsock bool) string {
	n := strconv.FormatUint(uint64(e), 10)
	if name, ok := wsaAliases[e]; ok && winsock {
		return name + " (" + n + ")"
	}
	if name, ok := errnoNames[e]; ok {
		return name + " (" + n + ")"
	}
	return "error " + n
}

// winsockFunc reports whether fn is a Winsock function (the WSA, WSP and
// WPU families and the BSD-style calls), whose codes are shown with their
// WSA_ names.
func winsockFunc(fn string) bool {
	if strings.HasPrefix(fn, "WSA") || strings.HasPrefix(fn, "WSP") || strings.HasPrefix(fn, "WPU") {
		return true
	}
	return fn != "" && fn[0] >= 'a' && fn[0] <= 'z' // socket, bind, closesocket, ...
}
