package wsspi_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// The readiness round trips: the peer sends one byte, the client learns
// that its socket is readable (from select, or from an AFD poll's packet
// on its completion port) and receives the byte. BenchmarkReadinessRatios
// times them interleaved with BenchmarkOverlappedSend's send on the same
// kind of pair, for the figures of the readiness issue.

// selectTrip is one select round trip on a connected pair.
type selectTrip struct {
	tb    testing.TB
	k     benchPair
	msg   [][]byte
	buf   [][]byte
	r     spi.FDSet
	wait  time.Duration
	flags uint32
}

func newSelectTrip(tb testing.TB, k benchPair) *selectTrip {
	return &selectTrip{tb: tb, k: k, msg: [][]byte{{'x'}}, buf: [][]byte{make([]byte, 1)}, wait: long}
}

func (s *selectTrip) run() {
	if _, err := s.k.sth.WSASend(s.k.s, s.msg, 0, nil, nil); err != nil {
		s.tb.Fatal(err)
	}
	s.r.Zero()
	s.r.Set(s.k.c)
	if n, err := s.k.cth.Select(&s.r, nil, nil, &s.wait); n != 1 || err != nil {
		s.tb.Fatalf("select = %d, %v", n, err)
	}
	if _, err := s.k.cth.WSARecv(s.k.c, s.buf, &s.flags, nil, nil); err != nil {
		s.tb.Fatal(err)
	}
}

// pollTrip is one AFD poll round trip: the poll is issued on the client's
// socket (associated with a port) before the peer sends, and its packet
// dequeued after.
type pollTrip struct {
	tb    testing.TB
	k     benchPair
	port  spi.Handle
	msg   [][]byte
	buf   [][]byte
	info  []byte
	iosb  spi.Overlapped
	flags uint32
}

func newPollTrip(tb testing.TB, k benchPair) *pollTrip {
	port := must(k.cth.Process().CreateIoCompletionPort(k.c, 0, 1, 0))(tb)
	p := spi.AFDPollInfo{Timeout: math.MaxInt64, Handles: []spi.AFDPollHandleInfo{{Handle: k.c, Events: spi.AFD_POLL_RECEIVE | spi.AFD_POLL_LOCAL_CLOSE}}}
	return &pollTrip{tb: tb, k: k, port: port, msg: [][]byte{{'x'}}, buf: [][]byte{make([]byte, 1)}, info: p.Marshal()}
}

func (p *pollTrip) run() {
	p.iosb = spi.Overlapped{}
	err := p.k.cth.NtDeviceIoControlFile(p.k.c, 0, &p.iosb, &p.iosb, spi.IOCTL_AFD_POLL, p.info, p.info)
	if err != nil && !errors.Is(err, spi.STATUS_PENDING) {
		p.tb.Fatal(err)
	}
	if _, err := p.k.sth.WSASend(p.k.s, p.msg, 0, nil, nil); err != nil {
		p.tb.Fatal(err)
	}
	if _, err := p.k.cth.GetQueuedCompletionStatus(p.port, long); err != nil {
		p.tb.Fatal(err)
	}
	if _, err := p.k.cth.WSARecv(p.k.c, p.buf, &p.flags, nil, nil); err != nil {
		p.tb.Fatal(err)
	}
}

// BenchmarkReadiness measures each round trip alone, with its allocations.
func BenchmarkReadiness(b *testing.B) {
	b.Run("select", func(b *testing.B) {
		t := newSelectTrip(b, connectedPair(b))
		b.ReportAllocs()
		for b.Loop() {
			t.run()
		}
	})
	b.Run("afd-poll", func(b *testing.B) {
		t := newPollTrip(b, connectedPair(b))
		b.ReportAllocs()
		for b.Loop() {
			t.run()
		}
	})
}

// BenchmarkReadinessRatios runs an overlapped send, a select round trip
// and an AFD poll round trip interleaved, each on its own pair, and
// reports each one's ns/op and its ratio to the send.
func BenchmarkReadinessRatios(b *testing.B) {
	send := newSender(b, connectedPair(b))
	sel := newSelectTrip(b, connectedPair(b))
	poll := newPollTrip(b, connectedPair(b))
	settle()
	b.ReportAllocs()
	per := interleave(b, send.send, sel.run, poll.run)
	b.ReportMetric(per[0], "send-ns/op")
	b.ReportMetric(per[1], "select-ns/op")
	b.ReportMetric(per[2], "afd-poll-ns/op")
	b.ReportMetric(per[1]/per[0], "select/send")
	b.ReportMetric(per[2]/per[0], "afd-poll/send")
}
