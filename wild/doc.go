// Package wild holds layered service providers (LSPs) that behave like the
// LSPs reported in the wild to have broken real Winsock clients, ready to
// install on a simulated machine and to stack, and the well-behaved layers
// to compare them with. Each provider's documentation names the public
// report it models; docs/facts.md §14 gathers the reports.
//
// Each provider installs over chosen catalog entries in one call (its
// Install function: one chain per entry, at the head of the catalog) and
// returns what a test can read of it: the *layered.Provider of the ones
// built on package layered (their Stats), or a [*Layer] (its [Counts]).
// Install a provider over the chains of another to stack them; a provider
// installs once per machine, since its GUID is its own. [All] lists them
// for a test matrix, as package clienttest does, and [Lookup] finds one by
// name.
//
// # The providers
//
//	Name            IFS  Models                          What breaks
//	Kit             no   (well-behaved)                  nothing: package layered, no hooks
//	IFSPassThrough  yes  (well-behaved; Proxifier)       nothing; ReadFile and WriteFile go around it
//	Naive           no   Microsoft sample's warning      the client's port never hears of a completion
//	EarlyClose      no   Microsoft sample's warning      completions pending at close are lost
//	FailBaseHandle  no   mio#1314, #1315, trio#1659      SIO_BASE_HANDLE fails (WSAEFAULT or WSAEINVAL)
//	OwnBaseHandle   no   (no report; see its doc)        SIO_BASE_HANDLE answers the layer's handle
//	StartupFails    no   libuv#1425                      socket() fails: WSAEPROVIDERFAILEDINIT
//	MissingDLL      -    libuv PR #2205                  socket() fails: WSAEPROVIDERFAILEDINIT
//	OwnExtensions   no   trio#52, quinn#2825             a cached ConnectEx fails on other sockets
//	UDPOnly         no   libuv#1672                      TCP-based IFS checks miss it
//	SyncHang        no   Perl/perl5#6860                 WriteFile under SO_OPENTYPE hangs
//
// The spitest rules each breaks, installed over TCP/IPv4 (see the
// package's tests): Naive CompletesOnce, CloseAborts, Immediate and
// AsyncSelectHandle (it passes the client's window down too, so the
// messages name its lower socket); EarlyClose the same (and, depending on
// how its worker interleaves, Mechanism and PortKey); FailBaseHandle
// BaseHandle; OwnBaseHandle BaseHandle and AFDPoll (AFD poll on the
// "base" handle it gives fails);
// StartupFails and MissingDLL Serves. Kit, IFSPassThrough, OwnExtensions
// and SyncHang pass, the last two because spitest's client neither caches
// extension pointers nor makes sockets without WSA_FLAG_OVERLAPPED; over
// UDP alone spitest has nothing to run.
//
// # Decisions
//
//   - OwnBaseHandle answers SIO_BASE_HANDLE only when it is not
//     overlapped; an overlapped request goes down. FailBaseHandle fails it
//     either way.
//   - An OwnExtensions function called with a socket other than the one it
//     was fetched for fails with WSAENOTSOCK before anything starts; what a
//     real LSP's function does then is undocumented.
//   - SyncHang differs from the kit only on sockets made without
//     WSA_FLAG_OVERLAPPED, where it takes an overlapped send or receive
//     for a blocking one, as the SPI allows for such sockets; the hang
//     itself is ws2_32's redirector waiting for a completion (see package
//     redirect). [Within] turns such a hang into a [*HangError] a test can
//     report.
//   - UDPOnly is the kit installed over UDP entries alone: in the
//     simulator an immediate success on its socket still posts a packet
//     under FILE_SKIP_COMPLETION_PORT_ON_SUCCESS (the promise of the mode
//     broken, KB 2568167), as on any non-IFS layer's socket, because
//     WPUCompleteOverlappedRequest never applies the mode (docs/design.md);
//     the lost completion libuv#1672 reports is not reproduced.
//   - MissingDLL registers no provider at its path, so the loader fails as
//     for a DLL that does not load.
//
// Every type here is safe for concurrent use; each provider makes a fresh
// instance per process that loads it, as package layered does.
package wild
