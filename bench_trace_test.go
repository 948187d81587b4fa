package wsspi_test

import (
	"errors"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// BenchmarkTrace measures an overlapped 64-byte WSASend over loopback plus
// dequeuing its packet from a completion port, with tracing off (no
// recorder, the default) and on (every event recorded), on the base
// provider and through a minimal non-IFS layered provider (the one of
// trace_test.go, which allocates an overlapped of its own per call). Off
// must add no allocation; on reports its events per operation. The recorder is emptied every 4096 operations, and
// the emptying is part of the cost.
func BenchmarkTrace(b *testing.B) {
	for _, layer := range []string{"base", "lsp"} {
		for _, on := range []bool{false, true} {
			name := layer + "/off"
			if on {
				name = layer + "/on"
			}
			b.Run(name, func(b *testing.B) { benchmarkTracedSend(b, layer == "lsp", on) })
		}
	}
}

func benchmarkTracedSend(b *testing.B, layered, on bool) {
	var rec *trace.Recorder
	if on {
		rec = new(trace.Recorder)
	}
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
	var info *spi.WSAProtocolInfo
	if layered {
		_, info = installPass(b, m)
	}
	k := newTracedConn(b, m, rec, info)
	port := must(k.p.CreateIoCompletionPort(k.c, 0, 1, 0))(b)
	msg := [][]byte{make([]byte, 64)}
	sink := [][]byte{make([]byte, 64<<10)}
	var ov spi.Overlapped
	var ops, events int
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.th.WSASend(k.c, msg, 0, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
			b.Fatal(err)
		}
		if _, err := k.th.GetQueuedCompletionStatus(port, 0); err != nil {
			b.Fatal(err)
		}
		if ops++; ops%512 == 0 {
			for need := 512 * 64; need > 0; { // the peer takes what arrived
				n, err := k.sth.WSARecv(k.s, sink, nil, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				need -= int(n)
			}
		}
		if on && ops%4096 == 0 {
			events += rec.Len()
			rec.Reset()
		}
	}
	if on {
		b.ReportMetric(float64(events+rec.Len())/float64(ops), "events/op")
	}
}
