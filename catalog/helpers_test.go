package catalog_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// guid returns a distinct, recognizable provider GUID for n.
func guid(n uint32) spi.GUID {
	return spi.GUID{Data1: n, Data2: 0xC0DE, Data3: 0x4A11, Data4: [8]byte{0x80, 0, 0, 0, 0, 0, 0, byte(n)}}
}

// base returns a base entry for (af, typ, protocol) that matches protocol 0.
func base(name string, af, typ, protocol int32) spi.WSAProtocolInfo {
	return spi.WSAProtocolInfo{
		ServiceFlags1: spi.XP1_IFS_HANDLES,
		ProviderFlags: spi.PFL_MATCHES_PROTOCOL_ZERO,
		ProtocolChain: spi.WSAProtocolChain{ChainLen: spi.BASE_PROTOCOL},
		Version:       2,
		AddressFamily: af,
		SocketType:    typ,
		Protocol:      protocol,
		ProtocolName:  name,
	}
}

// layered returns a hidden layered entry.
func layered(name string, ifs bool) spi.WSAProtocolInfo {
	p := spi.WSAProtocolInfo{
		ProviderFlags: spi.PFL_HIDDEN,
		ProtocolChain: spi.WSAProtocolChain{ChainLen: spi.LAYERED_PROTOCOL},
		Version:       2,
		AddressFamily: spi.AF_INET,
		ProtocolName:  name,
	}
	if ifs {
		p.ServiceFlags1 = spi.XP1_IFS_HANDLES
	}
	return p
}

// chainOver returns a chain with the triplet of over, naming ids.
func chainOver(name string, over spi.WSAProtocolInfo, ifs bool, ids ...spi.CatalogEntryId) spi.WSAProtocolInfo {
	p := over
	p.ProtocolName = name
	p.CatalogEntryId = 0
	p.ProviderId = spi.GUID{}
	p.ServiceFlags1 &^= spi.XP1_IFS_HANDLES
	if ifs {
		p.ServiceFlags1 |= spi.XP1_IFS_HANDLES
	}
	p.ProtocolChain = spi.WSAProtocolChain{ChainLen: int32(len(ids))}
	copy(p.ProtocolChain.ChainEntries[:], ids)
	return p
}

// install installs infos under g and fails the test on error.
func install(t testing.TB, c *catalog.Catalog, g spi.GUID, path string, infos ...spi.WSAProtocolInfo) {
	t.Helper()
	if err := c.WSCInstallProvider(g, path, infos); err != nil {
		t.Fatalf("WSCInstallProvider(%v): %v", g, err)
	}
}

// enum returns every entry of c.
func enum(t testing.TB, c *catalog.Catalog) []spi.WSAProtocolInfo {
	t.Helper()
	all, err := c.WSCEnumProtocols(nil)
	if err != nil {
		t.Fatalf("WSCEnumProtocols: %v", err)
	}
	return all
}

// idsOf returns the CatalogEntryIds of infos.
func idsOf(infos []spi.WSAProtocolInfo) []spi.CatalogEntryId {
	ids := []spi.CatalogEntryId{}
	for _, p := range infos {
		ids = append(ids, p.CatalogEntryId)
	}
	return ids
}

// entry returns the entry id of c, failing the test if there is none.
func entry(t testing.TB, c *catalog.Catalog, id spi.CatalogEntryId) spi.WSAProtocolInfo {
	t.Helper()
	p, ok := c.View().Entry(id)
	if !ok {
		t.Fatalf("entry %d is not installed", id)
	}
	return p
}

// checkOpErr checks that err is an *spi.OpError named op carrying want.
func checkOpErr(t testing.TB, err error, op string, want spi.Errno) {
	t.Helper()
	if diff := cmp.Diff(error(want), err, cmpopts.EquateErrors()); diff != "" {
		t.Errorf("error %v, want %v (-want +got):\n%s", err, want, diff)
	}
	var oe *spi.OpError
	if !errors.As(err, &oe) {
		t.Errorf("error %v is not an *spi.OpError", err)
		return
	}
	if oe.Op != op {
		t.Errorf("OpError.Op = %q, want %q", oe.Op, op)
	}
}

// tcp4 is a base TCP/IPv4 entry like MSAFD's.
var tcp4 = base("TCP/IPv4", spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP)

// fakeProvider is a provider "DLL" for loader tests: it records its startup
// and cleanup calls and can be told to misbehave.
type fakeProvider struct {
	mu       sync.Mutex // guards the fields below
	startups int
	cleanups int
	infos    []spi.WSAProtocolInfo // infos received by WSPStartup, in order
	upcalls  []spi.WSPUpcallTable

	err      error        // returned by WSPStartup
	panicVal any          // panicked with by WSPStartup
	data     *spi.WSPData // returned instead of version 2.2
	partial  bool         // return a table with nil entries
	onStart  func(info *spi.WSAProtocolInfo) error
	onClean  func() error
	cleanErr error
}

func (f *fakeProvider) startup(version uint16, info *spi.WSAProtocolInfo, up spi.WSPUpcallTable, _ spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
	if version != spi.WINSOCK_VERSION {
		return spi.WSPData{}, spi.WSPProcTable{}, fmt.Errorf("asked for version %#x", version)
	}
	f.mu.Lock()
	f.startups++
	f.infos = append(f.infos, *info)
	f.upcalls = append(f.upcalls, up)
	err, panicVal, data, partial, onStart := f.err, f.panicVal, f.data, f.partial, f.onStart
	f.mu.Unlock()
	if panicVal != nil {
		panic(panicVal)
	}
	if err != nil {
		return spi.WSPData{}, spi.WSPProcTable{}, err
	}
	if onStart != nil {
		if err := onStart(info); err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
	}
	d := spi.WSPData{Version: spi.WINSOCK_VERSION, HighVersion: spi.WINSOCK_VERSION, Description: "fake"}
	if data != nil {
		d = *data
	}
	table := spi.WSPProcTable{
		WSPCleanup: func() error {
			f.mu.Lock()
			f.cleanups++
			onClean, cleanErr := f.onClean, f.cleanErr
			f.mu.Unlock()
			if onClean != nil {
				if err := onClean(); err != nil {
					return err
				}
			}
			return cleanErr
		},
	}
	if !partial {
		table.FillNotSupported()
	}
	return d, table, nil
}

// counts returns how often WSPStartup and WSPCleanup ran.
func (f *fakeProvider) counts() (startups, cleanups int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.startups, f.cleanups
}
