package spi

// Ioctl command classes and direction bits (winsock2.h). The code layout is
// I (bit 31), O (30), V (29), T (28-27: 0 Unix, 1 WS2 generic, 2 address
// family, 3 vendor), vendor or address family (26-16), code (15-0).
const (
	IOC_UNIX     = 0x00000000
	IOC_WS2      = 0x08000000
	IOC_PROTOCOL = 0x10000000
	IOC_VENDOR   = 0x18000000

	IOC_VOID  = 0x20000000
	IOC_OUT   = 0x40000000
	IOC_IN    = 0x80000000
	IOC_INOUT = IOC_IN | IOC_OUT

	IOCPARM_MASK = 0x7f
)

// The classic BSD-style ioctls (winsock2.h).
const (
	// FIONBIO sets or clears nonblocking mode (_IOW('f', 126, u_long)).
	FIONBIO = 0x8004667E
	// FIONREAD returns the bytes available to read (_IOR('f', 127, u_long)).
	FIONREAD = 0x4004667F
	// SIOCATMARK reports whether all out-of-band data was read (_IOR('s', 7, u_long)).
	SIOCATMARK = 0x40047307
)

// Windows Sockets 2 ioctls (winsock2.h, mswsock.h, mstcpip.h).
const (
	SIO_ASSOCIATE_HANDLE               = 0x88000001
	SIO_ENABLE_CIRCULAR_QUEUEING       = 0x28000002
	SIO_FIND_ROUTE                     = 0x48000003
	SIO_FLUSH                          = 0x28000004
	SIO_GET_BROADCAST_ADDRESS          = 0x48000005
	SIO_GET_EXTENSION_FUNCTION_POINTER = 0xC8000006
	SIO_GET_QOS                        = 0xC8000007
	SIO_GET_GROUP_QOS                  = 0xC8000008
	SIO_MULTIPOINT_LOOPBACK            = 0x88000009
	SIO_MULTICAST_SCOPE                = 0x8800000A
	SIO_SET_QOS                        = 0x8800000B
	SIO_SET_GROUP_QOS                  = 0x8800000C
	SIO_TRANSLATE_HANDLE               = 0xC800000D
	SIO_ROUTING_INTERFACE_QUERY        = 0xC8000014
	SIO_ROUTING_INTERFACE_CHANGE       = 0x88000015
	SIO_ADDRESS_LIST_QUERY             = 0x48000016
	SIO_ADDRESS_LIST_CHANGE            = 0x28000017
	SIO_QUERY_TARGET_PNP_HANDLE        = 0x48000018
	SIO_ADDRESS_LIST_SORT              = 0xC8000019

	// SIO_BSP_HANDLE returns the base provider handle used by WSASendMsg.
	SIO_BSP_HANDLE = 0x4800001B
	// SIO_BSP_HANDLE_SELECT returns the base provider handle used by select.
	SIO_BSP_HANDLE_SELECT = 0x4800001C
	// SIO_BSP_HANDLE_POLL returns the base provider handle used by WSAPoll;
	// the overlapped argument must be nil.
	SIO_BSP_HANDLE_POLL = 0x4800001D
	SIO_EXT_SELECT      = 0xC800001E
	SIO_EXT_POLL        = 0xC800001F
	SIO_EXT_SENDMSG     = 0xC8000020
	// SIO_BASE_HANDLE returns the base service provider's socket. A layered
	// provider must never intercept it.
	SIO_BASE_HANDLE = 0x48000022

	SIO_KEEPALIVE_VALS     = 0x98000004
	SIO_LOOPBACK_FAST_PATH = 0x98000010
)

// IoctlOut reports whether code returns data (the O bit).
func IoctlOut(code uint32) bool { return code&IOC_OUT != 0 }

// IoctlIn reports whether code takes data (the I bit).
func IoctlIn(code uint32) bool { return code&IOC_IN != 0 }

// IoctlClass returns the T field of code: IOC_UNIX, IOC_WS2, IOC_PROTOCOL or
// IOC_VENDOR.
func IoctlClass(code uint32) uint32 { return code & IOC_VENDOR }
