package wsspi_test

import (
	"errors"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// Sockets are file handles: DuplicateHandle and WSADuplicateSocket give a
// second descriptor of one socket, in the same process or another; the
// socket ends with its last descriptor, and closing another cancels
// nothing.

// exchange checks that a descriptor d of the client's connection, used by
// thread th, reaches the server both ways.
func exchange(tb TB, k *lconn, th *wsspi.Thread, d spi.Socket, msg string) {
	tb.Helper()
	must(th.WSASend(d, [][]byte{[]byte(msg)}, 0, nil, nil))(tb)
	if got := recvAll(tb, k.sth, k.s, len(msg)); string(got) != msg {
		tb.Errorf("server read %q, want %q", got, msg)
	}
	must(k.sth.WSASend(k.s, [][]byte{[]byte(msg)}, 0, nil, nil))(tb)
	if got := recvAll(tb, th, d, len(msg)); string(got) != msg {
		tb.Errorf("descriptor %v read %q, want %q", d, got, msg)
	}
}

func TestDuplicateHandleGivesASecondHandleToOneSocket(t *testing.T) {
	k := stackConn(t, stacks[0])
	for _, into := range []string{"same process", "another process"} {
		t.Run(into, func(t *testing.T) {
			target, th := k.client, k.cth
			if into == "another process" {
				target = k.m.NewProcess()
				defer target.Close()
				th = target.NewThread()
			}
			d := must(k.client.DuplicateHandle(k.c, target))(t)
			exchange(t, k, th, d, "via dup")
			// A receive pending on the copy is not cancelled when the copy's
			// sibling... rather, when d closes k.c keeps the socket open.
			check(t, th.Closesocket(d))
			exchange(t, k, k.cth, k.c, "still open")
			if _, err := th.WSASend(d, [][]byte{[]byte("x")}, 0, nil, nil); !errors.Is(err, spi.WSAENOTSOCK) {
				t.Errorf("send on the closed copy: %v, want WSAENOTSOCK", err)
			}
		})
	}
}

func TestAnotherProcessesDuplicateNotifiesThroughItsOwnEventAndRoutine(t *testing.T) {
	k := stackConn(t, stacks[0])
	p2 := k.m.NewProcess()
	defer p2.Close()
	th2 := p2.NewThread()
	d := must(k.client.DuplicateHandle(k.c, p2))(t)
	ev := must(p2.WSACreateEvent())(t)
	ov := spi.Overlapped{HEvent: ev}
	buf := make([]byte, 2)
	pendRecv(t, th2, d, buf, &ov, nil)
	var ran []uint32
	var ov2 spi.Overlapped
	buf2 := make([]byte, 2)
	pendRecv(t, th2, d, buf2, &ov2, func(_ spi.Errno, n uint32, _ *spi.Overlapped, _ uint32) { ran = append(ran, n) })
	must(k.sth.WSASend(k.s, [][]byte{[]byte("abcd")}, 0, nil, nil))(t)
	if r, err := th2.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, long, false); r != spi.WSA_WAIT_EVENT_0 {
		t.Fatalf("the other process's event: %d, %v", r, err)
	}
	if r, _ := th2.SleepEx(long, true); r != spi.WAIT_IO_COMPLETION || len(ran) != 1 || ran[0] != 2 {
		t.Errorf("the routine: SleepEx %d, ran %v", r, ran)
	}
	if string(buf)+string(buf2) != "abcd" {
		t.Errorf("received %q %q", buf, buf2)
	}
}

func TestDuplicateHandleOfALayeredHandleIsNotSupported(t *testing.T) {
	k, _, _ := kitConn(t, 1)
	if _, err := k.client.DuplicateHandle(k.c, k.client); !errors.Is(err, spi.ERROR_NOT_SUPPORTED) {
		t.Errorf("DuplicateHandle of a kit socket: %v, want ERROR_NOT_SUPPORTED", err)
	}
	port := must(k.client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
	if _, err := k.client.DuplicateHandle(port, k.client); !errors.Is(err, spi.ERROR_NOT_SUPPORTED) {
		t.Errorf("DuplicateHandle of a port: %v, want ERROR_NOT_SUPPORTED", err)
	}
	if _, err := k.client.DuplicateHandle(0x7777770, k.client); !errors.Is(err, spi.ERROR_INVALID_HANDLE) {
		t.Errorf("DuplicateHandle of no handle: %v, want ERROR_INVALID_HANDLE", err)
	}
}

func TestWSADuplicateSocketSharesTheSocketThroughEveryStack(t *testing.T) {
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			p2 := k.m.NewProcess()
			th2 := p2.NewThread()
			info := must(k.cth.WSADuplicateSocket(k.c, p2.ID()))(t)
			if want := protocolInfo(t, k.cth, k.c).CatalogEntryId; info.CatalogEntryId != want {
				t.Errorf("the info names entry %d, want the socket's own %d", info.CatalogEntryId, want)
			}
			// The copy's reservation is in the info it returned only: not in
			// the original's SO_PROTOCOL_INFOW, nor in a new socket's.
			fresh := must(k.cth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, nil, 0, 0))(t)
			for name, s := range map[string]spi.Socket{"the original": k.c, "a new socket": fresh} {
				if got := protocolInfo(t, k.cth, s).ProviderReserved; got != 0 {
					t.Errorf("%s reports ProviderReserved %#x after WSADuplicateSocket", name, got)
				}
			}
			check(t, k.cth.Closesocket(fresh))
			s2 := must(th2.WSASocket(spi.FROM_PROTOCOL_INFO, spi.FROM_PROTOCOL_INFO, spi.FROM_PROTOCOL_INFO, &info, 0, spi.WSA_FLAG_OVERLAPPED))(t)
			if _, err := th2.WSASocket(spi.FROM_PROTOCOL_INFO, spi.FROM_PROTOCOL_INFO, spi.FROM_PROTOCOL_INFO, &info, 0, spi.WSA_FLAG_OVERLAPPED); !errors.Is(err, spi.WSAEINVAL) {
				t.Errorf("a second WSASocket with the info: %v, want WSAEINVAL", err)
			}
			exchange(t, k, th2, s2, "shared")

			// A receive pending on the original survives the copy's close...
			port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
			var ov spi.Overlapped
			buf := make([]byte, 3)
			pendRecv(t, k.cth, k.c, buf, &ov, nil)
			check(t, th2.Closesocket(s2))
			if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
				t.Errorf("closing the copy completed %+v, %v", e, err)
			}
			must(k.sth.WSASend(k.s, [][]byte{[]byte("end")}, 0, nil, nil))(t)
			if e := must(k.cth.GetQueuedCompletionStatus(port, long))(t); e.Overlapped != &ov || string(buf) != "end" {
				t.Errorf("packet %+v, data %q", e, buf)
			}
			// ...and the last close aborts what is pending.
			var ov2 spi.Overlapped
			pendRecv(t, k.cth, k.c, make([]byte, 1), &ov2, nil)
			check(t, k.cth.Closesocket(k.c))
			if _, err := k.cth.GetQueuedCompletionStatus(port, long); !errors.Is(err, spi.ERROR_CONNECTION_ABORTED) {
				t.Errorf("the last close: %v, want ERROR_CONNECTION_ABORTED", err)
			}
			check(t, p2.Close())
			checkNoHandles(t, p2)
		})
	}
}

// The copy's process ending (its WSACleanup) closes its descriptor only.
func TestWSACleanupOfTheCopysProcessLeavesTheSocketOpen(t *testing.T) {
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			p2 := k.m.NewProcess()
			th2 := p2.NewThread()
			info := must(k.cth.WSADuplicateSocket(k.c, p2.ID()))(t)
			must(th2.WSASocket(spi.FROM_PROTOCOL_INFO, spi.FROM_PROTOCOL_INFO, spi.FROM_PROTOCOL_INFO, &info, 0, spi.WSA_FLAG_OVERLAPPED))(t)
			check(t, p2.Close())
			checkNoHandles(t, p2)
			exchange(t, k, k.cth, k.c, "alive")
		})
	}
}

// The test LSPs serve WSADuplicateSocket too: the naive non-IFS layer and
// the early-close one rewrite the lower provider's answer to their own
// entry, so the copy is a socket of theirs over the shared base socket.
func TestWSADuplicateSocketThroughTheTestLSPs(t *testing.T) {
	for name, install := range map[string]func(m *wsspi.Machine) error{
		"naive": func(m *wsspi.Machine) error {
			_, _, err := wild.InstallNaive(m, catalog.DefaultTCPIPv4)
			return err
		},
		"early close": func(m *wsspi.Machine) error {
			_, _, err := wild.InstallEarlyClose(m, catalog.DefaultTCPIPv4)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			m := wsspi.NewMachine()
			check(t, install(m))
			k := newLConn(t, m, spi.WSA_FLAG_OVERLAPPED)
			p2 := m.NewProcess()
			defer p2.Close()
			th2 := p2.NewThread()
			info := must(k.cth.WSADuplicateSocket(k.c, p2.ID()))(t)
			if want := protocolInfo(t, k.cth, k.c).CatalogEntryId; info.CatalogEntryId != want {
				t.Errorf("the info names entry %d, want the layer's %d", info.CatalogEntryId, want)
			}
			s2 := must(th2.WSASocket(spi.FROM_PROTOCOL_INFO, spi.FROM_PROTOCOL_INFO, spi.FROM_PROTOCOL_INFO, &info, 0, spi.WSA_FLAG_OVERLAPPED))(t)
			if owner := socketHandles(p2)[s2]; owner != info.CatalogEntryId {
				t.Errorf("the copy is owned by entry %d, want the layer's %d", owner, info.CatalogEntryId)
			}
			exchange(t, k, th2, s2, "copy")
			check(t, th2.Closesocket(s2))
			exchange(t, k, k.cth, k.c, "original")
		})
	}
}
