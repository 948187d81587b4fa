package spitest_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/spitest"
	"github.com/wsspi/wsspi/wild"
)

var over = []spi.CatalogEntryId{catalog.DefaultTCPIPv4}

// layeredKit installs a pure forwarding layer of package layered.
func layeredKit(m *wsspi.Machine) (spitest.Target, error) {
	_, ids, err := layered.Install(m, layered.Options{
		Name: "Forwarder",
		GUID: spi.MustParseGUID("{5EC0A7E1-1111-4000-8000-00000000F0D0}"),
		Path: `C:\lsp\forwarder.dll`,
		Over: over,
	})
	return spitest.Target{Entries: ids.Chains}, err
}

// naive installs the naive layer of package wild, a workload for the
// kit's own tests (its findings are checked in package wild).
func naive(m *wsspi.Machine) (spitest.Target, error) {
	_, ids, err := wild.InstallNaive(m, over...)
	return spitest.Target{Entries: ids.Chains}, err
}

// broken installs the layered kit's forwarding layer with one mistake
// planted: ifs sets XP1_IFS_HANDLES on its chain, and wrap rewrites what
// the layer receives at WSPStartup (its upcalls and imports) and what it
// returns (its proc table).
func broken(name string, ifs bool, wrap func(up *spi.WSPUpcallTable, im spi.Imports, t *spi.WSPProcTable)) spitest.Factory {
	return func(m *wsspi.Machine) (spitest.Target, error) {
		path := `C:\lsp\` + name + `.dll`
		ids, err := m.Catalog().InstallLSP(catalog.LSP{
			ProviderId: spi.MustParseGUID("{B0B0B0B0-0000-4000-8000-00000000000" + fmt.Sprint(len(name)%10) + "}"),
			Path:       path, Name: name, IFS: ifs, Over: over,
		})
		if err != nil {
			return spitest.Target{}, err
		}
		p := layered.New(ids.Layered, layered.Config{})
		m.RegisterProvider(path, func(v uint16, info *spi.WSAProtocolInfo, up spi.WSPUpcallTable, im spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
			if wrap != nil {
				wrap(&up, im, nil)
			}
			data, t, err := p.WSPStartup(v, info, up, im)
			if err == nil && wrap != nil {
				wrap(nil, im, &t)
			}
			return data, t, err
		})
		return spitest.Target{Entries: ids.Chains}, nil
	}
}

// The broken providers, each with the rule that must catch it: mistakes
// planted in the kit. (The broken layers of the wild are checked in package
// wild.)
var brokenProviders = []struct {
	name string
	rule string // the rule the named case reports
	cas  string // the case that catches it
	f    spitest.Factory
}{
	{"CompletesTwice", "CompletesOnce", "Immediate", broken("twice", false, func(_ *spi.WSPUpcallTable, im spi.Imports, t *spi.WSPProcTable) {
		if t == nil {
			return
		}
		send := t.WSPSend
		t.WSPSend = func(s spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			n, err := send(s, bufs, flags, ov, cr, th)
			if ov != nil && err == nil {
				// The mistake: it also completes the request itself,
				// marking it in progress again so that ws2_32's check
				// of the convention lets the second completion through.
				ov.SetInProgress()
				_ = im.WPUCompleteOverlappedRequest(s, ov, 0, uint32(len(bufs[0])))
			}
			return n, err
		}
	})},
	{"LeaksHandle", "HandleClose", "Handles", broken("leak", false, func(up *spi.WSPUpcallTable, _ spi.Imports, _ *spi.WSPProcTable) {
		if up != nil {
			// The mistake: WPUCloseSocketHandle is never really called.
			up.WPUCloseSocketHandle = func(spi.Socket) error { return nil }
		}
	})},
	{"ClosesTwice", "HandleClose", "Handles", broken("closetwice", false, func(up *spi.WSPUpcallTable, _ spi.Imports, _ *spi.WSPProcTable) {
		if up == nil {
			return
		}
		closeHandle := up.WPUCloseSocketHandle
		up.WPUCloseSocketHandle = func(s spi.Socket) error {
			err := closeHandle(s)
			// The mistake: it closes the handle again (ws2_32 answers
			// WSAENOTSOCK, which it ignores).
			_ = closeHandle(s)
			return err
		}
	})},
	{"WrongIFSFlag", "IFSFlag", "IFSFlag", broken("ifsflag", true, nil)},
	{"InterceptsBaseHandle", "BaseHandle", "BaseHandle", broken("komodia", false, func(_ *spi.WSPUpcallTable, _ spi.Imports, t *spi.WSPProcTable) {
		if t == nil {
			return
		}
		ioctl := t.WSPIoctl
		t.WSPIoctl = func(s spi.Socket, code uint32, in, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			if code == spi.SIO_BASE_HANDLE && ov == nil && len(out) >= 8 {
				// The mistake: it answers with its own handle.
				binary.LittleEndian.PutUint64(out, uint64(s))
				return 8, nil
			}
			return ioctl(s, code, in, out, ov, cr, th)
		}
	})},
}

// TestCorrectProviders: the loopback base and the layered kit pass every
// case, the workload included. (The providers of package wild, the IFS
// pass-through and the broken layers of the wild among them, are checked
// in that package's tests.)
func TestCorrectProviders(t *testing.T) {
	for name, f := range map[string]spitest.Factory{"Loopback": nil, "LayeredKit": layeredKit} {
		t.Run(name, func(t *testing.T) { spitest.Run(t, f) })
	}
}

// TestBrokenProviders: each broken provider is caught by its named case,
// with the rule it breaks.
func TestBrokenProviders(t *testing.T) {
	for _, b := range brokenProviders {
		t.Run(b.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				err := spitest.Check(b.f, spitest.Bubble(), spitest.Cases(b.cas))
				if err == nil {
					t.Fatalf("case %s found nothing wrong with %s", b.cas, b.name)
				}
				var rules []string
				for _, e := range unjoin(err) {
					var x *spitest.Finding
					if !errors.As(e, &x) {
						t.Fatalf("Check returned %T, not a *Finding: %v", e, e)
					}
					if x.Rule.Name == b.rule {
						t.Logf("caught:\n%v", firstLines(x.Error(), 4))
						return
					}
					rules = append(rules, x.Rule.Name)
				}
				t.Errorf("case %s reported rules %v for %s, not %s:\n%v", b.cas, rules, b.name, b.rule, err)
			})
		})
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func unjoin(err error) []error {
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
