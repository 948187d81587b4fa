package wsspi_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

func TestWPUCompleteOverlappedRequestRefusesHandlesNotFromWPUCreateSocketHandle(t *testing.T) {
	k, _, _ := kitConn(t, 1)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 7, 0))(t)
	ev := must(k.client.WSACreateEvent())(t)
	closed := must(k.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	check(t, k.cth.Closesocket(closed))
	base := baseHandles(k.client)
	cases := map[string]spi.Handle{
		"the base provider's IFS socket": base[0],
		"a completion port":              port,
		"an event":                       ev,
		"a closed layered socket":        closed,
		"0":                              0,
		"INVALID_SOCKET":                 spi.INVALID_SOCKET,
	}
	for name, h := range cases {
		var ov spi.Overlapped
		ov.SetInProgress()
		if err := k.client.WPUCompleteOverlappedRequest(h, &ov, 0, 1); !errors.Is(err, spi.WSAEINVAL) {
			t.Errorf("%s: %v, want WSAEINVAL", name, err)
		}
		if !ov.InProgress() {
			t.Errorf("%s: the overlapped was written: %+v", name, ov)
		}
	}
	if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("a refused completion reached the port: %+v", e)
	}
}

func TestLayeredProcTableRefusesOtherProvidersHandles(t *testing.T) {
	k, _, ids := kitConn(t, 2)
	top, _ := k.client.Loader().Provider(ids[1].Chains[0])
	below, _ := k.client.Loader().Provider(ids[0].Chains[0])
	var lower spi.Handle // the lower layer's socket under k.c
	for h, owner := range socketHandles(k.client) {
		if owner == ids[0].Chains[0] {
			lower = h
		}
	}
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 7, 0))(t)
	cases := []struct {
		name  string
		table *spi.WSPProcTable
		h     spi.Handle
	}{
		{"the top layer, given the lower layer's socket", &top.ProcTable, lower},
		{"the lower layer, given the top layer's socket", &below.ProcTable, k.c},
		{"the top layer, given the base socket", &top.ProcTable, baseHandles(k.client)[0]},
		{"the top layer, given a port", &top.ProcTable, port},
	}
	for _, tc := range cases {
		var ov spi.Overlapped
		_, err := tc.table.WSPSend(tc.h, [][]byte{[]byte("x")}, 0, &ov, nil, nil)
		_, gerr := tc.table.WSPGetSockOpt(tc.h, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, make([]byte, spi.WSAProtocolInfoSize))
		cerr := tc.table.WSPCloseSocket(tc.h)
		want := []error{spi.WSAENOTSOCK, spi.WSAENOTSOCK, spi.WSAENOTSOCK}
		if diff := cmp.Diff(want, []error{err, gerr, cerr}, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("%s: send, getsockopt, closesocket (-want +got):\n%s", tc.name, diff)
		}
		if ov != (spi.Overlapped{}) {
			t.Errorf("%s: the overlapped was written: %+v", tc.name, ov)
		}
	}
	// Nothing was closed by mistake: the connection still works.
	must(k.cth.WSASend(k.c, [][]byte{[]byte("ok")}, 0, nil, nil))(t)
	if got := recvAll(t, k.sth, k.s, 2); string(got) != "ok" {
		t.Errorf("server read %q", got)
	}
}

func TestReadFileOnAClosedLayeredHandleFails(t *testing.T) {
	k, _, _ := kitConn(t, 1)
	port := must(k.client.CreateIoCompletionPort(k.c, 0, 7, 0))(t)
	check(t, k.cth.Closesocket(k.c))
	var ov spi.Overlapped
	if _, err := k.cth.ReadFile(k.c, make([]byte, 4), &ov); !errors.Is(err, spi.ERROR_INVALID_HANDLE) {
		t.Errorf("ReadFile on a closed handle: %v, want ERROR_INVALID_HANDLE", err)
	}
	if _, err := k.cth.WriteFile(k.c, []byte("x"), &ov); !errors.Is(err, spi.ERROR_INVALID_HANDLE) {
		t.Errorf("WriteFile on a closed handle: %v, want ERROR_INVALID_HANDLE", err)
	}
	if e, err := k.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("port got %+v", e)
	}
}

func TestLayeredCallThatFailsAtOnceNotifiesNothing(t *testing.T) {
	m := wsspi.NewMachine()
	provs, _ := installKits(t, m, 1)
	p := m.NewProcess()
	defer p.Close()
	th := p.NewThread()
	unconnected := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	port := must(p.CreateIoCompletionPort(unconnected, 0, 7, 0))(t)
	plain := must(th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, nil, 0, 0))(t)
	ran := 0
	routine := func(spi.Errno, uint32, *spi.Overlapped, uint32) { ran++ }
	cases := []struct {
		name string
		call func(ov *spi.Overlapped) error
		want spi.Errno
	}{
		{"ReadFile whose WSPRecv fails (not connected)", func(ov *spi.Overlapped) error {
			_, err := th.ReadFile(unconnected, make([]byte, 4), ov)
			return err
		}, spi.ERROR_UNEXP_NET_ERR}, // WSAENOTCONN's STATUS_INVALID_CONNECTION, as kernel32 reports it
		{"WSASend with a completion routine, not connected", func(ov *spi.Overlapped) error {
			_, err := th.WSASend(unconnected, [][]byte{[]byte("x")}, 0, ov, routine)
			return err
		}, spi.WSAENOTCONN},
		{"overlapped WSARecv on a socket made without WSA_FLAG_OVERLAPPED", func(ov *spi.Overlapped) error {
			_, err := th.WSARecv(plain, [][]byte{make([]byte, 4)}, nil, ov, nil)
			return err
		}, spi.WSAEINVAL},
		{"WSASend naming a closed event", func(ov *spi.Overlapped) error {
			ev := must(p.WSACreateEvent())(t)
			check(t, p.WSACloseEvent(ev))
			ov.HEvent = ev
			_, err := th.WSASend(unconnected, [][]byte{[]byte("x")}, 0, ov, nil)
			return err
		}, spi.WSA_INVALID_HANDLE},
		{"SIO_BSP_HANDLE_POLL with an overlapped", func(ov *spi.Overlapped) error {
			_, err := th.WSAIoctl(unconnected, spi.SIO_BSP_HANDLE_POLL, nil, make([]byte, 8), ov, nil)
			return err
		}, spi.WSAEFAULT},
	}
	for _, tc := range cases {
		var ov spi.Overlapped
		if err := tc.call(&ov); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if ov.InProgress() {
			t.Errorf("%s: the overlapped is left in progress", tc.name)
		}
	}
	if e, err := th.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
		t.Errorf("port got %+v", e)
	}
	if r, _ := th.SleepEx(0, true); r != 0 || ran != 0 {
		t.Errorf("a routine ran: SleepEx = %d, %d calls", r, ran)
	}
	if s := provs[0].Stats(); s.Outstanding != 0 || s.Completed+s.APCs != 0 {
		t.Errorf("the layer holds or forwarded operations: %+v", s)
	}
}

func TestLayeredProviderOutsideItsChainFailsToLoad(t *testing.T) {
	m := wsspi.NewMachine()
	ids := must(m.Catalog().InstallLSP(catalog.LSP{ProviderId: kitGUID(0), Path: `C:\lsp\lost.dll`, Name: "lost",
		Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4}}))(t)
	p := layered.New(ids.Layered+100, layered.Config{}) // not the entry it was installed as
	m.RegisterProvider(`C:\lsp\lost.dll`, p.WSPStartup)
	proc := m.NewProcess()
	defer proc.Close()
	_, err := proc.NewThread().Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)
	if !errors.Is(err, spi.WSAEPROVIDERFAILEDINIT) || !errors.Is(err, spi.WSAEINVAL) {
		t.Errorf("socket: %v, want WSAEPROVIDERFAILEDINIT caused by WSAEINVAL", err)
	}
	if !quiet(p) {
		t.Errorf("a failed start left %+v", p.Stats())
	}
}

func TestInstallOverAnEntryThatIsNotThereChangesNothing(t *testing.T) {
	m := wsspi.NewMachine()
	before := m.Catalog().Serial()
	_, _, err := layered.Install(m, layered.Options{Name: "x", GUID: kitGUID(0), Path: `C:\lsp\x.dll`, Over: []spi.CatalogEntryId{4242}})
	if !errors.Is(err, spi.WSAEINVAL) {
		t.Errorf("Install: %v, want WSAEINVAL", err)
	}
	if m.Catalog().Serial() != before {
		t.Error("a failed Install changed the catalog")
	}
}
