package spitest_test

import (
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
	"github.com/wsspi/wsspi/wild"
)

// kitOver installs a forwarding kit layer named name over the entries
// below and returns its chains.
func kitOver(m *wsspi.Machine, name string, n uint16, below []spi.CatalogEntryId) ([]spi.CatalogEntryId, error) {
	g := spi.MustParseGUID("{5EC0A7E1-2222-4000-8000-00000000F0D0}")
	g.Data2 = n
	_, ids, err := layered.Install(m, layered.Options{Name: name, GUID: g, Path: `C:\lsp\` + name + `.dll`, Over: below})
	return ids.Chains, err
}

// kits is a factory for a stack of depth kit layers over TCP/IPv4, or over
// the IFS pass-through when overIFS is set.
func kits(depth int, overIFS bool) spitest.Factory {
	return func(m *wsspi.Machine) (spitest.Target, error) {
		below := over
		if overIFS {
			_, ids, err := wild.InstallIFSPassThrough(m, over...)
			if err != nil {
				return spitest.Target{}, err
			}
			below = ids.Chains
		}
		for i := range depth {
			var err error
			if below, err = kitOver(m, "kit"+string(rune('a'+i)), uint16(i+1), below); err != nil {
				return spitest.Target{}, err
			}
		}
		return spitest.Target{Entries: below}, nil
	}
}

// TestCorrectStacks runs every case over stacks of layers, where a layer's
// lower socket is another layer's: kit over kit, three kits, and a kit over
// the IFS pass-through. (An IFS layer cannot sit over a non-IFS one: its
// WPUModifyIFSHandle refuses the handles of WPUCreateSocketHandle.)
func TestCorrectStacks(t *testing.T) {
	for _, st := range []struct {
		name string
		f    spitest.Factory
	}{
		{"KitOverKit", kits(2, false)},
		{"ThreeKits", kits(3, false)},
		{"KitOverIFSPassThrough", kits(1, true)},
		{"KitOverKitOverIFSPassThrough", kits(2, true)},
	} {
		t.Run(st.name, func(t *testing.T) { spitest.Run(t, st.f) })
	}
}
