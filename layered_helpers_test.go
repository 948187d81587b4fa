package wsspi_test

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// kitGUID returns the GUID of the i-th kit layer a test installs.
func kitGUID(i int) spi.GUID {
	g := spi.MustParseGUID("{1A7E12ED-0000-4000-8000-000000000000}")
	g.Data2 = uint16(i + 1)
	return g
}

// installKits installs depth kit layers over TCP/IPv4 on m, each over the
// chain of the one before, and returns them bottom first with their
// entries; the last one's chain is first in the catalog. cfg, if given,
// configures each layer in turn.
func installKits(tb TB, m *wsspi.Machine, depth int, cfg ...layered.Config) ([]*layered.Provider, []catalog.LSPEntries) {
	tb.Helper()
	over := catalog.DefaultTCPIPv4
	var provs []*layered.Provider
	var ids []catalog.LSPEntries
	for i := range depth {
		var c layered.Config
		if i < len(cfg) {
			c = cfg[i]
		}
		p, e, err := layered.Install(m, layered.Options{
			Name: "kit " + string(rune('A'+i)), GUID: kitGUID(i), Path: `C:\lsp\kit` + string(rune('a'+i)) + `.dll`,
			Over: []spi.CatalogEntryId{over}, Config: c,
		})
		check(tb, err)
		provs, ids = append(provs, p), append(ids, e)
		over = e.Chains[0]
	}
	return provs, ids
}

// lconn is a TCP connection over loopback between a client process whose
// sockets go through the machine's layered chain and a server socket made
// on the base entry itself, so that only the client's I/O crosses the
// layers. The processes are closed when the test ends.
type lconn struct {
	m              *wsspi.Machine
	client, server *wsspi.Process
	cth, sth       *wsspi.Thread
	l, c, s        spi.Socket
}

// baseTCP is the catalog entry of the base provider's TCP/IPv4.
func baseTCP(tb TB, m *wsspi.Machine) *spi.WSAProtocolInfo {
	tb.Helper()
	e, ok := m.Catalog().View().Entry(catalog.DefaultTCPIPv4)
	if !ok {
		tb.Fatal("no TCP/IPv4 base entry")
	}
	return &e
}

// newLConn connects a client socket made with clientFlags (through the
// chain that comes first in m's catalog) to a base server socket.
func newLConn(tb TB, m *wsspi.Machine, clientFlags uint32) *lconn {
	tb.Helper()
	k := &lconn{m: m, client: m.NewProcess(), server: m.NewProcess()}
	tb.Cleanup(func() { k.client.Close(); k.server.Close() })
	k.cth, k.sth = k.client.NewThread(), k.server.NewThread()
	pr := must(k.cth.SocketPair(wsspi.PairOptions{Server: k.sth, Addr: netip.MustParseAddrPort("127.0.0.1:7000"),
		ServerEntry: catalog.DefaultTCPIPv4, NotOverlapped: clientFlags&spi.WSA_FLAG_OVERLAPPED == 0, KeepListener: true}))(tb)
	k.l, k.c, k.s = pr.Listener.Socket, pr.Client, pr.Server
	return k
}

// kitConn installs depth kit layers on a new machine and connects a
// client through them.
func kitConn(tb TB, depth int, cfg ...layered.Config) (*lconn, []*layered.Provider, []catalog.LSPEntries) {
	tb.Helper()
	m := wsspi.NewMachine()
	provs, ids := installKits(tb, m, depth, cfg...)
	return newLConn(tb, m, spi.WSA_FLAG_OVERLAPPED), provs, ids
}

// baseHandles returns the client process's IFS socket handles: the base
// provider's sockets.
func baseHandles(p *wsspi.Process) []spi.Handle {
	var hs []spi.Handle
	for _, e := range p.Handles().Snapshot().Live {
		if e.Kind == handles.KindIFSSocket {
			hs = append(hs, e.Handle)
		}
	}
	return hs
}

// socketHandles returns the live socket handles of p, IFS or not, with
// their owners.
func socketHandles(p *wsspi.Process) map[spi.Handle]spi.CatalogEntryId {
	hs := map[spi.Handle]spi.CatalogEntryId{}
	for _, e := range p.Handles().Snapshot().Live {
		if e.Kind == handles.KindSocket || e.Kind == handles.KindIFSSocket {
			hs[e.Handle] = e.Owner
		}
	}
	return hs
}

// eventually waits until cond holds, failing the test after long.
func eventually(tb TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(long)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("still waiting for %s after %v", what, long)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// quiet reports whether the kits hold nothing: no instance, socket,
// operation or worker.
func quiet(provs ...*layered.Provider) bool {
	for _, p := range provs {
		s := p.Stats()
		if s.Instances+s.Sockets+s.Outstanding+s.Workers != 0 {
			return false
		}
	}
	return true
}

// ioctlHandle runs a control code that returns a socket handle.
func ioctlHandle(tb TB, th *wsspi.Thread, s spi.Socket, code uint32) spi.Handle {
	tb.Helper()
	var out [8]byte
	n := must(th.WSAIoctl(s, code, nil, out[:], nil, nil))(tb)
	if n != 8 {
		tb.Fatalf("ioctl %#x filled %d bytes, want 8", code, n)
	}
	return spi.Handle(binary.LittleEndian.Uint64(out[:]))
}

// protocolInfo reads SO_PROTOCOL_INFOW.
func protocolInfo(tb TB, th *wsspi.Thread, s spi.Socket) spi.WSAProtocolInfo {
	tb.Helper()
	buf := make([]byte, spi.WSAProtocolInfoSize)
	must(th.Getsockopt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf))(tb)
	var info spi.WSAProtocolInfo
	check(tb, info.UnmarshalBinary(buf))
	return info
}

// entry returns the catalog entry id names.
func entry(tb TB, m *wsspi.Machine, id spi.CatalogEntryId) spi.WSAProtocolInfo {
	tb.Helper()
	e, ok := m.Catalog().View().Entry(id)
	if !ok {
		tb.Fatalf("no catalog entry %d", id)
	}
	return e
}
