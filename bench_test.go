package wsspi_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// connectedPair returns a client thread with an overlapped TCP socket
// connected over loopback to a server socket of another process, and the
// server's thread and socket.
func connectedPair(tb testing.TB) (cth *wsspi.Thread, c spi.Socket, sth *wsspi.Thread, s spi.Socket) {
	tb.Helper()
	m := wsspi.NewMachine()
	server, client := m.NewProcess(), m.NewProcess()
	tb.Cleanup(func() { client.Close(); server.Close() })
	sth, cth = server.NewThread(), client.NewThread()
	l := must(sth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(tb)
	addr := netip.MustParseAddrPort("127.0.0.1:9000")
	check(tb, sth.Bind(l, addr))
	check(tb, sth.Listen(l, 8))
	c = must(cth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, 0, nil, 0, spi.WSA_FLAG_OVERLAPPED))(tb)
	check(tb, cth.Connect(c, addr))
	s, _, err := sth.Accept(l)
	check(tb, err)
	return cth, c, sth, s
}

func must[T any](v T, err error) func(testing.TB) T {
	return func(tb testing.TB) T {
		tb.Helper()
		check(tb, err)
		return v
	}
}

func check(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkOverlappedSend measures an overlapped 64-byte WSASend on a
// connected socket plus dequeuing its packet from a completion port. The
// peer drains what arrives now and then, so sends never pend for space.
func BenchmarkOverlappedSend(b *testing.B) {
	b.Run("base", func(b *testing.B) {
		cth, c, sth, s := connectedPair(b)
		port := must(cth.Process().CreateIoCompletionPort(c, 0, 1, 0))(b)
		msg := [][]byte{make([]byte, 64)}
		sink := [][]byte{make([]byte, 64<<10)}
		var ov spi.Overlapped
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cth.WSASend(c, msg, 0, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
				b.Fatal(err)
			}
			if _, err := cth.GetQueuedCompletionStatus(port, 0); err != nil {
				b.Fatal(err)
			}
			if i++; i%512 == 0 {
				drain(b, sth, s, sink)
			}
		}
	})
}

// drain reads what has arrived on s without blocking.
func drain(tb testing.TB, th *wsspi.Thread, s spi.Socket, sink [][]byte) {
	var avail [4]byte
	if _, err := th.WSAIoctl(s, spi.FIONREAD, nil, avail[:], nil, nil); err != nil {
		tb.Fatal(err)
	}
	for n := int(avail[0]) | int(avail[1])<<8 | int(avail[2])<<16; n > 0; {
		got, err := th.WSARecv(s, sink, nil, nil, nil)
		if err != nil {
			tb.Fatal(err)
		}
		n -= int(got)
	}
}

// BenchmarkReadFile measures an overlapped 64-byte ReadFile that finds its
// data already arrived, plus dequeuing its packet.
func BenchmarkReadFile(b *testing.B) {
	b.Run("ifs", func(b *testing.B) {
		cth, c, sth, s := connectedPair(b)
		port := must(cth.Process().CreateIoCompletionPort(c, 0, 1, 0))(b)
		buf := make([]byte, 64)
		chunk := [][]byte{make([]byte, 64*256)}
		var ov spi.Overlapped
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if i%256 == 0 {
				if _, err := sth.WSASend(s, chunk, 0, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			i++
			if _, err := cth.ReadFile(c, buf, &ov); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
				b.Fatal(err)
			}
			if _, err := cth.GetQueuedCompletionStatus(port, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
