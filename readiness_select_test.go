package wsspi_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// fdset returns a set holding socks.
func fdset(socks ...spi.Socket) *spi.FDSet {
	var f spi.FDSet
	for _, s := range socks {
		f.Set(s)
	}
	return &f
}

func TestSelectReportsReadableAndWritableSocketsThroughEveryStack(t *testing.T) {
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			zero := time.Duration(0)
			r, w := fdset(k.c), fdset(k.c)
			n, err := k.cth.Select(r, w, nil, &zero)
			check(t, err)
			if diff := cmp.Diff([]spi.FDSet{{}, *fdset(k.c)}, []spi.FDSet{*r, *w}); n != 1 || diff != "" {
				t.Fatalf("select before data = %d (-want +got):\n%s", n, diff)
			}
			must(k.sth.WSASend(k.s, [][]byte{[]byte("ping")}, 0, nil, nil))(t)
			wait := long
			r, w = fdset(k.c), fdset(k.c)
			n, err = k.cth.Select(r, w, nil, &wait)
			check(t, err)
			if diff := cmp.Diff([]spi.FDSet{*fdset(k.c), *fdset(k.c)}, []spi.FDSet{*r, *w}); n != 2 || diff != "" {
				t.Fatalf("select after data = %d (-want +got):\n%s", n, diff)
			}
		})
	}
}

func TestSelectWaitsForDataThatComesLater(t *testing.T) {
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			done := make(chan error, 1)
			r := fdset(k.c)
			go func() {
				_, err := k.cth.Select(r, nil, nil, nil)
				done <- err
			}()
			time.Sleep(time.Millisecond)
			must(k.sth.WSASend(k.s, [][]byte{[]byte("late")}, 0, nil, nil))(t)
			select {
			case err := <-done:
				check(t, err)
			case <-time.After(long):
				t.Fatal("select never returned")
			}
			if !r.IsSet(k.c) || r.Count != 1 {
				t.Fatalf("readfds = %+v, want only %v", r, k.c)
			}
		})
	}
}

func TestSelectTimesOutWithNothingReady(t *testing.T) {
	k := stackConn(t, stacks[1])
	d := 5 * time.Millisecond
	r := fdset(k.c)
	n, err := k.cth.Select(r, nil, nil, &d)
	if n != 0 || err != nil || r.Count != 0 {
		t.Fatalf("select = %d, %v, readfds %+v; want 0, nil, empty", n, err, r)
	}
}

func TestSelectRefusesBadSets(t *testing.T) {
	w := newWorld(t)
	s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	zero := time.Duration(0)
	over := fdset(s)
	over.Count = spi.FD_SETSIZE + 1
	for _, c := range []struct {
		name    string
		r, w, e *spi.FDSet
		want    error
	}{
		{"no sets", nil, nil, nil, opErr("select", 0, spi.WSAEINVAL)},
		{"empty sets", fdset(), fdset(), fdset(), opErr("select", 0, spi.WSAEINVAL)},
		{"count over FD_SETSIZE", over, nil, nil, opErr("select", 0, spi.WSAEINVAL)},
		{"not a socket", fdset(0x7770), nil, nil, opErr("select", 0x7770, spi.WSAENOTSOCK)},
	} {
		_, err := w.cth.Select(c.r, c.w, c.e, &zero)
		wantErr(t, c.name, c.want, err)
	}
	p := w.m.NewProcessWithoutStartup()
	defer p.Close()
	_, err := p.NewThread().Select(fdset(s), nil, nil, &zero)
	if !errors.Is(err, spi.WSANOTINITIALISED) {
		t.Errorf("select before WSAStartup = %v, want WSANOTINITIALISED", err)
	}
}

func TestIoctlsocketReadsFIONREADAndSetsFIONBIO(t *testing.T) {
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			must(k.sth.WSASend(k.s, [][]byte{[]byte("12345")}, 0, nil, nil))(t)
			var avail uint32
			eventually(t, "5 bytes to read", func() bool {
				check(t, k.cth.Ioctlsocket(k.c, spi.FIONREAD, &avail))
				return avail == 5
			})
			on := uint32(1)
			check(t, k.cth.Ioctlsocket(k.c, spi.FIONBIO, &on))
			buf := make([]byte, 8)
			must(k.cth.WSARecv(k.c, [][]byte{buf}, new(uint32), nil, nil))(t)
			_, err := k.cth.WSARecv(k.c, [][]byte{buf}, new(uint32), nil, nil)
			if !errors.Is(err, spi.WSAEWOULDBLOCK) {
				t.Fatalf("recv on a nonblocking socket with no data = %v, want WSAEWOULDBLOCK", err)
			}
			wantErr(t, "nil argp", opErr("ioctlsocket", k.c, spi.WSAEFAULT), k.cth.Ioctlsocket(k.c, spi.FIONREAD, nil))
		})
	}
}

func TestNtDeviceIoControlFileReachesOnlyAnAFDSocket(t *testing.T) {
	k, _, _ := kitConn(t, 1)
	info := spi.AFDPollInfo{Timeout: 0, Handles: []spi.AFDPollHandleInfo{{Handle: k.c, Events: spi.AFD_POLL_ALL}}}
	buf := info.Marshal()
	var iosb spi.Overlapped
	err := k.cth.NtDeviceIoControlFile(k.c, 0, &iosb, &iosb, spi.IOCTL_AFD_POLL, buf, buf)
	wantErr(t, "on the kit's handle", &spi.OpError{Op: "NtDeviceIoControlFile", Handle: k.c, Err: spi.STATUS_INVALID_DEVICE_REQUEST}, err)
	err = k.cth.NtDeviceIoControlFile(0x7770, 0, &iosb, &iosb, spi.IOCTL_AFD_POLL, buf, buf)
	wantErr(t, "on no handle", &spi.OpError{Op: "NtDeviceIoControlFile", Handle: 0x7770, Err: spi.STATUS_INVALID_HANDLE}, err)
	if iosb.LoadInternal() != 0 || iosb.LoadInternalHigh() != 0 {
		t.Errorf("a refused request wrote its IO_STATUS_BLOCK: %#x, %d", iosb.LoadInternal(), iosb.LoadInternalHigh())
	}
}

func TestGetMessageTimesOutAndTakesEachMessageOnce(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	_, err := p.GetMessage(0, time.Millisecond)
	wantErr(t, "no message", opErr("GetMessage", 0, spi.WAIT_TIMEOUT), err)
}
