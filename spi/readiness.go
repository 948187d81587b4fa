package spi

// Readiness vocabulary: the FD_*_BIT numbers of WSANETWORKEVENTS, the
// WSAAsyncSelect message parameter, and WSAPoll's WSAPOLLFD with its POLL*
// flags (winsock2.h, docs/facts.md §4).

// Bit numbers of the FD_* network events (FD_READ_BIT and the rest,
// winsock2.h): FD_X is 1 << FD_X_BIT, and WSANETWORKEVENTS.iErrorCode is
// indexed by them.
const (
	FD_READ_BIT                     = 0
	FD_WRITE_BIT                    = 1
	FD_OOB_BIT                      = 2
	FD_ACCEPT_BIT                   = 3
	FD_CONNECT_BIT                  = 4
	FD_CLOSE_BIT                    = 5
	FD_QOS_BIT                      = 6
	FD_GROUP_QOS_BIT                = 7
	FD_ROUTING_INTERFACE_CHANGE_BIT = 8
	FD_ADDRESS_LIST_CHANGE_BIT      = 9
)

// WSAMAKESELECTREPLY builds the lParam of a WSAAsyncSelect message: the
// FD_* event in the low word, its error in the high word (MAKELONG(event,
// error), winsock2.h).
func WSAMAKESELECTREPLY(event uint16, err Errno) uintptr {
	return uintptr(uint32(event) | uint32(uint16(err))<<16)
}

// WSAGETSELECTEVENT is the FD_* event of a WSAAsyncSelect message's lParam
// (its low word).
func WSAGETSELECTEVENT(lParam uintptr) uint16 { return uint16(lParam) }

// WSAGETSELECTERROR is the error of a WSAAsyncSelect message's lParam (its
// high word), 0 for none.
func WSAGETSELECTERROR(lParam uintptr) Errno { return Errno(uint16(lParam >> 16)) }

// Flags of WSAPOLLFD.events and revents (winsock2.h).
const (
	POLLRDNORM = 0x0100
	POLLRDBAND = 0x0200
	POLLIN     = POLLRDNORM | POLLRDBAND
	POLLPRI    = 0x0400
	POLLWRNORM = 0x0010
	POLLOUT    = POLLWRNORM
	POLLWRBAND = 0x0020
	POLLERR    = 0x0001
	POLLHUP    = 0x0002
	POLLNVAL   = 0x0004
)

// WSAPOLLFD models WSAPOLLFD, one socket of a WSAPoll call: the events
// asked for (POLLRDNORM, POLLWRNORM, ...) and, after the call, those that
// occurred. An Fd that is negative as a C SOCKET would read it (top bit
// set, INVALID_SOCKET included) is ignored and its Revents set to 0. Only
// Revents is written by WSAPoll.
type WSAPOLLFD struct {
	Fd      Socket
	Events  int16
	Revents int16
}
