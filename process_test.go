package wsspi_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// captureProvider is a tiny non-IFS base provider: its sockets come from
// WPUCreateSocketHandle, and it keeps the upcall table and imports it was
// given so tests can call them as a provider would.
type captureProvider struct {
	id      spi.CatalogEntryId
	upcalls spi.WSPUpcallTable
	imports spi.Imports
	sends   []spi.ThreadID
	recvs   int
}

var capturePath = `C:\test\capture.dll`
var captureGUID = spi.MustParseGUID("{11111111-2222-3333-4444-555555555555}")

func (c *captureProvider) startup(_ uint16, info *spi.WSAProtocolInfo, up spi.WSPUpcallTable, im spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
	c.id, c.upcalls, c.imports = info.CatalogEntryId, up, im
	pt := spi.WSPProcTable{
		WSPSocket: func(af, typ, protocol int32, info *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
			return c.upcalls.WPUCreateSocketHandle(info.CatalogEntryId, "ctx")
		},
		WSPCloseSocket: func(s spi.Socket) error { return c.upcalls.WPUCloseSocketHandle(s) },
		WSPRecv: func(s spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			c.recvs++
			return 0, nil // a graceful close, at once
		},
		WSPSend: func(s spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			c.sends = append(c.sends, *th)
			ov.SetInProgress()
			return 0, spi.WSA_IO_PENDING
		},
	}
	pt.FillNotSupported()
	return spi.WSPData{Version: spi.WINSOCK_VERSION, HighVersion: spi.WINSOCK_VERSION}, pt, nil
}

// newCaptureMachine returns a machine whose catalog has, first, a non-IFS
// TCP/IPv4 entry served by a captureProvider.
func newCaptureMachine(t *testing.T) (*wsspi.Machine, *captureProvider) {
	t.Helper()
	cat := catalog.NewDefault()
	info := catalog.DefaultEntries()[0]
	info.ServiceFlags1 &^= spi.XP1_IFS_HANDLES
	info.ProtocolName = "capture [TCP/IP]"
	if err := cat.WSCInstallProvider(captureGUID, capturePath, []spi.WSAProtocolInfo{info}); err != nil {
		t.Fatal(err)
	}
	all, _ := cat.WSCEnumProtocols(nil)
	order := []spi.CatalogEntryId{all[len(all)-1].CatalogEntryId}
	for _, e := range all[:len(all)-1] {
		order = append(order, e.CatalogEntryId)
	}
	if err := cat.WSCWriteProviderOrder(order); err != nil {
		t.Fatal(err)
	}
	m := wsspi.NewMachineWith(wsspi.MachineOptions{Catalog: cat})
	c := &captureProvider{}
	m.RegisterProvider(capturePath, c.startup)
	return m, c
}

// captureSocket starts a process on a capture machine and opens a TCP
// socket of the capture provider in it, which loads the provider.
func captureSocket(t *testing.T) (*captureProvider, *wsspi.Process, *wsspi.Thread, spi.Socket) {
	t.Helper()
	m, c := newCaptureMachine(t)
	p := m.NewProcess()
	t.Cleanup(func() { p.Close() })
	th := p.NewThread()
	s, err := th.Socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c, p, th, s
}

func TestNewProcessHasStartedWinsock(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	got, err := p.WSAEnumProtocols(nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range got {
		names = append(names, e.ProtocolName)
	}
	want := []string{"MSAFD Tcpip [TCP/IP]", "MSAFD Tcpip [UDP/IP]", "MSAFD Tcpip [TCP/IPv6]", "MSAFD Tcpip [UDP/IPv6]"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("WSAEnumProtocols (-want +got):\n%s", diff)
	}
}

func TestCallsBeforeWSAStartupFailWithWSANOTINITIALISED(t *testing.T) {
	p := wsspi.NewMachine().NewProcessWithoutStartup()
	defer p.Close()
	th := p.NewThread()
	_, err := th.Socket(spi.AF_INET, spi.SOCK_STREAM, 0)
	if diff := cmp.Diff(error(spi.WSANOTINITIALISED), err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("socket before WSAStartup (-want +got):\n%s", diff)
	}
	if _, err := p.WSAEnumProtocols(nil); !errors.Is(err, spi.WSANOTINITIALISED) {
		t.Errorf("WSAEnumProtocols: %v", err)
	}
	if err := p.WSACleanup(); !errors.Is(err, spi.WSANOTINITIALISED) {
		t.Errorf("WSACleanup: %v", err)
	}
	if err := th.Closesocket(4); !errors.Is(err, spi.WSANOTINITIALISED) {
		t.Errorf("closesocket: %v", err)
	}
}

func TestWSAStartupNegotiatesTheVersion(t *testing.T) {
	p := wsspi.NewMachine().NewProcessWithoutStartup()
	defer p.Close()
	cases := []struct {
		req, want uint16
		err       error
	}{
		{spi.MAKEWORD(2, 2), 0x0202, nil},
		{spi.MAKEWORD(1, 1), 0x0101, nil},
		{spi.MAKEWORD(3, 0), 0x0202, nil},
		{spi.MAKEWORD(2, 5), 0x0202, nil},
		{spi.MAKEWORD(0, 9), 0, spi.WSAVERNOTSUPPORTED},
	}
	for _, c := range cases {
		d, err := p.WSAStartup(c.req)
		if diff := cmp.Diff(c.err, err, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("WSAStartup(%#x) error (-want +got):\n%s", c.req, diff)
		}
		if err == nil && (d.Version != c.want || d.HighVersion != 0x0202) {
			t.Errorf("WSAStartup(%#x) = %#x/%#x, want %#x/0x202", c.req, d.Version, d.HighVersion, c.want)
		}
	}
}

func TestWSACleanupIsReferenceCounted(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	if _, err := p.WSAStartup(spi.WINSOCK_VERSION); err != nil {
		t.Fatal(err)
	}
	if err := p.WSACleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WSAEnumProtocols(nil); err != nil {
		t.Errorf("after one of two cleanups: %v", err)
	}
	if err := p.WSACleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WSAEnumProtocols(nil); !errors.Is(err, spi.WSANOTINITIALISED) {
		t.Errorf("after the last cleanup: %v", err)
	}
}

func TestProcessSeesTheCatalogAsOfItsWSAStartup(t *testing.T) {
	m, _ := newCaptureMachine(t)
	before := m.NewProcess()
	defer before.Close()
	if err := m.Catalog().WSCDeinstallProvider(captureGUID); err != nil {
		t.Fatal(err)
	}
	after := m.NewProcess()
	defer after.Close()
	b, _ := before.WSAEnumProtocols(nil)
	a, _ := after.WSAEnumProtocols(nil)
	if len(b) != 5 || len(a) != 4 {
		t.Errorf("entries seen: before %d, after %d; want 5 and 4", len(b), len(a))
	}
}

func TestSocketCallsReachTheOwningProvider(t *testing.T) {
	c, _, th, s := captureSocket(t)
	ctx, err := c.upcalls.WPUQuerySocketHandleContext(s)
	if err != nil || ctx != "ctx" {
		t.Fatalf("context = %v, %v", ctx, err)
	}
	var ov spi.Overlapped
	if _, err := th.WSASend(s, [][]byte{[]byte("x")}, 0, &ov, nil); !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSASend: %v", err)
	}
	if diff := cmp.Diff([]spi.ThreadID{th.ID()}, c.sends); diff != "" {
		t.Errorf("issuing thread seen by WSPSend (-want +got):\n%s", diff)
	}
	if err := th.Closesocket(s); err != nil {
		t.Fatal(err)
	}
	if _, err := th.WSASend(s, nil, 0, nil, nil); !errors.Is(err, spi.WSAENOTSOCK) {
		t.Errorf("WSASend after close: %v", err)
	}
}

func TestWPUCompleteOverlappedRequestPostsToTheClientsPort(t *testing.T) {
	c, p, th, s := captureSocket(t)
	port, err := p.CreateIoCompletionPort(s, 0, 42, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ov spi.Overlapped
	ov.SetInProgress()
	if err := c.imports.WPUCompleteOverlappedRequest(s, &ov, 0, 7); err != nil {
		t.Fatal(err)
	}
	got, err := th.GetQueuedCompletionStatus(port, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := spi.OverlappedEntry{CompletionKey: 42, Overlapped: &ov, NumberOfBytesTransferred: 7}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packet (-want +got):\n%s", diff)
	}
	if ov.Internal != 0 || ov.InternalHigh != 7 {
		t.Errorf("overlapped = %+v", ov)
	}
}

func TestWPUCompleteOverlappedRequestHonoursTheLowBit(t *testing.T) {
	c, p, th, s := captureSocket(t)
	port, _ := p.CreateIoCompletionPort(s, 0, 1, 0)
	ev, _ := p.WSACreateEvent()
	ov := spi.Overlapped{HEvent: ev | 1}
	ov.SetInProgress()
	if err := c.imports.WPUCompleteOverlappedRequest(s, &ov, 0, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := th.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("port got a packet despite the low bit: %v", err)
	}
	if r, err := th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); err != nil || r != spi.WSA_WAIT_EVENT_0 {
		t.Errorf("event not signalled: %d, %v", r, err)
	}
}

func TestWPUCompleteOverlappedRequestNeverDeliversTwice(t *testing.T) {
	c, p, th, s := captureSocket(t)
	port := must(p.CreateIoCompletionPort(s, 0, 42, 0))(t)
	var ov spi.Overlapped
	if err := c.imports.WPUCompleteOverlappedRequest(s, &ov, 0, 1); !errors.Is(err, spi.WSAEINVAL) {
		t.Errorf("completing an overlapped never marked in progress: %v, want WSAEINVAL", err)
	}
	ov.SetInProgress()
	if err := c.imports.WPUCompleteOverlappedRequest(s, &ov, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.imports.WPUCompleteOverlappedRequest(s, &ov, 0, 1); !errors.Is(err, spi.WSAEINVAL) {
		t.Errorf("second completion: %v, want WSAEINVAL", err)
	}
	if _, err := th.GetQueuedCompletionStatus(port, 0); err != nil {
		t.Fatalf("first packet: %v", err)
	}
	if e, err := th.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("a second packet came: %+v, %v", e, err)
	}
}

func TestWPUCompleteOverlappedRequestRejectsOtherHandles(t *testing.T) {
	c, _, th, _ := captureSocket(t)
	ifs, err := th.WSASocket(spi.AF_INET, spi.SOCK_DGRAM, 0, nil, 0, spi.WSA_FLAG_OVERLAPPED)
	if err != nil {
		t.Fatal(err)
	}
	var ov spi.Overlapped
	for _, h := range []spi.Socket{ifs, 0, spi.INVALID_SOCKET, 0x1234} {
		err := c.imports.WPUCompleteOverlappedRequest(h, &ov, 0, 1)
		if !errors.Is(err, spi.WSAEINVAL) {
			t.Errorf("WPUCompleteOverlappedRequest(%v) = %v, want WSAEINVAL", h, err)
		}
	}
}

func TestUpcallTableServesEveryEntry(t *testing.T) {
	c, p, th, _ := captureSocket(t)
	up := c.upcalls
	if missing := up.Missing(); len(missing) != 0 {
		t.Fatalf("upcall table misses %v", missing)
	}

	t.Run("sockets", func(t *testing.T) {
		s, err := up.WPUCreateSocketHandle(c.id, 99)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := up.WPUQuerySocketHandleContext(s); err != nil || got != 99 {
			t.Errorf("query = %v, %v", got, err)
		}
		if err := up.WPUCloseSocketHandle(s); err != nil {
			t.Fatal(err)
		}
		if err := up.WPUCloseSocketHandle(s); !errors.Is(err, spi.WSAENOTSOCK) {
			t.Errorf("second close: %v", err)
		}
		if _, err := up.WPUModifyIFSHandle(c.id, 0x1234); !errors.Is(err, spi.WSAEINVAL) {
			t.Errorf("modify of a bogus handle: %v", err)
		}
	})
	t.Run("events", func(t *testing.T) {
		ev, err := up.WPUCreateEvent()
		if err != nil {
			t.Fatal(err)
		}
		if err := up.WPUSetEvent(ev); err != nil {
			t.Fatal(err)
		}
		if r, _ := th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != spi.WSA_WAIT_EVENT_0 {
			t.Errorf("set event not signalled: %d", r)
		}
		if err := up.WPUResetEvent(ev); err != nil {
			t.Fatal(err)
		}
		if r, _ := th.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != uint32(spi.WSA_WAIT_TIMEOUT) {
			t.Errorf("reset event signalled: %d", r)
		}
		if err := up.WPUCloseEvent(ev); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"WPUSetEvent": up.WPUSetEvent(ev), "WPUResetEvent": up.WPUResetEvent(ev), "WPUCloseEvent": up.WPUCloseEvent(ev),
		} {
			if !errors.Is(err, spi.ERROR_INVALID_HANDLE) {
				t.Errorf("%s on a closed event: %v", name, err)
			}
		}
	})
	t.Run("threads and APCs", func(t *testing.T) {
		ran := make(chan any, 1)
		id := th.ID()
		if err := up.WPUQueueApc(&id, func(ctx any) { ran <- ctx }, "hello"); err != nil {
			t.Fatal(err)
		}
		if r, _ := th.SleepEx(0, true); r != spi.WAIT_IO_COMPLETION {
			t.Errorf("alertable sleep = %#x", r)
		}
		if got := <-ran; got != "hello" {
			t.Errorf("APC context = %v", got)
		}
		bogus := spi.ThreadID{ThreadHandle: 0x777}
		if err := up.WPUQueueApc(&bogus, func(any) {}, nil); !errors.Is(err, spi.WSAEFAULT) {
			t.Errorf("APC to a bogus thread: %v", err)
		}
		wid, err := up.WPUOpenCurrentThread()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		if err := up.WPUQueueApc(&wid, func(any) { close(done) }, nil); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("APC to the worker thread did not run")
		}
		if err := up.WPUCloseThread(&wid); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("paths and hooks", func(t *testing.T) {
		if got, err := up.WPUGetProviderPath(captureGUID); err != nil || got != capturePath {
			t.Errorf("path = %q, %v", got, err)
		}
		if _, err := up.WPUGetProviderPath(spi.GUID{Data1: 9}); !errors.Is(err, spi.WSAEINVAL) {
			t.Errorf("unknown provider: %v", err)
		}
		cb, ctx, err := up.WPUQueryBlockingCallback(c.id)
		if err != nil || cb != nil || ctx != nil {
			t.Errorf("blocking callback = %v, %v, %v", cb != nil, ctx, err)
		}
		if _, _, err := up.WPUQueryBlockingCallback(5); !errors.Is(err, spi.WSAEINVAL) {
			t.Errorf("bad catalog id: %v", err)
		}
		var set spi.FDSet
		set.Set(8)
		if !up.WPUFDIsSet(8, &set) || up.WPUFDIsSet(12, &set) {
			t.Error("WPUFDIsSet")
		}
		if !up.WPUPostMessage(0x10, 0x401, 8, 1) {
			t.Error("WPUPostMessage failed")
		}
		want := []wsspi.PostedMessage{{HWnd: 0x10, Msg: 0x401, WParam: 8, LParam: 1}}
		if diff := cmp.Diff(want, p.PostedMessages()); diff != "" {
			t.Errorf("posted (-want +got):\n%s", diff)
		}
	})
}

func TestWSACleanupUnloadsProviders(t *testing.T) {
	_, p, _, _ := captureSocket(t)
	if got := len(p.Loader().Snapshot().Providers); got != 1 {
		t.Fatalf("loaded providers = %d, want 1", got)
	}
	l := p.Loader()
	if err := p.WSACleanup(); err != nil {
		t.Fatal(err)
	}
	if got := len(l.Snapshot().Providers); got != 0 {
		t.Errorf("providers still loaded after WSACleanup: %d", got)
	}
}

func TestReadFileOnANonIFSHandleCostsFourMoreTransitions(t *testing.T) {
	c, p, th, nonIFS := captureSocket(t)
	ifs, err := th.Socket(spi.AF_INET6, spi.SOCK_STREAM, 0) // loopback
	if err != nil {
		t.Fatal(err)
	}
	if n, err := th.ReadFile(nonIFS, make([]byte, 8), nil); n != 0 || err != nil || c.recvs != 1 {
		t.Fatalf("ReadFile on the non-IFS handle = %d, %v; WSPRecv calls %d", n, err, c.recvs)
	}
	// An unconnected loopback socket fails the read, but the trip was made.
	if _, err := th.ReadFile(ifs, make([]byte, 8), nil); err == nil {
		t.Fatal("ReadFile on an unconnected socket succeeded")
	}
	direct := must(p.HandleTransitions(ifs))(t)
	redirected := must(p.HandleTransitions(nonIFS))(t)
	if direct.Total() != 2 || redirected.Total() != 6 {
		t.Errorf("transitions: direct %+v, redirected %+v; want 2 and 6", direct, redirected)
	}
	if got := p.Transitions().Total(); got != 8 {
		t.Errorf("process transitions = %d, want 8", got)
	}
}

func TestCompletionRoutineOnAnIFSSocketWithAPortIsRefused(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	th := p.NewThread()
	s, err := th.WSASocket(spi.AF_INET, spi.SOCK_DGRAM, 0, nil, 0, spi.WSA_FLAG_OVERLAPPED)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.CreateIoCompletionPort(s, 0, 1, 0); err != nil {
		t.Fatal(err)
	}
	routine := func(spi.Errno, uint32, *spi.Overlapped, uint32) { t.Error("the routine ran") }
	var ov spi.Overlapped
	var flags uint32
	_, err = th.WSARecv(s, [][]byte{make([]byte, 8)}, &flags, &ov, routine)
	if diff := cmp.Diff(error(spi.WSAEINVAL), err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("WSARecv with a routine on a port-associated socket (-want +got):\n%s", diff)
	}
	if r, _ := th.SleepEx(0, true); r == spi.WAIT_IO_COMPLETION {
		t.Error("an APC was queued for a refused call")
	}
}
