package wsspi_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// These tests follow one failed or cancelled operation through every API
// that reports it, over stacks of layers: Overlapped.Internal holds the
// NTSTATUS, GetQueuedCompletionStatus and GetOverlappedResult report its
// Win32 code, WSAGetOverlappedResult and completion routines its Winsock
// code, the same through any layers as without them.

// stack is a way of building the client's protocol chain over TCP/IPv4.
type stack struct {
	name  string
	build func(tb TB, m *wsspi.Machine)
}

// stacks are the chains the status tests run over: the base provider, one
// and two kit layers (non-IFS), the IFS pass-through, and a kit over it (an
// IFS layer cannot sit over a non-IFS one: WPUModifyIFSHandle refuses the
// handles of WPUCreateSocketHandle).
var stacks = []stack{
	{"base", func(TB, *wsspi.Machine) {}},
	{"kit", func(tb TB, m *wsspi.Machine) { installKits(tb, m, 1) }},
	{"kit over kit", func(tb TB, m *wsspi.Machine) { installKits(tb, m, 2) }},
	{"ifs", func(tb TB, m *wsspi.Machine) {
		must2(wild.InstallIFSPassThrough(m, catalog.DefaultTCPIPv4))(tb)
	}},
	{"kit over ifs", func(tb TB, m *wsspi.Machine) {
		_, ids := must2(wild.InstallIFSPassThrough(m, catalog.DefaultTCPIPv4))(tb)
		_, _, err := layered.Install(m, layered.Options{Name: "kit over ifs", GUID: kitGUID(5), Path: `C:\lsp\kitifs.dll`,
			Over: []spi.CatalogEntryId{ids.Chains[0]}})
		check(tb, err)
	}},
}

// stackConn connects a client through st to a base server socket.
func stackConn(tb TB, st stack) *lconn {
	tb.Helper()
	m := wsspi.NewMachine()
	st.build(tb, m)
	return newLConn(tb, m, spi.WSA_FLAG_OVERLAPPED)
}

// statusView is what each API says of one ended operation.
type statusView struct {
	Internal spi.NTStatus
	GQCS     spi.Errno // GetQueuedCompletionStatus's error
	Win32    spi.Errno // GetOverlappedResult's error
	Winsock  spi.Errno // WSAGetOverlappedResult's error
}

// viewOf dequeues the packet of ov from port and reads ov through every
// API.
func viewOf(tb TB, k *lconn, port spi.Handle, ov *spi.Overlapped) statusView {
	tb.Helper()
	e, err := k.cth.GetQueuedCompletionStatus(port, long)
	if e.Overlapped != ov {
		tb.Fatalf("packet %+v, %v; want the one of %p", e, err, ov)
	}
	if spi.NTStatus(e.Internal) != spi.NTStatus(ov.LoadInternal()) {
		tb.Errorf("the packet's Internal %#x differs from the OVERLAPPED's %#x", e.Internal, ov.LoadInternal())
	}
	v := statusView{Internal: spi.NTStatus(ov.LoadInternal()), GQCS: spi.ErrnoOf(err)}
	_, err = k.cth.GetOverlappedResult(k.c, ov, false)
	v.Win32 = spi.ErrnoOf(err)
	_, _, err = k.cth.WSAGetOverlappedResult(k.c, ov, false)
	v.Winsock = spi.ErrnoOf(err)
	return v
}

func TestAPeerResetIsERROR_NETNAME_DELETEDToKernel32AndWSAECONNRESETToWinsock(t *testing.T) {
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
			var ov spi.Overlapped
			pendRecv(t, k.cth, k.c, make([]byte, 4), &ov, nil)
			setLinger(t, k.sth, k.s, 1, 0)
			check(t, k.sth.Closesocket(k.s))
			want := statusView{spi.STATUS_CONNECTION_RESET, spi.ERROR_NETNAME_DELETED, spi.ERROR_NETNAME_DELETED, spi.WSAECONNRESET}
			if diff := cmp.Diff(want, viewOf(t, k, port, &ov)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCancelIoExIsERROR_OPERATION_ABORTEDToEveryAPI(t *testing.T) {
	k := stackConn(t, stacks[0]) // CancelIoEx reaches the base driver only
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
	var ov spi.Overlapped
	pendRecv(t, k.cth, k.c, make([]byte, 4), &ov, nil)
	check(t, k.cth.CancelIoEx(k.c, &ov))
	want := statusView{spi.STATUS_CANCELLED, spi.ERROR_OPERATION_ABORTED, spi.ERROR_OPERATION_ABORTED, spi.WSA_OPERATION_ABORTED}
	if diff := cmp.Diff(want, viewOf(t, k, port, &ov)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// closesocket of a connected socket with a receive pending aborts it:
// STATUS_CONNECTION_ABORTED, ERROR_CONNECTION_ABORTED from
// GetQueuedCompletionStatus (Windows since Vista, per Wine's tests of it),
// and WSAECONNABORTED to a completion routine.
func TestClosesocketAbortsAConnectedSocketsIOWithSTATUS_CONNECTION_ABORTED(t *testing.T) {
	for _, st := range stacks {
		t.Run(st.name, func(t *testing.T) {
			k := stackConn(t, st)
			port := must(k.client.CreateIoCompletionPort(k.c, 0, 1, 0))(t)
			var ov spi.Overlapped
			pendRecv(t, k.cth, k.c, make([]byte, 4), &ov, nil)
			check(t, k.cth.Closesocket(k.c))
			e, err := k.cth.GetQueuedCompletionStatus(port, long)
			if e.Overlapped != &ov || !errors.Is(err, spi.ERROR_CONNECTION_ABORTED) {
				t.Errorf("packet %+v, %v; want ERROR_CONNECTION_ABORTED", e, err)
			}
			if got := spi.NTStatus(ov.LoadInternal()); got != spi.STATUS_CONNECTION_ABORTED {
				t.Errorf("Internal %v, want STATUS_CONNECTION_ABORTED", got)
			}
			if _, err := k.cth.GetOverlappedResult(k.c, &ov, true); !errors.Is(err, spi.ERROR_CONNECTION_ABORTED) {
				t.Errorf("GetOverlappedResult on the closed handle: %v, want ERROR_CONNECTION_ABORTED from ov", err)
			}
		})
	}
	t.Run("routine", func(t *testing.T) {
		k := stackConn(t, stacks[1])
		var got []spi.Errno
		var ov spi.Overlapped
		pendRecv(t, k.cth, k.c, make([]byte, 4), &ov, func(e spi.Errno, _ uint32, _ *spi.Overlapped, _ uint32) { got = append(got, e) })
		check(t, k.cth.Closesocket(k.c))
		eventually(t, "the routine to be queued", func() bool {
			_, _ = k.cth.SleepEx(0, true)
			return len(got) > 0
		})
		if diff := cmp.Diff([]spi.Errno{spi.WSAECONNABORTED}, got); diff != "" {
			t.Errorf("routine's dwError (-want +got):\n%s", diff)
		}
	})
}

func TestATruncatedDatagramIsERROR_MORE_DATAToKernel32AndWSAEMSGSIZEToWinsock(t *testing.T) {
	w := newWorld(t)
	r := must(w.cth.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
	addr := loopbackAddr(spi.AF_INET, 9300)
	check(t, w.cth.Bind(r, addr))
	port := must(w.client.CreateIoCompletionPort(r, 0, 1, 0))(t)
	var ov spi.Overlapped
	pendRecv(t, w.cth, r, make([]byte, 3), &ov, nil)
	s := must(w.sth.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t)
	must(w.sth.WSASendTo(s, [][]byte{[]byte("toolong")}, 0, addr, nil, nil))(t)
	e, err := w.cth.GetQueuedCompletionStatus(port, long)
	if e.Overlapped != &ov || e.NumberOfBytesTransferred != 3 || !errors.Is(err, spi.ERROR_MORE_DATA) {
		t.Errorf("packet %+v, %v; want 3 bytes and ERROR_MORE_DATA", e, err)
	}
	if n, err := w.cth.GetOverlappedResult(r, &ov, false); n != 3 || !errors.Is(err, spi.ERROR_MORE_DATA) {
		t.Errorf("GetOverlappedResult = %d, %v; want 3, ERROR_MORE_DATA", n, err)
	}
	if n, _, err := w.cth.WSAGetOverlappedResult(r, &ov, false); n != 3 || !errors.Is(err, spi.WSAEMSGSIZE) {
		t.Errorf("WSAGetOverlappedResult = %d, %v; want 3, WSAEMSGSIZE", n, err)
	}
}

// A provider's WPUCompleteOverlappedRequest(dwError) puts the status of
// that Winsock code in the packet, so a client hears the same codes through
// a non-IFS provider as from the base.
func TestWPUCompleteOverlappedRequestCarriesTheStatusOfItsError(t *testing.T) {
	cases := []struct {
		dwError spi.Errno
		status  spi.NTStatus
		win32   spi.Errno
	}{
		{0, spi.STATUS_SUCCESS, 0},
		{spi.WSAECONNRESET, spi.STATUS_CONNECTION_RESET, spi.ERROR_NETNAME_DELETED},
		{spi.WSAECONNABORTED, spi.STATUS_CONNECTION_ABORTED, spi.ERROR_CONNECTION_ABORTED},
		{spi.WSA_OPERATION_ABORTED, spi.STATUS_CANCELLED, spi.ERROR_OPERATION_ABORTED},
		{spi.WSAEMSGSIZE, spi.STATUS_BUFFER_OVERFLOW, spi.ERROR_MORE_DATA},
		{spi.WSAEFAULT, 0xC0070000 | spi.NTStatus(spi.WSAEFAULT), spi.WSAEFAULT}, // no status of its own: carried as NTWIN32
	}
	c, p, th, s := captureSocket(t)
	port := must(p.CreateIoCompletionPort(s, 0, 9, 0))(t)
	for _, tc := range cases {
		var ov spi.Overlapped
		ov.SetInProgress()
		check(t, c.imports.WPUCompleteOverlappedRequest(s, &ov, tc.dwError, 2))
		e, err := th.GetQueuedCompletionStatus(port, long)
		if spi.NTStatus(e.Internal) != tc.status || spi.ErrnoOf(err) != tc.win32 {
			t.Errorf("dwError %v: packet Internal %v, GQCS %v; want %v, %v", tc.dwError, spi.NTStatus(e.Internal), err, tc.status, tc.win32)
		}
	}
}

func TestGetQueuedCompletionStatusExTimesOutWithACountOf1(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	th := p.NewThread()
	port := must(p.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
	entries := make([]spi.OverlappedEntry, 4)
	entries[0].CompletionKey = 0xdeadbeef
	n, err := th.GetQueuedCompletionStatusEx(port, entries, 0, false)
	if n != 1 || !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("GetQueuedCompletionStatusEx = %d, %v; want 1, WAIT_TIMEOUT", n, err)
	}
	if entries[0].CompletionKey != 0xdeadbeef {
		t.Errorf("a timed-out call wrote an entry: %+v", entries[0])
	}
	check(t, p.CloseHandle(port))
	if n, err := th.GetQueuedCompletionStatusEx(port, entries, 0, false); n != 0 || !errors.Is(err, spi.ERROR_INVALID_HANDLE) {
		t.Errorf("on a closed port: %d, %v; want 0, ERROR_INVALID_HANDLE", n, err)
	}
}

func TestNotificationModesAddUpAndSkipUserEventOnFastIO(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	check(t, k.client.SetFileCompletionNotificationModes(k.c, spi.FILE_SKIP_SET_USER_EVENT_ON_FAST_IO))
	check(t, k.client.SetFileCompletionNotificationModes(k.c, spi.FILE_SKIP_SET_EVENT_ON_HANDLE))
	if err := k.client.SetFileCompletionNotificationModes(k.c, 0x8); !errors.Is(err, spi.ERROR_INVALID_PARAMETER) {
		t.Errorf("an unknown mode: %v, want ERROR_INVALID_PARAMETER", err)
	}
	f := must(k.client.Kernel().File(k.c))(t)
	if got, want := f.Snapshot().Modes, uint8(spi.FILE_SKIP_SET_USER_EVENT_ON_FAST_IO|spi.FILE_SKIP_SET_EVENT_ON_HANDLE); got != want {
		t.Errorf("modes %#x, want %#x: setting one mode cleared another", got, want)
	}
	ev := must(k.client.WSACreateEvent())(t)
	// A send that succeeds at once is fast I/O: its event stays unset.
	ov := spi.Overlapped{HEvent: ev}
	must(k.cth.WSASend(k.c, [][]byte{[]byte("x")}, 0, &ov, nil))(t)
	if r, _ := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != uint32(spi.WSA_WAIT_TIMEOUT) {
		t.Errorf("the event of an immediate success was set (%d)", r)
	}
	// A receive that pends is not: its event is set when it completes.
	ov2 := spi.Overlapped{HEvent: ev}
	pendRecv(t, k.cth, k.c, make([]byte, 1), &ov2, nil)
	must(k.sth.WSASend(k.s, [][]byte{[]byte("y")}, 0, nil, nil))(t)
	if r, _ := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, long, false); r != spi.WSA_WAIT_EVENT_0 {
		t.Errorf("the event of a pending receive was not set (%d)", r)
	}
}

func TestWSAEnumProtocolsWReportsTheSizeItNeeds(t *testing.T) {
	p := wsspi.NewMachine().NewProcess()
	defer p.Close()
	all := must(p.WSAEnumProtocols(nil))(t)
	var n uint32
	if _, err := p.WSAEnumProtocolsW(nil, nil, &n); !errors.Is(err, spi.WSAENOBUFS) || n != uint32(len(all)*spi.WSAProtocolInfoSize) {
		t.Fatalf("with no buffer: %v, size %d; want WSAENOBUFS, %d", err, n, len(all)*spi.WSAProtocolInfoSize)
	}
	short := uint32(spi.WSAProtocolInfoSize)
	if _, err := p.WSAEnumProtocolsW(nil, make([]spi.WSAProtocolInfo, 1), &short); !errors.Is(err, spi.WSAENOBUFS) || short != n {
		t.Errorf("with room for one: %v, size %d; want WSAENOBUFS, %d", err, short, n)
	}
	buf := make([]spi.WSAProtocolInfo, n/spi.WSAProtocolInfoSize)
	count := must(p.WSAEnumProtocolsW(nil, buf, &n))(t)
	if diff := cmp.Diff(all, buf[:count]); diff != "" {
		t.Errorf("entries (-WSAEnumProtocols +WSAEnumProtocolsW):\n%s", diff)
	}
	if _, err := p.WSAEnumProtocolsW(nil, buf, nil); !errors.Is(err, spi.WSAEFAULT) {
		t.Errorf("with no length: %v, want WSAEFAULT", err)
	}
}
