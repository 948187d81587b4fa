package catalog_test

import (
	"errors"
	"fmt"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// provider returns a provider "DLL" that says when it starts and cleans up.
// A layered provider (next != nil) loads the layer below it from its
// WSPStartup and releases it in its WSPCleanup, as an LSP does.
func provider(name string, next func(info *spi.WSAProtocolInfo) (cleanup func() error, err error)) spi.WSPStartupFunc {
	return func(version uint16, info *spi.WSAProtocolInfo, _ spi.WSPUpcallTable, _ spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		fmt.Printf("  WSPStartup %s for entry %d\n", name, info.CatalogEntryId)
		releaseNext := func() error { return nil }
		if next != nil {
			var err error
			if releaseNext, err = next(info); err != nil {
				return spi.WSPData{}, spi.WSPProcTable{}, err
			}
		}
		table := spi.WSPProcTable{WSPCleanup: func() error {
			fmt.Printf("  WSPCleanup %s\n", name)
			return releaseNext()
		}}
		table.FillNotSupported() // a small provider stays small
		return spi.WSPData{Version: version, HighVersion: version}, table, nil
	}
}

// printLoaded prints the providers a process has loaded.
func printLoaded(l *catalog.Loader) {
	for _, p := range l.Snapshot().Providers {
		fmt.Printf("  loaded %s refs=%d\n", p.Path, p.Refs)
	}
}

// Build a catalog with a non-IFS LSP over TCP/IPv4, list it, lint it, pick
// the provider for socket(AF_INET, SOCK_STREAM, 0), and load and unload the
// chain.
func Example() {
	c := catalog.NewDefault() // TCP and UDP over IPv4 and IPv6, ids 1001-1004
	const sniffDLL = `%ProgramFiles%\Sniffer\sniff.dll`
	lsp, err := c.InstallLSP(catalog.LSP{
		ProviderId: spi.MustParseGUID("{D3C21122-85E1-48F3-9AB6-23D90C73077F}"),
		Path:       sniffDLL,
		Name:       "Sniffer",
		Over:       []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	all, _ := c.WSCEnumProtocols(nil)
	for _, p := range all {
		fmt.Printf("%d %-11s IFS=%-5v %s\n", p.CatalogEntryId, fmt.Sprint(p.ProtocolChain.Entries()), p.IFS(), p.ProtocolName)
	}
	fmt.Println("lint findings:", len(c.Lint()))

	view := c.View() // the process's WSAStartup
	chosen, _ := view.Choose(spi.AF_INET, spi.SOCK_STREAM, 0, nil)
	fmt.Printf("socket(AF_INET, SOCK_STREAM, 0) -> %d %s\n", chosen.CatalogEntryId, chosen.ProtocolName)

	reg := catalog.NewRegistry()
	reg.Register(catalog.LoopbackPath, provider("loopback", nil))
	var l *catalog.Loader
	reg.Register(sniffDLL, provider("Sniffer", func(info *spi.WSAProtocolInfo) (func() error, error) {
		next, nextInfo, err := l.LoadNext(info, lsp.Layered)
		if err != nil {
			return nil, err
		}
		fmt.Printf("  Sniffer passes entry %d down\n", nextInfo.CatalogEntryId)
		return func() error { return l.Cleanup(next) }, nil
	}))
	l = catalog.NewLoader(view, reg, nil)

	fmt.Println("load the chain:")
	top, err := l.Load(chosen.CatalogEntryId)
	if err != nil {
		fmt.Println(err)
		return
	}
	printLoaded(l)
	fmt.Println("load UDP/IPv4 too:")
	udp, _ := l.Load(catalog.DefaultUDPIPv4)
	printLoaded(l)
	fmt.Println("clean up the chain:")
	_ = l.Cleanup(top)
	printLoaded(l)
	fmt.Println("clean up UDP:")
	_ = l.Cleanup(udp)
	printLoaded(l)
	// Output:
	// 1006 [1005 1001] IFS=false Sniffer over [MSAFD Tcpip [TCP/IP]]
	// 1001 [1001]      IFS=true  MSAFD Tcpip [TCP/IP]
	// 1002 [1002]      IFS=true  MSAFD Tcpip [UDP/IP]
	// 1003 [1003]      IFS=true  MSAFD Tcpip [TCP/IPv6]
	// 1004 [1004]      IFS=true  MSAFD Tcpip [UDP/IPv6]
	// 1005 []          IFS=false Sniffer
	// lint findings: 0
	// socket(AF_INET, SOCK_STREAM, 0) -> 1006 Sniffer over [MSAFD Tcpip [TCP/IP]]
	// load the chain:
	//   WSPStartup Sniffer for entry 1006
	//   WSPStartup loopback for entry 1001
	//   Sniffer passes entry 1001 down
	//   loaded %SystemRoot%\system32\mswsock.dll refs=1
	//   loaded %ProgramFiles%\Sniffer\sniff.dll refs=1
	// load UDP/IPv4 too:
	//   loaded %SystemRoot%\system32\mswsock.dll refs=2
	//   loaded %ProgramFiles%\Sniffer\sniff.dll refs=1
	// clean up the chain:
	//   WSPCleanup Sniffer
	//   loaded %SystemRoot%\system32\mswsock.dll refs=1
	// clean up UDP:
	//   WSPCleanup loopback
}

// Install a layered provider by hand, the way Microsoft's installer does
// before Vista: the hidden layered entry first, then, knowing its id, a
// chain under a second GUID, then the reorder. Lint tells what each step
// still lacks.
func ExampleCatalog_WSCInstallProvider() {
	c := catalog.NewDefault()
	lspGUID := spi.MustParseGUID("{1F3C1A52-7A0E-4C43-9E36-0D9E2D6C1A01}")
	chainGUID := spi.MustParseGUID("{1F3C1A52-7A0E-4C43-9E36-0D9E2D6C1A02}")

	dummy := catalog.DefaultEntries()[0]
	dummy.ProtocolName = "My LSP"
	dummy.ProtocolChain.ChainLen = spi.LAYERED_PROTOCOL
	dummy.ProviderFlags = spi.PFL_HIDDEN
	dummy.ServiceFlags1 &^= spi.XP1_IFS_HANDLES // a non-IFS LSP
	if err := c.WSCInstallProvider(lspGUID, `C:\lsp.dll`, []spi.WSAProtocolInfo{dummy}); err != nil {
		fmt.Println(err)
		return
	}
	var layeredID spi.CatalogEntryId
	all, _ := c.WSCEnumProtocols(nil)
	for _, p := range all {
		if p.ProviderId == lspGUID {
			layeredID = p.CatalogEntryId
		}
	}
	fmt.Println("layered entry:", layeredID)
	fmt.Println(c.Lint())

	tcp, _ := c.View().Entry(catalog.DefaultTCPIPv4)
	chain := tcp
	chain.ProtocolName = "My LSP over [TCP/IP]"
	chain.ProtocolChain = spi.WSAProtocolChain{ChainLen: 2,
		ChainEntries: [spi.MAX_PROTOCOL_CHAIN]spi.CatalogEntryId{layeredID, tcp.CatalogEntryId}}
	// Forgot to clear XP1_IFS_HANDLES, copied from the base entry.
	if err := c.WSCInstallProvider(chainGUID, `C:\lsp.dll`, []spi.WSAProtocolInfo{chain}); err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range c.Lint() {
		fmt.Println(f)
	}
	// Output:
	// layered entry: 1005
	// [unused-layered-entry [1005]: layered entry "My LSP" is named by no chain]
	// ifs-chain-with-non-ifs-element [1006 1005]: chain "My LSP over [TCP/IP]" advertises XP1_IFS_HANDLES but entries [1005] lack it
	// shadowed-chain [1006 1001]: chain "My LSP over [TCP/IP]" comes after its own base entry 1001 "MSAFD Tcpip [TCP/IP]", which matches every triplet it matches; socket() never chooses it
}

// Installing a chain that names an entry that is not installed fails, and
// the catalog is left as it was.
func ExampleCatalog_WSCInstallProvider_badChain() {
	c := catalog.NewDefault()
	chain := catalog.DefaultEntries()[0]
	chain.ProtocolChain = spi.WSAProtocolChain{ChainLen: 2,
		ChainEntries: [spi.MAX_PROTOCOL_CHAIN]spi.CatalogEntryId{4242, catalog.DefaultTCPIPv4}}
	err := c.WSCInstallProvider(spi.MustParseGUID("{00000001-0000-0000-0000-000000000001}"), "x.dll",
		[]spi.WSAProtocolInfo{chain})
	fmt.Println(err)
	fmt.Println(errors.Is(err, spi.WSAEINVAL), c.Serial())
	// Output:
	// WSCInstallProvider: entry 0: chain 1005 names entry 4242 at ChainEntries[0], which is not installed: invalid argument (10022)
	// true 1
}

// Choose picks the first matching entry in catalog order; when nothing
// matches, the last entry scanned says why. Here that is UDP/IPv6, so a raw
// IPv4 socket fails on the address family.
func ExampleView_Choose() {
	v := catalog.NewDefault().View()
	for _, q := range []struct{ af, typ, protocol int32 }{
		{spi.AF_INET6, spi.SOCK_DGRAM, 0},
		{spi.AF_UNSPEC, spi.SOCK_STREAM, spi.IPPROTO_TCP},
		{spi.AF_INET, spi.SOCK_RAW, 0},
		{spi.AF_INET6, spi.SOCK_STREAM, spi.IPPROTO_UDP},
		{99, spi.SOCK_STREAM, 0},
	} {
		p, err := v.Choose(q.af, q.typ, q.protocol, nil)
		if err != nil {
			fmt.Printf("(%d, %d, %d): %v\n", q.af, q.typ, q.protocol, spi.ErrnoOf(err))
			continue
		}
		fmt.Printf("(%d, %d, %d): %d %s\n", q.af, q.typ, q.protocol, p.CatalogEntryId, p.ProtocolName)
	}
	// Output:
	// (23, 2, 0): 1004 MSAFD Tcpip [UDP/IPv6]
	// (0, 1, 6): 1001 MSAFD Tcpip [TCP/IP]
	// (2, 3, 0): address family not supported (10047)
	// (23, 1, 17): socket type not supported (10044)
	// (99, 1, 0): address family not supported (10047)
}

// A provider whose proc table has nil entries is refused, and nothing stays
// loaded.
func ExampleLoader_Load_partialTable() {
	c := catalog.NewDefault()
	reg := catalog.NewRegistry()
	reg.Register(catalog.LoopbackPath, func(v uint16, _ *spi.WSAProtocolInfo, _ spi.WSPUpcallTable, _ spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		t := spi.WSPProcTable{WSPSocket: func(int32, int32, int32, *spi.WSAProtocolInfo, spi.Group, uint32) (spi.Socket, error) {
			return spi.INVALID_SOCKET, spi.WSAENETDOWN
		}}
		return spi.WSPData{Version: v, HighVersion: v}, t, nil // forgot FillNotSupported
	})
	l := catalog.NewLoader(c.View(), reg, nil)
	_, err := l.Load(catalog.DefaultTCPIPv4)
	var le *catalog.LoadError
	if errors.As(err, &le) {
		fmt.Println(le.Errno, len(le.Missing), "entries missing, first", le.Missing[0])
	}
	fmt.Println(len(l.Snapshot().Providers), "providers loaded")
	// Output:
	// invalid procedure table from service provider (10104) 29 entries missing, first WSPAccept
	// 0 providers loaded
}
