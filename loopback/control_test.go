package loopback_test

import (
	"encoding/binary"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

func TestIoctls(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	p.send(c, "12345")
	u32 := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	handle := binary.LittleEndian.AppendUint64(nil, uint64(s))
	cases := []struct {
		name    string
		code    uint32
		in      []byte
		outSize int
		ov      bool
		want    []byte
		err     error
	}{
		{"FIONREAD", spi.FIONREAD, nil, 4, false, u32(5), nil},
		{"FIONREAD short", spi.FIONREAD, nil, 3, false, nil, spi.WSAEFAULT},
		{"SIOCATMARK", spi.SIOCATMARK, nil, 4, false, u32(1), nil},
		{"SIO_BASE_HANDLE", spi.SIO_BASE_HANDLE, nil, 8, false, handle, nil},
		{"SIO_BASE_HANDLE short", spi.SIO_BASE_HANDLE, nil, 4, false, nil, spi.WSAEFAULT},
		{"SIO_BSP_HANDLE", spi.SIO_BSP_HANDLE, nil, 8, false, handle, nil},
		{"SIO_BSP_HANDLE_SELECT", spi.SIO_BSP_HANDLE_SELECT, nil, 16, false, handle, nil},
		{"SIO_BSP_HANDLE_POLL", spi.SIO_BSP_HANDLE_POLL, nil, 8, false, handle, nil},
		{"SIO_BSP_HANDLE_POLL overlapped", spi.SIO_BSP_HANDLE_POLL, nil, 8, true, nil, spi.WSAEFAULT},
		{"FIONBIO short", spi.FIONBIO, []byte{1}, 0, false, nil, spi.WSAEFAULT},
		{"extension function of an unknown GUID", spi.SIO_GET_EXTENSION_FUNCTION_POINTER, make([]byte, 16), 8, false, nil, spi.WSAEINVAL},
		{"known but unsupported", spi.SIO_FLUSH, nil, 0, false, nil, spi.WSAEOPNOTSUPP},
		{"unknown", spi.IOC_OUT | spi.IOC_VENDOR | 0x1234, nil, 8, false, nil, spi.WSAEOPNOTSUPP},
		{"no direction", spi.IOC_WS2 | 0x99, nil, 8, false, nil, spi.WSAEINVAL},
		{"void with data", spi.IOC_VOID | spi.IOC_IN | spi.IOC_WS2 | 0x99, nil, 8, false, nil, spi.WSAEINVAL},
	}
	for _, k := range cases {
		out := make([]byte, k.outSize)
		var ov *spi.Overlapped
		if k.ov {
			ov = new(spi.Overlapped)
		}
		n, err := p.tab.WSPIoctl(s, k.code, k.in, out, ov, nil, nil)
		wantErr(t, k.name, err, k.err)
		if k.err == nil {
			diff(t, k.name, k.want, out[:n])
		}
	}
	diff(t, "completions", []completion(nil), p.k.completions(t))
}

func TestFIONBIOSwitchesBlockingMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		c, s := p.pair(0)
		p.nonblocking(s, true)
		_, err := p.recv(s, 1)
		wantErr(t, "nonblocking recv", err, spi.WSAEWOULDBLOCK)
		p.nonblocking(s, false)
		done := make(chan error)
		go func() {
			_, err := p.recv(s, 1)
			done <- err
		}()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("blocking recv returned at once: %v", err)
		default:
		}
		p.send(c, "x")
		wantErr(t, "blocking recv", <-done, nil)
	})
}

func TestAnOverlappedIoctlCompletesAtOnceAndNotifies(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, ovFlag)
	ov := new(spi.Overlapped)
	out := make([]byte, 8)
	n, err := p.tab.WSPIoctl(s, spi.SIO_BASE_HANDLE, nil, out, ov, nil, nil)
	if n != 8 || err != nil {
		t.Fatalf("ioctl = %d, %v", n, err)
	}
	diff(t, "completions", []completion{{s, ov, 0, 8, 0, true}}, p.k.completions(t))
}

// intOpt reads an int option.
func (p *proc) intOpt(s spi.Socket, level, name int32) (int32, error) {
	buf := make([]byte, 4)
	n, err := p.tab.WSPGetSockOpt(s, level, name, buf)
	if err == nil && n != 4 {
		p.t.Errorf("option %#x: %d bytes, want 4", name, n)
	}
	return int32(binary.LittleEndian.Uint32(buf)), err
}

func TestSocketOptionDefaults(t *testing.T) {
	p := newTestProc(t)
	tcp := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	udp := p.socket(spi.AF_INET6, spi.SOCK_DGRAM, 0)
	type opt struct {
		s     spi.Socket
		level int32
		name  int32
	}
	want := map[string]int32{
		"tcp SO_TYPE": spi.SOCK_STREAM, "udp SO_TYPE": spi.SOCK_DGRAM,
		"tcp SO_RCVBUF": loopback.DefaultReceiveBuffer, "tcp SO_SNDBUF": loopback.DefaultSendBuffer,
		"udp SO_RCVBUF":    loopback.DefaultReceiveBuffer,
		"tcp SO_REUSEADDR": 0, "tcp SO_ERROR": 0, "tcp SO_ACCEPTCONN": 0, "tcp SO_DONTLINGER": 1,
		"tcp TCP_NODELAY": 0, "udp SO_MAX_MSG_SIZE": 65527, // the UDP/IPv6 entry's dwMessageSize
	}
	opts := map[string]opt{
		"tcp SO_TYPE": {tcp, spi.SOL_SOCKET, spi.SO_TYPE}, "udp SO_TYPE": {udp, spi.SOL_SOCKET, spi.SO_TYPE},
		"tcp SO_RCVBUF": {tcp, spi.SOL_SOCKET, spi.SO_RCVBUF}, "tcp SO_SNDBUF": {tcp, spi.SOL_SOCKET, spi.SO_SNDBUF},
		"udp SO_RCVBUF":    {udp, spi.SOL_SOCKET, spi.SO_RCVBUF},
		"tcp SO_REUSEADDR": {tcp, spi.SOL_SOCKET, spi.SO_REUSEADDR}, "tcp SO_ERROR": {tcp, spi.SOL_SOCKET, spi.SO_ERROR},
		"tcp SO_ACCEPTCONN": {tcp, spi.SOL_SOCKET, spi.SO_ACCEPTCONN}, "tcp SO_DONTLINGER": {tcp, spi.SOL_SOCKET, spi.SO_DONTLINGER},
		"tcp TCP_NODELAY": {tcp, spi.IPPROTO_TCP, spi.TCP_NODELAY}, "udp SO_MAX_MSG_SIZE": {udp, spi.SOL_SOCKET, spi.SO_MAX_MSG_SIZE},
	}
	got := map[string]int32{}
	for name, o := range opts {
		v, err := p.intOpt(o.s, o.level, o.name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		got[name] = v
	}
	diff(t, "defaults", want, got)
	buf := make([]byte, 4)
	_, err := p.tab.WSPGetSockOpt(tcp, spi.SOL_SOCKET, spi.SO_LINGER, buf)
	p.must(err)
	diff(t, "SO_LINGER", []byte{0, 0, 0, 0}, buf)
}

func TestSocketOptionsRoundTrip(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	p.setInt(s, spi.SO_RCVBUF, 4096)
	p.setInt(s, spi.SO_SNDBUF, 0)
	p.setInt(s, spi.SO_REUSEADDR, 1)
	p.must(p.tab.WSPSetSockOpt(s, spi.IPPROTO_TCP, spi.TCP_NODELAY, []byte{1, 0, 0, 0}))
	p.setLinger(s, 1, 7)
	got := map[int32]int32{}
	for _, name := range []int32{spi.SO_RCVBUF, spi.SO_SNDBUF, spi.SO_REUSEADDR, spi.SO_DONTLINGER} {
		v, err := p.intOpt(s, spi.SOL_SOCKET, name)
		p.must(err)
		got[name] = v
	}
	nd, err := p.intOpt(s, spi.IPPROTO_TCP, spi.TCP_NODELAY)
	p.must(err)
	got[spi.TCP_NODELAY] = nd
	diff(t, "options", map[int32]int32{spi.SO_RCVBUF: 4096, spi.SO_SNDBUF: 0, spi.SO_REUSEADDR: 1, spi.SO_DONTLINGER: 0, spi.TCP_NODELAY: 1}, got)
	buf := make([]byte, 4)
	_, err = p.tab.WSPGetSockOpt(s, spi.SOL_SOCKET, spi.SO_LINGER, buf)
	p.must(err)
	var l spi.Linger
	p.must(l.UnmarshalBinary(buf))
	diff(t, "SO_LINGER", spi.Linger{OnOff: 1, Linger: 7}, l)
	p.setInt(s, spi.SO_DONTLINGER, 1)
	_, err = p.tab.WSPGetSockOpt(s, spi.SOL_SOCKET, spi.SO_LINGER, buf)
	p.must(err)
	p.must(l.UnmarshalBinary(buf))
	diff(t, "SO_LINGER after SO_DONTLINGER", spi.Linger{OnOff: 0, Linger: 7}, l)
}

func TestSocketOptionErrors(t *testing.T) {
	p := newTestProc(t)
	tcp := p.socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	udp := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	cases := []struct {
		name  string
		s     spi.Socket
		level int32
		opt   int32
		size  int
		set   bool
		want  error
	}{
		{"short get", tcp, spi.SOL_SOCKET, spi.SO_RCVBUF, 2, false, spi.WSAEFAULT},
		{"short set", tcp, spi.SOL_SOCKET, spi.SO_RCVBUF, 2, true, spi.WSAEFAULT},
		{"short SO_LINGER", tcp, spi.SOL_SOCKET, spi.SO_LINGER, 3, true, spi.WSAEFAULT},
		{"short SO_PROTOCOL_INFOW", tcp, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, 100, false, spi.WSAEFAULT},
		{"unknown option", tcp, spi.SOL_SOCKET, spi.SO_KEEPALIVE, 4, false, spi.WSAENOPROTOOPT},
		{"read-only SO_TYPE", tcp, spi.SOL_SOCKET, spi.SO_TYPE, 4, true, spi.WSAENOPROTOOPT},
		{"read-only SO_PROTOCOL_INFOW", tcp, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, spi.WSAProtocolInfoSize, true, spi.WSAENOPROTOOPT},
		{"SO_LINGER on UDP", udp, spi.SOL_SOCKET, spi.SO_LINGER, 4, false, spi.WSAENOPROTOOPT},
		{"SO_ACCEPTCONN on UDP", udp, spi.SOL_SOCKET, spi.SO_ACCEPTCONN, 4, false, spi.WSAENOPROTOOPT},
		{"SO_MAX_MSG_SIZE on TCP", tcp, spi.SOL_SOCKET, spi.SO_MAX_MSG_SIZE, 4, false, spi.WSAENOPROTOOPT},
		{"TCP_NODELAY on UDP", udp, spi.IPPROTO_TCP, spi.TCP_NODELAY, 4, true, spi.WSAENOPROTOOPT},
		{"IP level", tcp, spi.IPPROTO_IP, 1, 4, false, spi.WSAENOPROTOOPT},
		{"no such level", tcp, 12345, 1, 4, false, spi.WSAEINVAL},
	}
	for _, c := range cases {
		buf := make([]byte, c.size)
		var err error
		if c.set {
			err = p.tab.WSPSetSockOpt(c.s, c.level, c.opt, buf)
		} else {
			_, err = p.tab.WSPGetSockOpt(c.s, c.level, c.opt, buf)
		}
		wantErr(t, c.name, err, c.want)
	}
	neg := binary.LittleEndian.AppendUint32(nil, 0xFFFFFFFF)
	wantErr(t, "negative SO_RCVBUF", p.tab.WSPSetSockOpt(tcp, spi.SOL_SOCKET, spi.SO_RCVBUF, neg), spi.WSAEINVAL)
}

func TestSOPROTOCOLINFOWReturnsTheSocketsEntry(t *testing.T) {
	p := newTestProc(t)
	s := p.socket(spi.AF_INET6, spi.SOCK_STREAM, 0)
	buf := make([]byte, spi.WSAProtocolInfoSize+10)
	n, err := p.tab.WSPGetSockOpt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf)
	p.must(err)
	if n != spi.WSAProtocolInfoSize {
		t.Errorf("size = %d, want %d", n, spi.WSAProtocolInfoSize)
	}
	var got spi.WSAProtocolInfo
	p.must(got.UnmarshalBinary(buf))
	diff(t, "entry", *p.entry(spi.AF_INET6, spi.SOCK_STREAM), got)
}

func TestSOACCEPTCONNReportsListening(t *testing.T) {
	p := newTestProc(t)
	l, _ := p.listener(spi.AF_INET, 0)
	v, err := p.intOpt(l, spi.SOL_SOCKET, spi.SO_ACCEPTCONN)
	p.must(err)
	if v != 1 {
		t.Errorf("SO_ACCEPTCONN = %d, want 1", v)
	}
}

func TestRaisingTheBufferSizeLetsQueuedSendsThrough(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(ovFlag)
	p.limit(c, s, 0, 1)
	p.send(c, "ab")
	ov, _, err := p.ovSend(c, "cd")
	wantErr(t, "send", err, spi.WSA_IO_PENDING)
	p.setInt(s, spi.SO_RCVBUF, 100)
	diff(t, "completions", []completion{{c, ov, 0, 2, 0, false}}, p.k.completions(t))
}

func TestSelectReportsReadiness(t *testing.T) {
	p := newTestProc(t)
	c, s := p.pair(0)
	l, a := p.listener(spi.AF_INET, 0)
	u := p.socket(spi.AF_INET, spi.SOCK_DGRAM, 0)
	set := func(ss ...spi.Socket) *spi.FDSet {
		var f spi.FDSet
		for _, x := range ss {
			f.Set(x)
		}
		return &f
	}
	r, w := set(c, s, l), set(c, u)
	n, err := p.tab.WSPSelect(r, w, nil, durationPtr(0))
	p.must(err)
	if n != 2 || r.Count != 0 || !w.IsSet(c) || !w.IsSet(u) {
		t.Errorf("select = %d, read %v, write %v; want only c and u writable", n, r.Array[:r.Count], w.Array[:w.Count])
	}
	p.send(c, "x")
	p.must(p.tab.WSPConnect(p.socket(spi.AF_INET, spi.SOCK_STREAM, 0), a, nil, nil, nil, nil))
	r = set(c, s, l)
	n, err = p.tab.WSPSelect(r, nil, nil, nil)
	p.must(err)
	if n != 2 || !r.IsSet(s) || !r.IsSet(l) || r.IsSet(c) {
		t.Errorf("select = %d, read %v; want s and l readable", n, r.Array[:r.Count])
	}
	_, err = p.tab.WSPSelect(nil, nil, nil, nil)
	wantErr(t, "no sockets", err, spi.WSAEINVAL)
	_, err = p.tab.WSPSelect(set(c), nil, nil, durationPtr(-1))
	wantErr(t, "negative timeout", err, spi.WSAEINVAL)
	_, err = p.tab.WSPSelect(set(9999), nil, nil, nil)
	wantErr(t, "not a socket", err, spi.WSAENOTSOCK)
}

func TestSelectTimesOutAndWakesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestProc(t)
		c, s := p.pair(0)
		var r spi.FDSet
		r.Set(s)
		start := time.Now()
		n, err := p.tab.WSPSelect(&r, nil, nil, durationPtr(time.Second))
		p.must(err)
		if n != 0 || r.Count != 0 || time.Since(start) != time.Second {
			t.Errorf("select = %d after %v, want 0 after 1s", n, time.Since(start))
		}
		got := make(chan int)
		go func() {
			var r spi.FDSet
			r.Set(s)
			n, _ := p.tab.WSPSelect(&r, nil, nil, nil)
			got <- n
		}()
		synctest.Wait()
		p.send(c, "wake")
		if n := <-got; n != 1 {
			t.Errorf("select = %d, want 1", n)
		}
	})
}

// A socket made from a protocol info of its caller reports that info, as
// it was at WSPSocket: a later change to the caller's copy does not reach
// it, and an info that differs from the catalog entry in a field the
// triplet match does not look at is not taken for the entry.
func TestSOPROTOCOLINFOWReturnsTheInfoTheSocketWasMadeWith(t *testing.T) {
	p := newTestProc(t)
	info := *p.entry(spi.AF_INET, spi.SOCK_STREAM)
	info.Version++
	want := info
	s, err := p.tab.WSPSocket(spi.AF_INET, spi.SOCK_STREAM, 0, &info, 0, 0)
	p.must(err)
	info.Version++
	info.ProtocolName = "changed by its caller"
	buf := make([]byte, spi.WSAProtocolInfoSize)
	_, err = p.tab.WSPGetSockOpt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf)
	p.must(err)
	var got spi.WSAProtocolInfo
	p.must(got.UnmarshalBinary(buf))
	diff(t, "entry", want, got)
}
