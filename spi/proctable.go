package spi

import (
	"net/netip"
	"time"
)

// WSPProcTable models WSPPROC_TABLE: the 30 entry points a provider returns
// from WSPStartup, in header order. Every entry must be set; ws2_32 rejects a
// table with a nil entry with WSAEINVALIDPROCTABLE (see
// [WSPProcTable.Missing]). A provider that implements only some entries
// calls [WSPProcTable.FillNotSupported] before returning the table.
//
// A layered provider may copy the next layer's table and replace a few
// entries, as IFS layered providers do.
//
// Overlapped calls follow the WSPSend rules: a nil error means the operation
// completed at once (and its notification, if any, was still delivered);
// WSA_IO_PENDING means it started and will complete later; any other error
// means nothing started and no notification will come.
type WSPProcTable struct {
	// WSPAccept accepts a connection on listening socket s; condition may
	// be nil.
	WSPAccept func(s Socket, condition ConditionFunc, callbackData any) (Socket, netip.AddrPort, error)
	// WSPAddressToString formats addr for the protocol of info.
	WSPAddressToString func(addr netip.AddrPort, info *WSAProtocolInfo) (string, error)
	// WSPAsyncSelect asks for window messages for network events.
	WSPAsyncSelect func(s Socket, hWnd HWND, msg uint32, events int32) error
	// WSPBind binds s to a local address.
	WSPBind func(s Socket, name netip.AddrPort) error
	// WSPCancelBlockingCall cancels a blocking call in progress.
	WSPCancelBlockingCall func() error
	// WSPCleanup undoes one WSPStartup; the last one cancels every pending
	// operation without notification and closes every socket.
	WSPCleanup func() error
	// WSPCloseSocket closes s; pending overlapped operations complete with
	// WSA_OPERATION_ABORTED through their chosen mechanism.
	WSPCloseSocket func(s Socket) error
	// WSPConnect connects s to name. calleeData, when not nil, receives
	// the peer's connect data.
	WSPConnect func(s Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *QOS) error
	// WSPDuplicateSocket describes s for use by another process.
	WSPDuplicateSocket func(s Socket, processID uint32) (WSAProtocolInfo, error)
	// WSPEnumNetworkEvents reports and clears the network events of s and
	// resets event.
	WSPEnumNetworkEvents func(s Socket, event Handle) (WSANetworkEvents, error)
	// WSPEventSelect associates event with the FD_* events of s.
	WSPEventSelect func(s Socket, event Handle, networkEvents int32) error
	// WSPGetOverlappedResult returns the result of an overlapped operation
	// on s: the bytes transferred and the receive flags. With wait it blocks
	// on the operation's event. A pending operation without wait gives
	// WSA_IO_INCOMPLETE.
	WSPGetOverlappedResult func(s Socket, ov *Overlapped, wait bool) (bytes uint32, flags uint32, err error)
	// WSPGetPeerName returns the address of the peer of s.
	WSPGetPeerName func(s Socket) (netip.AddrPort, error)
	// WSPGetSockName returns the local address of s.
	WSPGetSockName func(s Socket) (netip.AddrPort, error)
	// WSPGetSockOpt copies the value of an option into optval and returns
	// its length; a short optval gives WSAEFAULT.
	WSPGetSockOpt func(s Socket, level, optname int32, optval []byte) (int, error)
	// WSPGetQOSByName looks up a QOS template by name.
	WSPGetQOSByName func(s Socket, name []byte) (QOS, error)
	// WSPIoctl performs a control operation; out receives the result and
	// the count returned is how much of it was filled.
	WSPIoctl func(s Socket, code uint32, in, out []byte, ov *Overlapped, cr CompletionRoutine, thread *ThreadID) (bytesReturned uint32, err error)
	// WSPJoinLeaf joins a multipoint session.
	WSPJoinLeaf func(s Socket, name netip.AddrPort, callerData []byte, calleeData *[]byte, sqos, gqos *QOS, flags uint32) (Socket, error)
	// WSPListen makes s listen with the given backlog.
	WSPListen func(s Socket, backlog int32) error
	// WSPRecv receives into bufs. flags is in/out (MSG_PEEK in,
	// MSG_PARTIAL out); for an overlapped operation that pends, the result
	// flags come from WSPGetOverlappedResult instead.
	WSPRecv func(s Socket, bufs [][]byte, flags *uint32, ov *Overlapped, cr CompletionRoutine, thread *ThreadID) (uint32, error)
	// WSPRecvDisconnect ends reception and returns disconnect data.
	WSPRecvDisconnect func(s Socket) ([]byte, error)
	// WSPRecvFrom receives a datagram into bufs; from, when not nil,
	// receives the sender's address, also for an operation that pends.
	WSPRecvFrom func(s Socket, bufs [][]byte, flags *uint32, from *netip.AddrPort, ov *Overlapped, cr CompletionRoutine, thread *ThreadID) (uint32, error)
	// WSPSelect reports readiness of the sockets in the sets, updating them
	// in place. A nil timeout blocks.
	WSPSelect func(readfds, writefds, exceptfds *FDSet, timeout *time.Duration) (int, error)
	// WSPSend sends bufs, in order, as one operation.
	WSPSend func(s Socket, bufs [][]byte, flags uint32, ov *Overlapped, cr CompletionRoutine, thread *ThreadID) (uint32, error)
	// WSPSendDisconnect starts a disconnect, with optional data.
	WSPSendDisconnect func(s Socket, data []byte) error
	// WSPSendTo sends bufs as one datagram to to.
	WSPSendTo func(s Socket, bufs [][]byte, flags uint32, to netip.AddrPort, ov *Overlapped, cr CompletionRoutine, thread *ThreadID) (uint32, error)
	// WSPSetSockOpt sets an option from optval.
	WSPSetSockOpt func(s Socket, level, optname int32, optval []byte) error
	// WSPShutdown disables sends, receives or both (SD_*).
	WSPShutdown func(s Socket, how int32) error
	// WSPSocket creates a socket. IFS providers register it with
	// WPUModifyIFSHandle, non-IFS providers create it with
	// WPUCreateSocketHandle, before returning it.
	WSPSocket func(af, typ, protocol int32, info *WSAProtocolInfo, g Group, flags uint32) (Socket, error)
	// WSPStringToAddress parses an address for the protocol of info.
	WSPStringToAddress func(address string, af int32, info *WSAProtocolInfo) (netip.AddrPort, error)
}

// WSPStartupFunc models WSPStartup, the one function a provider "DLL"
// exports. It is called with the highest version the caller supports
// (WINSOCK_VERSION), the catalog entry being loaded (for a layered provider,
// the chain entry, so it can find its position), the upcall table passed by
// value, and the functions a provider links directly from ws2_32. It returns
// the negotiated version and the provider's proc table. An error is returned
// as is, as WSPStartup returns its error code.
type WSPStartupFunc func(versionRequested uint16, info *WSAProtocolInfo, upcalls WSPUpcallTable, imports Imports) (WSPData, WSPProcTable, error)

// Imports holds what a provider links directly instead of receiving it in
// the upcall table, such as WPUCompleteOverlappedRequest, which ws2_32
// exports but does not put in WSPUPCALLTABLE.
type Imports struct {
	// WPUCompleteOverlappedRequest completes an overlapped operation on a
	// socket made by WPUCreateSocketHandle.
	WPUCompleteOverlappedRequest WPUCompleteOverlappedRequestFunc

	// CreateFileObject creates the file object of a new IFS socket in the
	// calling process, as a base provider's kernel driver does, with driver
	// serving ReadFile, WriteFile and CancelIo on it. overlapped says whether
	// the socket was created with WSA_FLAG_OVERLAPPED. The handle starts
	// unowned; the provider registers it with WPUModifyIFSHandle. It fails
	// with WSAENOBUFS when the handle table is full.
	CreateFileObject func(driver FileDriver, overlapped bool) (FileObject, error)

	// FileDriver returns the driver of the IFS file object behind handle h
	// of the calling process, and false for any other handle: how msafd
	// learns from AFD about a socket handle it did not create itself (its
	// SockImportHandle), one that DuplicateHandle or WSADuplicateSocket put
	// in the process. The driver is the one passed to CreateFileObject.
	FileDriver func(h Handle) (FileDriver, bool)

	// ReleaseFileHandle is how a base provider's WSPCloseSocket closes one
	// descriptor of a socket that may have several (WSADuplicateSocket,
	// DuplicateHandle): if h, a handle of the calling process, is not the
	// last handle of its file object, it closes h and reports false, and
	// the socket stays open for its other handles; if it is the last, it
	// leaves h open and reports true, and the provider closes the socket
	// and then its file object ([FileObject.Close]), as the last close of
	// a shared socket does. It fails with WSAENOTSOCK for a handle that is
	// no live IFS socket of the process.
	ReleaseFileHandle func(h Handle) (last bool, err error)

	// DuplicateHandle gives the process whose id is targetProcessID (the
	// calling process included) a new handle to the IFS file object
	// behind h, as a base provider's WSPDuplicateSocket does with
	// NtDuplicateObject, and returns its value in that process. It fails
	// with WSAEINVAL for an unknown process and WSAENOTSOCK for a handle
	// that is no live IFS socket.
	DuplicateHandle func(h Handle, targetProcessID uint32) (Handle, error)

	// LoadNext is what a layered provider does to reach the layer below
	// it, in WSPStartup or lazily in WSPSocket: find its own id self in
	// chain, take the next element, find that entry in the process's
	// catalog (WSCEnumProtocols), get its provider's path
	// (WSCGetProviderPath), load it and start it up. The result carries the
	// next layer's proc table, the protocol info to pass to its WSPSocket
	// (the chain itself when the next element is a layer, the base
	// provider's own entry when it is the base), and the Cleanup that undoes
	// the load, which the layer calls from its own last WSPCleanup.
	LoadNext func(chain *WSAProtocolInfo, self CatalogEntryId) (NextLayer, error)

	// The kernel32 functions a provider uses on its own behalf, such as a
	// layered provider that catches the completions of its lower sockets
	// on a private completion port served by its own worker threads, as
	// Microsoft's non-IFS LSP sample does. They behave as the client API of
	// the same names; a provider's worker goroutine first makes itself a
	// simulated thread with CreateThread and passes its id to
	// GetQueuedCompletionStatus, and ends it with ExitThread.

	CreateIoCompletionPort             func(file, existing Handle, key uintptr, concurrency uint32) (Handle, error)
	GetQueuedCompletionStatus          func(thread ThreadID, port Handle, timeout time.Duration) (OverlappedEntry, error)
	PostQueuedCompletionStatus         func(port Handle, bytes uint32, key uintptr, ov *Overlapped) error
	SetFileCompletionNotificationModes func(h Handle, flags uint8) error
	CloseHandle                        func(h Handle) error
	CreateThread                       func() (ThreadID, error)
	ExitThread                         func(thread ThreadID) error

	// CreateWindow makes a hidden window of the provider's own, as
	// Microsoft's LSP sample makes one for WSPAsyncSelect: messages posted
	// to it with WPUPostMessage (by the layer below, say) call proc with
	// the message, wParam and lParam. The simulator has no message loop: proc
	// runs in the posting call, as if the window's thread always waited in
	// GetMessage, so a provider posts outside its own locks. DestroyWindow
	// ends it; later posts to it fail (WPUPostMessage returns false).
	CreateWindow  func(proc WindowProc) (HWND, error)
	DestroyWindow func(hWnd HWND) error

	// RegisterExtension gives an extension function, such as an
	// [AcceptExFunc] or a [ConnectExFunc] (of those named types), a
	// "function pointer" in the calling process: a cookie, stable and never
	// reused, that the provider writes into the out buffer of
	// SIO_GET_EXTENSION_FUNCTION_POINTER (see [PutExtensionPointer]). The
	// client turns the cookie back into the function through its process
	// and calls it directly, as a C client calls the pointer. Registering
	// the same function value again returns a new cookie; a provider that
	// answers the ioctl often keeps the cookie it got.
	RegisterExtension func(fn any) uintptr

	// ExtensionFunction turns a cookie from RegisterExtension back into
	// the function registered, as calling through a function pointer does
	// in C: a layered provider uses it on the pointer the layer below
	// returned for SIO_GET_EXTENSION_FUNCTION_POINTER. ok is false for a
	// cookie nobody registered in the process.
	ExtensionFunction func(cookie uintptr) (fn any, ok bool)
}

// NextLayer is the layer below a layered provider, as [Imports.LoadNext]
// returns it.
type NextLayer struct {
	// ProcTable is the next layer's proc table.
	ProcTable WSPProcTable
	// Info is the protocol info to pass to the next layer's WSPSocket,
	// WSPDuplicateSocket, WSPAddressToString and WSPStringToAddress.
	Info WSAProtocolInfo
	// Cleanup undoes the load: the WSPCleanup the next layer's WSPStartup
	// needs. Call it once.
	Cleanup func() error
}

// WPUCompleteOverlappedRequestFunc models WPUCompleteOverlappedRequest: it
// sets ov.InternalHigh to cbTransferred, then ov.Internal to a value other
// than WSS_OPERATION_IN_PROGRESS, then delivers the completion the client
// chose (a packet to the port the client associated with s, and/or the
// event). It never queues an APC; a provider uses WPUQueueApc for completion
// routines. It fails with WSAEINVAL for a socket not made by
// WPUCreateSocketHandle, and for an overlapped that is not an operation in
// progress (Internal == WSS_OPERATION_IN_PROGRESS, as the provider sets it
// with [Overlapped.SetInProgress] when the operation starts), so a second
// completion of one operation is refused rather than delivered twice.
type WPUCompleteOverlappedRequestFunc func(s Socket, ov *Overlapped, dwError Errno, cbTransferred uint32) error
