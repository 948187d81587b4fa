package catalog

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"unicode/utf16"

	"github.com/wsspi/wsspi/spi"
)

// FirstCatalogEntryId is the id the first entry installed in a new catalog
// gets. Later entries count up from it; an id is never given out twice, even
// after its entry is removed (simulator decision, after the registry's
// Next_Catalog_Entry_ID counter that ReactOS starts at 1001).
const FirstCatalogEntryId spi.CatalogEntryId = 1001

// lspCategoryMask holds every LSP_* bit that ws2spi.h defines.
const lspCategoryMask = spi.LSP_SYSTEM | spi.LSP_INSPECTOR | spi.LSP_REDIRECTOR |
	spi.LSP_PROXY | spi.LSP_FIREWALL | spi.LSP_INBOUND_MODIFY |
	spi.LSP_OUTBOUND_MODIFY | spi.LSP_CRYPTO_COMPRESS | spi.LSP_LOCAL_CACHE

// Catalog is the machine-wide Winsock 2 protocol catalog, the one the
// registry holds under Protocol_Catalog9 on Windows. Its methods model the
// WSC* installation functions and read the catalog as it is now; a process
// reads it through the [View] it took at its WSAStartup.
//
// Every change is all or nothing: a call that fails leaves the catalog as it
// was, and a call that succeeds publishes a new [View] with the change serial
// one higher.
//
// The zero value is an empty catalog ready for use. A Catalog is safe for
// concurrent use.
type Catalog struct {
	mu  sync.Mutex // guards cur and serializes changes
	cur *View      // the catalog as it is now; never modified once published
}

// New returns an empty catalog whose first entry will get
// [FirstCatalogEntryId].
func New() *Catalog { return &Catalog{cur: emptyView()} }

// View returns the catalog as it is now. A process takes it at WSAStartup
// and keeps it: later changes to the catalog do not show in it, as
// WSCInstallProvider documents ("new entries are seen only by ws2_32
// instances that call WSAStartup after the install").
func (c *Catalog) View() *View {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.viewLocked()
}

func (c *Catalog) viewLocked() *View {
	if c.cur == nil {
		c.cur = emptyView()
	}
	return c.cur
}

// Serial returns the change serial (Serial_Access_Num): it starts at 0 and
// grows by one with every successful change. A process whose [View.Serial]
// is lower is looking at an old catalog.
func (c *Catalog) Serial() uint64 { return c.View().Serial() }

// change applies f to a private copy of the catalog and publishes the copy,
// with the serial one higher, only if f succeeds. f returns errors already
// wrapped in [spi.OpError].
func (c *Catalog) change(f func(d *View) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.viewLocked().clone()
	if err := f(d); err != nil {
		return err
	}
	d.serial++
	d.reindex()
	c.cur = d
	return nil
}

// WSCInstallProvider models WSCInstallProvider: it installs infos, in order,
// at the end of the catalog as entries of the provider providerId whose "DLL"
// is path, and returns nothing but an error; enumerate to learn the ids, as
// Microsoft's installer does.
//
// The catalog assigns each entry the next CatalogEntryId and sets its
// ProviderId to providerId, whatever the infos held. A base entry
// (ChainLen 1) may leave ChainEntries[0] zero; the catalog fills in the
// entry's own id. The unused tail of ChainEntries is cleared. The rules an
// entry must follow are listed in the package documentation ("Install
// rules"); a chain may name only entries already in the catalog, so a
// layered provider installs its hidden ChainLen 0 entry first, reads its id,
// and installs the chains that name it in a second call under a second GUID
// (or uses [Catalog.InstallLSP], which does both).
//
// Errors: WSANO_RECOVERY if providerId is already installed (D:wscinstall);
// WSAEINVAL for GUID_NULL, an empty or over-long path, an empty list, or an
// entry that breaks an install rule. On error nothing is installed.
func (c *Catalog) WSCInstallProvider(providerId spi.GUID, path string, infos []spi.WSAProtocolInfo) error {
	return c.change(func(d *View) error {
		_, err := d.install(providerId, path, infos)
		return spi.NewOpError("WSCInstallProvider", 0, err)
	})
}

// WSCDeinstallProvider models WSCDeinstallProvider: it removes every entry
// of the provider providerId, with its path and LSP categories. Chains that
// name the removed entries stay; [View.Lint] reports them. Processes that
// already took a [View] keep seeing the provider (D:wscdeinstall).
//
// Errors: WSAEINVAL if the provider is not installed.
func (c *Catalog) WSCDeinstallProvider(providerId spi.GUID) error {
	return c.change(func(d *View) error {
		if _, ok := d.paths[providerId]; !ok {
			return spi.NewOpError("WSCDeinstallProvider", 0,
				fmt.Errorf("provider %v is not installed: %w", providerId, spi.WSAEINVAL))
		}
		d.entries = slices.DeleteFunc(d.entries, func(p spi.WSAProtocolInfo) bool { return p.ProviderId == providerId })
		delete(d.paths, providerId)
		delete(d.categories, providerId)
		return nil
	})
}

// WSCUpdateProvider models WSCUpdateProvider: it replaces entries of the
// provider providerId in place and sets the provider's path. Each info names
// the entry it replaces by CatalogEntryId; that entry must belong to the
// provider, and no entry may be named twice. Entries not named keep their
// information. Updated entries keep their id and their place in the
// catalog order, and follow the same install rules as new ones (a chain may
// name any entry in the catalog, as it is after the update, except itself).
// The path is per provider, so it changes for all of the provider's entries
// (simulator decisions: Microsoft documents only that the call "modifies"
// the provider).
//
// Errors: WSAEINVAL if the provider is not installed, the list is empty, an
// info names an entry of another provider or none, or an entry breaks an
// install rule. On error nothing changes.
func (c *Catalog) WSCUpdateProvider(providerId spi.GUID, path string, infos []spi.WSAProtocolInfo) error {
	return c.change(func(d *View) error {
		return spi.NewOpError("WSCUpdateProvider", 0, d.update(providerId, path, infos))
	})
}

// WSCWriteProviderOrder models WSCWriteProviderOrder: ids becomes the new
// catalog order, which decides both enumeration order and which entry
// [View.Choose] picks. ids must hold every entry of the catalog exactly once
// (D:wscorder).
//
// Errors: WSAEINVAL for a list that misses an entry, repeats one, or names an
// id that is not installed. On error the order is unchanged.
func (c *Catalog) WSCWriteProviderOrder(ids []spi.CatalogEntryId) error {
	return c.change(func(d *View) error {
		return spi.NewOpError("WSCWriteProviderOrder", 0, d.reorder(ids))
	})
}

// WSCSetProviderInfo models WSCSetProviderInfo for
// ProviderInfoLspCategories: it records the LSP_* category bits of the
// provider providerId.
//
// Errors: ERROR_CALL_NOT_IMPLEMENTED for ProviderInfoAudit (D:wscgetinfo);
// WSAEINVAL for any other info type or for bits that are not LSP_*
// categories (simulator decision); WSAEINVALIDPROVIDER if the provider is not
// installed.
func (c *Catalog) WSCSetProviderInfo(providerId spi.GUID, infoType int, categories uint32) error {
	return c.change(func(d *View) error {
		err := checkInfoType(infoType)
		if err == nil && categories&^lspCategoryMask != 0 {
			err = fmt.Errorf("category bits %#x are not LSP_* categories: %w", categories&^lspCategoryMask, spi.WSAEINVAL)
		}
		if err == nil {
			err = d.checkProvider(providerId)
		}
		if err != nil {
			return spi.NewOpError("WSCSetProviderInfo", 0, err)
		}
		d.categories[providerId] = categories
		return nil
	})
}

// WSCGetProviderInfo models WSCGetProviderInfo; see [View.WSCGetProviderInfo].
func (c *Catalog) WSCGetProviderInfo(providerId spi.GUID, infoType int) (uint32, error) {
	return c.View().WSCGetProviderInfo(providerId, infoType)
}

// WSCEnumProtocols models WSCEnumProtocols on the catalog as it is now; see
// [View.WSCEnumProtocols].
func (c *Catalog) WSCEnumProtocols(protocols []int32) ([]spi.WSAProtocolInfo, error) {
	return c.View().WSCEnumProtocols(protocols)
}

// WSAEnumProtocols models WSAEnumProtocols on the catalog as it is now; see
// [View.WSAEnumProtocols].
func (c *Catalog) WSAEnumProtocols(protocols []int32) ([]spi.WSAProtocolInfo, error) {
	return c.View().WSAEnumProtocols(protocols)
}

// WSCGetProviderPath models WSCGetProviderPath on the catalog as it is now;
// see [View.WSCGetProviderPath].
func (c *Catalog) WSCGetProviderPath(providerId spi.GUID) (string, error) {
	return c.View().WSCGetProviderPath(providerId)
}

// Lint checks the catalog as it is now; see [View.Lint].
func (c *Catalog) Lint() []Finding { return c.View().Lint() }

// View is the protocol catalog as it was at one change serial: what a
// process loaded at its WSAStartup and keeps until it starts up again. Its
// methods are the read side of the catalog: enumeration, provider paths,
// provider choice for WSASocket, and [View.Lint].
//
// A View never changes. It is safe for concurrent use.
type View struct {
	serial     uint64
	nextID     spi.CatalogEntryId
	entries    []spi.WSAProtocolInfo // in catalog order
	byID       map[spi.CatalogEntryId]int
	paths      map[spi.GUID]string // one "DLL path" per installed provider
	categories map[spi.GUID]uint32 // LSP categories set by WSCSetProviderInfo
}

func emptyView() *View {
	return &View{
		nextID:     FirstCatalogEntryId,
		byID:       map[spi.CatalogEntryId]int{},
		paths:      map[spi.GUID]string{},
		categories: map[spi.GUID]uint32{},
	}
}

func (v *View) clone() *View {
	return &View{
		serial:     v.serial,
		nextID:     v.nextID,
		entries:    slices.Clone(v.entries),
		byID:       maps.Clone(v.byID),
		paths:      maps.Clone(v.paths),
		categories: maps.Clone(v.categories),
	}
}

// reindex rebuilds byID after entries changed.
func (v *View) reindex() {
	clear(v.byID)
	for i := range v.entries {
		v.byID[v.entries[i].CatalogEntryId] = i
	}
}

// Serial returns the change serial of the catalog this view shows.
func (v *View) Serial() uint64 { return v.serial }

// Entry returns the entry with the given id, as WSCEnumProtocols would show
// it, and whether there is one.
func (v *View) Entry(id spi.CatalogEntryId) (spi.WSAProtocolInfo, bool) {
	i, ok := v.byID[id]
	if !ok {
		return spi.WSAProtocolInfo{}, false
	}
	return v.entries[i], true
}

// WSCEnumProtocols models WSCEnumProtocols: every entry in catalog order,
// including PFL_HIDDEN and ChainLen 0 (layered) entries (D:wscenum). With a
// non-empty protocols list, only entries whose protocol range
// [Protocol, Protocol+ProtocolMaxOffset] holds one of the listed protocols
// are returned. The Go list needs no terminating zero; a nil or empty list
// means no filter (simulator decisions). The error is always nil; it keeps
// the shape of the Win32 call.
func (v *View) WSCEnumProtocols(protocols []int32) ([]spi.WSAProtocolInfo, error) {
	return v.enum(protocols, func(*spi.WSAProtocolInfo) bool { return true }), nil
}

// WSAEnumProtocols models WSAEnumProtocols: like [View.WSCEnumProtocols] but
// only base and chain entries that are not PFL_HIDDEN (D:wscenum).
func (v *View) WSAEnumProtocols(protocols []int32) ([]spi.WSAProtocolInfo, error) {
	return v.enum(protocols, func(p *spi.WSAProtocolInfo) bool { return !p.IsLayered() && !p.Hidden() }), nil
}

func (v *View) enum(protocols []int32, keep func(*spi.WSAProtocolInfo) bool) []spi.WSAProtocolInfo {
	out := []spi.WSAProtocolInfo{}
	for i := range v.entries {
		p := &v.entries[i]
		if keep(p) && (len(protocols) == 0 || slices.ContainsFunc(protocols, func(proto int32) bool { return inRange(p, proto) })) {
			out = append(out, *p)
		}
	}
	return out
}

// WSCGetProviderPath models WSCGetProviderPath: the "DLL path" the provider
// was installed with, environment strings such as %SystemRoot% unexpanded.
//
// Errors: WSAEINVAL if the provider is not in the view (D:wpupath).
func (v *View) WSCGetProviderPath(providerId spi.GUID) (string, error) {
	path, err := v.providerPath(providerId)
	return path, spi.NewOpError("WSCGetProviderPath", 0, err)
}

// WPUGetProviderPath models WPUGetProviderPath, the upcall twin of
// [View.WSCGetProviderPath] that a provider calls; it fails the same way.
// Its method value fits [spi.WSPUpcallTable].WPUGetProviderPath.
func (v *View) WPUGetProviderPath(providerId spi.GUID) (string, error) {
	path, err := v.providerPath(providerId)
	return path, spi.NewOpError("WPUGetProviderPath", 0, err)
}

func (v *View) providerPath(providerId spi.GUID) (string, error) {
	path, ok := v.paths[providerId]
	if !ok {
		return "", fmt.Errorf("provider %v is not installed: %w", providerId, spi.WSAEINVAL)
	}
	return path, nil
}

// WSCGetProviderInfo models WSCGetProviderInfo for
// ProviderInfoLspCategories: the LSP_* category bits recorded for the
// provider, 0 if none were set.
//
// Errors: ERROR_CALL_NOT_IMPLEMENTED for ProviderInfoAudit, WSAEINVAL for
// any other unknown info type, WSAEINVALIDPROVIDER if the provider is not
// installed (D:wscgetinfo).
func (v *View) WSCGetProviderInfo(providerId spi.GUID, infoType int) (uint32, error) {
	err := checkInfoType(infoType)
	if err == nil {
		err = v.checkProvider(providerId)
	}
	if err != nil {
		return 0, spi.NewOpError("WSCGetProviderInfo", 0, err)
	}
	return v.categories[providerId], nil
}

func checkInfoType(infoType int) error {
	switch infoType {
	case spi.ProviderInfoLspCategories:
		return nil
	case spi.ProviderInfoAudit:
		return fmt.Errorf("ProviderInfoAudit: %w", spi.ERROR_CALL_NOT_IMPLEMENTED)
	}
	return fmt.Errorf("unknown provider info type %d: %w", infoType, spi.WSAEINVAL)
}

func (v *View) checkProvider(providerId spi.GUID) error {
	if _, ok := v.paths[providerId]; !ok {
		return fmt.Errorf("provider %v is not installed: %w", providerId, spi.WSAEINVALIDPROVIDER)
	}
	return nil
}

// inRange reports whether protocol lies in the entry's protocol range.
func inRange(p *spi.WSAProtocolInfo, protocol int32) bool {
	lo := int64(p.Protocol)
	return lo <= int64(protocol) && int64(protocol) <= lo+int64(p.ProtocolMaxOffset)
}

// install appends infos as entries of providerId and returns their ids. It
// changes d only when it succeeds.
func (d *View) install(providerId spi.GUID, path string, infos []spi.WSAProtocolInfo) ([]spi.CatalogEntryId, error) {
	if err := checkProviderArgs(providerId, path, infos); err != nil {
		return nil, err
	}
	if _, ok := d.paths[providerId]; ok {
		return nil, fmt.Errorf("provider %v is already installed: %w", providerId, spi.WSANO_RECOVERY)
	}
	if uint64(d.nextID)+uint64(len(infos)) > 1<<32-1 {
		return nil, fmt.Errorf("catalog entry ids are used up: %w", spi.WSANO_RECOVERY)
	}
	added := make([]spi.WSAProtocolInfo, len(infos))
	ids := make([]spi.CatalogEntryId, len(infos))
	for i, info := range infos {
		info.ProviderId = providerId
		info.CatalogEntryId = d.nextID + spi.CatalogEntryId(i)
		if err := checkEntry(&info, d.Entry); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		added[i], ids[i] = info, info.CatalogEntryId
	}
	d.entries = append(d.entries, added...)
	d.nextID += spi.CatalogEntryId(len(infos))
	d.paths[providerId] = path
	d.reindex()
	return ids, nil
}

// update replaces entries of providerId in place; see WSCUpdateProvider.
func (d *View) update(providerId spi.GUID, path string, infos []spi.WSAProtocolInfo) error {
	if err := checkProviderArgs(providerId, path, infos); err != nil {
		return err
	}
	if _, ok := d.paths[providerId]; !ok {
		return fmt.Errorf("provider %v is not installed: %w", providerId, spi.WSAEINVAL)
	}
	entries := slices.Clone(d.entries)
	seen := map[spi.CatalogEntryId]bool{}
	for i, info := range infos {
		id := info.CatalogEntryId
		at, ok := d.byID[id]
		switch {
		case !ok || entries[at].ProviderId != providerId:
			return fmt.Errorf("entry %d: catalog entry %d is not an entry of provider %v: %w", i, id, providerId, spi.WSAEINVAL)
		case seen[id]:
			return fmt.Errorf("entry %d: catalog entry %d is named twice: %w", i, id, spi.WSAEINVAL)
		}
		seen[id] = true
		info.ProviderId = providerId
		entries[at] = info
	}
	lookup := func(id spi.CatalogEntryId) (spi.WSAProtocolInfo, bool) {
		at, ok := d.byID[id]
		if !ok {
			return spi.WSAProtocolInfo{}, false
		}
		return entries[at], true
	}
	for i := range infos {
		at := d.byID[infos[i].CatalogEntryId]
		if err := checkEntry(&entries[at], lookup); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
	}
	d.entries = entries
	d.paths[providerId] = path
	return nil
}

// reorder sets the catalog order; see WSCWriteProviderOrder.
func (d *View) reorder(ids []spi.CatalogEntryId) error {
	if len(ids) != len(d.entries) {
		return fmt.Errorf("order lists %d ids, the catalog holds %d entries: %w", len(ids), len(d.entries), spi.WSAEINVAL)
	}
	entries := make([]spi.WSAProtocolInfo, 0, len(ids))
	seen := make(map[spi.CatalogEntryId]bool, len(ids))
	for i, id := range ids {
		at, ok := d.byID[id]
		switch {
		case !ok:
			return fmt.Errorf("order[%d]: catalog entry %d is not installed: %w", i, id, spi.WSAEINVAL)
		case seen[id]:
			return fmt.Errorf("order[%d]: catalog entry %d is listed twice: %w", i, id, spi.WSAEINVAL)
		}
		seen[id] = true
		entries = append(entries, d.entries[at])
	}
	d.entries = entries
	d.reindex()
	return nil
}

// checkProviderArgs checks the arguments install and update share.
func checkProviderArgs(providerId spi.GUID, path string, infos []spi.WSAProtocolInfo) error {
	switch {
	case providerId.IsZero():
		return fmt.Errorf("provider id is GUID_NULL: %w", spi.WSAEINVAL)
	case path == "":
		return fmt.Errorf("empty provider path: %w", spi.WSAEINVAL)
	case len(utf16.Encode([]rune(path))) > spi.MAX_PATH:
		return fmt.Errorf("provider path longer than MAX_PATH: %w", spi.WSAEINVAL)
	case len(infos) == 0:
		return fmt.Errorf("empty protocol info list: %w", spi.WSAEINVAL)
	}
	return nil
}

// checkEntry checks one entry about to be stored, whose CatalogEntryId is
// already assigned, against the install rules, and normalizes its chain:
// a base entry's zero ChainEntries[0] becomes its own id and the unused tail
// of ChainEntries is cleared. lookup finds the other entries of the catalog.
func checkEntry(p *spi.WSAProtocolInfo, lookup func(spi.CatalogEntryId) (spi.WSAProtocolInfo, bool)) error {
	if n := len(utf16.Encode([]rune(p.ProtocolName))); n > spi.WSAPROTOCOL_LEN {
		return fmt.Errorf("protocol name of %d UTF-16 units exceeds WSAPROTOCOL_LEN: %w", n, spi.WSAEINVAL)
	}
	chain := &p.ProtocolChain
	n := chain.ChainLen
	if n < spi.LAYERED_PROTOCOL || n > spi.MAX_PROTOCOL_CHAIN {
		return fmt.Errorf("ChainLen %d is outside 0..%d: %w", n, spi.MAX_PROTOCOL_CHAIN, spi.WSAEINVAL)
	}
	clear(chain.ChainEntries[n:])
	switch n {
	case spi.LAYERED_PROTOCOL:
		return nil
	case spi.BASE_PROTOCOL:
		switch chain.ChainEntries[0] {
		case 0:
			chain.ChainEntries[0] = p.CatalogEntryId
		case p.CatalogEntryId:
		default:
			return fmt.Errorf("base entry %d has ChainEntries[0] = %d, not its own id: %w",
				p.CatalogEntryId, chain.ChainEntries[0], spi.WSAEINVAL)
		}
		return nil
	}
	for k, id := range chain.ChainEntries[:n] {
		if id == p.CatalogEntryId {
			return fmt.Errorf("chain %d names itself at ChainEntries[%d]: %w", p.CatalogEntryId, k, spi.WSAEINVAL)
		}
		if slices.Contains(chain.ChainEntries[:k], id) {
			return fmt.Errorf("chain %d names entry %d twice: %w", p.CatalogEntryId, id, spi.WSAEINVAL)
		}
		e, ok := lookup(id)
		if !ok {
			return fmt.Errorf("chain %d names entry %d at ChainEntries[%d], which is not installed: %w",
				p.CatalogEntryId, id, k, spi.WSAEINVAL)
		}
		if want := elementKind(k, int(n)); !want.accepts(&e) {
			return fmt.Errorf("chain %d: ChainEntries[%d] = %d is %s, want %s: %w",
				p.CatalogEntryId, k, id, kindOf(&e), want, spi.WSAEINVAL)
		}
	}
	return nil
}

// kind is what a chain position may hold.
type kind int

const (
	kindLayered      kind = iota // a ChainLen 0 entry
	kindBase                     // a ChainLen 1 entry
	kindLayerOrChain             // a ChainLen 0 entry or a chain (Microsoft's installer's convention)
)

// elementKind returns what position k of a chain of length n must hold: the
// top is the layer's own hidden entry, the bottom the base provider, and a
// middle position a lower layer, named either by its hidden entry (as
// WSPStartup documents) or by its chain entry (as Microsoft's installer
// writes it).
func elementKind(k, n int) kind {
	switch k {
	case 0:
		return kindLayered
	case n - 1:
		return kindBase
	}
	return kindLayerOrChain
}

func (k kind) accepts(p *spi.WSAProtocolInfo) bool {
	switch k {
	case kindLayered:
		return p.IsLayered()
	case kindBase:
		return p.IsBase()
	}
	return p.IsLayered() || p.IsChain()
}

func (k kind) String() string {
	switch k {
	case kindLayered:
		return "a layered entry"
	case kindBase:
		return "a base entry"
	}
	return "a layered entry or a chain"
}

func kindOf(p *spi.WSAProtocolInfo) string {
	switch {
	case p.IsLayered():
		return "a layered entry"
	case p.IsBase():
		return "a base entry"
	}
	return "a chain"
}
