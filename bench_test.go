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
// BenchmarkSendRatios times the same setups interleaved, for the ratio
// targets.
func BenchmarkOverlappedSend(b *testing.B) {
	for _, bs := range sendSetups {
		b.Run(bs.name, func(b *testing.B) {
			s := newSender(b, bs.setup(b))
			b.ReportAllocs()
			for b.Loop() {
				s.send()
			}
		})
	}
}

// sender makes the overlapped sends of the send benchmarks: 64 bytes on
// each socket of a set in turn, each followed by dequeuing its packet from
// the port the set is associated with; every drainEvery sends, the peers
// drain what arrived, so sends never pend for space.
type sender struct {
	tb         testing.TB
	cth, sth   *wsspi.Thread // the client's and the peers' threads
	hot        []spi.Socket  // the client sockets sent on, in turn
	peers      []spi.Socket  // their peers
	ovs        []spi.Overlapped
	port       spi.Handle
	msg, sink  [][]byte
	sent       int
	drainEvery int
}

// newSender sends on k's client socket, associated with a new completion
// port, and drains its peer every 512 sends.
func newSender(tb testing.TB, k benchPair) *sender {
	port := must(k.cth.Process().CreateIoCompletionPort(k.c, 0, 1, 0))(tb)
	return newSetSender(tb, k.cth, k.sth, []spi.Socket{k.c}, []spi.Socket{k.s}, port, 512)
}

// newSetSender sends on the clients in hot, already associated with port.
func newSetSender(tb testing.TB, cth, sth *wsspi.Thread, hot, peers []spi.Socket, port spi.Handle, drainEvery int) *sender {
	return &sender{
		tb: tb, cth: cth, sth: sth, hot: hot, peers: peers, port: port, drainEvery: drainEvery,
		ovs:  make([]spi.Overlapped, len(hot)),
		msg:  [][]byte{make([]byte, 64)},
		sink: [][]byte{make([]byte, 64<<10)},
	}
}

// send makes one send on the next socket of the set and dequeues its
// packet.
func (s *sender) send() {
	h := s.sent % len(s.hot)
	if _, err := s.cth.WSASend(s.hot[h], s.msg, 0, &s.ovs[h], nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		s.tb.Fatal(err)
	}
	if _, err := s.cth.GetQueuedCompletionStatus(s.port, long); err != nil {
		s.tb.Fatal(err)
	}
	if s.sent++; s.sent%s.drainEvery == 0 {
		for _, p := range s.peers {
			drain(s.tb, s.sth, p, s.sink)
		}
	}
}

// BenchmarkSendRatios runs the sends of BenchmarkOverlappedSend on every
// setup interleaved (see interleave) and reports each setup's ns/send and
// the ratios in sendRatios, which carry the targets of issues 6, 7 and 9.
func BenchmarkSendRatios(b *testing.B) {
	bodies := make([]func(), len(sendSetups))
	for i, bs := range sendSetups {
		bodies[i] = newSender(b, bs.setup(b)).send
	}
	settle()
	b.ReportAllocs()
	per := interleave(b, bodies...)
	ns := map[string]float64{}
	for i, bs := range sendSetups {
		ns[bs.name] = per[i]
		b.ReportMetric(ns[bs.name], bs.name+"-ns/send")
	}
	for _, r := range sendRatios {
		b.ReportMetric(ns[r.setup]/ns[r.baseline], r.setup+"/"+r.baseline)
	}
}

// BenchmarkWriteFile measures an overlapped 64-byte WriteFile plus
// dequeuing its packet, over the setups of BenchmarkReadFile; the peer
// drains what arrived every 512 writes, so writes never pend for space. It
// reports the user/kernel transitions the client process made per
// WriteFile.
func BenchmarkWriteFile(b *testing.B) {
	for _, bs := range readFileSetups {
		b.Run(bs.name, func(b *testing.B) {
			k := bs.setup(b)
			p := k.cth.Process()
			port := must(p.CreateIoCompletionPort(k.c, 0, 1, 0))(b)
			msg := make([]byte, 64)
			sink := [][]byte{make([]byte, 64<<10)}
			var ov spi.Overlapped
			i := 0
			before := p.Transitions().Total()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := k.cth.WriteFile(k.c, msg, &ov); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
					b.Fatal(err)
				}
				if _, err := k.cth.GetQueuedCompletionStatus(port, long); err != nil {
					b.Fatal(err)
				}
				if i++; i%512 == 0 {
					drain(b, k.sth, k.s, sink)
				}
			}
			b.ReportMetric(float64(p.Transitions().Total()-before)/float64(i), "transitions/op")
		})
	}
}

// sendRatios are the ratios BenchmarkSendRatios reports: ns/send of setup
// over that of baseline.
var sendRatios []struct{ setup, baseline string }

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
