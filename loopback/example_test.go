package loopback_test

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

// kernel is the least of a system a base provider can be loaded into: it
// makes file objects (the CreateFileObject import) and registers their
// handles (the WPUModifyIFSHandle upcall) as the proposed values, 0x4,
// 0x8, ... In a wsspi.Machine the process's kernel and ws2_32 play this
// part, with handle tables, completion ports, events and APCs.
type kernel struct {
	next    spi.Handle
	drivers map[spi.Handle]spi.FileDriver // what ReadFile on a handle reaches
}

func (k *kernel) upcalls() spi.WSPUpcallTable {
	return spi.WSPUpcallTable{
		WPUModifyIFSHandle: func(_ spi.CatalogEntryId, h spi.Socket) (spi.Socket, error) { return h, nil },
	}
}

func (k *kernel) imports() spi.Imports {
	return spi.Imports{
		CreateFileObject: func(d spi.FileDriver, _ bool) (spi.FileObject, error) {
			k.next += 4
			k.drivers[k.next] = d
			return &file{h: k.next}, nil
		},
	}
}

// file is a socket's file object. Its Complete is the completion rule cut
// to its first step, writing the status block (InternalHigh, then the
// NTSTATUS in Internal), and it prints what it is told; a real kernel
// then posts a packet to the handle's completion port, signals the event
// or queues the completion routine.
type file struct{ h spi.Handle }

func (f *file) Handle() spi.Handle             { return f.h }
func (f *file) ResetEvent(spi.IORequest) error { return nil }
func (f *file) Close() error                   { return nil }

func (f *file) Complete(req spi.IORequest, status spi.Errno, bytes, _ uint32, immediate bool) {
	req.Overlapped.StoreInternalHigh(uintptr(bytes))
	req.Overlapped.StoreInternal(uintptr(spi.WinsockErrorToNtStatus(status)))
	fmt.Printf("  Complete on %v: %d bytes, status %d, immediate %v\n", f.h, bytes, status, immediate)
}

func (f *file) CompleteStatus(req spi.IORequest, status spi.NTStatus, bytes uint32, immediate bool) {
	req.Overlapped.StoreInternalHigh(uintptr(bytes))
	req.Overlapped.StoreInternal(uintptr(status))
	fmt.Printf("  Complete on %v: %d bytes, %v, immediate %v\n", f.h, bytes, status, immediate)
}

// The loopback provider is loaded as ws2_32 loads a base provider's DLL:
// WSPStartup with the catalog entry, the upcall table and the kernel's
// services, which returns the proc table (WSPPROC_TABLE) that serves every
// socket of the process. A connected pair then exchanges data: an
// overlapped WSPSend that finishes at once still reports its completion
// through the socket's file object before it returns, a WSPRecv that must
// wait returns WSA_IO_PENDING and completes when the peer's data arrives,
// and ReadFile on a socket handle reaches the provider's file driver with
// no layer in between. A wsspi.Machine does all of this wiring itself.
func Example() {
	net := loopback.NewNetwork() // one per machine
	prov := net.NewProvider()    // one per process: the "DLL" loaded into it
	entry := catalog.DefaultEntries()[0]
	entry.CatalogEntryId = catalog.DefaultTCPIPv4 // MSAFD Tcpip [TCP/IP], as installed
	k := &kernel{drivers: map[spi.Handle]spi.FileDriver{}}
	_, tab, err := prov.WSPStartup(spi.WINSOCK_VERSION, &entry, k.upcalls(), k.imports())
	if err != nil {
		panic(err)
	}

	// A listener on an ephemeral port, a client that connects, the server end.
	l, _ := tab.WSPSocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &entry, 0, spi.WSA_FLAG_OVERLAPPED)
	_ = tab.WSPBind(l, netip.MustParseAddrPort("127.0.0.1:0"))
	_ = tab.WSPListen(l, 1)
	addr, _ := tab.WSPGetSockName(l)
	fmt.Println("socket", l, "listens on", addr)
	c, _ := tab.WSPSocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &entry, 0, spi.WSA_FLAG_OVERLAPPED)
	_ = tab.WSPConnect(c, addr, nil, nil, nil, nil)
	s, peer, _ := tab.WSPAccept(l, nil, nil)
	fmt.Println("socket", c, "connects; WSPAccept returns socket", s, "from", peer)

	fmt.Println("WSPSend overlapped on the client:")
	var sendOv spi.Overlapped
	n, err := tab.WSPSend(c, [][]byte{[]byte("hello")}, 0, &sendOv, nil, nil)
	fmt.Println("  returns", n, err)

	buf := make([]byte, 16)
	n, err = k.drivers[s].ReadFile(buf, spi.IORequest{})
	fmt.Printf("ReadFile on the server end: %d %v %q\n", n, err, buf[:n])

	fmt.Println("WSPRecv overlapped on the client:")
	var recvOv spi.Overlapped
	var flags uint32
	_, err = tab.WSPRecv(c, [][]byte{buf}, &flags, &recvOv, nil, nil)
	fmt.Println("  returns WSA_IO_PENDING:", errors.Is(err, spi.WSA_IO_PENDING))
	fmt.Println("WSPSend on the server end:")
	_, _ = tab.WSPSend(s, [][]byte{[]byte("world")}, 0, nil, nil, nil)
	n, flags, err = tab.WSPGetOverlappedResult(c, &recvOv, false)
	fmt.Printf("WSPGetOverlappedResult: %d %d %v %q\n", n, flags, err, buf[:n])

	for _, h := range []spi.Socket{c, s, l} {
		_ = tab.WSPCloseSocket(h)
	}
	fmt.Println("WSPCleanup:", tab.WSPCleanup())
	// Output:
	// socket 0x4 listens on 127.0.0.1:49152
	// socket 0x8 connects; WSPAccept returns socket 0xc from 127.0.0.1:49153
	// WSPSend overlapped on the client:
	//   Complete on 0x8: 5 bytes, status 0, immediate true
	//   returns 5 <nil>
	// ReadFile on the server end: 5 <nil> "hello"
	// WSPRecv overlapped on the client:
	//   returns WSA_IO_PENDING: true
	// WSPSend on the server end:
	//   Complete on 0x8: 5 bytes, status 0, immediate false
	// WSPGetOverlappedResult: 5 0 <nil> "world"
	// WSPCleanup: <nil>
}
