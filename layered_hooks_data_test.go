package wsspi_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// These tests rewrite data with the hooks: what a send sends, what a
// receive received and its length, addresses, an ioctl's output, and the
// SIO_BASE_HANDLE failure some LSPs of the wild give. Each runs over every
// stack of hookStacks.

// hookConn connects a client through st, whose hooked layer has hooks h.
func hookConn(t *testing.T, st hookStack, h layered.Hooks) (*lconn, []*layered.Provider) {
	t.Helper()
	m := wsspi.NewMachine()
	provs, _ := st.build(t, m, layered.Config{Hooks: h})
	return newLConn(t, m, spi.WSA_FLAG_OVERLAPPED), provs
}

// forHookStacks runs f over each stack.
func forHookStacks(t *testing.T, f func(t *testing.T, st hookStack)) {
	for _, st := range hookStacks {
		t.Run(st.name, func(t *testing.T) { f(t, st) })
	}
}

// upper returns the buffers upper-cased, in buffers of the layer's own.
func upper(bufs [][]byte) [][]byte {
	out := make([][]byte, len(bufs))
	for i, b := range bufs {
		out[i] = bytes.ToUpper(b)
	}
	return out
}

func TestABeforeHookRewritesWhatSendsSendAndTheClientHearsItsOwnCount(t *testing.T) {
	forHookStacks(t, func(t *testing.T, st hookStack) {
		var mu sync.Mutex
		var seen []string
		k, provs := hookConn(t, st, layered.Hooks{Before: func(c *layered.Call) layered.Verdict {
			if c.Op == layered.OpSend {
				mu.Lock()
				seen = append(seen, c.Func)
				mu.Unlock()
				c.Bufs = upper(c.Bufs)
			}
			return layered.Pass()
		}})
		port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
		if n, err := k.cth.WSASend(k.c, [][]byte{[]byte("he"), []byte("llo")}, 0, nil, nil); n != 5 || err != nil {
			t.Errorf("blocking WSASend = %d, %v; want 5, nil", n, err)
		}
		var ov spi.Overlapped
		n, err := k.cth.WSASend(k.c, [][]byte{[]byte("world")}, 0, &ov, nil)
		if err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
			t.Fatal(err)
		}
		e := must(k.cth.GetQueuedCompletionStatus(port, long))(t)
		if e.Overlapped != &ov || e.NumberOfBytesTransferred != 5 || (err == nil && n != 5) {
			t.Errorf("overlapped WSASend: %d, %v, packet %+v; want 5 bytes", n, err, e)
		}
		var fov spi.Overlapped
		if _, err := k.cth.WriteFile(k.c, []byte("file!"), &fov); err != nil && !errors.Is(err, spi.ERROR_IO_PENDING) {
			t.Fatal(err)
		}
		if e := must(k.cth.GetQueuedCompletionStatus(port, long))(t); e.Overlapped != &fov || e.NumberOfBytesTransferred != 5 {
			t.Errorf("WriteFile's packet %+v; want 5 bytes", e)
		}
		if got := recvAll(t, k.sth, k.s, 15); string(got) != "HELLOWORLDFILE!" {
			t.Errorf("the server received %q, want HELLOWORLDFILE!", got)
		}
		mu.Lock()
		if diff := cmp.Diff([]string{"WSPSend", "WSPSend", "WSPSend"}, seen); diff != "" {
			t.Errorf("Before saw (-want +got):\n%s", diff)
		}
		mu.Unlock()
		k.client.Close()
		eventually(t, "the kits hold nothing", func() bool { return quiet(provs...) })
	})
}

// unframe is the After hook of a layer whose peer frames its data with a
// 2-byte length: it moves the payload to the start of the client's buffer
// and reports its length, fewer bytes than came up.
func unframe(c *layered.Call) layered.Verdict {
	if c.Op != layered.OpRecv || c.Err != 0 || c.N < 2 {
		return layered.Pass()
	}
	b := c.Bufs[0]
	n := binary.BigEndian.Uint16(b)
	copy(b, b[2:c.N])
	return layered.Complete(uint32(n))
}

func TestAnAfterHookRewritesReceivedDataAndReportsAShorterLength(t *testing.T) {
	forHookStacks(t, func(t *testing.T, st hookStack) {
		for _, style := range append([]string{"blocking", "ReadFile"}, "port", "event", "routine") {
			t.Run(style, func(t *testing.T) {
				k, provs := hookConn(t, st, layered.Hooks{After: unframe})
				buf := make([]byte, 16)
				var n uint32
				var err error
				switch style {
				case "blocking":
					must(k.sth.WSASend(k.s, [][]byte{{0, 3}, []byte("abc")}, 0, nil, nil))(t)
					n, err = k.cth.WSARecv(k.c, [][]byte{buf}, new(uint32), nil, nil)
				case "ReadFile":
					nt := newPortNotifier(t, k.cth, k.c)
					ov, _ := nt.prepare()
					must(k.sth.WSASend(k.s, [][]byte{{0, 3}, []byte("abc")}, 0, nil, nil))(t)
					if _, err := k.cth.ReadFile(k.c, buf, ov); err != nil && !errors.Is(err, spi.ERROR_IO_PENDING) {
						t.Fatal(err)
					}
					r := nt.next(t)
					n, err = r.Bytes, nil
					if r.Err != 0 {
						err = r.Err
					}
				default:
					for _, s := range styles {
						if s.name != style {
							continue
						}
						nt := s.new(t, k.cth, k.c)
						ov, cr := nt.prepare()
						pendRecv(t, k.cth, k.c, buf, ov, cr)
						must(k.sth.WSASend(k.s, [][]byte{{0, 3}, []byte("abc")}, 0, nil, nil))(t)
						r := nt.next(t)
						n, err = r.Bytes, nil
						if r.Err != 0 {
							err = r.Err
						}
					}
				}
				if n != 3 || err != nil || string(buf[:3]) != "abc" {
					t.Errorf("received %d, %v, %q; want 3 bytes abc", n, err, buf[:n])
				}
				k.client.Close()
				eventually(t, "the kits hold nothing", func() bool { return quiet(provs...) })
			})
		}
	})
}

func TestHooksRewriteTheAddressesOfConnectAndAccept(t *testing.T) {
	forHookStacks(t, func(t *testing.T, st hookStack) {
		wrong := netip.MustParseAddrPort("127.0.0.1:7999")
		masked := netip.MustParseAddrPort("192.0.2.1:1")
		var connectsTo netip.AddrPort
		k, provs := hookConn(t, st, layered.Hooks{
			Before: func(c *layered.Call) layered.Verdict {
				if c.Op == layered.OpConnect && c.Addr == wrong {
					c.Addr = hookServerAddr
				}
				if c.Op == layered.OpConnect {
					connectsTo = c.Addr
				}
				return layered.Pass()
			},
			After: func(c *layered.Call) layered.Verdict {
				if c.Func == "WSPAccept" && c.Err == 0 {
					if c.Accepted == nil || c.Accepted.Lower() == 0 {
						t.Errorf("After of an accept saw no accepted socket: %+v", c.Accepted)
					}
					c.Addr = masked
				}
				return layered.Pass()
			},
		})
		c := must(k.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		check(t, k.cth.Connect(c, wrong))
		if connectsTo != hookServerAddr {
			t.Errorf("the connect went to %v, want %v", connectsTo, hookServerAddr)
		}
		if got := must(k.cth.Getpeername(c))(t); got != hookServerAddr {
			t.Errorf("connected to %v, want %v", got, hookServerAddr)
		}

		w := &hookWorld{lconn: k}
		l := clientListens(t, w)
		peerConnects(t, w, false)
		a, from, err := k.cth.Accept(l)
		if err != nil || from != masked {
			t.Errorf("accept = %v, %v, %v; want the address the hook gave, %v", a, from, err, masked)
		}
		k.client.Close()
		eventually(t, "the kits hold nothing", func() bool { return quiet(provs...) })
	})
}

func TestAnAfterHookRewritesAnIoctlsOutput(t *testing.T) {
	forHookStacks(t, func(t *testing.T, st hookStack) {
		k, provs := hookConn(t, st, layered.Hooks{After: func(c *layered.Call) layered.Verdict {
			if c.Op == layered.OpIoctl && c.Code == spi.FIONREAD && c.Err == 0 {
				binary.LittleEndian.PutUint32(c.Out, 1000+binary.LittleEndian.Uint32(c.Out))
			}
			return layered.Pass()
		}})
		must(k.sth.WSASend(k.s, [][]byte{[]byte("hello")}, 0, nil, nil))(t)
		if got := fionread(t, k.cth, k.c); got != 1005 {
			t.Errorf("FIONREAD = %d, want 1005", got)
		}
		k.client.Close()
		eventually(t, "the kits hold nothing", func() bool { return quiet(provs...) })
	})
}

func TestABeforeHookFailsSIO_BASE_HANDLEWithWSAEFAULTAndLetsOtherCodesThrough(t *testing.T) {
	forHookStacks(t, func(t *testing.T, st hookStack) {
		k, provs := hookConn(t, st, layered.Hooks{Before: wild.FailBaseHandleBefore(spi.WSAEFAULT)})
		out := make([]byte, 8)
		_, err := k.cth.WSAIoctl(k.c, spi.SIO_BASE_HANDLE, nil, out, nil, nil)
		wantErr(t, "blocking SIO_BASE_HANDLE", opErr("WSAIoctl", k.c, spi.WSAEFAULT), err)
		for _, s := range styles {
			nt := s.new(t, k.cth, k.c)
			ov, cr := nt.prepare()
			_, err := k.cth.WSAIoctl(k.c, spi.SIO_BASE_HANDLE, nil, out, ov, cr)
			wantErr(t, s.name+" SIO_BASE_HANDLE", opErr("WSAIoctl", k.c, spi.WSAEFAULT), err)
			nt.none(t)
		}
		if !bytes.Equal(out, make([]byte, 8)) {
			t.Errorf("the output was written: %x", out)
		}
		for _, code := range []uint32{spi.SIO_BSP_HANDLE, spi.SIO_BSP_HANDLE_SELECT, spi.SIO_BSP_HANDLE_POLL} {
			if h := ioctlHandle(t, k.cth, k.c, code); h == 0 || h == k.c {
				t.Errorf("ioctl %#x returned %#x, want a handle below the layer's", code, h)
			}
		}
		k.client.Close()
		eventually(t, "the kits hold nothing", func() bool { return quiet(provs...) })
	})
}

func TestHooksSeeEachCallAsTheClientMadeItAndItsResult(t *testing.T) {
	type seen struct {
		Phase      string
		Op         layered.Op
		Func       string
		Client     bool // the Socket is the client's handle
		Overlapped bool
		Bytes      int
		N          uint32
		Err        spi.Errno
	}
	var mu sync.Mutex
	var got []seen
	var client spi.Socket
	note := func(phase string, c *layered.Call) {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, b := range c.Bufs {
			n += len(b)
		}
		got = append(got, seen{phase, c.Op, c.Func, c.Socket.Handle() == client, c.Overlapped, n, c.N, c.Err})
	}
	st := hookStacks[0]
	m := wsspi.NewMachine()
	provs, _ := st.build(t, m, layered.Config{Hooks: layered.Hooks{
		Before: func(c *layered.Call) layered.Verdict { note("before", c); return layered.Pass() },
		After:  func(c *layered.Call) layered.Verdict { note("after", c); return layered.Pass() },
	}})
	k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
	client = k.c
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	mu.Lock()
	got = nil
	mu.Unlock()

	must(k.cth.WSASend(k.c, [][]byte{[]byte("hello")}, 0, nil, nil))(t)
	var ov spi.Overlapped
	pendRecv(t, k.cth, k.c, make([]byte, 8), &ov, nil)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("abc")}, 0, nil, nil))(t)
	must(k.cth.GetQueuedCompletionStatus(port, long))(t)
	_, err := k.cth.WSAIoctl(k.c, spi.FIONREAD, nil, nil, nil, nil)
	wantErr(t, "FIONREAD without output", opErr("WSAIoctl", k.c, spi.WSAEFAULT), err)
	check(t, k.cth.Closesocket(k.c))

	want := []seen{
		{"before", layered.OpSend, "WSPSend", true, false, 5, 0, 0},
		{"after", layered.OpSend, "WSPSend", true, false, 5, 5, 0},
		{"before", layered.OpRecv, "WSPRecv", true, true, 8, 0, 0},
		{"after", layered.OpRecv, "WSPRecv", true, true, 8, 3, 0},
		{"before", layered.OpIoctl, "WSPIoctl", true, false, 0, 0, 0},
		{"after", layered.OpIoctl, "WSPIoctl", true, false, 0, 0, spi.WSAEFAULT},
		{"before", layered.OpClose, "WSPCloseSocket", true, false, 0, 0, 0},
		{"after", layered.OpClose, "WSPCloseSocket", true, false, 0, 0, 0},
	}
	mu.Lock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the hooks saw (-want +got):\n%s", diff)
	}
	mu.Unlock()
	k.client.Close()
	eventually(t, "the kits hold nothing", func() bool { return quiet(provs...) })
}

func TestHooksRewriteTheDestinationOfASendToAndTheSenderOfARecvFrom(t *testing.T) {
	for _, depth := range []int{1, 2} {
		t.Run(map[int]string{1: "kit", 2: "kit over kit"}[depth], func(t *testing.T) {
			m := wsspi.NewMachine()
			srvAddr := netip.MustParseAddrPort("127.0.0.1:7200")
			wrong := netip.MustParseAddrPort("127.0.0.1:7299")
			masked := netip.MustParseAddrPort("192.0.2.7:7")
			var provs []*layered.Provider
			over := catalog.DefaultUDPIPv4
			for i := range depth {
				cfg := layered.Config{}
				if i == depth-1 {
					cfg.Hooks = layered.Hooks{
						Before: func(c *layered.Call) layered.Verdict {
							if c.Func == "WSPSendTo" && c.Addr == wrong {
								c.Addr = srvAddr
							}
							return layered.Pass()
						},
						After: func(c *layered.Call) layered.Verdict {
							if c.Func == "WSPRecvFrom" && c.Err == 0 {
								c.Addr = masked
							}
							return layered.Pass()
						},
					}
				}
				p, ids, err := layered.Install(m, layered.Options{Name: "udp kit", GUID: kitGUID(10 + i),
					Path: `C:\lsp\udpkit` + string(rune('a'+i)) + `.dll`, Over: []spi.CatalogEntryId{over}, Config: cfg})
				check(t, err)
				provs, over = append(provs, p), ids.Chains[0]
			}
			client, server := m.NewProcess(), m.NewProcess()
			t.Cleanup(func() { client.Close(); server.Close() })
			cth, sth := client.NewThread(), server.NewThread()
			base := entry(t, m, catalog.DefaultUDPIPv4)
			s := must(sth.WSASocket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP, &base, 0, spi.WSA_FLAG_OVERLAPPED))(t)
			check(t, sth.Bind(s, srvAddr))
			c := must(cth.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
			check(t, cth.Bind(c, netip.MustParseAddrPort("127.0.0.1:0")))
			port := must(client.CreateIoCompletionPort(c, 0, 1, 0))(t)

			if n, err := cth.WSASendTo(c, [][]byte{[]byte("blocking")}, 0, wrong, nil, nil); n != 8 || err != nil {
				t.Errorf("blocking WSASendTo = %d, %v", n, err)
			}
			var ov spi.Overlapped
			if _, err := cth.WSASendTo(c, [][]byte{[]byte("overlapped")}, 0, wrong, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
				t.Fatal(err)
			}
			if e := must(cth.GetQueuedCompletionStatus(port, long))(t); e.Overlapped != &ov || e.NumberOfBytesTransferred != 10 {
				t.Errorf("WSASendTo's packet %+v", e)
			}
			buf := make([]byte, 16)
			var from netip.AddrPort
			for _, want := range []string{"blocking", "overlapped"} {
				n, err := sth.WSARecvFrom(s, [][]byte{buf}, nil, nil, nil, nil)
				if err != nil || string(buf[:n]) != want {
					t.Errorf("the server received %q, %v; want %q, sent to the address the hook gave", buf[:n], err, want)
				}
			}
			clientAddr := must(cth.Getsockname(c))(t)
			must(sth.WSASendTo(s, [][]byte{[]byte("one")}, 0, clientAddr, nil, nil))(t)
			must(sth.WSASendTo(s, [][]byte{[]byte("two")}, 0, clientAddr, nil, nil))(t)
			n, err := cth.WSARecvFrom(c, [][]byte{buf}, new(uint32), &from, nil, nil)
			if err != nil || n != 3 || from != masked {
				t.Errorf("blocking WSARecvFrom = %d, %v from %v; want 3 bytes from %v", n, err, from, masked)
			}
			from = netip.AddrPort{}
			if _, err := cth.WSARecvFrom(c, [][]byte{buf}, new(uint32), &from, &ov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
				t.Fatal(err)
			}
			if e := must(cth.GetQueuedCompletionStatus(port, long))(t); e.Overlapped != &ov || e.NumberOfBytesTransferred != 3 || from != masked {
				t.Errorf("overlapped WSARecvFrom: packet %+v, from %v; want 3 bytes from %v", e, from, masked)
			}
			client.Close()
			eventually(t, "the kits hold nothing", func() bool { return quiet(provs...) })
		})
	}
}

func TestTheBaseHandleHiderRefusesSIO_BASE_HANDLEOverTheBaseAndOverAKit(t *testing.T) {
	for _, name := range []string{"over the base", "over a kit"} {
		t.Run(name, func(t *testing.T) {
			m := wsspi.NewMachine()
			over := catalog.DefaultTCPIPv4
			var provs []*layered.Provider
			if name == "over a kit" {
				var ids []catalog.LSPEntries
				provs, ids = installKits(t, m, 1)
				over = ids[0].Chains[0]
			}
			p, _ := must2(wild.InstallFailBaseHandle(m, spi.WSAEFAULT, over))(t)
			provs = append(provs, p)
			k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
			_, err := k.cth.WSAIoctl(k.c, spi.SIO_BASE_HANDLE, nil, make([]byte, 8), nil, nil)
			wantErr(t, "SIO_BASE_HANDLE", opErr("WSAIoctl", k.c, spi.WSAEFAULT), err)
			if h := ioctlHandle(t, k.cth, k.c, spi.SIO_BSP_HANDLE_POLL); h == 0 || h == k.c {
				t.Errorf("SIO_BSP_HANDLE_POLL returned %#x, want a handle below the layer's", h)
			}
			k.client.Close()
			eventually(t, "the kits hold nothing", func() bool { return quiet(provs...) })
		})
	}
}
