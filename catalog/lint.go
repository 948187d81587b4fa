package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wsspi/wsspi/spi"
)

// Rule names a check of [View.Lint]; it models no Win32 item. A Rule is a
// plain string value, safe to share.
type Rule string

// The rules [View.Lint] checks. Windows installs catalogs that break them;
// each is a reason an LSP misbehaves once installed.
const (
	// RuleIFSChainNonIFSElement: a chain advertises XP1_IFS_HANDLES while
	// one of its layers (or its base) does not. Clients will treat the
	// non-IFS layer's handles as IFS handles (ReadFile, WriteFile, skip
	// completion port on success) and lose I/O. Microsoft's installer
	// clears the bit on every chain of a non-IFS LSP (docs/facts.md §8.2).
	RuleIFSChainNonIFSElement Rule = "ifs-chain-with-non-ifs-element"
	// RuleIFSAboveNonIFS: an IFS layer sits above a non-IFS layer or base
	// in a chain. An IFS layer passes the lower handle up, which here is
	// not an IFS handle; Microsoft's installer always places an IFS LSP
	// below every non-IFS layer (docs/facts.md §8.2).
	RuleIFSAboveNonIFS Rule = "ifs-layer-above-non-ifs"
	// RuleMissingEntry: a chain names an entry that is no longer in the
	// catalog, typically after WSCDeinstallProvider of a lower layer.
	// Sockets on the chain fail to load the next layer.
	RuleMissingEntry Rule = "chain-names-missing-entry"
	// RuleWrongKind: a chain names an entry of the wrong kind for its
	// position (the top must be a layered entry, the bottom a base entry, a
	// middle one a layered entry or a chain). Install rejects this; an
	// update of the named entry can bring it about.
	RuleWrongKind Rule = "chain-element-wrong-kind"
	// RuleUnusedLayer: a layered (ChainLen 0) entry that no chain names.
	// It can never serve a socket; usually the chains were removed and the
	// hidden entry was left behind.
	RuleUnusedLayer Rule = "unused-layered-entry"
	// RuleShadowedChain: a chain placed after an entry that matches every
	// (af, type, protocol) the chain matches, typically its own base
	// entry. socket() never chooses the chain; only an explicit protocol
	// info reaches it. Installers reorder the catalog so chains come first.
	// A chain built on this one (naming it, or its top layer, below its own
	// top) is meant to come first and is not counted.
	RuleShadowedChain Rule = "shadowed-chain"
)

// Finding is one problem [View.Lint] found. It is a plain value; Lint
// returns fresh ones that the caller owns.
type Finding struct {
	// Rule is the rule broken.
	Rule Rule
	// Entries are the entries involved: first the entry the finding is
	// about (a chain, or the unused layered entry), then the entries that
	// make it so.
	Entries []spi.CatalogEntryId
	// Detail says what is wrong in words.
	Detail string
}

// String formats the finding as "rule [ids]: detail".
func (f Finding) String() string {
	ids := make([]string, len(f.Entries))
	for i, id := range f.Entries {
		ids[i] = fmt.Sprint(id)
	}
	return fmt.Sprintf("%s [%s]: %s", f.Rule, strings.Join(ids, " "), f.Detail)
}

// Lint checks the view against the rules listed with [Rule] and returns what
// it finds, in catalog order, rules in the order they are declared for each
// entry. A catalog that breaks none gives an empty slice. Lint is separate
// from installation because Windows installs such catalogs without
// complaint; the findings say why they will misbehave.
func (v *View) Lint() []Finding {
	out := []Finding{}
	used := map[spi.CatalogEntryId]bool{}
	for i := range v.entries {
		p := &v.entries[i]
		if !p.IsChain() {
			continue
		}
		ids := p.ProtocolChain.Entries()
		for _, id := range ids[:len(ids)-1] {
			used[id] = true
		}
		out = append(out, v.lintChain(p)...)
		if f, ok := v.shadowed(i); ok {
			out = append(out, f)
		}
	}
	for i := range v.entries {
		p := &v.entries[i]
		if p.IsLayered() && !used[p.CatalogEntryId] {
			out = append(out, Finding{RuleUnusedLayer, []spi.CatalogEntryId{p.CatalogEntryId},
				fmt.Sprintf("layered entry %q is named by no chain", p.ProtocolName)})
		}
	}
	return out
}

// lintChain applies the rules about one chain's elements.
func (v *View) lintChain(p *spi.WSAProtocolInfo) []Finding {
	var out []Finding
	ids := p.ProtocolChain.Entries()
	type element struct {
		id spi.CatalogEntryId
		e  spi.WSAProtocolInfo
	}
	var present []element
	for k, id := range ids {
		e, ok := v.Entry(id)
		if !ok {
			out = append(out, Finding{RuleMissingEntry, []spi.CatalogEntryId{p.CatalogEntryId, id},
				fmt.Sprintf("chain %q names entry %d at ChainEntries[%d], which is not installed", p.ProtocolName, id, k)})
			continue
		}
		if want := elementKind(k, len(ids)); !want.accepts(&e) {
			out = append(out, Finding{RuleWrongKind, []spi.CatalogEntryId{p.CatalogEntryId, id},
				fmt.Sprintf("chain %q: ChainEntries[%d] = %d is %s, want %s", p.ProtocolName, k, id, kindOf(&e), want)})
		}
		present = append(present, element{id, e})
	}
	if p.IFS() {
		var bad []spi.CatalogEntryId
		for _, el := range present {
			if !el.e.IFS() {
				bad = append(bad, el.id)
			}
		}
		if len(bad) > 0 {
			out = append(out, Finding{RuleIFSChainNonIFSElement, append([]spi.CatalogEntryId{p.CatalogEntryId}, bad...),
				fmt.Sprintf("chain %q advertises XP1_IFS_HANDLES but entries %v lack it", p.ProtocolName, bad)})
		}
	}
	for a, upper := range present {
		if !upper.e.IFS() || upper.e.IsBase() {
			continue
		}
		for _, lower := range present[a+1:] {
			if !lower.e.IFS() {
				out = append(out, Finding{RuleIFSAboveNonIFS, []spi.CatalogEntryId{p.CatalogEntryId, upper.id, lower.id},
					fmt.Sprintf("chain %q: IFS layer %d sits above entry %d (%s), which is not IFS", p.ProtocolName, upper.id, lower.id, kindOf(&lower.e))})
				break
			}
		}
	}
	return out
}

// shadowed reports whether the chain at position i is shadowed by an earlier
// entry that matches every triplet it matches.
func (v *View) shadowed(i int) (Finding, bool) {
	c := &v.entries[i]
	base := c.ProtocolChain.ChainEntries[c.ProtocolChain.ChainLen-1]
	for j := range v.entries[:i] {
		e := &v.entries[j]
		if e.IsLayered() || !covers(e, c) || stackedOn(e, c) {
			continue
		}
		what := "entry"
		if e.CatalogEntryId == base {
			what = "its own base entry"
		}
		return Finding{RuleShadowedChain, []spi.CatalogEntryId{c.CatalogEntryId, e.CatalogEntryId},
			fmt.Sprintf("chain %q comes after %s %d %q, which matches every triplet it matches; socket() never chooses it",
				c.ProtocolName, what, e.CatalogEntryId, e.ProtocolName)}, true
	}
	return Finding{}, false
}

// stackedOn reports whether e is a chain built on c: one that names c, or
// c's top layer, below its own top. Such a chain is meant to hide c.
func stackedOn(e, c *spi.WSAProtocolInfo) bool {
	if !e.IsChain() {
		return false
	}
	below := e.ProtocolChain.Entries()[1:]
	return slices.Contains(below, c.CatalogEntryId) || slices.Contains(below, c.ProtocolChain.ChainEntries[0])
}

// covers reports whether every (af, type, protocol) request that matches c
// under [View.Choose] also matches e.
func covers(e, c *spi.WSAProtocolInfo) bool {
	if e.AddressFamily != c.AddressFamily || e.SocketType != c.SocketType {
		return false
	}
	if c.ProviderFlags&spi.PFL_MATCHES_PROTOCOL_ZERO != 0 && e.ProviderFlags&spi.PFL_MATCHES_PROTOCOL_ZERO == 0 {
		return false
	}
	if c.ProtocolMaxOffset < 0 { // c matches no nonzero protocol
		return true
	}
	return int64(e.Protocol) <= int64(c.Protocol) &&
		int64(c.Protocol)+int64(c.ProtocolMaxOffset) <= int64(e.Protocol)+int64(e.ProtocolMaxOffset)
}
