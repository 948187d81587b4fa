package wild

import (
	"encoding/binary"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// FailBaseHandleBefore returns the Before hook of a layer that refuses
// SIO_BASE_HANDLE with code, blocking or overlapped, and lets every other
// call through: SIO_BSP_HANDLE, SIO_BSP_HANDLE_SELECT and
// SIO_BSP_HANDLE_POLL still reach the layer below, the fallbacks mio and
// wepoll use (docs/facts.md §15.3). code is WSAEFAULT for the products of
// the reports (docs/facts.md §14.1); WSAEINVAL is what a client sees where
// the code is not known at all (Windows XP, tokio-rs/tokio#6684).
func FailBaseHandleBefore(code spi.Errno) func(c *layered.Call) layered.Verdict {
	return func(c *layered.Call) layered.Verdict {
		if c.Op == layered.OpIoctl && c.Code == spi.SIO_BASE_HANDLE {
			return layered.Fail(code)
		}
		return layered.Pass()
	}
}

// InstallFailBaseHandle installs, over the entries over, FailBaseHandle: a
// non-IFS layer built on package layered whose Before hook is
// [FailBaseHandleBefore](code). It models the LSPs that break
// SIO_BASE_HANDLE on purpose: Qustodio's qproxy64.dll, which logs that it
// disables the code, so that mio 0.7 fails to register a socket with
// WSAEFAULT (tokio-rs/mio#1314, #1315), and the Astrill VPN's ASProxy64,
// under which trio's I/O manager fails to start with the same error
// (python-trio/trio#1659; docs/facts.md §14.1). mio's fix (tokio-rs/mio#1316)
// and wepoll's fall back to the SIO_BSP_HANDLE_* codes, which this layer
// passes. It returns the provider (its Stats) and its entries.
func InstallFailBaseHandle(m layered.Machine, code spi.Errno, over ...spi.CatalogEntryId) (*layered.Provider, catalog.LSPEntries, error) {
	return layered.Install(m, layered.Options{
		Name: failBaseID.name, GUID: failBaseID.guid, Path: failBaseID.path, Over: over,
		Config: layered.Config{Hooks: layered.Hooks{Before: FailBaseHandleBefore(code)}},
	})
}

// OwnBaseHandleBefore is the Before hook of a layer that answers
// SIO_BASE_HANDLE (not overlapped) with its own handle, the one the client
// holds, instead of letting the base provider answer, and lets every other
// call through, SIO_BSP_HANDLE_POLL included. An output buffer smaller
// than a SOCKET fails with WSAEFAULT, as the documented code does
// (docs/facts.md §6.3).
func OwnBaseHandleBefore(c *layered.Call) layered.Verdict {
	if c.Op != layered.OpIoctl || c.Code != spi.SIO_BASE_HANDLE || c.Overlapped {
		return layered.Pass()
	}
	if len(c.Out) < socketSize {
		return layered.Fail(spi.WSAEFAULT)
	}
	putSocket(c.Out, c.Socket.Handle())
	return layered.Complete(socketSize)
}

// putSocket writes s into out as a SOCKET is written.
func putSocket(out []byte, s spi.Socket) {
	binary.LittleEndian.PutUint64(out, uint64(s))
}

// InstallOwnBaseHandle installs, over the entries over, OwnBaseHandle: a
// non-IFS layer built on package layered whose Before hook is
// [OwnBaseHandleBefore]. It models the worst way an LSP can intercept
// SIO_BASE_HANDLE: a client that asks for the base socket gets the layer's
// handle back, with success, so it has no reason to try a fallback, and the
// AFD poll it then issues on that handle reaches no AFD socket. wepoll's
// source says the LSPs built on Komodia's redirector intercept the ioctl on
// purpose, to keep programs from going around them, and leave
// SIO_BSP_HANDLE_POLL alone (docs/facts.md §14.1, §15.3); but its comment
// sits where the ioctl has failed, which FailBaseHandle models. No public
// report found says an LSP answers with its own handle and success: this
// provider is the variant no fallback survives, for a client to see why
// AFD pollers check the answer. It returns the provider (its Stats) and
// its entries.
func InstallOwnBaseHandle(m layered.Machine, over ...spi.CatalogEntryId) (*layered.Provider, catalog.LSPEntries, error) {
	return layered.Install(m, layered.Options{
		Name: ownBaseID.name, GUID: ownBaseID.guid, Path: ownBaseID.path, Over: over,
		Config: layered.Config{Hooks: layered.Hooks{Before: OwnBaseHandleBefore}},
	})
}

// InstallKit installs, over the entries over, Kit: the well-behaved
// non-IFS layer of package layered with no hooks, a pure forwarding layer
// after Microsoft's non-IFS sample. It returns the provider (its Stats)
// and its entries.
func InstallKit(m layered.Machine, over ...spi.CatalogEntryId) (*layered.Provider, catalog.LSPEntries, error) {
	return layered.Install(m, layered.Options{Name: kitID.name, GUID: kitID.guid, Path: kitID.path, Over: over})
}

// socketSize is the size of a SOCKET in an ioctl's output, 8 bytes, as the
// simulator's providers write it on every host.
const socketSize = 8
