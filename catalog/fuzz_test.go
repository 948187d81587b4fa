package catalog_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// decodeInfos turns fuzz bytes into up to four protocol infos, each from
// one WSAPROTOCOL_INFOW-sized chunk (zero-padded, szProtocol forced to end
// in NUL). ChainLen is folded into -1..8 and chain elements below 1000
// become candidates[v % len], so chains name real entries often enough to
// be accepted.
func decodeInfos(t *testing.T, data []byte, candidates []spi.CatalogEntryId) []spi.WSAProtocolInfo {
	var infos []spi.WSAProtocolInfo
	for len(data) > 0 && len(infos) < 4 {
		chunk := make([]byte, spi.WSAProtocolInfoSize)
		n := copy(chunk, data)
		data = data[n:]
		chunk[spi.WSAProtocolInfoSize-2], chunk[spi.WSAProtocolInfoSize-1] = 0, 0
		var p spi.WSAProtocolInfo
		if err := p.UnmarshalBinary(chunk); err != nil {
			t.Fatalf("UnmarshalBinary of a NUL-terminated chunk: %v", err)
		}
		p.ProtocolChain.ChainLen = int32(uint32(p.ProtocolChain.ChainLen)%10) - 1
		for k, v := range p.ProtocolChain.ChainEntries {
			if v < 1000 {
				p.ProtocolChain.ChainEntries[k] = candidates[int(v)%len(candidates)]
			}
		}
		infos = append(infos, p)
	}
	return infos
}

// encodeInfos is the inverse of decodeInfos for seeds.
func encodeInfos(infos ...spi.WSAProtocolInfo) []byte {
	var out []byte
	for _, p := range infos {
		p.ProtocolChain.ChainLen++ // decodeInfos subtracts one
		b, err := p.MarshalBinary()
		if err != nil {
			panic(err)
		}
		out = append(out, b...)
	}
	return out
}

// checkCatalog checks what must hold of any catalog built without
// deinstalls or updates: ids unique and increasing from 1001 in install
// order, every chain well formed and naming installed entries of the right
// kinds, unused chain slots zero.
func checkCatalog(t *testing.T, c *catalog.Catalog) {
	t.Helper()
	all := enum(t, c)
	byID := map[spi.CatalogEntryId]spi.WSAProtocolInfo{}
	for _, p := range all {
		if _, dup := byID[p.CatalogEntryId]; dup || p.CatalogEntryId < catalog.FirstCatalogEntryId {
			t.Fatalf("id %d repeated or below 1001", p.CatalogEntryId)
		}
		byID[p.CatalogEntryId] = p
	}
	for _, p := range all {
		n := p.ProtocolChain.ChainLen
		if n < 0 || n > spi.MAX_PROTOCOL_CHAIN {
			t.Fatalf("entry %d has ChainLen %d", p.CatalogEntryId, n)
		}
		for _, id := range p.ProtocolChain.ChainEntries[n:] {
			if id != 0 {
				t.Fatalf("entry %d has a nonzero unused chain slot: %v", p.CatalogEntryId, p.ProtocolChain)
			}
		}
		if n == 1 && p.ProtocolChain.ChainEntries[0] != p.CatalogEntryId {
			t.Fatalf("base entry %d names %d", p.CatalogEntryId, p.ProtocolChain.ChainEntries[0])
		}
		if n < 2 {
			continue
		}
		for k, id := range p.ProtocolChain.ChainEntries[:n] {
			e, ok := byID[id]
			if !ok || id >= p.CatalogEntryId ||
				k == 0 && !e.IsLayered() || k == int(n)-1 && !e.IsBase() || k > 0 && k < int(n)-1 && e.IsBase() {
				t.Fatalf("chain %d: bad element %d at %d (installed %v)", p.CatalogEntryId, id, k, ok)
			}
		}
	}
	for _, f := range c.Lint() {
		if len(f.Entries) == 0 || f.Detail == "" {
			t.Fatalf("finding without entries or detail: %+v", f)
		}
	}
}

// FuzzInstallAndChoose feeds arbitrary protocol info lists to
// WSCInstallProvider (twice, so the second list can name entries of the
// first) and arbitrary triplets to Choose. Nothing panics; a failed install
// changes nothing and fails with WSAEINVAL; a successful one appends the
// entries with fresh ids; choices agree with the model.
func FuzzInstallAndChoose(f *testing.F) {
	tcp := catalog.DefaultEntries()[0]
	layer := layered("seed", false)
	chain := chainOver("seed chain", tcp, false, 4, 0) // candidates[4] = 1005, candidates[0] = 1001
	f.Add(encodeInfos(catalog.DefaultEntries()...), []byte{1, 1, 0, 0, 0, 0})
	f.Add(encodeInfos(layer, chain), []byte{1, 1, 1, 2, 2, 2})
	f.Add(encodeInfos(chain, tcp), []byte{0, 0, 0})
	f.Add([]byte{}, []byte{4, 4, 4})
	f.Fuzz(func(t *testing.T, data, queries []byte) {
		c := catalog.NewDefault()
		install(t, c, guid(1), "lsp.dll", layered("L", false)) // 1005
		for round := range 2 {
			before, serial := enum(t, c), c.Serial()
			candidates := idsOf(before)
			next := before[len(before)-1].CatalogEntryId + 1
			candidates = append(candidates, next, next+1, next+2)
			infos := decodeInfos(t, data, candidates)
			g := guid(uint32(10 + round))
			err := c.WSCInstallProvider(g, "fuzz.dll", infos)
			after := enum(t, c)
			if err != nil {
				if spi.ErrnoOf(err) != spi.WSAEINVAL {
					t.Fatalf("install failed with %v, want WSAEINVAL", err)
				}
				if diff := cmp.Diff(before, after); diff != "" || c.Serial() != serial {
					t.Fatalf("failed install changed the catalog (-before +after):\n%s", diff)
				}
				continue
			}
			if len(after) != len(before)+len(infos) || c.Serial() != serial+1 {
				t.Fatalf("install of %d entries: %d -> %d entries, serial %d -> %d", len(infos), len(before), len(after), serial, c.Serial())
			}
			for i, p := range after[len(before):] {
				if p.CatalogEntryId != next+spi.CatalogEntryId(i) || p.ProviderId != g {
					t.Fatalf("new entry %d: id %d provider %v", i, p.CatalogEntryId, p.ProviderId)
				}
			}
		}
		checkCatalog(t, c)
		all := enum(t, c)
		afs := []int32{spi.AF_UNSPEC, spi.AF_INET, spi.AF_INET6, 99, spi.FROM_PROTOCOL_INFO}
		for len(queries) >= 3 {
			q := queries[:3]
			queries = queries[3:]
			af, typ := afs[int(q[0])%len(afs)], int32(q[1]%5)-1
			proto := int32(int8(q[2]))
			var info *spi.WSAProtocolInfo
			if q[0] >= 200 {
				info = &spi.WSAProtocolInfo{CatalogEntryId: catalog.FirstCatalogEntryId + spi.CatalogEntryId(q[1]%16)}
			}
			got, err := c.View().Choose(af, typ, proto, info)
			wantID, wantErr := modelChoose(all, af, typ, proto, info)
			if spi.ErrnoOf(err) != wantErr || got.CatalogEntryId != wantID {
				t.Fatalf("Choose(%d, %d, %d, %v) = %d, %v; model %d, %v", af, typ, proto, info, got.CatalogEntryId, err, wantID, wantErr)
			}
		}
	})
}
