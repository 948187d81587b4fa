// Package catalog is the Winsock 2 protocol catalog of a simulated machine
// and the loading of the providers it names: the WSC* installation
// functions, protocol chains, the choice of provider for WSASocket, provider
// "DLLs", and per-process WSPStartup/WSPCleanup reference counts.
//
// # The pieces
//
//   - [Catalog] is the machine-wide catalog. Its methods model
//     WSCInstallProvider, WSCDeinstallProvider, WSCUpdateProvider,
//     WSCWriteProviderOrder, WSCSetProviderInfo and the read-side calls.
//     Every change is atomic and raises a change serial.
//   - [View] is the catalog at one serial: what a process sees from its
//     WSAStartup on. It enumerates (WSCEnumProtocols, WSAEnumProtocols),
//     gives provider paths (WSCGetProviderPath, WPUGetProviderPath),
//     chooses the entry for a socket ([View.Choose]) and checks the catalog
//     for known LSP mistakes ([View.Lint]).
//   - [Registry] stands in for the DLL files: a "DLL path" maps to a
//     provider's startup function.
//   - [Loader] is the provider loading of one process: [Loader.Load] for
//     ws2_32, [Loader.LoadNext] for a layered provider reaching the layer
//     below it, [Loader.Cleanup] for each reference, and
//     [Loader.Snapshot] for tests.
//   - [NewDefault] builds the common machine (TCP and UDP over IPv4 and
//     IPv6, served by the loopback provider) and [Catalog.InstallLSP]
//     installs a layered provider over chosen entries as Microsoft's
//     installer does.
//
// Every error is an [*spi.OpError] whose Op is the Win32 function modelled
// ("WSCInstallProvider", "WSASocket", "WSPStartup", ...), wrapping an
// [spi.Errno] and, where it helps, a sentence saying which entry broke which
// rule. Match with errors.Is(err, spi.WSAEINVAL).
//
// # Entries and chains
//
// An entry is an [spi.WSAProtocolInfo]. Its ProtocolChain.ChainLen says
// what it is: 0 (LAYERED_PROTOCOL) a layered provider's hidden entry, which
// never serves a socket by itself; 1 (BASE_PROTOCOL) a base provider, whose
// ChainEntries[0] is its own id; 2 to 7 a protocol chain, whose
// ChainEntries run from the top layer's layered entry down to the base
// entry.
//
// A layered provider cannot know its layered entry's id before installing
// it, and a chain must name it. So installation takes two calls, as in
// Microsoft's installer: WSCInstallProvider of the hidden layered entry
// under the LSP's GUID; enumeration to learn its id; WSCInstallProvider of
// the chains, naming that id, under another GUID (the installer uses one
// fresh GUID per chain). [Catalog.InstallLSP] does all of it, and the
// reordering, at once.
//
// # Install rules
//
// WSCInstallProvider and WSCUpdateProvider reject, with WSAEINVAL, an entry
// that breaks one of these rules, and then change nothing:
//
//   - ChainLen is 0 to MAX_PROTOCOL_CHAIN (WSAPROTOCOLCHAIN, D:wscinstall).
//   - A base entry's ChainEntries[0] is its own id after assignment; 0 is
//     replaced by the id (docs/facts.md §3.4; filling in 0 is a simulator decision,
//     since an installer cannot know the id in advance).
//   - A chain names only entries installed before the call, never itself,
//     and no entry twice (simulator decision: Windows stores what it is
//     given, but such a chain could never load).
//   - A chain's top element is a layered entry, its last a base entry, and
//     each middle one a layered entry or a chain (docs/facts.md §3.4; a middle chain
//     is how Microsoft's installer layers over another LSP's chain).
//     Checking kinds at install is a simulator decision.
//   - ProtocolName fits in WSAPROTOCOL_LEN UTF-16 units, the path in
//     MAX_PATH (the sizes of the registry record).
//   - The provider GUID is not GUID_NULL, the path is not empty, and the
//     list is not (simulator decisions).
//
// Installing a GUID that is already installed fails with WSANO_RECOVERY
// (D:wscinstall). The catalog sets each entry's ProviderId to the GUID
// installed under and its CatalogEntryId to the next id, and clears the
// unused tail of ChainEntries.
//
// What Windows accepts but will misbehave (an IFS chain over a non-IFS
// layer, a chain naming a removed entry, a layered entry no chain uses, a
// chain placed after its base) is for [View.Lint] to report; see [Rule].
//
// # Choosing a provider
//
// [View.Choose] follows docs/design.md: by CatalogEntryId when protocol info is
// given (af, type and protocol, FROM_PROTOCOL_INFO included, are then the
// provider's to check); otherwise the first entry in catalog order matching
// (af, type, protocol), skipping ChainLen 0 entries, where protocol 0
// matches only PFL_MATCHES_PROTOCOL_ZERO entries; the last mismatch decides
// the error.
//
// # Loading
//
// Processes see the catalog as it was at their WSAStartup: a [Loader]
// belongs to one process and reads the [View] the process took then, whose
// [View.Serial] tells how old it is. It loads a provider once per GUID on first use: it looks the
// path up in the [Registry], calls the startup function with version 2.2,
// the entry's protocol info and the upcall table, and checks the answer. A
// startup that fails, panics, or whose path is not registered gives
// WSAEPROVIDERFAILEDINIT; a negotiated version other than 2.0 to 2.2 gives
// WSAEINVALIDPROVIDER; a proc table with nil entries gives
// WSAEINVALIDPROCTABLE naming them (W:errors). After a successful startup
// that is refused, the provider's WSPCleanup is called, as ws2_32 does when
// it dislikes the version, so nothing stays half loaded. Each load is a
// reference; the last [Loader.Cleanup] calls WSPCleanup once.
//
// # Simulator decisions
//
// Where the spec is silent the package decides, and says so in the
// documentation of the call concerned. In short: ids start at 1001 and are
// never reused; the path is per provider GUID (an update sets it for all of
// the provider's entries); WSCUpdateProvider matches infos to entries by
// CatalogEntryId and may update some of a provider's entries; enumeration
// filters by protocol range and treats an empty list as no filter;
// WSCSetProviderInfo accepts only LSP_* bits; Choose by a layered entry's
// id fails with WSAEINVAL; loaded providers are keyed by GUID, so two GUIDs
// with the same path are two loaded providers.
//
// # Concurrency
//
// [Catalog], [View], [Registry] and [Loader] are safe for concurrent use;
// every other type is a plain value.
package catalog
