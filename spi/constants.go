package spi

// Service flags in WSAProtocolInfo.ServiceFlags1 (XP1_*, winsock2.h).
const (
	XP1_CONNECTIONLESS           = 0x00000001
	XP1_GUARANTEED_DELIVERY      = 0x00000002
	XP1_GUARANTEED_ORDER         = 0x00000004
	XP1_MESSAGE_ORIENTED         = 0x00000008
	XP1_PSEUDO_STREAM            = 0x00000010
	XP1_GRACEFUL_CLOSE           = 0x00000020
	XP1_EXPEDITED_DATA           = 0x00000040
	XP1_CONNECT_DATA             = 0x00000080
	XP1_DISCONNECT_DATA          = 0x00000100
	XP1_SUPPORT_BROADCAST        = 0x00000200
	XP1_SUPPORT_MULTIPOINT       = 0x00000400
	XP1_MULTIPOINT_CONTROL_PLANE = 0x00000800
	XP1_MULTIPOINT_DATA_PLANE    = 0x00001000
	XP1_QOS_SUPPORTED            = 0x00002000
	XP1_INTERRUPT                = 0x00004000
	XP1_UNI_SEND                 = 0x00008000
	XP1_UNI_RECV                 = 0x00010000
	// XP1_IFS_HANDLES says the provider's descriptors are real IFS handles
	// (registered with WPUModifyIFSHandle). A provider that makes its handles
	// with WPUCreateSocketHandle must not set it.
	XP1_IFS_HANDLES     = 0x00020000
	XP1_PARTIAL_MESSAGE = 0x00040000
	XP1_SAN_SUPPORT_SDP = 0x00080000
)

// Provider flags in WSAProtocolInfo.ProviderFlags (PFL_*, winsock2.h).
const (
	PFL_MULTIPLE_PROTO_ENTRIES  = 0x00000001
	PFL_RECOMMENDED_PROTO_ENTRY = 0x00000002
	// PFL_HIDDEN keeps WSAEnumProtocols from returning the entry.
	PFL_HIDDEN = 0x00000004
	// PFL_MATCHES_PROTOCOL_ZERO lets protocol 0 in socket/WSASocket match the entry.
	PFL_MATCHES_PROTOCOL_ZERO  = 0x00000008
	PFL_NETWORKDIRECT_PROVIDER = 0x00000010
)

// Protocol chain lengths (WSAPROTOCOLCHAIN.ChainLen, winsock2.h).
const (
	// LAYERED_PROTOCOL marks a layered (dummy) entry with the SPI at both edges.
	LAYERED_PROTOCOL = 0
	// BASE_PROTOCOL marks a base provider entry.
	BASE_PROTOCOL = 1
	// MAX_PROTOCOL_CHAIN is the most entries a chain can hold.
	MAX_PROTOCOL_CHAIN = 7
)

// Lengths of fixed strings (winsock2.h, ws2spi.h), in UTF-16 code units.
const (
	WSAPROTOCOL_LEN    = 255
	WSPDESCRIPTION_LEN = 255
	MAX_PATH           = 260
)

// Values of WSAProtocolInfo.NetworkByteOrder and SecurityScheme.
const (
	BIGENDIAN              = 0x0000
	LITTLEENDIAN           = 0x0001
	SECURITY_PROTOCOL_NONE = 0x0000
)

// FROM_PROTOCOL_INFO in af, type or protocol of WSASocket/WSPSocket means
// "take the value from the WSAPROTOCOL_INFO".
const FROM_PROTOCOL_INFO = -1

// Address families (ws2def.h) used by TCP and UDP.
const (
	AF_UNSPEC = 0
	AF_INET   = 2
	AF_INET6  = 23
)

// Socket types (winsock2.h).
const (
	SOCK_STREAM    = 1
	SOCK_DGRAM     = 2
	SOCK_RAW       = 3
	SOCK_RDM       = 4
	SOCK_SEQPACKET = 5
)

// Protocols (ws2def.h) used by TCP and UDP.
const (
	IPPROTO_IP   = 0
	IPPROTO_TCP  = 6
	IPPROTO_UDP  = 17
	IPPROTO_IPV6 = 41
)

// WSASocket/WSPSocket flags (WSA_FLAG_*, winsock2.h). Sockets are not
// overlapped unless WSA_FLAG_OVERLAPPED is given.
const (
	WSA_FLAG_OVERLAPPED             = 0x01
	WSA_FLAG_MULTIPOINT_C_ROOT      = 0x02
	WSA_FLAG_MULTIPOINT_C_LEAF      = 0x04
	WSA_FLAG_MULTIPOINT_D_ROOT      = 0x08
	WSA_FLAG_MULTIPOINT_D_LEAF      = 0x10
	WSA_FLAG_ACCESS_SYSTEM_SECURITY = 0x40
	WSA_FLAG_NO_HANDLE_INHERIT      = 0x80
	WSA_FLAG_REGISTERED_IO          = 0x100
)

// Socket groups (GROUP values of WSASocket).
const (
	SG_UNCONSTRAINED_GROUP = 0x01
	SG_CONSTRAINED_GROUP   = 0x02
)

// Group is a socket group id (GROUP).
type Group uint32

// Completion notification modes of SetFileCompletionNotificationModes
// (winbase.h). Modes are per handle, cumulative and never removed.
const (
	// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS skips the port packet when an I/O
	// on an overlapped handle with a port succeeds immediately.
	FILE_SKIP_COMPLETION_PORT_ON_SUCCESS = 0x1
	// FILE_SKIP_SET_EVENT_ON_HANDLE keeps the file object's own event from
	// being set; an OVERLAPPED's hEvent is still signalled.
	FILE_SKIP_SET_EVENT_ON_HANDLE = 0x2
	// FILE_SKIP_SET_USER_EVENT_ON_FAST_IO keeps the OVERLAPPED's hEvent
	// from being set when an I/O succeeds at once (the fast I/O path).
	FILE_SKIP_SET_USER_EVENT_ON_FAST_IO = 0x4
)

// Socket option levels and options (winsock2.h, ws2def.h, mswsock.h).
const (
	SOL_SOCKET = 0xffff

	SO_DEBUG                  = 0x0001
	SO_ACCEPTCONN             = 0x0002
	SO_REUSEADDR              = 0x0004
	SO_KEEPALIVE              = 0x0008
	SO_DONTROUTE              = 0x0010
	SO_BROADCAST              = 0x0020
	SO_USELOOPBACK            = 0x0040
	SO_LINGER                 = 0x0080
	SO_OOBINLINE              = 0x0100
	SO_DONTLINGER             = ^SO_LINGER
	SO_EXCLUSIVEADDRUSE       = ^SO_REUSEADDR
	SO_SNDBUF                 = 0x1001
	SO_RCVBUF                 = 0x1002
	SO_SNDLOWAT               = 0x1003
	SO_RCVLOWAT               = 0x1004
	SO_SNDTIMEO               = 0x1005
	SO_RCVTIMEO               = 0x1006
	SO_ERROR                  = 0x1007
	SO_TYPE                   = 0x1008
	SO_GROUP_ID               = 0x2001
	SO_GROUP_PRIORITY         = 0x2002
	SO_MAX_MSG_SIZE           = 0x2003
	SO_PROTOCOL_INFOA         = 0x2004
	SO_PROTOCOL_INFOW         = 0x2005
	SO_OPENTYPE               = 0x7008
	SO_SYNCHRONOUS_ALERT      = 0x10
	SO_SYNCHRONOUS_NONALERT   = 0x20
	SO_UPDATE_ACCEPT_CONTEXT  = 0x700B
	SO_CONNECT_TIME           = 0x700C
	SO_UPDATE_CONNECT_CONTEXT = 0x7010

	TCP_NODELAY = 0x0001
)

// Send and receive flags (MSG_*, winsock2.h).
const (
	MSG_OOB            = 0x1
	MSG_PEEK           = 0x2
	MSG_DONTROUTE      = 0x4
	MSG_WAITALL        = 0x8
	MSG_PUSH_IMMEDIATE = 0x20
	MSG_PARTIAL        = 0x8000
	MSG_INTERRUPT      = 0x10
	MSG_TRUNC          = 0x0100
	MSG_CTRUNC         = 0x0200
)

// shutdown how values (winsock2.h).
const (
	SD_RECEIVE = 0x00
	SD_SEND    = 0x01
	SD_BOTH    = 0x02
)

// Network events of WSPEventSelect and WSPAsyncSelect (FD_*, winsock2.h).
const (
	FD_READ                     = 1 << 0
	FD_WRITE                    = 1 << 1
	FD_OOB                      = 1 << 2
	FD_ACCEPT                   = 1 << 3
	FD_CONNECT                  = 1 << 4
	FD_CLOSE                    = 1 << 5
	FD_QOS                      = 1 << 6
	FD_GROUP_QOS                = 1 << 7
	FD_ROUTING_INTERFACE_CHANGE = 1 << 8
	FD_ADDRESS_LIST_CHANGE      = 1 << 9
	FD_MAX_EVENTS               = 10
	FD_ALL_EVENTS               = 1<<FD_MAX_EVENTS - 1
	// FD_SETSIZE is the capacity of an [FDSet].
	FD_SETSIZE = 64
)

// Results of an accept condition function ([ConditionFunc]).
const (
	CF_ACCEPT = 0x0000
	CF_REJECT = 0x0001
	CF_DEFER  = 0x0002
)

// Flags of WSPJoinLeaf.
const (
	JL_SENDER_ONLY   = 0x01
	JL_RECEIVER_ONLY = 0x02
	JL_BOTH          = 0x04
)

// Wait results and timeouts (winbase.h, winsock2.h).
const (
	// INFINITE is the timeout that never expires, in milliseconds.
	INFINITE     = 0xFFFFFFFF
	WSA_INFINITE = INFINITE

	WAIT_OBJECT_0    = 0x00000000
	WAIT_ABANDONED_0 = 0x00000080
	// WAIT_IO_COMPLETION (= STATUS_USER_APC) is returned by an alertable
	// wait that ran one or more APCs.
	WAIT_IO_COMPLETION = 0x000000C0
	WAIT_FAILED        = 0xFFFFFFFF

	WSA_WAIT_EVENT_0        = WAIT_OBJECT_0
	WSA_WAIT_IO_COMPLETION  = WAIT_IO_COMPLETION
	WSA_WAIT_FAILED         = WAIT_FAILED
	WSA_MAXIMUM_WAIT_EVENTS = 64
	MAXIMUM_WAIT_OBJECTS    = 64
)

// Flags of RegisterWaitForSingleObject (winnt.h).
const (
	// WT_EXECUTEDEFAULT runs the callback on a worker thread of the pool.
	WT_EXECUTEDEFAULT = 0x00000000
	// WT_EXECUTEINWAITTHREAD runs the callback on the wait thread itself.
	WT_EXECUTEINWAITTHREAD = 0x00000004
	// WT_EXECUTEONLYONCE ends the wait after its first callback.
	WT_EXECUTEONLYONCE = 0x00000008
)

// WSS_OPERATION_IN_PROGRESS is the value a non-IFS provider stores in
// Overlapped.Internal while an operation is pending (ws2spi.h). It equals
// STATUS_PENDING.
const WSS_OPERATION_IN_PROGRESS = 0x00000103

// LSP categories of WSCGetProviderInfo(ProviderInfoLspCategories) (ws2spi.h).
const (
	LSP_SYSTEM          = 0x80000000
	LSP_INSPECTOR       = 0x00000001
	LSP_REDIRECTOR      = 0x00000002
	LSP_PROXY           = 0x00000004
	LSP_FIREWALL        = 0x00000008
	LSP_INBOUND_MODIFY  = 0x00000010
	LSP_OUTBOUND_MODIFY = 0x00000020
	LSP_CRYPTO_COMPRESS = 0x00000040
	LSP_LOCAL_CACHE     = 0x00000080
)

// WSC_PROVIDER_INFO_TYPE values of WSCGetProviderInfo.
const (
	ProviderInfoLspCategories = 0
	ProviderInfoAudit         = 1
)

// MAKEWORD packs a version as Windows does: low byte major, high byte minor.
func MAKEWORD(low, high uint8) uint16 { return uint16(low) | uint16(high)<<8 }

// WINSOCK_VERSION is version 2.2, MAKEWORD(2, 2) = 0x0202.
const WINSOCK_VERSION = 0x0202
