package wsspi_test

import (
	"bytes"
	"sync/atomic"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// upperHooks upper-cases what a layer sends and counts the bytes its
// receives see.
func upperHooks(received *atomic.Int64) layered.Config {
	return layered.Config{Hooks: layered.Hooks{
		OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte {
			out := make([][]byte, len(bufs))
			for i, b := range bufs {
				out[i] = bytes.ToUpper(b)
			}
			return out
		},
		OnRecv: func(_ *layered.Socket, _ [][]byte, n uint32) { received.Add(int64(n)) },
	}}
}

func TestAcceptExAndConnectExThroughAKitLayerCompleteOnceOnTheLayersHandles(t *testing.T) {
	forPortAndEvent(t, func(t *testing.T, newNotifier func(TB, *wsspi.Thread, spi.Socket) notifier) {
		m := wsspi.NewMachine()
		var received atomic.Int64
		provs, ids := installKits(t, m, 1, upperHooks(&received))
		p := m.NewProcess()
		th := p.NewThread()
		addr := loopbackAddr(spi.AF_INET, 7000)
		l := listen(t, th, addr, 8)
		if got := protocolInfo(t, th, l).CatalogEntryId; got != ids[0].Chains[0] {
			t.Fatalf("listener made on entry %d, want the layer's chain %d", got, ids[0].Chains[0])
		}
		ln := newNotifier(t, th, l)
		a := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		aov, _ := ln.prepare()
		buf := make([]byte, 5)
		_, err := th.AcceptEx(l, a, buf, aov)
		wantErr(t, "AcceptEx", opErr("AcceptEx", l, spi.WSA_IO_PENDING), err)
		ln.none(t)

		c := boundSocket(t, th, spi.AF_INET)
		cn := newNotifier(t, th, c)
		cov, _ := cn.prepare()
		if n, err := th.ConnectEx(c, addr, []byte("hello"), cov); n != 5 || err != nil {
			t.Fatalf("ConnectEx = %d, %v; want 5, nil", n, err)
		}
		diffResults(t, []result{{cov, 5, 0}}, []result{cn.next(t)})
		diffResults(t, []result{{aov, 5, 0}}, []result{ln.next(t)})
		ln.none(t)
		cn.none(t)
		if string(buf) != "HELLO" {
			t.Errorf("first data %q, want HELLO (OnSend on ConnectEx's data)", buf)
		}
		if n := received.Load(); n != 5 {
			t.Errorf("OnRecv saw %d bytes of AcceptEx's first data, want 5", n)
		}
		must(th.WSASend(a, [][]byte{[]byte("world")}, 0, nil, nil))(t)
		if got := recvAll(t, th, c, 5); string(got) != "WORLD" {
			t.Errorf("client received %q, want WORLD", got)
		}

		// A second AcceptEx, pending when the listener closes, is aborted once.
		a2 := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		aov2, _ := ln.prepare()
		_, err = th.AcceptEx(l, a2, nil, aov2)
		wantErr(t, "second AcceptEx", opErr("AcceptEx", l, spi.WSA_IO_PENDING), err)
		check(t, th.Closesocket(l))
		diffResults(t, []result{{aov2, 0, spi.WSA_OPERATION_ABORTED}}, []result{ln.next(t)})
		ln.none(t)

		// ConnectEx on an unbound layered socket fails at once.
		u := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		_, err = th.ConnectEx(u, addr, nil, new(spi.Overlapped))
		wantErr(t, "ConnectEx unbound", opErr("ConnectEx", u, spi.WSAEINVAL), err)

		p.Close()
		eventually(t, "the kit holds nothing", func() bool { return quiet(provs...) })
	})
}
