package iocp_test

import (
	"sync/atomic"
	"testing"

	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

// window is the most packets in flight in a hand-off benchmark. A port's
// queue is unbounded, and a producer that runs ahead of its consumer would
// time the growth of the queue rather than the hand-off, so every hand-off
// benchmark, the channel baseline included, runs its producer under the
// same flow control.
const window = 1024

// flow keeps a producer at most window packets ahead of its consumer. The
// producer parks when it gets that far ahead and is woken once the consumer
// has caught up halfway, so neither side spins and the wake-up is paid once
// per window/2 packets.
type flow struct {
	posted   uint64        // the producer's count
	consumed atomic.Uint64 // the consumer's count
	resumeAt atomic.Uint64 // the consumed count that wakes the parked producer; 0: none parked
	wake     chan struct{}
}

func newFlow() *flow { return &flow{wake: make(chan struct{}, 1)} }

// send runs post(key) once the window allows.
func (f *flow) send(post func(key uintptr), key uintptr) {
	if f.posted-f.consumed.Load() >= window {
		target := f.posted - window/2
		f.resumeAt.Store(target)
		if f.consumed.Load() < target || !f.resumeAt.CompareAndSwap(target, 0) {
			<-f.wake // the consumer takes resumeAt back to 0 and wakes us
		}
	}
	f.posted++
	post(key)
}

// took records that the consumer took n packets.
func (f *flow) took(n int) {
	c := f.consumed.Add(uint64(n))
	if r := f.resumeAt.Load(); r != 0 && c >= r && f.resumeAt.CompareAndSwap(r, 0) {
		f.wake <- struct{}{}
	}
}

// handOff times b.N packets from one goroutine to another: post runs in the
// loop under f's flow control, and the consumer started by the caller must
// close done after the packet with key 0, which handOff sends last. The
// drain after the loop is timed too.
func handOff(b *testing.B, f *flow, post func(key uintptr), done <-chan struct{}) {
	b.ReportAllocs()
	for b.Loop() {
		f.send(post, 1)
	}
	b.StartTimer()
	f.send(post, 0)
	<-done
	b.StopTimer()
}

// BenchmarkPortPostGet hands packets from a goroutine calling
// PostQueuedCompletionStatus to one calling GetQueuedCompletionStatus
// (port), and the same packets over a buffered channel (chan), the
// baseline.
func BenchmarkPortPostGet(b *testing.B) {
	b.Run("port", func(b *testing.B) {
		p := newProc(b, iocp.Options{})
		port, th := p.port(1), p.thread()
		f := newFlow()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				e, err := port.Get(th, spi.Infinite)
				if err != nil || e.CompletionKey == 0 {
					return
				}
				f.took(1)
			}
		}()
		handOff(b, f, func(key uintptr) { port.Post(1, key, nil) }, done)
	})
	b.Run("chan", func(b *testing.B) {
		c := make(chan spi.OverlappedEntry, window)
		f := newFlow()
		done := make(chan struct{})
		go func() {
			defer close(done)
			for e := range c {
				if e.CompletionKey == 0 {
					return
				}
				f.took(1)
			}
		}()
		handOff(b, f, func(key uintptr) { c <- spi.OverlappedEntry{CompletionKey: key, NumberOfBytesTransferred: 1} }, done)
	})
}

// BenchmarkPortGetMany is PortPostGet/port with a consumer that dequeues up
// to 64 packets per GetQueuedCompletionStatusEx. An op is one packet. It
// carries no target: its consumer idles most of the time, so it times the
// producer's PostQueuedCompletionStatus (two thirds of its CPU profile)
// rather than the dequeue; BenchmarkPortDequeue times that.
func BenchmarkPortGetMany(b *testing.B) {
	p := newProc(b, iocp.Options{})
	port, th := p.port(1), p.thread()
	f := newFlow()
	done := make(chan struct{})
	var calls int
	go func() {
		defer close(done)
		entries := make([]spi.OverlappedEntry, 64)
		for {
			n, err := port.GetMany(th, entries, spi.Infinite, false)
			calls++
			if err != nil || entries[n-1].CompletionKey == 0 {
				return
			}
			f.took(n)
		}
	}()
	handOff(b, f, func(key uintptr) { port.Post(1, key, nil) }, done)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
	b.ReportMetric(float64(b.N)/float64(calls), "packets/call")
}

// BenchmarkPortDequeue times the dequeuing side alone: a thread drains a
// port that holds packets, one per GetQueuedCompletionStatus (one) or up to
// 64 per GetQueuedCompletionStatusEx (many), and it reports ns/packet. The
// port is refilled with the timer stopped, dequeueBatch packets at a time.
// Target: many at most 0.5x one per packet.
func BenchmarkPortDequeue(b *testing.B) {
	for _, c := range []struct {
		name    string
		perCall int
	}{{"one", 1}, {"many", 64}} {
		b.Run(c.name, func(b *testing.B) {
			p := newProc(b, iocp.Options{})
			port, th := p.port(1), p.thread()
			entries := make([]spi.OverlappedEntry, c.perCall)
			left, packets := 0, 0
			b.ReportAllocs()
			for b.Loop() {
				if left == 0 {
					b.StopTimer()
					for range dequeueBatch {
						if err := port.Post(1, 1, nil); err != nil {
							b.Fatal(err)
						}
					}
					left = dequeueBatch
					b.StartTimer()
				}
				n := 1
				var err error
				if c.perCall == 1 {
					_, err = port.Get(th, spi.Infinite)
				} else {
					n, err = port.GetMany(th, entries, spi.Infinite, false)
				}
				if err != nil {
					b.Fatal(err)
				}
				left -= n
				packets += n
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/packet")
		})
	}
}

// dequeueBatch is how many packets BenchmarkPortDequeue queues at a time:
// enough that stopping the timer (which reads the memory statistics, a
// stop-the-world) is rare, few enough that the port's 512-KiB ring stays
// in the L2 cache.
const dequeueBatch = 1 << 14

// BenchmarkEventSetWait measures events: signalled is a wait on an
// auto-reset event that is already set (no blocking); pingpong is a round
// trip between two goroutines, each setting the event the other waits on.
func BenchmarkEventSetWait(b *testing.B) {
	b.Run("signalled", func(b *testing.B) {
		p := newProc(b, iocp.Options{})
		th, e := p.thread(), p.event(false, false)
		events := []*iocp.Event{e}
		b.ReportAllocs()
		for b.Loop() {
			e.Set()
			th.WaitForEvents(events, false, spi.Infinite, false)
		}
	})
	b.Run("pingpong", func(b *testing.B) {
		p := newProc(b, iocp.Options{})
		ping, pong := p.event(false, false), p.event(false, false)
		stop := make(chan struct{})
		go func() {
			th := p.thread()
			events := []*iocp.Event{ping}
			for {
				th.WaitForEvents(events, false, spi.Infinite, false)
				select {
				case <-stop:
					return
				default:
				}
				pong.Set()
			}
		}()
		th := p.thread()
		events := []*iocp.Event{pong}
		b.ReportAllocs()
		for b.Loop() {
			ping.Set()
			th.WaitForEvents(events, false, spi.Infinite, false)
		}
		close(stop)
		ping.Set()
	})
}

// BenchmarkAPCQueueRun queues an APC through WPUQueueApc (the handle table
// resolves the thread id) and runs it in an alertable SleepEx(0).
func BenchmarkAPCQueueRun(b *testing.B) {
	p := newProc(b, iocp.Options{})
	th := p.thread()
	id := th.ID()
	n := 0
	apc := func(any) { n++ }
	b.ReportAllocs()
	for b.Loop() {
		p.k.WPUQueueApc(&id, apc, nil)
		th.SleepEx(0, true)
	}
	if n != b.N {
		b.Fatalf("%d APCs ran, want %d", n, b.N)
	}
}
