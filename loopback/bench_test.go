package loopback_test

import (
	"sync/atomic"
	"testing"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

// countingFile is a file object whose Complete only writes the status
// block and counts, so benchmarks measure the provider alone.
type countingFile struct {
	h         spi.Handle
	completes *atomic.Int64
}

func (f *countingFile) Handle() spi.Handle             { return f.h }
func (f *countingFile) Close() error                   { return nil }
func (f *countingFile) ResetEvent(spi.IORequest) error { return nil }

func (f *countingFile) Complete(req spi.IORequest, status spi.Errno, bytes, _ uint32, _ bool) {
	req.Overlapped.StoreInternalHigh(uintptr(bytes))
	req.Overlapped.StoreInternal(uintptr(status))
	f.completes.Add(1)
}

func (f *countingFile) CompleteStatus(req spi.IORequest, status spi.NTStatus, bytes uint32, _ bool) {
	req.Overlapped.StoreInternalHigh(uintptr(bytes))
	req.Overlapped.StoreInternal(uintptr(status))
	f.completes.Add(1)
}

// benchPair returns the proc table and a connected overlapped pair whose
// file objects only count completions.
func benchPair(b *testing.B, completes *atomic.Int64) (spi.WSPProcTable, spi.Socket, spi.Socket, map[spi.Handle]spi.FileDriver) {
	var next spi.Handle
	drivers := map[spi.Handle]spi.FileDriver{}
	imports := spi.Imports{CreateFileObject: func(d spi.FileDriver, _ bool) (spi.FileObject, error) {
		next += 4
		drivers[next] = d
		return &countingFile{h: next, completes: completes}, nil
	}}
	k := newFakeKernel()
	entries := installedEntries()
	_, tab, err := loopback.NewNetwork().NewProvider().WSPStartup(spi.WINSOCK_VERSION, &entries[0], k.upcalls(), imports)
	if err != nil {
		b.Fatal(err)
	}
	p := &proc{t: b, k: k, tab: tab, entries: entries[:1]}
	l, a := p.listener(spi.AF_INET, ovFlag)
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	p.must(tab.WSPConnect(c, a, nil, nil, nil, nil))
	s, _, err := tab.WSPAccept(l, nil, nil)
	p.must(err)
	return tab, c, s, drivers
}

// BenchmarkOverlappedSend measures an overlapped 64-byte WSPSend that
// completes at once on a connected socket, and its Complete call, with the
// peer's non-overlapped receive that keeps the buffers from filling
// ("loopback"); an overlapped receive that pends and the send that
// completes it ("pending"); and, as the baseline, a buffered channel
// hand-off between two goroutines.
func BenchmarkOverlappedSend(b *testing.B) {
	// run times one iteration of step over a fresh pair, with 64-byte
	// buffers to send and receive, and checks the completion count.
	run := func(b *testing.B, wantCompletes bool, step func(tab spi.WSPProcTable, c, s spi.Socket, msg, in [][]byte, ov *spi.Overlapped) error) {
		var completes atomic.Int64
		tab, c, s, _ := benchPair(b, &completes)
		msg := [][]byte{make([]byte, 64)}
		in := [][]byte{make([]byte, 64)}
		var ov spi.Overlapped
		b.ReportAllocs()
		for b.Loop() {
			if err := step(tab, c, s, msg, in, &ov); err != nil {
				b.Fatal(err)
			}
		}
		if wantCompletes && completes.Load() != int64(b.N) {
			b.Fatalf("%d completions for %d iterations", completes.Load(), b.N)
		}
	}
	b.Run("loopback", func(b *testing.B) {
		var flags uint32
		run(b, true, func(tab spi.WSPProcTable, c, s spi.Socket, msg, in [][]byte, ov *spi.Overlapped) error {
			if _, err := tab.WSPSend(c, msg, 0, ov, nil, nil); err != nil {
				return err
			}
			_, err := tab.WSPRecv(s, in, &flags, nil, nil, nil)
			return err
		})
	})
	b.Run("pending", func(b *testing.B) {
		var flags uint32
		run(b, true, func(tab spi.WSPProcTable, c, s spi.Socket, msg, in [][]byte, ov *spi.Overlapped) error {
			if _, err := tab.WSPRecv(s, in, &flags, ov, nil, nil); err != spi.WSA_IO_PENDING {
				return err
			}
			_, err := tab.WSPSend(c, msg, 0, nil, nil, nil)
			return err
		})
	})
	b.Run("baseline-chan", func(b *testing.B) {
		ch := make(chan []byte, 1)
		done := make(chan struct{})
		go func() {
			for range ch {
			}
			close(done)
		}()
		msg := make([]byte, 64)
		b.ReportAllocs()
		for b.Loop() {
			ch <- msg
		}
		close(ch)
		<-done
	})
}

// BenchmarkReadFile measures ReadFile through the socket's FileDriver, as
// ReadFile on an IFS handle reaches it, with data waiting (sent by the peer
// in the same iteration).
func BenchmarkReadFile(b *testing.B) {
	b.Run("ifs", func(b *testing.B) {
		var completes atomic.Int64
		tab, c, s, drivers := benchPair(b, &completes)
		drv := drivers[s]
		msg := [][]byte{make([]byte, 64)}
		buf := make([]byte, 64)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tab.WSPSend(c, msg, 0, nil, nil, nil); err != nil {
				b.Fatal(err)
			}
			if n, err := drv.ReadFile(buf, spi.IORequest{}); err != nil || n != 64 {
				b.Fatal(n, err)
			}
		}
	})
}
