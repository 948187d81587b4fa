package layered

import (
	"fmt"
	"net/netip"

	"github.com/wsspi/wsspi/spi"
)

// Hooks are what a user adds to the kit to make an LSP of it. Every hook is
// optional; a Provider with no hooks is a pure forwarding layer.
//
// Before and After act on the client's calls: they see each call as a
// [Call] and return a [Verdict] (pass it on, fail it at once or through its
// completion, complete it with a byte count of their own, delay its
// completion), while the kit keeps the overlapped bookkeeping exact: each
// overlapped call that returns WSA_IO_PENDING or success gets one
// completion, through the client's port, event or completion routine, one
// that fails at once none, and the provider's [Stats] count them. OnSend,
// OnRecv, OnConnect and OnClose are shorthands that only see or change
// data; they run inside Before and After (after Before, before After), so
// Before sees what the client passed and After what the client will be
// told.
//
// Hooks run on the goroutine of the call that triggers them, or on one of
// the provider's worker goroutines (or the goroutine that runs a delayed
// completion) for the result of an overlapped operation that completes
// later, never under a lock of the kit; they must not block, and they may
// run concurrently for different sockets (and, with more than one worker,
// for the same socket).
type Hooks struct {
	// Before sees every call of an operation the kit intercepts (see [Op])
	// when it reaches the layer, before the layer below is called, and
	// decides what happens to it:
	//
	//   - [Pass]: the call goes down, with the buffers of a send, the
	//     address of a connect or sendto and the input of an ioctl as
	//     Before left them in c.
	//   - [Fail]: the call fails at once with the error (SOCKET_ERROR, and
	//     WSAGetLastError says which); nothing goes down and nothing pends.
	//     An overlapped call's OVERLAPPED holds the error, with no
	//     notification, as when the layer below fails a call at once.
	//   - [FailCompletion]: nothing goes down; an overlapped call returns
	//     WSA_IO_PENDING and its completion carries the error. A call that
	//     is not overlapped fails with it.
	//   - [Complete]: nothing goes down; the operation succeeds with the
	//     byte count given, the hook having done its work itself (filled a
	//     receive's buffers or an ioctl's output, swallowed a send). An
	//     overlapped call completes as an immediate success of the layer
	//     below would. For WSPAccept and WSPCloseSocket, which only the
	//     layer below can do, Complete is Pass.
	//   - [Delay]: the call goes down, and its completion reaches the
	//     client the given time after the layer below completed it. Any
	//     verdict's [Verdict.Delayed] holds its completion likewise (a
	//     failure at once of an overlapped call has none to hold).
	//
	// Before does not run for a call the kit refuses itself (a handle that
	// is not the layer's socket, an overlapped call on a socket made
	// without WSA_FLAG_OVERLAPPED, a WSPSelect whose sets name no socket of
	// the layer's).
	//
	// Readiness ([OpSelect], [OpEnumNetworkEvents]) is never overlapped:
	// Fail and FailCompletion fail the call, Complete answers it without
	// the layer below with the sets or events the hook left in c, and a
	// delay holds its return. For a WSAAsyncSelect notification
	// ([OpAsyncSelectMessage]) Fail and FailCompletion drop the message,
	// Complete is Pass, and a delay posts it later.
	Before func(c *Call) Verdict
	// After sees the result of every operation Before let through or
	// completed with FailCompletion or Complete, before the client is told:
	// c.N and c.Err are the layer below's answer (or Before's), received
	// data is in c.Bufs, and the accepted socket in c.Accepted. It may
	// change the data of a receive in place, the address of a recvfrom or
	// an accept, and the flags of a receive, and decides:
	//
	//   - [Pass]: the client is told the result.
	//   - [Fail]: the call fails at once with the error, if it has not yet
	//     returned (the layer below answered at once); otherwise its
	//     completion carries the error. A failed WSPAccept closes the
	//     socket it accepted.
	//   - [FailCompletion]: the completion of an overlapped call carries
	//     the error (the call returns WSA_IO_PENDING if it has not yet
	//     returned); a call that is not overlapped fails with it.
	//   - [Complete]: the operation succeeds with the byte count given
	//     (fewer bytes than the layer below's, say, or the length of data
	//     a hook rewrote), even over a failure below. For WSPAccept and
	//     WSPCloseSocket Complete is Pass.
	//   - [Delay]: the client hears of the result the given time later,
	//     added to any delay Before asked for.
	//
	// After cannot undo what the layer below did: a send it fails was
	// sent, a close it fails closed the socket.
	//
	// For readiness, After sees the sockets WSPSelect reports ready in
	// c.Sets and the events WSPEnumNetworkEvents reports in
	// c.NetworkEvents, and may change them; Fail and FailCompletion fail
	// the call (WSPEnumNetworkEvents has reset the event object all the
	// same). It does not see WSAAsyncSelect notifications.
	After func(c *Call) Verdict

	// OnSend sees the buffers of every send (WSPSend, WSPSendTo, and
	// WriteFile, which the redirector turns into WSPSend, and the data of
	// ConnectEx) before they go to the layer below, and returns the
	// buffers to send instead; returning bufs unchanged inspects only. The
	// byte count reported to the client is the lower layer's count of the
	// buffers returned.
	OnSend func(s *Socket, bufs [][]byte) [][]byte
	// OnRecv sees the data of every receive (WSPRecv, WSPRecvFrom,
	// ReadFile, and the first data of AcceptEx) that completes with status
	// 0 or WSAEMSGSIZE, before the client is told: the first n bytes of
	// bufs, the client's own buffers, which it may change in place.
	OnRecv func(s *Socket, bufs [][]byte, n uint32)
	// OnConnect sees the address of every WSPConnect and returns the
	// address to connect the lower socket to; an error fails the connect
	// with that error (an [spi.Errno]) before the layer below is called.
	OnConnect func(s *Socket, name netip.AddrPort) (netip.AddrPort, error)
	// OnClose runs once per socket when it closes: in WSPCloseSocket, after
	// the layer below closed its socket, or in the last WSPCleanup for a
	// socket left open.
	OnClose func(s *Socket)
}

// acts reports whether Before or After is set.
func (h *Hooks) acts() bool { return h.Before != nil || h.After != nil }

// Op is the kind of operation a [Call] is.
type Op uint8

// The operations Before and After see. The proc-table entry or extension
// function of each call is in [Call.Func].
const (
	// OpSend is WSPSend, WSPSendTo, and WriteFile on the layer's handle
	// (which the redirector turns into WSPSend).
	OpSend Op = iota + 1
	// OpRecv is WSPRecv, WSPRecvFrom, and ReadFile on the layer's handle
	// (which the redirector turns into WSPRecv).
	OpRecv
	// OpConnect is WSPConnect (connect, WSAConnect) and ConnectEx.
	OpConnect
	// OpAccept is WSPAccept (accept, WSAAccept) and AcceptEx.
	OpAccept
	// OpIoctl is WSPIoctl (WSAIoctl, ioctlsocket), every control code,
	// SIO_GET_EXTENSION_FUNCTION_POINTER and SIO_BASE_HANDLE included.
	OpIoctl
	// OpClose is WSPCloseSocket (closesocket). The last WSPCleanup closes
	// the sockets left open without it.
	OpClose
	// OpSelect is WSPSelect (select), which reaches the layer only when
	// ws2_32 chose it to serve the call: under [Config.ServeSelect], or
	// when a layer above calls it. [Call.Sets] are the client's sets;
	// [Call.Socket] is the first socket of the layer's in them.
	OpSelect
	// OpEnumNetworkEvents is WSPEnumNetworkEvents (WSAEnumNetworkEvents):
	// [Call.NetworkEvents] is its result.
	OpEnumNetworkEvents
	// OpAsyncSelectMessage is a WSAAsyncSelect notification the layer is
	// about to post to the client's window with WPUPostMessage, having
	// received it from the layer below on its hidden window. Only Before
	// sees it (there is no result to see): it may change [Call.LParam],
	// drop the message with Fail or FailCompletion (any error), or delay
	// it.
	OpAsyncSelectMessage
)

var opNames = [...]string{OpSend: "send", OpRecv: "recv", OpConnect: "connect", OpAccept: "accept", OpIoctl: "ioctl", OpClose: "close",
	OpSelect: "select", OpEnumNetworkEvents: "enumnetworkevents", OpAsyncSelectMessage: "asyncselectmessage"}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// Call is one client call as Before and After see it. The kit fills it;
// fields marked "Before may change" or "After may change" are read back
// after the hook returns, and others are for reading. A hook must not keep
// c, or c.Bufs, after it returns: the kit reuses them.
type Call struct {
	// Op is the kind of operation.
	Op Op
	// Func is the function called: "WSPSend", "WSPSendTo", "WSPRecv",
	// "WSPRecvFrom", "WSPConnect", "WSPAccept", "WSPIoctl",
	// "WSPCloseSocket", "WSPSelect", "WSPEnumNetworkEvents" (ReadFile and
	// WriteFile arrive as WSPRecv and WSPSend), the extension function
	// "AcceptEx" or "ConnectEx", or, for a WSAAsyncSelect notification,
	// "WPUPostMessage", the upcall the layer is about to make.
	Func string
	// Socket is the layer's socket the call is on (for AcceptEx, the
	// listening socket, where it completes).
	Socket *Socket
	// Overlapped says that the call is overlapped: its result can come
	// later, through the client's port, event or completion routine.
	Overlapped bool

	// Bufs are the data buffers: of a send (and ConnectEx's data), what
	// goes down, which Before may change (replace the slice; the client's
	// buffers must not be written); of a receive (and AcceptEx's first
	// data), the client's buffers, which After may rewrite in place (the
	// first N bytes are the data).
	Bufs [][]byte
	// Flags are a send's flags (Before may change) or a receive's flags
	// as the layer below returned them, MSG_PARTIAL say (After may
	// change).
	Flags uint32
	// Addr is the address of a WSPConnect or ConnectEx, or the destination
	// of a WSPSendTo (Before may change); the sender of a WSPRecvFrom or
	// the peer of a WSPAccept (After may change).
	Addr netip.AddrPort
	// Code is an ioctl's control code.
	Code uint32
	// In is an ioctl's input (Before may change: replace the slice); Out
	// its output buffer, which the layer below fills and After, or a
	// Before that completes the call itself, may write.
	In, Out []byte
	// Accepted is the socket WSPAccept made (After), or AcceptEx's accept
	// socket.
	Accepted *Socket

	// Sets are the read, write and except sets of WSPSelect (nil where the
	// client passed none), the client's own, naming the client's handles.
	// Before sees what the client asks for and must not change them,
	// unless it completes the call itself (Complete): then the sets as it
	// leaves them are the answer. After sees the sockets reported ready,
	// and may change the answer: remove a socket from a set, or add one
	// the client asked about. The count select returns is the sets'
	// entries as the hooks leave them.
	Sets [3]*spi.FDSet
	// Event is the event object WSPEnumNetworkEvents resets (0: none).
	Event spi.Handle
	// NetworkEvents is the result of WSPEnumNetworkEvents, the FD_* events
	// that occurred and the error of each (After may change; a Before that
	// completes the call itself fills it, zero otherwise).
	NetworkEvents *spi.WSANetworkEvents
	// HWnd and Msg are the client's window and message of a WSAAsyncSelect
	// notification, as WSPAsyncSelect gave them.
	HWnd spi.HWND
	Msg  uint32
	// LParam is a WSAAsyncSelect notification's lParam: the FD_* event in
	// the low word, its error in the high word (see
	// [spi.WSAMAKESELECTREPLY]). Before may change it.
	LParam uintptr

	// N is the byte count of the result (After): bytes sent, received or
	// returned by the ioctl.
	N uint32
	// Err is the error of the result (After), 0 for success: the layer
	// below's, or the one FailCompletion gave. A receive that truncated a
	// datagram has WSAEMSGSIZE with its data.
	Err spi.Errno

	size  uint32 // the most bytes the operation can report: the client's buffers
	sized bool   // the operation reports a byte count (not WSPConnect, WSPAccept, WSPCloseSocket)
}

// complete returns n as the byte count of c's operation: a count larger
// than the client's buffers (the data of a send or receive, an ioctl's
// output) is programmer misuse. An operation without a byte count reports
// 0.
func (c *Call) complete(n uint32) uint32 {
	if !c.sized {
		return 0
	}
	if n > c.size {
		panic(fmt.Sprintf("layered: a hook completed %s with %d bytes, more than the %d of its buffers", c.Func, n, c.size))
	}
	return n
}

// bytesOf returns the total length of bufs.
func bytesOf(bufs [][]byte) uint32 {
	var n uint32
	for _, b := range bufs {
		n += uint32(len(b))
	}
	return n
}
