package spitest_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
)

// Typical usage inside a test: a factory installs the provider under test
// (here a forwarding layer of package layered) and Run checks every case
// of the kit over its chain, each case a subtest. Check runs the same
// cases from a program, as here.
func Example() {
	factory := func(m *wsspi.Machine) (spitest.Target, error) {
		_, ids, err := layered.Install(m, layered.Options{
			Name: "My LSP",
			GUID: spi.MustParseGUID("{5EC0A7E1-2222-4000-8000-0000000000E1}"),
			Path: `C:\lsp\my.dll`,
			Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
		})
		return spitest.Target{Entries: ids.Chains}, err
	}
	// In a test: func TestMyLSP(t *testing.T) { spitest.Run(t, factory) }
	_ = func(t *testing.T) { spitest.Run(t, factory) }

	err := spitest.Check(factory, spitest.Cases("Notify", "CloseAborts"), spitest.Timeout(5*time.Second))
	fmt.Println("findings:", err)
	// Output:
	// findings: <nil>
}

// A layer that changes the data it carries declares how in
// Target.Transform, and the kit checks the data through it: here a layer
// that XORs every byte with 0x5a, the same on the wire as back. Without
// the Transform the same run finds the StreamData rule broken.
func ExampleTransform() {
	xor := func(b []byte) []byte {
		out := make([]byte, len(b))
		for i, x := range b {
			out[i] = x ^ 0x5a
		}
		return out
	}
	transform := &spitest.Transform{
		Wire:   func(sends [][]byte) []byte { return xor(bytes.Join(sends, nil)) },
		Unwire: func(wire []byte) ([]byte, error) { return xor(wire), nil },
	}
	factory := func(declared *spitest.Transform) spitest.Factory {
		return func(m *wsspi.Machine) (spitest.Target, error) {
			_, ids, err := layered.Install(m, layered.Options{
				Name: "XOR LSP",
				GUID: spi.MustParseGUID("{5EC0A7E1-2222-4000-8000-0000000000E2}"),
				Path: `C:\lsp\xor.dll`,
				Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
				Config: layered.Config{Hooks: layered.Hooks{
					OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte {
						return [][]byte{xor(bytes.Join(bufs, nil))} // new buffers: the client's are not the layer's
					},
					OnRecv: func(_ *layered.Socket, bufs [][]byte, n uint32) {
						for _, b := range bufs {
							copy(b, xor(b[:min(len(b), int(n))])) // in place
							n -= min(n, uint32(len(b)))
						}
					},
				}},
			})
			return spitest.Target{Entries: ids.Chains, Transform: declared}, err
		}
	}
	err := spitest.Check(factory(transform), spitest.Cases("Notify", "ReadFileWriteFile"), spitest.Timeout(5*time.Second))
	fmt.Println("declared:", err)
	err = spitest.Check(factory(nil), spitest.Cases("Notify/port"), spitest.Timeout(5*time.Second))
	var f *spitest.Finding
	if errors.As(err, &f) {
		fmt.Println("undeclared:", f.Rule.Name)
	}
	// Output:
	// declared: <nil>
	// undeclared: StreamData
}

// Faults and Scheduler serve plain tests too: here the base provider
// resets the connection under a pending receive (the
// sender gets WSAECONNRESET, the other end WSAECONNABORTED), whose completion the
// scheduler delivers only when the test steps it.
func ExampleFaults() {
	faults := new(spitest.Faults)
	sched := spitest.NewScheduler(1)
	m := wsspi.NewMachineWith(wsspi.MachineOptions{
		Scheduler: sched,
		Faults:    faults,
		Handles:   handles.Options{FailAlloc: faults.FailAlloc},
	})
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()

	l, _ := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	_ = th.Bind(l, netipMust("127.0.0.1:80"))
	_ = th.Listen(l, 1)
	c, _ := th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	_ = th.Connect(c, netipMust("127.0.0.1:80"))
	s, _, _ := th.Accept(l)

	var ov spi.Overlapped
	_, err := th.WSARecv(c, [][]byte{make([]byte, 8)}, nil, &ov, func(e spi.Errno, n uint32, _ *spi.Overlapped, _ uint32) {
		fmt.Println("routine:", n, "bytes,", e)
	})
	fmt.Println("WSARecv:", err)
	faults.ResetTransfer(s, spitest.SendTransfer, 0) // the peer's next send resets the connection
	_, err = th.WSASend(s, [][]byte{[]byte("x")}, 0, nil, nil)
	fmt.Println("peer send:", err)
	sched.Drain()
	_, _ = th.SleepEx(0, true)

	faults.FailAllocAfter(0)
	_, err = th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	fmt.Println("socket:", err)
	fmt.Println(faults.Fired())
	// Output:
	// WSARecv: WSARecv 0xc: overlapped I/O in progress (997)
	// peer send: WSASend 0x10: connection reset by peer (10054)
	// routine: 0 bytes, connection aborted by the local host (10053)
	// socket: WSASocket: NtCreateFile: no buffer space available (10055)
	// [base send of 1 bytes on 0x10 finds its connection reset handle allocation fails with WSAENOBUFS]
}

func netipMust(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
