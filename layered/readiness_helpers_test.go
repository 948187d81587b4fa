package layered_test

import (
	"errors"
	"net/netip"
	"sync"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// capture is a machine that records the proc table each provider's
// WSPStartup returns, so a test can call a layer's WSPSelect or
// WSPAsyncSelect directly (the client calls select, WSAAsyncSelect and
// their kin are not on this branch's root API).
type capture struct {
	*wsspi.Machine
	mu     sync.Mutex
	tables map[string]spi.WSPProcTable // by DLL path, the latest load
}

func (c *capture) RegisterProvider(path string, startup spi.WSPStartupFunc) {
	c.Machine.RegisterProvider(path, func(v uint16, info *spi.WSAProtocolInfo, up spi.WSPUpcallTable, im spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		data, t, err := startup(v, info, up, im)
		if err == nil {
			c.mu.Lock()
			c.tables[path] = t
			c.mu.Unlock()
		}
		return data, t, err
	})
}

func (c *capture) table(tb testing.TB, path string) spi.WSPProcTable {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.tables[path]
	if !ok {
		tb.Fatalf("%s was not loaded", path)
	}
	return t
}

// fakeReg is a WSPAsyncSelect registration the fake lower layer holds.
type fakeReg struct {
	HWnd   spi.HWND
	Msg    uint32
	Events int32
}

// fakeCall is one readiness call the fake lower layer saw.
type fakeCall struct {
	Func   string
	Socket spi.Socket
	HWnd   spi.HWND // WSPAsyncSelect
	Msg    uint32   // WSPAsyncSelect
	Event  spi.Handle
	Events int32
}

// fakeLower is an IFS layer between the kit and loopback that passes
// everything to loopback but implements WSPAsyncSelect, WSPEventSelect and
// WSPEnumNetworkEvents itself, which loopback does not: it records them,
// and the test makes it post WSAAsyncSelect messages (post) as a base
// provider would. Its WSPAccept gives an accepted socket the listener's
// registration and posts FD_WRITE for it before returning, as a base
// provider may.
type fakeLower struct {
	mu     sync.Mutex
	up     spi.WSPUpcallTable
	regs   map[spi.Socket]fakeReg
	calls  []fakeCall
	events spi.WSANetworkEvents // what WSPEnumNetworkEvents answers
}

const fakePath = `C:\test\fakeselect.dll`

// installFake installs the fake over TCP/IPv4 and returns it with its
// chain's id.
func installFake(tb testing.TB, m *wsspi.Machine) (*fakeLower, spi.CatalogEntryId) {
	tb.Helper()
	ids := must(m.Catalog().InstallLSP(catalog.LSP{
		ProviderId: spi.MustParseGUID("{FA4E5E1E-0000-4000-8000-000000000001}"),
		Path:       fakePath, Name: "fake select", IFS: true, Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
	}))(tb)
	f := &fakeLower{regs: map[spi.Socket]fakeReg{}}
	m.RegisterProvider(fakePath, func(_ uint16, info *spi.WSAProtocolInfo, up spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		owner, err := layered.HandleOwner(info, ids.Layered)
		if err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		next, err := imports.LoadNext(info, ids.Layered)
		if err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		f.mu.Lock()
		f.up = up
		f.mu.Unlock()
		lower, t := next.ProcTable, next.ProcTable
		t.WSPSocket = func(af, typ, protocol int32, _ *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
			base := next.Info
			s, err := lower.WSPSocket(af, typ, protocol, &base, g, flags)
			if err != nil {
				return spi.INVALID_SOCKET, err
			}
			return up.WPUModifyIFSHandle(owner, s)
		}
		t.WSPAsyncSelect = func(s spi.Socket, hWnd spi.HWND, msg uint32, events int32) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.calls = append(f.calls, fakeCall{Func: "WSPAsyncSelect", Socket: s, HWnd: hWnd, Msg: msg, Events: events})
			if events == 0 {
				delete(f.regs, s)
			} else {
				f.regs[s] = fakeReg{hWnd, msg, events}
			}
			return nil
		}
		t.WSPEventSelect = func(s spi.Socket, event spi.Handle, events int32) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.calls = append(f.calls, fakeCall{Func: "WSPEventSelect", Socket: s, Event: event, Events: events})
			return nil
		}
		t.WSPEnumNetworkEvents = func(s spi.Socket, event spi.Handle) (spi.WSANetworkEvents, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.calls = append(f.calls, fakeCall{Func: "WSPEnumNetworkEvents", Socket: s, Event: event})
			return f.events, nil
		}
		t.WSPCloseSocket = func(s spi.Socket) error {
			f.mu.Lock()
			f.calls = append(f.calls, fakeCall{Func: "WSPCloseSocket", Socket: s})
			delete(f.regs, s)
			f.mu.Unlock()
			return lower.WSPCloseSocket(s)
		}
		t.WSPAccept = func(s spi.Socket, condition spi.ConditionFunc, data any) (spi.Socket, netip.AddrPort, error) {
			ns, addr, err := lower.WSPAccept(s, condition, data)
			if err != nil {
				return ns, addr, err
			}
			f.mu.Lock()
			reg, ok := f.regs[s]
			if ok {
				f.regs[ns] = reg
			}
			f.mu.Unlock()
			if ok && reg.Events&spi.FD_WRITE != 0 {
				up.WPUPostMessage(reg.HWnd, reg.Msg, uintptr(ns), spi.WSAMAKESELECTREPLY(spi.FD_WRITE, 0))
			}
			return ns, addr, nil
		}
		return spi.WSPData{Version: spi.WINSOCK_VERSION, HighVersion: spi.WINSOCK_VERSION, Description: "fake select"}, t, nil
	})
	return f, ids.Chains[0]
}

// post posts a message for the lower socket s to the window it is
// registered with, as a base provider does; it reports what
// WPUPostMessage returned, and false when s has no registration.
func (f *fakeLower) post(s spi.Socket, lParam uintptr) bool {
	f.mu.Lock()
	reg, ok := f.regs[s]
	up := f.up
	f.mu.Unlock()
	if !ok {
		return false
	}
	return up.WPUPostMessage(reg.HWnd, reg.Msg, uintptr(s), lParam)
}

// postTo posts to a window directly, registered or not.
func (f *fakeLower) postTo(reg fakeReg, s spi.Socket, lParam uintptr) bool {
	f.mu.Lock()
	up := f.up
	f.mu.Unlock()
	return up.WPUPostMessage(reg.HWnd, reg.Msg, uintptr(s), lParam)
}

// registered returns the fake's one registration, failing the test if
// there is not exactly one.
func (f *fakeLower) registered(tb testing.TB) (spi.Socket, fakeReg) {
	tb.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.regs) != 1 {
		tb.Fatalf("the fake lower layer holds %d registrations, want 1: %v", len(f.regs), f.regs)
	}
	for s, r := range f.regs {
		return s, r
	}
	panic("unreachable")
}

func (f *fakeLower) seen() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

// stack is a client process whose TCP/IPv4 sockets go through depth kit
// layers (over the fake lower layer when fake is set, else over loopback
// directly), and a server process with a base listener.
type stack struct {
	m       *capture
	provs   []*layered.Provider // bottom first
	paths   []string
	fake    *fakeLower
	p, srv  *wsspi.Process
	th, sth *wsspi.Thread
	l       spi.Socket
	addr    netip.AddrPort
}

var stackPort uint16 = 9100

func newStack(t *testing.T, depth int, fake bool, cfg ...layered.Config) *stack {
	t.Helper()
	k := &stack{m: &capture{Machine: wsspi.NewMachine(), tables: map[string]spi.WSPProcTable{}}}
	over := catalog.DefaultTCPIPv4
	if fake {
		k.fake, over = installFake(t, k.m.Machine)
	}
	for i := range depth {
		var c layered.Config
		if i < len(cfg) {
			c = cfg[i]
		}
		g := testGUID
		g.Data2 = uint16(0x100 + i)
		path := `C:\lsp\ready` + string(rune('a'+i)) + `.dll`
		p, ids, err := layered.Install(k.m, layered.Options{Name: "kit " + string(rune('A'+i)), GUID: g, Path: path,
			Over: []spi.CatalogEntryId{over}, Config: c})
		if err != nil {
			t.Fatal(err)
		}
		k.provs, k.paths = append(k.provs, p), append(k.paths, path)
		over = ids.Chains[0]
	}
	k.srv, k.p = k.m.NewProcess(), k.m.NewProcess()
	t.Cleanup(func() { k.p.Close(); k.srv.Close() })
	k.sth, k.th = k.srv.NewThread(), k.p.NewThread()
	stackPort++
	k.addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), stackPort)
	base, _ := k.m.Catalog().View().Entry(catalog.DefaultTCPIPv4)
	k.l = must(k.sth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &base, 0, spi.WSA_FLAG_OVERLAPPED))(t)
	if err := errors.Join(k.sth.Bind(k.l, k.addr), k.sth.Listen(k.l, 8)); err != nil {
		t.Fatal(err)
	}
	return k
}

// top returns the proc table of the top kit layer in the client process
// (loaded by the first socket).
func (k *stack) top(t *testing.T) spi.WSPProcTable {
	t.Helper()
	return k.m.table(t, k.paths[len(k.paths)-1])
}

// conn connects a new client socket through the stack to a new server
// socket.
func (k *stack) conn(t *testing.T) (c, s spi.Socket) {
	t.Helper()
	c = must(k.th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if err := k.th.Connect(c, k.addr); err != nil {
		t.Fatal(err)
	}
	s, _ = must2(k.sth.Accept(k.l))(t)
	return c, s
}

// baseSocket makes a client socket on the base entry itself, which no
// kit layer knows.
func (k *stack) baseSocket(t *testing.T) spi.Socket {
	t.Helper()
	base, _ := k.m.Catalog().View().Entry(catalog.DefaultTCPIPv4)
	return must(k.th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &base, 0, spi.WSA_FLAG_OVERLAPPED))(t)
}

// baseOf makes a socket of th's process on the base entry.
func (k *stack) baseOf(t *testing.T, th *wsspi.Thread) spi.Socket {
	t.Helper()
	base, _ := k.m.Catalog().View().Entry(catalog.DefaultTCPIPv4)
	return must(th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, &base, 0, spi.WSA_FLAG_OVERLAPPED))(t)
}

// set makes an fd_set of the sockets.
func set(ss ...spi.Socket) *spi.FDSet {
	f := new(spi.FDSet)
	for _, s := range ss {
		f.Set(s)
	}
	return f
}

// members lists a set's sockets (nil for a nil or empty set).
func members(f *spi.FDSet) []spi.Socket {
	if f == nil || f.Count == 0 {
		return nil
	}
	return append([]spi.Socket(nil), f.Array[:f.Count]...)
}
