package catalog_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// Provider "DLLs" of the state machine, and what loading each gives.
const (
	goodA       = "good-a.dll"
	goodB       = "good-b.dll"
	failingDLL  = "fail.dll"
	panickyDLL  = "panic.dll"
	partialDLL  = "partial.dll"
	missingDLL  = "missing.dll" // never registered
	unknownID   = spi.CatalogEntryId(99999)
	guidsInPool = 6
)

var dllPaths = []string{goodA, goodB, failingDLL, panickyDLL, partialDLL, missingDLL}

// loadErr is what loading a provider at each path gives (0: success).
var loadErr = map[string]spi.Errno{
	goodA:      0,
	goodB:      0,
	failingDLL: spi.WSAEPROVIDERFAILEDINIT,
	panickyDLL: spi.WSAEPROVIDERFAILEDINIT,
	partialDLL: spi.WSAEINVALIDPROCTABLE,
	missingDLL: spi.WSAEPROVIDERFAILEDINIT,
}

// catalogMachine drives a Catalog and one process's Loader, and keeps a
// model of both.
type catalogMachine struct {
	c    *catalog.Catalog
	reg  *catalog.Registry
	good []*fakeProvider // the providers at goodA and goodB

	// The model of the catalog.
	entries []spi.WSAProtocolInfo // in catalog order
	paths   map[spi.GUID]string
	nextID  spi.CatalogEntryId
	serial  uint64

	// The current process: its loader, the catalog it saw at startup, and
	// the model of its loaded providers.
	loader    *catalog.Loader
	procView  []spi.WSAProtocolInfo
	procPaths map[spi.GUID]string
	refs      map[spi.GUID]int
	held      []*catalog.Provider // one per reference taken
	released  []*catalog.Provider // providers whose last reference was dropped
}

func newCatalogMachine() *catalogMachine {
	m := &catalogMachine{
		c:      catalog.New(),
		reg:    catalog.NewRegistry(),
		good:   []*fakeProvider{{}, {}},
		paths:  map[spi.GUID]string{},
		nextID: catalog.FirstCatalogEntryId,
	}
	m.reg.Register(goodA, m.good[0].startup)
	m.reg.Register(goodB, m.good[1].startup)
	m.reg.Register(failingDLL, (&fakeProvider{err: spi.WSASYSNOTREADY}).startup)
	m.reg.Register(panickyDLL, (&fakeProvider{panicVal: "boom"}).startup)
	m.reg.Register(partialDLL, (&fakeProvider{partial: true}).startup)
	m.startProcess()
	return m
}

func (m *catalogMachine) startProcess() {
	m.loader = catalog.NewLoader(m.c.View(), m.reg, nil)
	m.procView = slices.Clone(m.entries)
	m.procPaths = map[spi.GUID]string{}
	for g, p := range m.paths {
		m.procPaths[g] = p
	}
	m.refs = map[spi.GUID]int{}
	m.held, m.released = nil, nil
}

func (m *catalogMachine) ids(keep func(*spi.WSAProtocolInfo) bool) []spi.CatalogEntryId {
	var ids []spi.CatalogEntryId
	for i := range m.entries {
		if keep(&m.entries[i]) {
			ids = append(ids, m.entries[i].CatalogEntryId)
		}
	}
	return ids
}

func (m *catalogMachine) modelEntry(id spi.CatalogEntryId) (spi.WSAProtocolInfo, bool) {
	i := slices.IndexFunc(m.entries, func(p spi.WSAProtocolInfo) bool { return p.CatalogEntryId == id })
	if i < 0 {
		return spi.WSAProtocolInfo{}, false
	}
	return m.entries[i], true
}

// genInfo draws a valid entry: layered, base, or a chain over entries that
// are installed now.
func (m *catalogMachine) genInfo(t *rapid.T, label string) spi.WSAProtocolInfo {
	p := spi.WSAProtocolInfo{
		Version:           2,
		AddressFamily:     rapid.SampledFrom([]int32{spi.AF_INET, spi.AF_INET6, 99}).Draw(t, label+"af"),
		SocketType:        rapid.SampledFrom([]int32{spi.SOCK_STREAM, spi.SOCK_DGRAM, spi.SOCK_RAW}).Draw(t, label+"type"),
		Protocol:          rapid.SampledFrom([]int32{spi.IPPROTO_TCP, spi.IPPROTO_UDP, 50}).Draw(t, label+"protocol"),
		ProtocolMaxOffset: int32(rapid.IntRange(0, 2).Draw(t, label+"offset")),
		ProtocolName:      label,
	}
	if rapid.Bool().Draw(t, label+"zero") {
		p.ProviderFlags |= spi.PFL_MATCHES_PROTOCOL_ZERO
	}
	if rapid.Bool().Draw(t, label+"hidden") {
		p.ProviderFlags |= spi.PFL_HIDDEN
	}
	if rapid.Bool().Draw(t, label+"ifs") {
		p.ServiceFlags1 |= spi.XP1_IFS_HANDLES
	}
	layers := m.ids(func(p *spi.WSAProtocolInfo) bool { return p.IsLayered() })
	bases := m.ids(func(p *spi.WSAProtocolInfo) bool { return p.IsBase() })
	kind := rapid.IntRange(0, 2).Draw(t, label+"kind")
	switch {
	case kind == 0:
		p.ProtocolChain.ChainLen = spi.LAYERED_PROTOCOL
	case kind == 2 && len(layers) > 0 && len(bases) > 0:
		chain := []spi.CatalogEntryId{rapid.SampledFrom(layers).Draw(t, label+"top")}
		middles := m.ids(func(q *spi.WSAProtocolInfo) bool {
			return (q.IsLayered() || q.IsChain()) && q.CatalogEntryId != chain[0]
		})
		if len(middles) > 0 && rapid.Bool().Draw(t, label+"middle?") {
			chain = append(chain, rapid.SampledFrom(middles).Draw(t, label+"middle"))
		}
		chain = append(chain, rapid.SampledFrom(bases).Draw(t, label+"base"))
		p.ProtocolChain.ChainLen = int32(len(chain))
		copy(p.ProtocolChain.ChainEntries[:], chain)
	default:
		p.ProtocolChain.ChainLen = spi.BASE_PROTOCOL
	}
	return p
}

func (m *catalogMachine) install(t *rapid.T) {
	g := guid(uint32(rapid.IntRange(1, guidsInPool).Draw(t, "guid")))
	path := rapid.SampledFrom(dllPaths).Draw(t, "path")
	n := rapid.IntRange(1, 3).Draw(t, "n")
	infos := make([]spi.WSAProtocolInfo, n)
	for i := range infos {
		infos[i] = m.genInfo(t, fmt.Sprintf("e%d.", i))
	}
	err := m.c.WSCInstallProvider(g, path, infos)
	if _, installed := m.paths[g]; installed {
		checkRapidErr(t, err, spi.WSANO_RECOVERY)
		return
	}
	if err != nil {
		t.Fatalf("WSCInstallProvider of valid entries: %v", err)
	}
	for i, p := range infos {
		p.ProviderId = g
		p.CatalogEntryId = m.nextID + spi.CatalogEntryId(i)
		if p.IsBase() {
			p.ProtocolChain.ChainEntries[0] = p.CatalogEntryId
		}
		m.entries = append(m.entries, p)
	}
	m.nextID += spi.CatalogEntryId(n)
	m.paths[g] = path
	m.serial++
}

func (m *catalogMachine) installBad(t *rapid.T) {
	var free []spi.GUID
	for n := uint32(1); n <= guidsInPool; n++ {
		if _, ok := m.paths[guid(n)]; !ok {
			free = append(free, guid(n))
		}
	}
	if len(free) == 0 {
		t.Skip("every GUID is installed")
	}
	g := rapid.SampledFrom(free).Draw(t, "guid")
	n := rapid.IntRange(1, 3).Draw(t, "n")
	infos := make([]spi.WSAProtocolInfo, n)
	for i := range infos {
		infos[i] = m.genInfo(t, fmt.Sprintf("e%d.", i))
	}
	at := rapid.IntRange(0, n-1).Draw(t, "at")
	bad := &infos[at]
	self := m.nextID + spi.CatalogEntryId(at)
	switch rapid.IntRange(0, 4).Draw(t, "defect") {
	case 0:
		bad.ProtocolChain.ChainLen = rapid.SampledFrom([]int32{-1, 8, 100}).Draw(t, "chainLen")
	case 1:
		bad.ProtocolChain = spi.WSAProtocolChain{ChainLen: 2, ChainEntries: [7]spi.CatalogEntryId{self + 500, self + 501}}
	case 2:
		bad.ProtocolChain = spi.WSAProtocolChain{ChainLen: 2, ChainEntries: [7]spi.CatalogEntryId{self, self + 1}}
	case 3:
		bad.ProtocolChain = spi.WSAProtocolChain{ChainLen: 1, ChainEntries: [7]spi.CatalogEntryId{self + 1}}
	case 4:
		infos = nil
	}
	checkRapidErr(t, m.c.WSCInstallProvider(g, goodA, infos), spi.WSAEINVAL)
}

func (m *catalogMachine) deinstall(t *rapid.T) {
	g := guid(uint32(rapid.IntRange(1, guidsInPool).Draw(t, "guid")))
	err := m.c.WSCDeinstallProvider(g)
	if _, ok := m.paths[g]; !ok {
		checkRapidErr(t, err, spi.WSAEINVAL)
		return
	}
	if err != nil {
		t.Fatalf("WSCDeinstallProvider: %v", err)
	}
	m.entries = slices.DeleteFunc(m.entries, func(p spi.WSAProtocolInfo) bool { return p.ProviderId == g })
	delete(m.paths, g)
	m.serial++
}

func (m *catalogMachine) update(t *rapid.T) {
	var installed []spi.GUID
	for n := uint32(1); n <= guidsInPool; n++ {
		if _, ok := m.paths[guid(n)]; ok {
			installed = append(installed, guid(n))
		}
	}
	if len(installed) == 0 {
		t.Skip("nothing installed")
	}
	g := rapid.SampledFrom(installed).Draw(t, "guid")
	path := rapid.SampledFrom(dllPaths).Draw(t, "path")
	var infos []spi.WSAProtocolInfo
	for _, p := range m.entries {
		if p.ProviderId != g || (len(infos) > 0 && !rapid.Bool().Draw(t, fmt.Sprintf("update %d", p.CatalogEntryId))) {
			continue
		}
		p.ProtocolName += "'"
		p.ProviderFlags ^= spi.PFL_HIDDEN
		p.ServiceFlags1 ^= spi.XP1_IFS_HANDLES
		if !p.IsChain() {
			p.SocketType = rapid.SampledFrom([]int32{spi.SOCK_STREAM, spi.SOCK_DGRAM}).Draw(t, "type")
		}
		infos = append(infos, p)
	}
	err := m.c.WSCUpdateProvider(g, path, infos)
	for _, p := range infos {
		if p.IsChain() && !m.chainValid(&p) {
			checkRapidErr(t, err, spi.WSAEINVAL)
			return
		}
	}
	if err != nil {
		t.Fatalf("WSCUpdateProvider: %v", err)
	}
	for _, p := range infos {
		m.entries[slices.IndexFunc(m.entries, func(q spi.WSAProtocolInfo) bool { return q.CatalogEntryId == p.CatalogEntryId })] = p
	}
	m.paths[g] = path
	m.serial++
}

// chainValid is the model's install rule for a chain: every element is
// installed and of the kind its position needs.
func (m *catalogMachine) chainValid(p *spi.WSAProtocolInfo) bool {
	ids := p.ProtocolChain.Entries()
	for k, id := range ids {
		e, ok := m.modelEntry(id)
		switch {
		case !ok, k == 0 && !e.IsLayered(), k == len(ids)-1 && !e.IsBase(),
			k > 0 && k < len(ids)-1 && e.IsBase():
			return false
		}
	}
	return true
}

func (m *catalogMachine) reorder(t *rapid.T) {
	order := rapid.Permutation(m.ids(func(*spi.WSAProtocolInfo) bool { return true })).Draw(t, "order")
	if err := m.c.WSCWriteProviderOrder(order); err != nil {
		t.Fatalf("WSCWriteProviderOrder(%v): %v", order, err)
	}
	byID := map[spi.CatalogEntryId]spi.WSAProtocolInfo{}
	for _, p := range m.entries {
		byID[p.CatalogEntryId] = p
	}
	for i, id := range order {
		m.entries[i] = byID[id]
	}
	m.serial++
}

func (m *catalogMachine) reorderBad(t *rapid.T) {
	order := m.ids(func(*spi.WSAProtocolInfo) bool { return true })
	switch rapid.IntRange(0, 2).Draw(t, "defect") {
	case 0:
		if len(order) == 0 {
			t.Skip("nothing to drop")
		}
		order = slices.Delete(order, 0, 1)
	case 1:
		if len(order) == 0 {
			t.Skip("nothing to repeat")
		}
		order[len(order)-1] = order[0]
		if len(order) == 1 {
			order = append(order, order[0])
		}
	case 2:
		order = append(order, unknownID)
	}
	checkRapidErr(t, m.c.WSCWriteProviderOrder(order), spi.WSAEINVAL)
}

func (m *catalogMachine) choose(t *rapid.T) {
	af := rapid.SampledFrom([]int32{spi.AF_UNSPEC, spi.AF_INET, spi.AF_INET6, 99, spi.FROM_PROTOCOL_INFO}).Draw(t, "af")
	typ := rapid.SampledFrom([]int32{0, spi.SOCK_STREAM, spi.SOCK_DGRAM, spi.SOCK_RAW}).Draw(t, "type")
	proto := rapid.SampledFrom([]int32{0, spi.IPPROTO_TCP, spi.IPPROTO_UDP, 50, 52, 53}).Draw(t, "protocol")
	var info *spi.WSAProtocolInfo
	if rapid.Bool().Draw(t, "with info") {
		info = &spi.WSAProtocolInfo{CatalogEntryId: rapid.SampledFrom(append(m.ids(func(*spi.WSAProtocolInfo) bool { return true }), unknownID)).Draw(t, "info")}
	}
	got, err := m.c.View().Choose(af, typ, proto, info)
	wantID, wantErr := modelChoose(m.entries, af, typ, proto, info)
	if wantErr != 0 {
		checkRapidErr(t, err, wantErr)
		return
	}
	if err != nil || got.CatalogEntryId != wantID {
		t.Fatalf("Choose(%d, %d, %d, %v) = %d, %v; want %d", af, typ, proto, info, got.CatalogEntryId, err, wantID)
	}
}

// modelChoose is the model's provider choice: the spec's rules, written out.
func modelChoose(entries []spi.WSAProtocolInfo, af, typ, proto int32, info *spi.WSAProtocolInfo) (spi.CatalogEntryId, spi.Errno) {
	if info != nil {
		for _, p := range entries {
			if p.CatalogEntryId == info.CatalogEntryId && p.ProtocolChain.ChainLen != 0 {
				return p.CatalogEntryId, 0
			}
		}
		return 0, spi.WSAEINVAL
	}
	if af == -1 || typ == -1 || proto == -1 {
		return 0, spi.WSAEINVAL
	}
	last := spi.WSAEINVAL
	for _, p := range entries {
		if p.ProtocolChain.ChainLen == 0 {
			continue
		}
		if af != 0 && p.AddressFamily != af {
			last = spi.WSAEAFNOSUPPORT
			continue
		}
		if typ != 0 && p.SocketType != typ {
			last = spi.WSAESOCKTNOSUPPORT
			continue
		}
		if proto == 0 && p.ProviderFlags&spi.PFL_MATCHES_PROTOCOL_ZERO != 0 ||
			proto != 0 && p.Protocol <= proto && proto <= p.Protocol+p.ProtocolMaxOffset {
			return p.CatalogEntryId, 0
		}
		last = spi.WSAEPROTONOSUPPORT
	}
	return 0, last
}

func (m *catalogMachine) newProcess(t *rapid.T) {
	for _, p := range m.held {
		if err := m.loader.Cleanup(p); err != nil {
			t.Fatalf("Cleanup at process end: %v", err)
		}
	}
	m.startProcess()
}

func (m *catalogMachine) load(t *rapid.T) {
	ids := []spi.CatalogEntryId{unknownID}
	for _, p := range m.procView {
		ids = append(ids, p.CatalogEntryId)
	}
	id := rapid.SampledFrom(ids).Draw(t, "id")
	p, err := m.loader.Load(id)
	i := slices.IndexFunc(m.procView, func(p spi.WSAProtocolInfo) bool { return p.CatalogEntryId == id })
	if i < 0 {
		checkRapidErr(t, err, spi.WSAEINVAL)
		return
	}
	g := m.procView[i].ProviderId
	if m.refs[g] == 0 {
		if want := loadErr[m.procPaths[g]]; want != 0 {
			checkRapidErr(t, err, want)
			return
		}
	}
	if err != nil {
		t.Fatalf("Load(%d): %v", id, err)
	}
	if p.ProviderId != g {
		t.Fatalf("Load(%d) gave provider %v, want %v", id, p.ProviderId, g)
	}
	m.refs[g]++
	m.held = append(m.held, p)
}

func (m *catalogMachine) cleanup(t *rapid.T) {
	if len(m.held) == 0 {
		t.Skip("nothing loaded")
	}
	i := rapid.IntRange(0, len(m.held)-1).Draw(t, "which")
	p := m.held[i]
	m.held = slices.Delete(m.held, i, i+1)
	if err := m.loader.Cleanup(p); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if m.refs[p.ProviderId]--; m.refs[p.ProviderId] == 0 {
		delete(m.refs, p.ProviderId)
		m.released = append(m.released, p)
	}
}

func (m *catalogMachine) staleCleanup(t *rapid.T) {
	if len(m.released) == 0 {
		t.Skip("nothing released")
	}
	p := rapid.SampledFrom(m.released).Draw(t, "stale")
	checkRapidErr(t, m.loader.Cleanup(p), spi.WSANOTINITIALISED)
}

// check is the invariant, run after every step.
func (m *catalogMachine) check(t *rapid.T) {
	got, err := m.c.WSCEnumProtocols(nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.entries == nil {
		m.entries = []spi.WSAProtocolInfo{}
	}
	if diff := cmp.Diff(m.entries, got); diff != "" {
		t.Fatalf("catalog differs from the model (-model +catalog):\n%s", diff)
	}
	seen := map[spi.CatalogEntryId]bool{}
	for _, p := range got {
		if seen[p.CatalogEntryId] || p.CatalogEntryId < catalog.FirstCatalogEntryId || p.CatalogEntryId >= m.nextID {
			t.Fatalf("id %d repeated or outside [1001, %d)", p.CatalogEntryId, m.nextID)
		}
		seen[p.CatalogEntryId] = true
	}
	visible, _ := m.c.WSAEnumProtocols(nil)
	want := []spi.WSAProtocolInfo{}
	for _, p := range m.entries {
		if p.ProtocolChain.ChainLen != 0 && p.ProviderFlags&spi.PFL_HIDDEN == 0 {
			want = append(want, p)
		}
	}
	if diff := cmp.Diff(want, visible); diff != "" {
		t.Fatalf("WSAEnumProtocols (-model +catalog):\n%s", diff)
	}
	if m.c.Serial() != m.serial {
		t.Fatalf("serial %d, model %d", m.c.Serial(), m.serial)
	}
	for n := uint32(1); n <= guidsInPool; n++ {
		path, err := m.c.WSCGetProviderPath(guid(n))
		if wantPath, ok := m.paths[guid(n)]; path != wantPath || ok != (err == nil) {
			t.Fatalf("path of %v = %q, %v; model %q, %v", guid(n), path, err, wantPath, ok)
		}
	}
	refs := map[spi.GUID]int{}
	for _, lp := range m.loader.Snapshot().Providers {
		refs[lp.ProviderId] = lp.Refs
	}
	if diff := cmp.Diff(m.refs, refs); diff != "" {
		t.Fatalf("reference counts (-model +loader):\n%s", diff)
	}
	live := 0
	for _, f := range m.good {
		s, c := f.counts()
		live += s - c
	}
	if live != len(m.refs) {
		t.Fatalf("%d good providers started and not cleaned up, %d loaded", live, len(m.refs))
	}
}

func checkRapidErr(t *rapid.T, err error, want spi.Errno) {
	t.Helper()
	if spi.ErrnoOf(err) != want {
		t.Fatalf("error %v, want %v", err, want)
	}
}

// TestCatalogStateMachine runs random sequences of installs, deinstalls,
// updates, reorders, choices, loads and cleanups against a model, checking
// enumeration order, id uniqueness, paths, choice results and reference
// counts after every step. Run more with -rapid.checks=N.
func TestCatalogStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := newCatalogMachine()
		t.Repeat(map[string]func(*rapid.T){
			"install":      m.install,
			"installBad":   m.installBad,
			"deinstall":    m.deinstall,
			"update":       m.update,
			"reorder":      m.reorder,
			"reorderBad":   m.reorderBad,
			"choose":       m.choose,
			"newProcess":   m.newProcess,
			"load":         m.load,
			"cleanup":      m.cleanup,
			"staleCleanup": m.staleCleanup,
			"":             m.check,
		})
	})
}
