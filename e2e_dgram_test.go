package wsspi_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// End-to-end tests of UDP over the loopback provider, between a client
// process and a server process of one machine.

// udpPair returns a world whose server has a UDP socket bound to port 5000
// of the loopback address of af, and whose client has an unbound one; both
// are overlapped.
func udpPair(tb TB, af int32) (w *world, c, s spi.Socket, saddr netip.AddrPort) {
	tb.Helper()
	w = newWorld(tb)
	saddr = loopbackAddr(af, 5000)
	s = must(w.sth.Socket(af, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(tb)
	check(tb, w.sth.Bind(s, saddr))
	c = must(w.cth.Socket(af, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(tb)
	return w, c, s, saddr
}

// datagram is what one receive reports.
type datagram struct {
	Data  string
	From  string // netip.AddrPort.String of the source
	Flags uint32
	Err   error
}

// source is the address datagrams from s come from: a socket bound
// implicitly is bound to the wildcard and sends from the loopback address.
func source(tb TB, th *wsspi.Thread, s spi.Socket, af int32) netip.AddrPort {
	tb.Helper()
	return loopbackAddr(af, must(th.Getsockname(s))(tb).Port())
}

// recvFrom receives one datagram on s with a blocking call into a buffer of
// size bytes.
func recvFrom(th *wsspi.Thread, s spi.Socket, size int) datagram {
	buf := make([]byte, size)
	var from netip.AddrPort
	var flags uint32
	n, err := th.WSARecvFrom(s, [][]byte{buf}, &flags, &from, nil, nil)
	return datagram{string(buf[:n]), from.String(), flags, err}
}

func TestDatagramBoundariesArePreserved(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			w, c, s, saddr := udpPair(t, f.af)
			msgs := []string{"a", string(pattern(0, 100)), "", "tail"}
			for _, m := range msgs {
				if n := must(w.cth.WSASendTo(c, [][]byte{[]byte(m)}, 0, saddr, nil, nil))(t); n != uint32(len(m)) {
					t.Fatalf("sendto of %d bytes sent %d", len(m), n)
				}
			}
			if got := fionread(t, w.sth, s); got != 105 {
				t.Errorf("FIONREAD = %d, want every queued byte (105)", got)
			}
			from := source(t, w.cth, c, f.af).String()
			var got []datagram
			for range msgs {
				got = append(got, recvFrom(w.sth, s, 200))
			}
			var want []datagram
			for _, m := range msgs {
				want = append(want, datagram{Data: m, From: from})
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("datagrams (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDatagramLargerThanTheBufferIsTruncatedWithWSAEMSGSIZE(t *testing.T) {
	w, c, s, saddr := udpPair(t, spi.AF_INET)
	must(w.cth.WSASendTo(c, [][]byte{[]byte("0123456789")}, 0, saddr, nil, nil))(t)
	must(w.cth.WSASendTo(c, [][]byte{[]byte("next")}, 0, saddr, nil, nil))(t)
	from := source(t, w.cth, c, spi.AF_INET).String()
	want := []datagram{
		{"0123", from, spi.MSG_PARTIAL, opErr("WSARecvFrom", s, spi.WSAEMSGSIZE)},
		{"next", from, 0, nil}, // the rest of the first is lost
	}
	got := []datagram{recvFrom(w.sth, s, 4), recvFrom(w.sth, s, 4)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("receives (-want +got):\n%s", diff)
	}
}

func TestPendingDatagramReceiveIsTruncatedWithWSAEMSGSIZE(t *testing.T) {
	w, c, s, saddr := udpPair(t, spi.AF_INET)
	port := must(w.server.CreateIoCompletionPort(s, 0, 5, 0))(t)
	var ov spi.Overlapped
	buf := make([]byte, 4)
	_, err := w.sth.WSARecvFrom(s, [][]byte{buf}, nil, nil, &ov, nil)
	wantErr(t, "recvfrom", opErr("WSARecvFrom", s, spi.WSA_IO_PENDING), err)
	must(w.cth.WSASendTo(c, [][]byte{[]byte("0123456789")}, 0, saddr, nil, nil))(t)

	e, err := w.sth.GetQueuedCompletionStatus(port, long)
	wantErr(t, "packet", opErr("GetQueuedCompletionStatus", port, spi.ERROR_MORE_DATA), err)
	if e.Overlapped != &ov || e.NumberOfBytesTransferred != 4 || string(buf) != "0123" {
		t.Errorf("packet %+v, buffer %q", e, buf)
	}
	n, flags, err := w.sth.WSAGetOverlappedResult(s, &ov, false)
	wantErr(t, "WSAGetOverlappedResult", opErr("WSAGetOverlappedResult", s, spi.WSAEMSGSIZE), err)
	if n != 4 || flags != spi.MSG_PARTIAL {
		t.Errorf("WSAGetOverlappedResult = %d bytes, flags %#x; want 4, MSG_PARTIAL", n, flags)
	}
}

func TestSendToAndRecvFromReportTheAddresses(t *testing.T) {
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			w, c, s, saddr := udpPair(t, f.af)
			must(w.cth.WSASendTo(c, [][]byte{[]byte("hi")}, 0, saddr, nil, nil))(t)
			if got, want := must(w.cth.Getsockname(c))(t).Addr(), anyAddr(f.af); got != want {
				t.Errorf("sendto bound the client to %v, want the wildcard %v", got, want)
			}
			cname := source(t, w.cth, c, f.af)
			got := recvFrom(w.sth, s, 16)
			if diff := cmp.Diff(datagram{Data: "hi", From: cname.String()}, got); diff != "" {
				t.Errorf("server received (-want +got):\n%s", diff)
			}
			must(w.sth.WSASendTo(s, [][]byte{[]byte("back")}, 0, cname, nil, nil))(t)
			if diff := cmp.Diff(datagram{Data: "back", From: saddr.String()}, recvFrom(w.cth, c, 16)); diff != "" {
				t.Errorf("client received (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPendingWSARecvFromFillsTheAddressAtCompletion(t *testing.T) {
	w, c, s, saddr := udpPair(t, spi.AF_INET6)
	port := must(w.server.CreateIoCompletionPort(s, 0, 5, 0))(t)
	var ov spi.Overlapped
	var from netip.AddrPort
	var flags uint32
	buf := make([]byte, 16)
	_, err := w.sth.WSARecvFrom(s, [][]byte{buf}, &flags, &from, &ov, nil)
	wantErr(t, "recvfrom", opErr("WSARecvFrom", s, spi.WSA_IO_PENDING), err)
	if from.IsValid() {
		t.Errorf("address %v written before anything arrived", from)
	}
	check(t, w.cth.Bind(c, loopbackAddr(spi.AF_INET6, 6000)))
	must(w.cth.WSASendTo(c, [][]byte{[]byte("late")}, 0, saddr, nil, nil))(t)
	e := must(w.sth.GetQueuedCompletionStatus(port, long))(t)
	if e.Overlapped != &ov || string(buf[:e.NumberOfBytesTransferred]) != "late" {
		t.Errorf("packet %+v, buffer %q", e, buf)
	}
	if want := loopbackAddr(spi.AF_INET6, 6000); from != want {
		t.Errorf("from = %v, want %v", from, want)
	}
}

func TestConnectedDatagramSocketTalksOnlyToItsPeer(t *testing.T) {
	w, c, s, saddr := udpPair(t, spi.AF_INET)
	check(t, w.sth.Connect(s, loopbackAddr(spi.AF_INET, 6000)))
	other := must(w.cth.Socket(spi.AF_INET, spi.SOCK_DGRAM, 0))(t)
	check(t, w.cth.Bind(c, loopbackAddr(spi.AF_INET, 6000)))
	must(w.cth.WSASendTo(other, [][]byte{[]byte("stranger")}, 0, saddr, nil, nil))(t)
	must(w.cth.WSASendTo(c, [][]byte{[]byte("peer")}, 0, saddr, nil, nil))(t)
	if got := recvFrom(w.sth, s, 16); got.Data != "peer" {
		t.Errorf("connected socket received %+v, want only its peer's datagram", got)
	}
	must(w.sth.WSASend(s, [][]byte{[]byte("reply")}, 0, nil, nil))(t) // to the default peer
	if got := recvFrom(w.cth, c, 16); got.Data != "reply" || got.From != saddr.String() {
		t.Errorf("client received %+v", got)
	}
}

func TestDatagramSendWithoutADestinationFails(t *testing.T) {
	w, c, _, _ := udpPair(t, spi.AF_INET)
	_, err := w.cth.WSASend(c, [][]byte{[]byte("x")}, 0, nil, nil)
	wantErr(t, "send on an unconnected socket", opErr("WSASend", c, spi.WSAENOTCONN), err)
	_, err = w.cth.WSASendTo(c, [][]byte{[]byte("x")}, 0, netip.AddrPort{}, nil, nil)
	wantErr(t, "sendto with no address", opErr("WSASendTo", c, spi.WSAEDESTADDRREQ), err)
}

func TestDatagramLargerThanTheMessageSizeIsRefusedWithWSAEMSGSIZE(t *testing.T) {
	w, c, _, saddr := udpPair(t, spi.AF_INET)
	max := getInt(t, w.cth, c, spi.SO_MAX_MSG_SIZE)
	if max != 65507 {
		t.Errorf("SO_MAX_MSG_SIZE = %d, want 65507", max)
	}
	_, err := w.cth.WSASendTo(c, [][]byte{make([]byte, max+1)}, 0, saddr, nil, nil)
	wantErr(t, "sendto", opErr("WSASendTo", c, spi.WSAEMSGSIZE), err)
	if n := must(w.cth.WSASendTo(c, [][]byte{make([]byte, max)}, 0, saddr, nil, nil))(t); n != max {
		t.Errorf("sendto of the largest datagram sent %d", n)
	}
}

func TestReceiveOnAnUnboundDatagramSocketFailsWithWSAEINVAL(t *testing.T) {
	w, c, _, _ := udpPair(t, spi.AF_INET)
	got := recvFrom(w.cth, c, 8)
	wantErr(t, "recvfrom", opErr("WSARecvFrom", c, spi.WSAEINVAL), got.Err)
}
