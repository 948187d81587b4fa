package clienttest

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

func matchName(pattern, name string) (bool, error) { return path.Match(pattern, name) }

// install installs the layers of c on m, bottom first, each over the
// chains of the one below it, and checks the catalog it leaves.
func install(m *wsspi.Machine, c Config) error {
	if len(c.Layers) == 0 {
		return nil
	}
	if len(c.Over) == 0 {
		return fmt.Errorf("configuration %q names layers but no entry to install them over", c.Name)
	}
	over := c.Over
	copies := 0
	for i := len(c.Layers) - 1; i >= 0; i-- {
		name := c.Layers[i]
		l, ok := wild.Lookup(name)
		if !ok {
			return fmt.Errorf("configuration %q names the layer %q, which package wild does not have", c.Name, name)
		}
		install := l.Install
		if name == kitName && i != slices.Index(c.Layers, kitName) {
			// wild installs its kit under one GUID; a stack of kits needs
			// one provider per layer, so the kits below the top one are
			// copies of it under GUIDs of their own.
			copies++
			install = kitCopy(copies)
		}
		ids, err := install(m, over...)
		if err != nil {
			return fmt.Errorf("configuration %q: installing %s over %v: %w", c.Name, name, over, err)
		}
		over = ids.Chains
	}
	if lint := m.Catalog().Lint(); len(lint) > 0 {
		var ds []string
		for _, l := range lint {
			ds = append(ds, l.String())
		}
		return fmt.Errorf("configuration %q leaves a catalog that fails lint: %s", c.Name, strings.Join(ds, "; "))
	}
	return nil
}

// kitCopy returns the installer of the n-th copy of the kit in a stack.
func kitCopy(n int) func(layered.Machine, ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
	return func(m layered.Machine, over ...spi.CatalogEntryId) (catalog.LSPEntries, error) {
		_, ids, err := layered.Install(m, layered.Options{
			Name: fmt.Sprintf("Kit %d", n),
			GUID: spi.MustParseGUID(fmt.Sprintf("{C11E7E57-0000-4000-8000-%012X}", n)),
			Path: fmt.Sprintf(`C:\clienttest\kit%d.dll`, n),
			Over: over,
		})
		return ids, err
	}
}
