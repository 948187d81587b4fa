package loopback_test

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

// udpPair returns two UDP sockets bound to 127.0.0.1 and their addresses.
func (p *proc) udpPair(flags uint32) (a, b spi.Socket, aAddr, bAddr netip.AddrPort) {
	p.t.Helper()
	a, b = p.socket(spi.AF_INET, spi.SOCK_DGRAM, flags), p.socket(spi.AF_INET, spi.SOCK_DGRAM, flags)
	return a, b, p.bind(a, "127.0.0.1:0"), p.bind(b, "127.0.0.1:0")
}

func (p *proc) sendTo(s spi.Socket, data string, to netip.AddrPort) {
	p.t.Helper()
	n, err := p.tab.WSPSendTo(s, [][]byte{[]byte(data)}, 0, to, nil, nil, nil)
	p.must(err)
	if int(n) != len(data) {
		p.t.Errorf("sendto = %d bytes, want %d", n, len(data))
	}
}

// recvFrom receives one datagram into a buffer of size bytes.
func (p *proc) recvFrom(s spi.Socket, size int) (string, netip.AddrPort, uint32, error) {
	buf := make([]byte, size)
	var from netip.AddrPort
	var flags uint32
	n, err := p.tab.WSPRecvFrom(s, [][]byte{buf}, &flags, &from, nil, nil, nil)
	return string(buf[:n]), from, flags, err
}

func TestDatagramsKeepTheirBoundaries(t *testing.T) {
	p := newTestProc(t)
	a, b, aAddr, bAddr := p.udpPair(0)
	for _, m := range []string{"one", "", "three"} {
		p.sendTo(a, m, bAddr)
	}
	var got []string
	for range 3 {
		data, from, _, err := p.recvFrom(b, 100)
		p.must(err)
		diff(t, "source", aAddr, from)
		got = append(got, data)
	}
	diff(t, "datagrams", []string{"one", "", "three"}, got)
}

func TestAWildcardBoundSocketSendsFromTheLoopbackAddress(t *testing.T) {
	p := newTestProc(t)
	a := p.socket(spi.AF_INET6, spi.SOCK_DGRAM, 0)
	b := p.socket(spi.AF_INET6, spi.SOCK_DGRAM, 0)
	bAddr := p.bind(b, "[::1]:0")
	p.sendTo(a, "implicit bind", bAddr) // a is bound implicitly to [::]:<ephemeral>
	aLocal, err := p.tab.WSPGetSockName(a)
	p.must(err)
	_, from, _, err := p.recvFrom(b, 100)
	p.must(err)
	diff(t, "source", netip.AddrPortFrom(netip.IPv6Loopback(), aLocal.Port()), from)
}

func TestTruncatedDatagramIsWSAEMSGSIZEWithMSGPARTIAL(t *testing.T) {
	p := newTestProc(t)
	a, b, _, bAddr := p.udpPair(ovFlag)
	p.sendTo(a, "0123456789", bAddr)
	p.sendTo(a, "next", bAddr)
	data, _, flags, err := p.recvFrom(b, 4)
	wantErr(t, "recv", err, spi.WSAEMSGSIZE)
	diff(t, "truncated", "0123", data)
	diff(t, "flags", uint32(spi.MSG_PARTIAL), flags)
	data, _, _, err = p.recvFrom(b, 100)
	p.must(err)
	diff(t, "rest of the datagram is lost", "next", data)
}

func TestTruncationOnAnOverlappedReceiveStillNotifies(t *testing.T) {
	p := newTestProc(t)
	a, b, aAddr, bAddr := p.udpPair(ovFlag)
	p.sendTo(a, "0123456789", bAddr)

	// At once: the call fails with WSAEMSGSIZE and Complete is still called,
	// as STATUS_BUFFER_OVERFLOW is a warning.
	ov := new(spi.Overlapped)
	buf := make([]byte, 4)
	var flags uint32
	var from netip.AddrPort
	n, err := p.tab.WSPRecvFrom(b, [][]byte{buf}, &flags, &from, ov, nil, nil)
	wantErr(t, "immediate", err, spi.WSAEMSGSIZE)
	if n != 4 || flags != spi.MSG_PARTIAL || from != aAddr {
		t.Errorf("immediate truncation = %d bytes, flags %#x, from %v", n, flags, from)
	}
	diff(t, "immediate completion", []completion{{b, ov, spi.WSAEMSGSIZE, 4, spi.MSG_PARTIAL, true}}, p.k.completions(t))

	// Later: the pending receive completes with WSAEMSGSIZE.
	ov2 := new(spi.Overlapped)
	flags = 0
	_, err = p.tab.WSPRecvFrom(b, [][]byte{buf}, &flags, &from, ov2, nil, nil)
	wantErr(t, "pending", err, spi.WSA_IO_PENDING)
	p.sendTo(a, "abcdefgh", bAddr)
	diff(t, "pending completion", []completion{{b, ov2, spi.WSAEMSGSIZE, 4, spi.MSG_PARTIAL, false}}, p.k.completions(t))
	bytes, rflags, err := p.tab.WSPGetOverlappedResult(b, ov2, false)
	wantErr(t, "WSPGetOverlappedResult", err, spi.WSAEMSGSIZE)
	if bytes != 4 || rflags != spi.MSG_PARTIAL || string(buf) != "abcd" {
		t.Errorf("result = %d bytes %q flags %#x", bytes, buf, rflags)
	}
}

func TestRecvFromWritesTheSourceAtCompletionOfAPendingReceive(t *testing.T) {
	p := newTestProc(t)
	a, b, aAddr, bAddr := p.udpPair(ovFlag)
	ov := new(spi.Overlapped)
	buf := make([]byte, 16)
	var flags uint32
	var from netip.AddrPort
	_, err := p.tab.WSPRecvFrom(b, [][]byte{buf}, &flags, &from, ov, nil, nil)
	wantErr(t, "recvfrom", err, spi.WSA_IO_PENDING)
	if from.IsValid() {
		t.Errorf("source written before completion: %v", from)
	}
	p.sendTo(a, "hello", bAddr)
	diff(t, "completion", []completion{{b, ov, 0, 5, 0, false}}, p.k.completions(t))
	diff(t, "source", aAddr, from)
	diff(t, "data", "hello", string(buf[:5]))
}

func TestBlockingRecvFromWaitsForADatagram(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		a, b, aAddr, bAddr := p.udpPair(0)
		type result struct {
			data string
			from netip.AddrPort
		}
		got := make(chan result)
		go func() {
			data, from, _, err := p.recvFrom(b, 100)
			p.must(err)
			got <- result{data, from}
		}()
		synctest.Wait()
		p.sendTo(a, "wake", bAddr)
		r := <-got
		diff(t, "datagram", "wake", r.data)
		diff(t, "source", aAddr, r.from)
	})
}

func TestMSGPEEKOnADatagramLeavesItQueued(t *testing.T) {
	p := newTestProc(t)
	a, b, _, bAddr := p.udpPair(0)
	p.sendTo(a, "twice", bAddr)
	buf := make([]byte, 10)
	flags := uint32(spi.MSG_PEEK)
	n, err := p.tab.WSPRecvFrom(b, [][]byte{buf}, &flags, nil, nil, nil, nil)
	p.must(err)
	data, _, _, err := p.recvFrom(b, 10)
	p.must(err)
	diff(t, "peek then receive", []string{"twice", "twice"}, []string{string(buf[:n]), data})
}

func TestUDPConnectSetsADefaultPeerAndFiltersSources(t *testing.T) {
	p := newTestProc(t)
	a, b, aAddr, bAddr := p.udpPair(0)
	other := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	p.must(p.tab.WSPConnect(b, aAddr, nil, nil, nil, nil))
	peer, err := p.tab.WSPGetPeerName(b)
	p.must(err)
	diff(t, "peer", aAddr, peer)
	p.sendTo(other, "filtered out", bAddr)
	p.sendTo(a, "from the peer", bAddr)
	data, _, _, err := p.recvFrom(b, 100)
	p.must(err)
	diff(t, "first datagram received", "from the peer", data)
	p.send(b, "reply via send")
	data, from, _, err := p.recvFrom(a, 100)
	p.must(err)
	diff(t, "reply", "reply via send", data)
	diff(t, "reply source", bAddr, from)
	// Connecting to the unspecified address dissolves the association.
	p.must(p.tab.WSPConnect(b, netip.MustParseAddrPort("0.0.0.0:0"), nil, nil, nil, nil))
	_, err = p.tab.WSPSend(b, [][]byte{[]byte("x")}, 0, nil, nil, nil)
	wantErr(t, "send after disconnect", err, spi.WSAENOTCONN)
}

func TestUDPReceiveQueueDropsDatagramsWhenFull(t *testing.T) {
	p := newTestProc(t)
	a, b, _, bAddr := p.udpPair(0)
	p.setInt(b, spi.SO_RCVBUF, 10)
	for _, m := range []string{"12345", "67890", "dropped", "", "more"} {
		p.sendTo(a, m, bAddr) // every send succeeds
	}
	in := make([]byte, 4)
	_, err := p.tab.WSPIoctl(b, spi.FIONREAD, nil, in, nil, nil, nil)
	p.must(err)
	if got := binary.LittleEndian.Uint32(in); got != 10 {
		t.Errorf("FIONREAD = %d, want every queued byte, 10", got)
	}
	p.nonblocking(b, true)
	var got []string
	for {
		data, _, _, err := p.recvFrom(b, 100)
		if err != nil {
			wantErr(t, "recv of an empty queue", err, spi.WSAEWOULDBLOCK)
			break
		}
		got = append(got, data)
	}
	diff(t, "queued datagrams", []string{"12345", "67890", ""}, got)
}

func TestAPendingReceiveTakesADatagramEvenWithNoBufferSpace(t *testing.T) {
	p := newTestProc(t)
	a, b, _, bAddr := p.udpPair(ovFlag)
	p.setInt(b, spi.SO_RCVBUF, 0)
	ov, buf, _, err := p.ovRecv(b, 10, 0)
	wantErr(t, "recv", err, spi.WSA_IO_PENDING)
	p.sendTo(a, "direct", bAddr)
	diff(t, "completion", []completion{{b, ov, 0, 6, 0, false}}, p.k.completions(t))
	diff(t, "data", "direct", string(buf[:6]))
}

func TestUDPSendErrors(t *testing.T) {
	p := newTestProc(t)
	a, _, _, bAddr := p.udpPair(0)
	_, err := p.tab.WSPSendTo(a, [][]byte{make([]byte, loopback.MaxDatagramSize+1)}, 0, bAddr, nil, nil, nil)
	wantErr(t, "oversized", err, spi.WSAEMSGSIZE)
	_, err = p.tab.WSPSendTo(a, [][]byte{make([]byte, loopback.MaxDatagramSize)}, 0, bAddr, nil, nil, nil)
	wantErr(t, "largest", err, nil)
	_, err = p.tab.WSPSendTo(a, [][]byte{{1}}, 0, netip.AddrPort{}, nil, nil, nil)
	wantErr(t, "sendto without an address", err, spi.WSAEDESTADDRREQ)
	_, err = p.tab.WSPSend(a, [][]byte{{1}}, 0, nil, nil, nil)
	wantErr(t, "send without a peer", err, spi.WSAENOTCONN)
	p.must(p.tab.WSPShutdown(a, spi.SD_SEND))
	_, err = p.tab.WSPSendTo(a, [][]byte{{1}}, 0, bAddr, nil, nil, nil)
	wantErr(t, "after SD_SEND", err, spi.WSAESHUTDOWN)
	// A datagram to a port nobody has bound is dropped silently.
	p.sendTo(p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0), "lost", netip.MustParseAddrPort("127.0.0.1:9"))
}

func TestUDPReceiveErrors(t *testing.T) {
	p := newTestProc(t)
	u := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	_, _, _, err := p.recvFrom(u, 10)
	wantErr(t, "recv unbound", err, spi.WSAEINVAL)
	p.bind(u, "127.0.0.1:0")
	p.must(p.tab.WSPShutdown(u, spi.SD_RECEIVE))
	_, _, _, err = p.recvFrom(u, 10)
	wantErr(t, "recv after SD_RECEIVE", err, spi.WSAESHUTDOWN)
}

func TestSendToOnAStreamSocketIgnoresTheAddress(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	_, err := p.tab.WSPSendTo(c, [][]byte{[]byte("to the peer")}, 0, netip.MustParseAddrPort("10.1.1.1:1"), nil, nil, nil)
	p.must(err)
	from := netip.MustParseAddrPort("10.9.9.9:9")
	buf := make([]byte, 20)
	var flags uint32
	n, err := p.tab.WSPRecvFrom(s, [][]byte{buf}, &flags, &from, nil, nil, nil)
	p.must(err)
	diff(t, "data", "to the peer", string(buf[:n]))
	diff(t, "from untouched", netip.MustParseAddrPort("10.9.9.9:9"), from)
}

func TestLargeDatagramsAreCopiedWhole(t *testing.T) {
	p := newTestProc(t)
	a, b, _, bAddr := p.udpPair(0)
	big := strings.Repeat("0123456789abcdef", 4000)
	p.sendTo(a, big, bAddr)
	got, _, _, err := p.recvFrom(b, len(big))
	p.must(err)
	if got != big {
		t.Errorf("received %d bytes differing from the %d sent", len(got), len(big))
	}
}
