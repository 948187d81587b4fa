package clienttest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// Config is one machine of the matrix: the layered providers installed on
// it, the base entries they are layered over, and whether a seeded
// scheduler runs it. It is a plain value; a test may build one of its own
// for [Only].
type Config struct {
	// Name names the configuration: its layout (the layers joined with
	// "+", top first, then the protocols: "Naive/tcp4",
	// "Kit+IFSPassThrough/all"; "NoLSP" for none), and "/seedN" when a
	// seeded scheduler runs it ("Naive/tcp4/seed1").
	Name string
	// Layers names the providers of package wild installed, top first, as
	// a socket's protocol chain lists them. Empty: the loopback base
	// provider alone. A name may repeat only for "Kit": the kit installs
	// the copies below the first under GUIDs of its own.
	Layers []string
	// Over lists the base catalog entries the bottom layer is installed
	// over (catalog.DefaultTCPIPv4 and the others); each layer above is
	// installed over the chains of the one below it.
	Over []spi.CatalogEntryId
	// Seed is the seed of the machine's spitest.Scheduler; 0 runs with no
	// scheduler, the simulator doing its work inline.
	Seed uint64
}

// Layout returns the name of c without its seed ("Naive/tcp4").
func (c Config) Layout() string {
	if c.Seed == 0 {
		return c.Name
	}
	name, _, _ := strings.Cut(c.Name, seedPrefix)
	return name
}

const (
	noLSP      = "NoLSP"
	kitName    = "Kit"
	seedPrefix = "/seed"
)

// The protocol sets a single layer is installed over, by the segment
// that names them. A wild provider gets each set its Over allows.
var protocols = []struct {
	name  string
	needs wild.Protocols
	over  []spi.CatalogEntryId
}{
	{"tcp4", wild.TCP, []spi.CatalogEntryId{catalog.DefaultTCPIPv4}},
	{"tcp6", wild.TCP, []spi.CatalogEntryId{catalog.DefaultTCPIPv6}},
	{"udp", wild.UDP, []spi.CatalogEntryId{catalog.DefaultUDPIPv4, catalog.DefaultUDPIPv6}},
}

// allOver returns every base entry the protocols p cover, the set of the
// "all" layouts.
func allOver(p wild.Protocols) []spi.CatalogEntryId {
	var ids []spi.CatalogEntryId
	for _, pr := range protocols {
		if p&pr.needs != 0 {
			ids = append(ids, pr.over...)
		}
	}
	slices.Sort(ids)
	return ids
}

// layouts returns the matrix without its seeds: no LSP; each provider of
// package wild alone over each protocol set it applies to and over all of
// them; and stacks over every entry all their layers apply to: two and
// three kits, the kit over each IFS provider (IFS under non-IFS, the only
// order Microsoft's installer makes), two kits over it, and each other
// non-IFS provider over the kit.
func layouts() []Config {
	all := wild.All()
	out := []Config{{Name: noLSP}}
	for _, l := range all {
		for _, pr := range protocols {
			if l.Over&pr.needs != 0 {
				out = append(out, layout([]string{l.Name}, pr.name, pr.over))
			}
		}
		out = append(out, layout([]string{l.Name}, "all", allOver(l.Over)))
	}
	kit, ok := wild.Lookup(kitName)
	if !ok {
		return out
	}
	stack := func(top, bottom wild.LSP, names ...string) {
		if over := allOver(top.Over & bottom.Over); len(over) > 0 {
			out = append(out, layout(names, "all", over))
		}
	}
	stack(kit, kit, kitName, kitName)
	stack(kit, kit, kitName, kitName, kitName)
	for _, l := range all {
		switch {
		case l.Name == kitName:
		case l.IFS:
			stack(kit, l, kitName, l.Name)
			stack(kit, l, kitName, kitName, l.Name)
		default:
			stack(l, kit, l.Name, kitName)
		}
	}
	return out
}

// layout makes the configuration of layers over the entries over, with no
// scheduler.
func layout(layers []string, protocol string, over []spi.CatalogEntryId) Config {
	return Config{Name: strings.Join(layers, "+") + "/" + protocol, Layers: layers, Over: over}
}

// seeded returns c run by a scheduler seeded with seed.
func seeded(c Config, seed uint64) Config {
	c.Name = c.Layout() + seedPrefix + strconv.FormatUint(seed, 10)
	c.Seed = seed
	return c
}

// matrix returns every layout with no scheduler, then with each of the
// seeds 1 to seeds.
func matrix(seeds int) []Config {
	var out []Config
	for _, c := range layouts() {
		out = append(out, c)
		for s := 1; s <= seeds; s++ {
			out = append(out, seeded(c, uint64(s)))
		}
	}
	return out
}

// Configs returns the default matrix, in the order [Run] and [Check] run
// it: each layout (see the package documentation) with no scheduler, then
// with the seeded scheduler for each of the seeds 1 and 2, or 1 to N with
// CLIENTTEST_SEEDS=N in the environment. The layouts come from
// wild.All, so a provider added there appears here.
func Configs() []Config { return matrix(envSeeds(defaultSeeds)) }

// Select returns the configurations the patterns name, in matrix order,
// each once. A pattern names a configuration by its name, or by a prefix
// of it that ends at a "/" ("Naive" names every configuration of the Naive
// layer alone, "Naive/tcp4" that layout with and without seeds), and may
// use the wildcards of path.Match, a "*" standing for any run of
// characters within one segment: "Naive/*", "*/tcp6", "*+Kit/all",
// "*/*/seed1". A name with a seed outside the default matrix
// ("Naive/tcp4/seed97") names that configuration, so a seed found by a
// longer run replays alone. A pattern that names nothing is an error.
func Select(patterns ...string) ([]Config, error) {
	return selectFrom(matrix(envSeeds(defaultSeeds)), patterns)
}

func selectFrom(all []Config, patterns []string) ([]Config, error) {
	var out []Config
	seen := map[string]bool{}
	add := func(c Config) {
		if !seen[c.Name] {
			seen[c.Name] = true
			out = append(out, c)
		}
	}
	hits := make([]bool, len(patterns))
	for _, c := range all {
		for i, p := range patterns {
			ok, err := names(p, c.Name)
			if err != nil {
				return nil, fmt.Errorf("clienttest: bad configuration pattern %q: %w", p, err)
			}
			if ok {
				hits[i] = true
				add(c)
			}
		}
	}
	for i, p := range patterns {
		if hits[i] {
			continue
		}
		if c, ok := seedOutside(all, p); ok {
			add(c)
			continue
		}
		return nil, fmt.Errorf("clienttest: no configuration is named %q (Configs lists them)", p)
	}
	return out, nil
}

// names reports whether pattern names the configuration called name: it
// matches name, or a prefix of name that ends before a "/".
func names(pattern, name string) (bool, error) {
	for prefix := name; ; {
		if ok, err := matchName(pattern, prefix); ok || err != nil {
			return ok, err
		}
		i := strings.LastIndexByte(prefix, '/')
		if i < 0 {
			return false, nil
		}
		prefix = prefix[:i]
	}
}

// seedOutside returns the configuration a name with a seed names, when its
// layout is in all and the seed is not.
func seedOutside(all []Config, name string) (Config, bool) {
	i := strings.LastIndex(name, seedPrefix)
	if i < 0 {
		return Config{}, false
	}
	seed, err := strconv.ParseUint(name[i+len(seedPrefix):], 10, 64)
	if err != nil || seed == 0 {
		return Config{}, false
	}
	for _, c := range all {
		if c.Seed == 0 && c.Name == name[:i] {
			return seeded(c, seed), true
		}
	}
	return Config{}, false
}
