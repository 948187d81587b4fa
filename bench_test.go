package wsspi_test

import (
	"errors"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// benchPair is a connected pair for a benchmark: the client thread and the
// socket measured, and the server's thread and socket.
type benchPair struct {
	cth, sth *wsspi.Thread
	c, s     spi.Socket
}

// benchSetup names a way to make the pair a benchmark runs over. One
// benchmark function runs every setup as a sub-benchmark, so their ratios
// come from one run on one machine.
type benchSetup struct {
	name  string
	setup func(testing.TB) benchPair
}

// connectedPair returns a client thread with an overlapped TCP socket
// connected over loopback to a server socket of another process, and the
// server's thread and socket.
func connectedPair(tb testing.TB) benchPair {
	tb.Helper()
	k := newConn(tb, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	return benchPair{cth: k.cth, c: k.c, sth: k.sth, s: k.s}
}

// sendSetups and readFileSetups are the variants of BenchmarkOverlappedSend
// and BenchmarkReadFile; bench_layered_test.go adds the layered ones.
var (
	sendSetups     = []benchSetup{{"base", connectedPair}}
	readFileSetups = []benchSetup{{"ifs", connectedPair}}
)

// BenchmarkOverlappedSend measures an overlapped 64-byte WSASend on a
// connected socket plus dequeuing its packet from a completion port. The
// peer drains what arrives now and then, so sends never pend for space.
func BenchmarkOverlappedSend(b *testing.B) {
	for _, bs := range sendSetups {
		b.Run(bs.name, func(b *testing.B) {
			k := bs.setup(b)
			port := must(k.cth.Process().CreateIoCompletionPort(k.c, 0, 1, 0))(b)
			msg := [][]byte{make([]byte, 64)}
			sink := [][]byte{make([]byte, 64<<10)}
			var ov spi.Overlapped
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.cth.WSASend(k.c, msg, 0, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
					b.Fatal(err)
				}
				if _, err := k.cth.GetQueuedCompletionStatus(port, long); err != nil {
					b.Fatal(err)
				}
				if i++; i%512 == 0 {
					drain(b, k.sth, k.s, sink)
				}
			}
		})
	}
}

// drain reads what has arrived on s without blocking.
func drain(tb testing.TB, th *wsspi.Thread, s spi.Socket, sink [][]byte) {
	for n := int(fionread(tb, th, s)); n > 0; {
		got, err := th.WSARecv(s, sink, nil, nil, nil)
		if err != nil {
			tb.Fatal(err)
		}
		n -= int(got)
	}
}

// BenchmarkReadFile measures an overlapped 64-byte ReadFile that finds its
// data already arrived, plus dequeuing its packet, and reports the
// user/kernel transitions the client process made per ReadFile.
func BenchmarkReadFile(b *testing.B) {
	for _, bs := range readFileSetups {
		b.Run(bs.name, func(b *testing.B) {
			k := bs.setup(b)
			p := k.cth.Process()
			port := must(p.CreateIoCompletionPort(k.c, 0, 1, 0))(b)
			buf := make([]byte, 64)
			chunk := [][]byte{make([]byte, 64*256)}
			var ov spi.Overlapped
			i := 0
			before := p.Transitions().Total()
			b.ReportAllocs()
			for b.Loop() {
				if i%256 == 0 {
					if _, err := k.sth.WSASend(k.s, chunk, 0, nil, nil); err != nil {
						b.Fatal(err)
					}
				}
				i++
				if _, err := k.cth.ReadFile(k.c, buf, &ov); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
					b.Fatal(err)
				}
				if _, err := k.cth.GetQueuedCompletionStatus(port, long); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(p.Transitions().Total()-before)/float64(i), "transitions/op")
		})
	}
}
