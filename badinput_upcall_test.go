package wsspi_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// Attacks a provider can make through its upcall table and imports, and
// the accept that meets a full handle table.

var _ = addAttacks(
	attack{"WPUCreateSocketHandleRefusesIdsOfNoProvider", testWPUCreateSocketHandleRefusesIdsOfNoProvider},
	attack{"WPUModifyIFSHandleRefusesIdsOfNoProviderAndLeavesTheSocket", testWPUModifyIFSHandleRefusesIdsOfNoProviderAndLeavesTheSocket},
	attack{"WPUCompleteOverlappedRequestOnAForeignSocketObjectIsRefused", testWPUCompleteOverlappedRequestOnAForeignSocketObjectIsRefused},
	attack{"AcceptOnAFullHandleTableKeepsTheConnectionQueued", testAcceptOnAFullHandleTableKeepsTheConnectionQueued},
)

// bogusIDs are catalog entry ids that name no entry of any catalog here.
var bogusIDs = []spi.CatalogEntryId{0, 999, 0xDEAD, 0xFFFFFFFF}

func testWPUCreateSocketHandleRefusesIdsOfNoProvider(t *testing.T) {
	c, p, _, _ := captureSocket(t)
	before := p.Handles().Len()
	for _, id := range bogusIDs {
		s, err := c.upcalls.WPUCreateSocketHandle(id, "ctx")
		if !errors.Is(err, spi.WSAEINVAL) || s != spi.INVALID_SOCKET {
			t.Errorf("WPUCreateSocketHandle(%d) = %v, %v; want INVALID_SOCKET, WSAEINVAL", id, s, err)
		}
	}
	if n := p.Handles().Len(); n != before {
		t.Errorf("%d handles after the refused calls, %d before", n, before)
	}
	// Every entry of the process's catalog is accepted, layered or not.
	for _, e := range must(p.Loader().View().WSCEnumProtocols(nil))(t) {
		s := must(c.upcalls.WPUCreateSocketHandle(e.CatalogEntryId, nil))(t)
		check(t, c.upcalls.WPUCloseSocketHandle(s))
	}
}

func testWPUModifyIFSHandleRefusesIdsOfNoProviderAndLeavesTheSocket(t *testing.T) {
	c, p, th, _ := captureSocket(t)
	u := must(th.Socket(spi.AF_INET, spi.SOCK_DGRAM, spi.IPPROTO_UDP))(t) // a loopback (IFS) socket
	before, _ := p.Handles().Lookup(u)
	for _, id := range bogusIDs {
		s, err := c.upcalls.WPUModifyIFSHandle(id, u)
		if !errors.Is(err, spi.WSAEINVAL) || s != spi.INVALID_SOCKET {
			t.Errorf("WPUModifyIFSHandle(%d) = %v, %v; want INVALID_SOCKET, WSAEINVAL", id, s, err)
		}
	}
	after, _ := p.Handles().Lookup(u)
	if diff := cmp.Diff(before.Owner, after.Owner); diff != "" {
		t.Errorf("owner changed (-before +after):\n%s", diff)
	}
	check(t, th.Bind(u, loopbackAddr(spi.AF_INET, 0)))
	check(t, th.Closesocket(u))
}

// WPUCompleteOverlappedRequest names a socket made by
// WPUCreateSocketHandle; a socket handle whose kernel object is not the
// simulator's (one made straight through the process's handle table, the
// live accessor tests inspect with) is refused with WSAEINVAL.
func testWPUCompleteOverlappedRequestOnAForeignSocketObjectIsRefused(t *testing.T) {
	c, p, _, _ := captureSocket(t)
	odd := must(p.Handles().CreateSocketHandle(c.id, "ctx", "not a socket object"))(t)
	bare := must(p.Handles().CreateSocketHandle(c.id, "ctx", nil))(t)
	for _, h := range []spi.Handle{odd, bare} {
		var ov spi.Overlapped
		ov.SetInProgress()
		if err := c.imports.WPUCompleteOverlappedRequest(h, &ov, 0, 1); !errors.Is(err, spi.WSAEINVAL) {
			t.Errorf("WPUCompleteOverlappedRequest(%v): %v, want WSAEINVAL", h, err)
		}
		if !ov.InProgress() {
			t.Errorf("the overlapped was written: %+v", ov)
		}
		check(t, p.Handles().CloseSocketHandle(h))
	}
}

// accept fails with WSAENOBUFS while the handle table is full; the
// connection stays queued, and once a handle is free accept takes it,
// with the data the peer sent meanwhile.
func testAcceptOnAFullHandleTableKeepsTheConnectionQueued(t *testing.T) {
	for _, depth := range []int{0, 1} {
		m := wsspi.NewMachineWith(wsspi.MachineOptions{Handles: handles.Options{Capacity: 32}})
		installKits(t, m, depth)
		server := m.NewProcess()
		sth := server.NewThread()
		l := listen(t, sth, loopbackAddr(spi.AF_INET, 9100), 4)
		// The client lives in a second process of the same machine.
		cp := m.NewProcess()
		cth := cp.NewThread()
		c := must(cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
		check(t, cth.Connect(c, loopbackAddr(spi.AF_INET, 9100)))
		must(cth.WSASend(c, [][]byte{[]byte("kept")}, 0, nil, nil))(t)
		// Fill the server's table.
		var filler []spi.Handle
		for {
			h, err := server.WSACreateEvent()
			if err != nil {
				if !errors.Is(err, spi.WSAENOBUFS) {
					t.Fatal(err)
				}
				break
			}
			filler = append(filler, h)
		}
		for range 3 {
			if _, _, err := sth.Accept(l); !errors.Is(err, spi.WSAENOBUFS) {
				t.Fatalf("depth %d: accept on a full table: %v, want WSAENOBUFS", depth, err)
			}
		}
		// Free room for the accepted socket (and a layer's lower socket).
		for _, h := range filler[len(filler)-2:] {
			check(t, server.WSACloseEvent(h))
		}
		s, _, err := sth.Accept(l)
		if err != nil {
			t.Fatalf("depth %d: accept once a handle is free: %v", depth, err)
		}
		if got := recvAll(t, sth, s, 4); string(got) != "kept" {
			t.Errorf("depth %d: the accepted socket read %q", depth, got)
		}
		must(sth.WSASend(s, [][]byte{[]byte("back")}, 0, nil, nil))(t)
		if got := recvAll(t, cth, c, 4); string(got) != "back" {
			t.Errorf("depth %d: the client read %q", depth, got)
		}
		check(t, cp.Close())
		check(t, server.Close())
	}
}
