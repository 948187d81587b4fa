package wsspi_test

import (
	"errors"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// connectedPair returns a client thread with an overlapped TCP socket
// connected over loopback to a server socket of another process, and the
// server's thread and socket.
func connectedPair(tb testing.TB) (cth *wsspi.Thread, c spi.Socket, sth *wsspi.Thread, s spi.Socket) {
	tb.Helper()
	k := newConn(tb, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	return k.cth, k.c, k.sth, k.s
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
	for n := int(fionread(tb, th, s)); n > 0; {
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
