package wsspi_test

import (
	"testing"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
)

// A layer whose hooks only delay changes no result, only when the client
// hears of it: the conformance kit must find it as correct as a layer
// without hooks, every completion held for a while, inline and under its
// seeded schedulers. (spitest.Check, not Run: in a synctest bubble the kit
// expects every notification without time passing, and these come a
// millisecond later.)
func TestAKitThatDelaysEveryCompletionConforms(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance kit waits for real-time delays")
	}
	err := spitest.Check(func(m *wsspi.Machine) (spitest.Target, error) {
		_, ids, err := layered.Install(m, layered.Options{
			Name: "Delaying", GUID: kitGUID(7), Path: `C:\lsp\delay.dll`,
			Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
			Config: layered.Config{Hooks: layered.Hooks{
				Before: func(*layered.Call) layered.Verdict { return layered.Delay(time.Millisecond) },
				After:  func(*layered.Call) layered.Verdict { return layered.Delay(time.Millisecond) },
			}},
		})
		return spitest.Target{Entries: ids.Chains}, err
	})
	if err != nil {
		t.Error(err)
	}
}
