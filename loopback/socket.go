package loopback

import (
	"net/netip"
	"sync/atomic"

	"github.com/wsspi/wsspi/spi"
)

// sockState is where a socket is in its life.
type sockState uint8

const (
	stateOpen      sockState = iota // created, maybe bound
	stateListening                  // a TCP socket after listen
	stateConnected                  // a TCP connection, or a UDP socket with a default peer
)

// options are the socket options the provider keeps.
type options struct {
	sndbuf    int
	rcvbuf    int
	linger    spi.Linger
	reuseAddr bool
	noDelay   bool
}

// socket is one endpoint of the network: a socket handle of a process, or
// the server end of a connection that waits in a listener's backlog and
// gets its handle at accept. It is also the [spi.FileDriver] of its file
// object. Fields marked "network lock" are guarded by Network.mu; the
// others are set before the socket is shared and never change.
type socket struct {
	n          *Network
	info       *spi.WSAProtocolInfo // the catalog entry, as SO_PROTOCOL_INFOW reports it; shared, never written
	v6         bool
	stream     bool
	overlapped bool // created with WSA_FLAG_OVERLAPPED
	helper     bool // an AFD helper handle (OpenAFDHelper): no endpoint, polls only

	// Set once the socket has a handle (at WSPSocket, or at accept for a
	// server end), before the handle is published.
	p  *Provider
	h  spi.Socket
	fo spi.FileObject

	// network lock
	state       sockState
	closed      bool
	nonblocking bool
	bound       bool
	accepted    bool // a server end: shares its listener's port, holds no port of its own
	local       netip.AddrPort
	remote      netip.AddrPort // the peer of a connection, the default peer of UDP
	opt         options
	soError     spi.Errno // SO_ERROR: a nonblocking connect's failure, read and cleared
	shutSend    bool
	shutRecv    bool

	// network lock: a TCP connection
	peer       *socket // the other end; nil once the connection is reset
	rx         ring    // bytes from the peer not yet received
	rxFin      bool    // the peer's FIN follows the bytes in rx
	finPending bool    // SD_SEND was asked while sends were queued
	err        spi.Errno

	// network lock: a listener
	backlog  int
	acceptq  []*socket // established connections not yet accepted
	listener *socket   // for a server end in a backlog: its listener

	// network lock: AcceptEx (see extension.go)
	acceptOp   *op   // an accept socket: the AcceptEx waiting for a connection onto it
	acceptData []*op // a listener: its AcceptEx ops waiting for first data on their accept sockets

	// network lock: UDP
	dq dgramQueue

	// network lock: operations
	sendq     opQueue // sends waiting for buffer space, in submission order
	recvq     opQueue // receives waiting for data, in submission order
	notifyq   opQueue // finished overlapped ops waiting for their Complete call
	notifying bool    // a goroutine is delivering notifyq
	inflight  *op     // the op whose Complete call is running

	// network lock: readiness (see netevents.go and afdpoll.go)
	sel         *netSelect // the WSPEventSelect or WSPAsyncSelect selection, or nil
	armed       int32      // FD_* events that may be recorded (not waiting for their re-enabling call)
	connectDone bool       // the outcome of a connect is known: FD_CONNECT's condition
	connectErr  spi.Errno  // that outcome's error
	polls       []*afdPoll // pending AFD polls that list this socket, in issue order
	issued      []*afdPoll // pending AFD polls issued on this socket's handle, in issue order

	selected atomic.Bool // sel != nil, readable without the lock
}

func newSocket(n *Network, info *spi.WSAProtocolInfo, overlapped bool) *socket {
	return &socket{
		n:          n,
		info:       info,
		v6:         info.AddressFamily == spi.AF_INET6,
		stream:     info.SocketType == spi.SOCK_STREAM,
		overlapped: overlapped,
		opt:        options{sndbuf: DefaultSendBuffer, rcvbuf: DefaultReceiveBuffer},
		armed:      armedAtStart,
	}
}

func (s *socket) udp() bool { return !s.stream }

// maxDatagram is the largest payload a datagram socket sends: its catalog
// entry's dwMessageSize, or MaxDatagramSize when the entry gives none.
func (s *socket) maxDatagram() int {
	if s.info.MessageSize == 0 {
		return MaxDatagramSize
	}
	return int(s.info.MessageSize)
}
