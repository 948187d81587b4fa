package wild

import "github.com/wsspi/wsspi/spi"

// identity is what a provider of the package installs under: its GUID,
// its "DLL path" and its name.
type identity struct {
	guid spi.GUID
	path string
	name string
}

// The providers' identities. The GUIDs differ only in their last group,
// so a catalog listing reads as the package's.
var (
	kitID            = identity{guid: KitGUID, path: KitPath, name: "Kit"}
	ifsPassThroughID = newIdentity(0x02, "ifspassthrough", "IFS pass-through LSP")
	naiveID          = newIdentity(0x03, "naive", "Naive LSP")
	earlyCloseID     = newIdentity(0x04, "earlyclose", "Early-close LSP")
	failBaseID       = newIdentity(0x05, "failbase", "SIO_BASE_HANDLE-failing LSP")
	ownBaseID        = newIdentity(0x06, "ownbase", "SIO_BASE_HANDLE-answering LSP")
	startupFailsID   = newIdentity(0x07, "startupfails", "Startup-failing LSP")
	missingDLLID     = newIdentity(0x08, "missing", "Missing-DLL LSP")
	ownExtensionsID  = newIdentity(0x09, "ownext", "Per-socket extensions LSP")
	udpOnlyID        = newIdentity(0x0A, "udponly", "UDP-only LSP")
	syncHangID       = newIdentity(0x0B, "synchang", "Synchronous-hang LSP")
)

func newIdentity(n byte, file, name string) identity {
	g := spi.MustParseGUID("{3D5A7F00-0001-4000-8000-00000000AA00}")
	g.Data4[7] = n
	return identity{guid: g, path: `C:\wild\` + file + `.dll`, name: name}
}
