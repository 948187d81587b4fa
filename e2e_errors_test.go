package wsspi_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// End-to-end tests of bad input through the root API: every failure is
// the documented Windows error wrapped in an *spi.OpError, and leaves no
// handle or goroutine behind.

// socketCalls makes every socket call of the client API on handle h and
// returns the error of each, by the name of its Op. Overlapped calls get
// ov.
func socketCalls(th *wsspi.Thread, h spi.Socket, ov *spi.Overlapped) map[string]error {
	buf := make([]byte, 8)
	addr := loopbackAddr(spi.AF_INET, 9)
	errs := map[string]error{}
	errs["bind"] = th.Bind(h, addr)
	errs["listen"] = th.Listen(h, 1)
	errs["connect"] = th.Connect(h, addr)
	_, _, errs["WSAAccept"] = th.Accept(h)
	_, errs["WSASend"] = th.WSASend(h, [][]byte{buf}, 0, ov, nil)
	_, errs["WSARecv"] = th.WSARecv(h, [][]byte{buf}, nil, ov, nil)
	_, errs["WSASendTo"] = th.WSASendTo(h, [][]byte{buf}, 0, addr, ov, nil)
	var from netip.AddrPort
	_, errs["WSARecvFrom"] = th.WSARecvFrom(h, [][]byte{buf}, nil, &from, ov, nil)
	errs["shutdown"] = th.Shutdown(h, spi.SD_BOTH)
	_, errs["WSAIoctl"] = th.WSAIoctl(h, spi.FIONREAD, nil, buf, ov, nil)
	_, errs["getsockopt"] = th.Getsockopt(h, spi.SOL_SOCKET, spi.SO_TYPE, buf)
	errs["setsockopt"] = th.Setsockopt(h, spi.SOL_SOCKET, spi.SO_RCVBUF, buf[:4])
	_, errs["getsockname"] = th.Getsockname(h)
	_, errs["getpeername"] = th.Getpeername(h)
	_, _, errs["WSAGetOverlappedResult"] = th.WSAGetOverlappedResult(h, &spi.Overlapped{}, false)
	errs["closesocket"] = th.Closesocket(h) // last: it would close a live socket
	return errs
}

// fileCalls makes the file calls on handle h.
func fileCalls(th *wsspi.Thread, h spi.Handle, ov *spi.Overlapped) map[string]error {
	errs := map[string]error{}
	_, errs["ReadFile"] = th.ReadFile(h, make([]byte, 8), ov)
	_, errs["WriteFile"] = th.WriteFile(h, make([]byte, 8), ov)
	errs["CancelIo"] = th.CancelIo(h)
	errs["CancelIoEx"] = th.CancelIoEx(h, ov)
	return errs
}

// allFail checks that each of calls (by Op) failed with e on h.
func allFail(t *testing.T, what string, calls map[string]error, h spi.Handle, e spi.Errno) {
	t.Helper()
	want := map[string]error{}
	for op := range calls {
		want[op] = opErr(op, h, e)
	}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func TestCallsOnHandlesThatAreNoSocketsFailWithWSAENOTSOCK(t *testing.T) {
	checkNoGoroutineLeak(t)
	w := newWorld(t)
	ev := must(w.client.WSACreateEvent())(t)
	port := must(w.client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
	var foreign spi.Socket
	for range 8 { // a socket of the server whose value the client does not use
		s := must(w.sth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
		if _, used := w.client.Handles().Lookup(s); !used {
			foreign = s
			break
		}
	}
	if foreign == 0 {
		t.Fatal("no server socket value is free in the client")
	}
	closed := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	check(t, w.cth.Closesocket(closed))

	handles := []struct {
		name string
		h    spi.Handle
	}{
		{"closed socket", closed},
		{"another process's socket", foreign},
		{"event", ev},
		{"completion port", port},
		{"thread", w.cth.ID().ThreadHandle},
		{"zero", 0},
		{"INVALID_SOCKET", spi.INVALID_SOCKET},
	}
	for _, h := range handles {
		t.Run(h.name, func(t *testing.T) {
			ov := spi.Overlapped{HEvent: ev}
			got := socketCalls(w.cth, h.h, &ov)
			allFail(t, "socket calls", got, h.h, spi.WSAENOTSOCK)
			got = fileCalls(w.cth, h.h, &ov)
			allFail(t, "file calls", got, h.h, spi.ERROR_INVALID_HANDLE)
			if ov != (spi.Overlapped{HEvent: ev}) {
				t.Errorf("failed calls wrote the overlapped: %+v", ov)
			}
			wantErr(t, "SetFileCompletionNotificationModes", opErr("SetFileCompletionNotificationModes", h.h, spi.ERROR_INVALID_HANDLE),
				w.client.SetFileCompletionNotificationModes(h.h, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))
		})
	}
	if r, _ := w.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != uint32(spi.WSA_WAIT_TIMEOUT) {
		t.Error("a failed call signalled the event")
	}
	check(t, w.client.WSACloseEvent(ev))
	check(t, w.client.CloseHandle(port))
	checkNoHandles(t, w.client)
}

func TestOverlappedCallsOnANonOverlappedSocketFailWithWSAEINVAL(t *testing.T) {
	checkNoGoroutineLeak(t)
	k := newConn(t, spi.AF_INET, 0)
	u := must(k.cth.WSASocket(spi.AF_INET, spi.SOCK_DGRAM, 0, nil, 0, 0))(t)
	check(t, k.cth.Bind(u, loopbackAddr(spi.AF_INET, 5000)))
	ev := must(k.client.WSACreateEvent())(t)
	check(t, k.client.WSASetEvent(ev))
	ov := spi.Overlapped{HEvent: ev}
	buf := make([]byte, 8)
	routine := func(spi.Errno, uint32, *spi.Overlapped, uint32) { t.Error("a routine ran") }

	got := map[string]error{}
	_, got["WSASend"] = k.cth.WSASend(k.c, [][]byte{buf}, 0, &ov, nil)
	_, got["WSARecv"] = k.cth.WSARecv(k.c, [][]byte{buf}, nil, &ov, routine)
	_, got["WSAIoctl"] = k.cth.WSAIoctl(k.c, spi.FIONREAD, nil, buf, &ov, nil)
	_, got["WSASendTo"] = k.cth.WSASendTo(u, [][]byte{buf}, 0, loopbackAddr(spi.AF_INET, 5000), &ov, nil)
	_, got["WSARecvFrom"] = k.cth.WSARecvFrom(u, [][]byte{buf}, nil, nil, &ov, nil)
	why := notOverlapped
	want := map[string]error{
		"WSASend":     &spi.OpError{Op: "WSASend", Handle: k.c, Err: why},
		"WSARecv":     &spi.OpError{Op: "WSARecv", Handle: k.c, Err: why},
		"WSAIoctl":    &spi.OpError{Op: "WSAIoctl", Handle: k.c, Err: why},
		"WSASendTo":   &spi.OpError{Op: "WSASendTo", Handle: u, Err: why},
		"WSARecvFrom": &spi.OpError{Op: "WSARecvFrom", Handle: u, Err: why},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("overlapped calls (-want +got):\n%s", diff)
	}
	if ov != (spi.Overlapped{HEvent: ev}) {
		t.Errorf("failed calls wrote the overlapped: %+v", ov)
	}
	if r, _ := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != spi.WSA_WAIT_EVENT_0 {
		t.Error("a failed call reset the event")
	}
	if r, _ := k.cth.SleepEx(0, true); r != 0 {
		t.Errorf("SleepEx = %#x: something was queued", r)
	}

	_, err := k.client.CreateIoCompletionPort(k.c, 0, 1, 0)
	wantErr(t, "associating a port", &spi.OpError{Op: "CreateIoCompletionPort", Handle: k.c,
		Err: spi.Because(spi.ERROR_INVALID_PARAMETER, "the handle was not opened for overlapped I/O (a socket needs WSA_FLAG_OVERLAPPED)")}, err)
	err = k.client.SetFileCompletionNotificationModes(k.c, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS)
	if diff := cmp.Diff(error(spi.ERROR_INVALID_PARAMETER), err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("skip-on-success (-want +got):\n%s", diff)
	}

	// The same calls without an overlapped work.
	must(k.cth.WSASend(k.c, [][]byte{[]byte("ok")}, 0, nil, nil))(t)
	if got := recvAll(t, k.sth, k.s, 2); string(got) != "ok" {
		t.Errorf("received %q", got)
	}
	check(t, k.client.WSACloseEvent(ev))
	for _, s := range []spi.Socket{k.c, u} {
		check(t, k.cth.Closesocket(s))
	}
	checkNoHandles(t, k.client)
}

func TestSocketCallsBeforeWSAStartupFailWithWSANOTINITIALISED(t *testing.T) {
	checkNoGoroutineLeak(t)
	p := wsspi.NewMachine().NewProcessWithoutStartup()
	defer p.Close()
	th := p.NewThread()
	_, err := th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, 0, nil, 0, spi.WSA_FLAG_OVERLAPPED)
	wantErr(t, "WSASocket", opErr("WSASocket", 0, spi.WSANOTINITIALISED), err)
	for _, h := range []spi.Socket{4, 0x100, spi.INVALID_SOCKET} {
		var ov spi.Overlapped
		got := socketCalls(th, h, &ov)
		allFail(t, fmt.Sprintf("calls on %v", h), got, h, spi.WSANOTINITIALISED)
	}
	checkNoHandles(t, p)
}

func TestSocketCallsAfterTheLastWSACleanupFailWithWSANOTINITIALISED(t *testing.T) {
	checkNoGoroutineLeak(t)
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	check(t, k.client.WSACleanup())
	var ov spi.Overlapped
	got := socketCalls(k.cth, k.c, &ov)
	allFail(t, "calls on the former socket", got, k.c, spi.WSANOTINITIALISED)
	got = fileCalls(k.cth, k.c, &ov)
	allFail(t, "file calls on the former socket", got, k.c, spi.ERROR_INVALID_HANDLE)
	checkNoHandles(t, k.client)

	// Winsock starts again.
	must(k.client.WSAStartup(spi.WINSOCK_VERSION))(t)
	s := must(k.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, 0))(t)
	check(t, k.cth.Connect(s, k.addr))
	check(t, k.cth.Closesocket(s))
	checkNoHandles(t, k.client)
}

func TestZeroLengthAndNilStreamBuffers(t *testing.T) {
	checkNoGoroutineLeak(t)
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	sends := [][][]byte{nil, {nil}, {{}}, {nil, []byte("ab"), {}}}
	var sent []uint32
	for _, bufs := range sends {
		sent = append(sent, must(k.cth.WSASend(k.c, bufs, 0, nil, nil))(t))
	}
	sent = append(sent, must(k.cth.WriteFile(k.c, nil, nil))(t))
	if diff := cmp.Diff([]uint32{0, 0, 0, 2, 0}, sent); diff != "" {
		t.Errorf("bytes sent (-want +got):\n%s", diff)
	}

	// A zero-length receive completes once data is there and takes none.
	for i, recv := range []func() (uint32, error){
		func() (uint32, error) { return k.sth.WSARecv(k.s, nil, nil, nil, nil) },
		func() (uint32, error) { return k.sth.WSARecv(k.s, [][]byte{nil}, nil, nil, nil) },
		func() (uint32, error) { return k.sth.ReadFile(k.s, nil, nil) },
	} {
		if n, err := recv(); n != 0 || err != nil {
			t.Errorf("zero-length receive %d = %d, %v", i, n, err)
		}
	}
	if got := recvAll(t, k.sth, k.s, 2); string(got) != "ab" {
		t.Errorf("received %q after the zero-length receives, want \"ab\"", got)
	}

	n := newPortNotifier(t, k.cth, k.c)
	ov, _ := n.prepare()
	_, err := k.cth.WSARecv(k.c, nil, nil, ov, nil)
	wantErr(t, "pending zero-length recv", opErr("WSARecv", k.c, spi.WSA_IO_PENDING), err)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("xyz")}, 0, nil, nil))(t)
	diffResults(t, []result{{ov, 0, 0}}, []result{n.next(t)})
	if got := fionread(t, k.cth, k.c); got != 3 {
		t.Errorf("FIONREAD after a zero-length receive = %d, want 3", got)
	}

	_, _, err = k.cth.WSAGetOverlappedResult(k.c, nil, false)
	wantErr(t, "WSAGetOverlappedResult(nil)", opErr("WSAGetOverlappedResult", k.c, spi.WSAEFAULT), err)
}

func TestZeroLengthAndNilDatagramBuffers(t *testing.T) {
	checkNoGoroutineLeak(t)
	w, c, s, saddr := udpPair(t, spi.AF_INET)
	if n, err := w.cth.WSASendTo(c, nil, 0, saddr, nil, nil); n != 0 || err != nil {
		t.Errorf("sendto of no buffers = %d, %v", n, err)
	}
	must(w.cth.WSASendTo(c, [][]byte{[]byte("data")}, 0, saddr, nil, nil))(t)
	from := source(t, w.cth, c, spi.AF_INET).String()
	want := []datagram{
		{"", from, 0, nil}, // the empty datagram is delivered
		{"", from, spi.MSG_PARTIAL, opErr("WSARecvFrom", s, spi.WSAEMSGSIZE)}, // nothing fits
	}
	got := []datagram{recvFrom(w.sth, s, 0), recvFrom(w.sth, s, 0)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("receives (-want +got):\n%s", diff)
	}
	if n := fionread(t, w.sth, s); n != 0 {
		t.Errorf("FIONREAD = %d: the truncated datagram was not consumed", n)
	}
	check(t, w.cth.Closesocket(c))
	check(t, w.sth.Closesocket(s))
	checkNoHandles(t, w.client)
	checkNoHandles(t, w.server)
}

func TestCreateIoCompletionPortOnAHandleThatIsNoFileFailsWithERROR_INVALID_HANDLE(t *testing.T) {
	w := newWorld(t)
	ev := must(w.client.WSACreateEvent())(t)
	for _, h := range []spi.Handle{0, ev, w.cth.ID().ThreadHandle, 0x1000} {
		_, err := w.client.CreateIoCompletionPort(h, 0, 1, 0)
		wantErr(t, "CreateIoCompletionPort", opErr("CreateIoCompletionPort", h, spi.ERROR_INVALID_HANDLE), err)
	}
	check(t, w.client.WSACloseEvent(ev))
	checkNoHandles(t, w.client) // no port left behind
}

func TestASocketBelongsToOnePortForLife(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	first := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	second := must(k.client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
	for _, existing := range []spi.Handle{0, first, second} {
		_, err := k.client.CreateIoCompletionPort(k.c, existing, 2, 0)
		wantErr(t, fmt.Sprintf("association with %v", existing), &spi.OpError{Op: "CreateIoCompletionPort", Handle: k.c,
			Err: spi.Because(spi.ERROR_INVALID_PARAMETER, "the handle is already associated with port "+first.String())}, err)
	}
	var ov spi.Overlapped
	must(k.cth.WSASend(k.c, [][]byte{[]byte("x")}, 0, &ov, nil))(t)
	if e := must(k.cth.GetQueuedCompletionStatus(first, long))(t); e.CompletionKey != 1 || e.Overlapped != &ov {
		t.Errorf("packet %+v on the first port", e)
	}
	check(t, k.client.CloseHandle(first))
	check(t, k.client.CloseHandle(second))
	check(t, k.cth.Closesocket(k.c))
	checkNoHandles(t, k.client)
}

// A socket over an LSP whose DLL is not there, or whose WSPStartup fails,
// fails with WSAEPROVIDERFAILEDINIT, and the message names the provider as
// WSAEnumProtocols shows it and the path it was installed with, not a
// chain's GUID the user never saw.
func TestALoadErrorNamesTheProviderByItsNameAndPath(t *testing.T) {
	for _, c := range []struct {
		name     string
		register func(m *wsspi.Machine, path string)
		cause    string
	}{
		{"not registered", func(*wsspi.Machine, string) {}, catalog.ErrNotRegistered.Error()},
		{"startup fails", func(m *wsspi.Machine, path string) {
			m.RegisterProvider(path, func(uint16, *spi.WSAProtocolInfo, spi.WSPUpcallTable, spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
				return spi.WSPData{}, spi.WSPProcTable{}, spi.WSASYSNOTREADY
			})
		}, spi.WSASYSNOTREADY.Error()},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := wsspi.NewMachine()
			const path = `C:\Program Files\Sniffer\sniff.dll`
			must(m.Catalog().InstallLSP(catalog.LSP{ProviderId: kitGUID(0), Path: path, Name: "Sniffer",
				Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4}}))(t)
			c.register(m, path)
			proc := m.NewProcess()
			defer proc.Close()
			_, err := proc.NewThread().Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
			if !errors.Is(err, spi.WSAEPROVIDERFAILEDINIT) {
				t.Fatalf("socket: %v, want WSAEPROVIDERFAILEDINIT", err)
			}
			var le *catalog.LoadError
			if !errors.As(err, &le) {
				t.Fatalf("socket: %v carries no *catalog.LoadError", err)
			}
			chain := must(proc.WSAEnumProtocols(nil))(t)[0].ProtocolName
			want := fmt.Sprintf("provider %q (%s): WSAEPROVIDERFAILEDINIT: %s", chain, path, c.cause)
			if le.Error() != want {
				t.Errorf("load error\n got %s\nwant %s", le.Error(), want)
			}
			if !strings.HasPrefix(chain, "Sniffer over ") {
				t.Errorf("the first entry is %q, not the LSP's chain", chain)
			}
		})
	}
}
