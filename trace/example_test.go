package trace_test

import (
	"net/netip"
	"os"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// A client sends over loopback through a completion port, reads what
// arrived with ReadFile, and makes a call that fails. The timeline shows
// ws2_32 routing each call to the provider, the completion rule posting
// the packet with the client's key, the transitions ReadFile costs, and
// the failure with its Windows error.
func Example() {
	rec := new(trace.Recorder)
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	addr := netip.MustParseAddrPort("127.0.0.1:80")
	l, _ := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	_ = th.Bind(l, addr)
	_ = th.Listen(l, 1)
	c, _ := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	_ = th.Connect(c, addr)
	s, _, _ := th.Accept(l)
	port, _ := p.CreateIoCompletionPort(c, 0, 42, 0)
	rec.Reset() // the timeline starts here

	var ov spi.Overlapped
	_, _ = th.WSASend(c, [][]byte{[]byte("hello")}, 0, &ov, nil)
	_, _ = th.GetQueuedCompletionStatus(port, time.Second)
	_, _ = th.ReadFile(s, make([]byte, 8), nil)
	_, _ = th.WSASend(l, [][]byte{[]byte("no")}, 0, nil, nil) // a listening socket has no peer

	_ = trace.Text(os.Stdout, rec.Events())
	// Output:
	// seq  pid    thread  layer                      event
	//   1  p8     0x4     client                     WSASend(0xc, 5 bytes) -> ws2_32
	//   2  p8             ws2_32                       WSPSend(0xc, 5 bytes, thread 0x4) -> MSAFD Tcpip [TCP/IP] 1001
	//   3  p8             kernel                             completion on 0xc: ok, 5 bytes -> port 0x14 key 42
	//   4  p8             MSAFD Tcpip [TCP/IP] 1001        WSPSend = ok, 5 bytes
	//   5  p8     0x4     ws2_32                       WSASend = ok, 5 bytes
	//   6  p8     0x4     client                     GetQueuedCompletionStatus(0x14) -> kernel
	//   7  p8     0x4     kernel                             GetQueuedCompletionStatus = ok, 5 bytes, key 42
	//   8  p8     0x4     client                     ReadFile(0x10, 8 bytes) -> IFS
	//   9  p8             IFS                            transitions on 0x10 for ReadFile: +1 user->kernel, +1 kernel->user
	//  10  p8     0x4     IFS                            ReadFile = ok, 5 bytes
	//  11  p8     0x4     client                     WSASend(0x8, 2 bytes) -> ws2_32
	//  12  p8             ws2_32                       WSPSend(0x8, 2 bytes, thread 0x4) -> MSAFD Tcpip [TCP/IP] 1001
	//  13  p8             MSAFD Tcpip [TCP/IP] 1001        WSPSend = WSAENOTCONN (10057)
	//  14  p8     0x4     ws2_32                       WSASend = WSAENOTCONN (10057)
}
