package wsspi_test

import (
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// The layered variants of BenchmarkOverlappedSend, BenchmarkSendRatios and
// BenchmarkReadFile. Targets (issues 6, 7 and 9), each a ratio within one
// run, read from BenchmarkSendRatios: nonifs-lsp at most 2.5× base,
// ifs-lsp at most 1.2× base, kit-lsp at most 1.2× nonifs-lsp, chain3 at
// most 5× base; and nonifs-lsp at most 4 allocs/op in
// BenchmarkOverlappedSend.
func init() {
	sendSetups = append(sendSetups,
		benchSetup{"nonifs-lsp", kitPair()},
		benchSetup{"ifs-lsp", ifsPair},
		benchSetup{"kit-lsp", kitPair(layered.Config{Hooks: layered.Hooks{
			OnSend: func(_ *layered.Socket, bufs [][]byte) [][]byte { return bufs },
		}})},
		benchSetup{"chain3", kitPair(layered.Config{}, layered.Config{})},
	)
	readFileSetups = append(readFileSetups, benchSetup{"nonifs", kitPair()})
	sendRatios = append(sendRatios,
		struct{ setup, baseline string }{"ifs-lsp", "base"},
		struct{ setup, baseline string }{"nonifs-lsp", "base"},
		struct{ setup, baseline string }{"kit-lsp", "nonifs-lsp"},
		struct{ setup, baseline string }{"chain3", "base"},
	)
}

// kitPair returns a setup whose client goes through one kit layer per
// config (none: one layer with no hooks), stacked over TCP/IPv4: the
// kit, the kit with hooks, and with two configs a three-layer chain (kit
// over kit over the base).
func kitPair(cfg ...layered.Config) func(testing.TB) benchPair {
	depth := max(len(cfg), 1)
	return func(tb testing.TB) benchPair {
		m := wsspi.NewMachine()
		installKits(tb, m, depth, cfg...)
		return lpair(tb, m)
	}
}

// ifsPair is a client through an IFS pass-through layer.
func ifsPair(tb testing.TB) benchPair {
	m := wsspi.NewMachine()
	if _, _, err := wild.InstallIFSPassThrough(m, catalog.DefaultTCPIPv4); err != nil {
		tb.Fatal(err)
	}
	return lpair(tb, m)
}

// lpair connects a client through m's first chain to a base server.
func lpair(tb testing.TB, m *wsspi.Machine) benchPair {
	k := newLConn(tb, m, spi.WSA_FLAG_OVERLAPPED)
	return benchPair{cth: k.cth, c: k.c, sth: k.sth, s: k.s}
}
