package loopback_test

import (
	"errors"
	"github.com/wsspi/wsspi/catalog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

// completion is one FileObject.Complete call seen by the fake kernel.
type completion struct {
	Handle    spi.Handle
	Ov        *spi.Overlapped
	Status    spi.Errno
	Bytes     uint32
	Flags     uint32
	Immediate bool
}

// event is one thing the fake kernel saw, in order: a completion or the
// close of a file object.
type event struct {
	Complete *completion
	Closed   spi.Handle
}

// fakeKernel stands in for the simulated kernel and ws2_32: it makes file
// objects with handles 4, 8, 12..., records every Complete call (writing
// InternalHigh then Internal as the completion rule does), every close and
// every event reset, and answers WPUModifyIFSHandle with the proposed
// handle (or with modify, when set).
type fakeKernel struct {
	mu         sync.Mutex
	next       spi.Handle
	events     []event
	drivers    map[spi.Handle]spi.FileDriver
	open       map[spi.Handle]bool
	resets     []spi.Handle
	modified   []spi.CatalogEntryId
	createErr  error
	modifyErr  error
	resetErr   error
	modifyDiff spi.Handle       // added to the proposed handle by WPUModifyIFSHandle
	onComplete func(completion) // called after a Complete call is recorded, without k.mu
	extensions []any            // RegisterExtension calls; cookie = extBase + 8*index
	signals    []signal         // WPUSetEvent, WPUResetEvent and WPUPostMessage calls
	nt         []ntCompletion   // CompleteStatus calls
}

// signal is one WPUSetEvent, WPUResetEvent or WPUPostMessage upcall: Op
// names it; Event is the event of the first two, the others the message.
type signal struct {
	Op     string
	Event  spi.Handle
	HWnd   spi.HWND
	Msg    uint32
	WParam uintptr
	LParam uintptr
}

// ntCompletion is one FileObject.CompleteStatus call.
type ntCompletion struct {
	Handle    spi.Handle
	Ov        *spi.Overlapped
	Status    spi.NTStatus
	Bytes     uint32
	Immediate bool
}

// takeSignals returns the event and message upcalls since the last call.
func (k *fakeKernel) takeSignals() []signal {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.signals
	k.signals = nil
	return s
}

// takeNT returns the CompleteStatus calls since the last call, and drops
// the events they also recorded.
func (k *fakeKernel) takeNT() []ntCompletion {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.nt
	k.nt = nil
	k.events = nil
	return c
}

func (k *fakeKernel) record(s signal) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.signals = append(k.signals, s)
}

// extBase is the first cookie the fake kernel's RegisterExtension returns.
const extBase = 0x1000

// extension returns the function registered under cookie, or nil.
func (k *fakeKernel) extension(cookie uintptr) any {
	k.mu.Lock()
	defer k.mu.Unlock()
	i := int(cookie-extBase) / 8
	if cookie < extBase || i >= len(k.extensions) {
		return nil
	}
	return k.extensions[i]
}

func newFakeKernel() *fakeKernel {
	return &fakeKernel{drivers: map[spi.Handle]spi.FileDriver{}, open: map[spi.Handle]bool{}}
}

type fakeFile struct {
	k *fakeKernel
	h spi.Handle
}

func (f *fakeFile) Handle() spi.Handle { return f.h }

// ResetEvent records the reset, as the harness's WPUResetEvent did before
// the file object took the reset over.
func (f *fakeFile) ResetEvent(req spi.IORequest) error {
	if req.Overlapped == nil || req.Routine != nil || req.Overlapped.EventHandle() == 0 {
		return nil
	}
	return f.k.resetEventUpcall(req.Overlapped.EventHandle())
}

func (f *fakeFile) CompleteStatus(req spi.IORequest, status spi.NTStatus, bytes uint32, immediate bool) {
	f.k.mu.Lock()
	f.k.nt = append(f.k.nt, ntCompletion{f.h, req.Overlapped, status, bytes, immediate})
	f.k.mu.Unlock()
	f.Complete(req, spi.NtStatusToWinsockError(status), bytes, 0, immediate)
	req.Overlapped.StoreInternal(uintptr(status))
}

func (f *fakeFile) Complete(req spi.IORequest, status spi.Errno, bytes, flags uint32, immediate bool) {
	req.Overlapped.StoreInternalHigh(uintptr(bytes))
	req.Overlapped.StoreInternal(uintptr(status))
	c := completion{f.h, req.Overlapped, status, bytes, flags, immediate}
	f.k.mu.Lock()
	f.k.events = append(f.k.events, event{Complete: &c})
	hook := f.k.onComplete
	f.k.mu.Unlock()
	if hook != nil {
		hook(c)
	}
}

func (f *fakeFile) Close() error {
	f.k.mu.Lock()
	defer f.k.mu.Unlock()
	if !f.k.open[f.h] {
		panic("fake kernel: file object closed twice")
	}
	delete(f.k.open, f.h)
	f.k.events = append(f.k.events, event{Closed: f.h})
	return nil
}

func (k *fakeKernel) imports() spi.Imports {
	return spi.Imports{RegisterExtension: func(fn any) uintptr {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.extensions = append(k.extensions, fn)
		return uintptr(extBase + 8*(len(k.extensions)-1))
	}, CreateFileObject: func(d spi.FileDriver, overlapped bool) (spi.FileObject, error) {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.createErr != nil {
			return nil, k.createErr
		}
		k.next += 4
		k.drivers[k.next] = d
		k.open[k.next] = true
		return &fakeFile{k: k, h: k.next}, nil
	}}
}

func (k *fakeKernel) upcalls() spi.WSPUpcallTable {
	return spi.WSPUpcallTable{
		WPUModifyIFSHandle: func(id spi.CatalogEntryId, h spi.Socket) (spi.Socket, error) {
			k.mu.Lock()
			defer k.mu.Unlock()
			k.modified = append(k.modified, id)
			if k.modifyErr != nil {
				return spi.INVALID_SOCKET, k.modifyErr
			}
			if k.modifyDiff != 0 {
				k.drivers[h+k.modifyDiff] = k.drivers[h]
			}
			return h + k.modifyDiff, nil
		},
		WPUResetEvent: func(ev spi.Handle) error {
			k.record(signal{Op: "ResetEvent", Event: ev})
			return k.resetErr
		},
		WPUSetEvent: func(ev spi.Handle) error {
			k.record(signal{Op: "SetEvent", Event: ev})
			return nil
		},
		WPUPostMessage: func(hWnd spi.HWND, msg uint32, wParam, lParam uintptr) bool {
			k.record(signal{Op: "PostMessage", HWnd: hWnd, Msg: msg, WParam: wParam, LParam: lParam})
			return true
		},
	}
}

// resetEventUpcall records a reset of event ev.
func (k *fakeKernel) resetEventUpcall(ev spi.Handle) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.resets = append(k.resets, ev)
	return k.resetErr
}

// take returns the events seen since the last take.
func (k *fakeKernel) take() []event {
	k.mu.Lock()
	defer k.mu.Unlock()
	ev := k.events
	k.events = nil
	return ev
}

// completions returns the Complete calls seen since the last take, and
// fails the test if a file object was closed meanwhile.
func (k *fakeKernel) completions(t *testing.T) []completion {
	t.Helper()
	var out []completion
	for _, e := range k.take() {
		if e.Complete == nil {
			t.Errorf("unexpected close of %v", e.Closed)
			continue
		}
		out = append(out, *e.Complete)
	}
	return out
}

func (k *fakeKernel) driver(h spi.Handle) spi.FileDriver {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.drivers[h]
}

func (k *fakeKernel) openFiles() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.open)
}

// Catalog entry ids the tests install the four entries under.
const (
	idTCP4 spi.CatalogEntryId = 1001 + iota
	idUDP4
	idTCP6
	idUDP6
)

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Fatal(args ...any)
}

// proc is one simulated process with the provider loaded.
type proc struct {
	t       tb
	k       *fakeKernel
	prov    *loopback.Provider
	tab     spi.WSPProcTable
	entries []spi.WSAProtocolInfo
}

// entries returns the provider's entries as a catalog installs them.
func installedEntries() []spi.WSAProtocolInfo {
	infos := catalog.DefaultEntries()
	for i := range infos {
		infos[i].CatalogEntryId = idTCP4 + spi.CatalogEntryId(i)
		infos[i].ProtocolChain.ChainEntries[0] = infos[i].CatalogEntryId
	}
	return infos
}

// newProc loads the provider of net into a new process, with one
// WSPStartup per catalog entry as ws2_32 does.
func newProc(t tb, net *loopback.Network) *proc {
	t.Helper()
	p := &proc{t: t, k: newFakeKernel(), prov: net.NewProvider(), entries: installedEntries()}
	for i := range p.entries {
		_, tab, err := p.prov.WSPStartup(spi.WINSOCK_VERSION, &p.entries[i], p.k.upcalls(), p.k.imports())
		if err != nil {
			t.Fatalf("WSPStartup: %v", err)
		}
		p.tab = tab
	}
	return p
}

// newTestProc makes a network with one process.
func newTestProc(t *testing.T) *proc { return newProc(t, loopback.NewNetwork()) }

func (p *proc) entry(af, typ int32) *spi.WSAProtocolInfo {
	for i := range p.entries {
		if p.entries[i].AddressFamily == af && p.entries[i].SocketType == typ {
			return &p.entries[i]
		}
	}
	p.t.Fatalf("no entry for af %d type %d", af, typ)
	return nil
}

// socket creates a socket of the entry for af and typ.
func (p *proc) socket(af, typ int32, flags uint32) spi.Socket {
	p.t.Helper()
	s, err := p.tab.WSPSocket(af, typ, 0, p.entry(af, typ), 0, flags)
	if err != nil {
		p.t.Fatalf("WSPSocket(%d, %d): %v", af, typ, err)
	}
	return s
}

func (p *proc) must(err error) {
	p.t.Helper()
	if err != nil {
		p.t.Fatal(err)
	}
}

// bind binds s to addr and returns the bound address.
func (p *proc) bind(s spi.Socket, addr string) netip.AddrPort {
	p.t.Helper()
	p.must(p.tab.WSPBind(s, netip.MustParseAddrPort(addr)))
	a, err := p.tab.WSPGetSockName(s)
	p.must(err)
	return a
}

// listener returns a TCP socket listening on 127.0.0.1 (or ::1) and its
// address.
func (p *proc) listener(af int32, flags uint32) (spi.Socket, netip.AddrPort) {
	p.t.Helper()
	l := p.socket(af, spi.SOCK_STREAM, flags)
	addr := "127.0.0.1:0"
	if af == spi.AF_INET6 {
		addr = "[::1]:0"
	}
	a := p.bind(l, addr)
	p.must(p.tab.WSPListen(l, 5))
	return l, a
}

// pair returns a connected TCP pair (client, server end) over IPv4.
func (p *proc) pair(flags uint32) (spi.Socket, spi.Socket) {
	p.t.Helper()
	l, a := p.listener(spi.AF_INET, flags)
	c := p.socket(spi.AF_INET, spi.SOCK_STREAM, flags)
	p.must(p.tab.WSPConnect(c, a, nil, nil, nil, nil))
	s, _, err := p.tab.WSPAccept(l, nil, nil)
	p.must(err)
	p.must(p.tab.WSPCloseSocket(l))
	p.k.take()
	return c, s
}

// setInt sets an int option at SOL_SOCKET.
func (p *proc) setInt(s spi.Socket, name int32, v int32) {
	p.t.Helper()
	b := []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}
	p.must(p.tab.WSPSetSockOpt(s, spi.SOL_SOCKET, name, b))
}

// limit sets the sender's SO_SNDBUF and the receiver's SO_RCVBUF, which
// together bound what the sender can have buffered toward the receiver.
func (p *proc) limit(sender, receiver spi.Socket, sndbuf, rcvbuf int32) {
	p.t.Helper()
	p.setInt(sender, spi.SO_SNDBUF, sndbuf)
	p.setInt(receiver, spi.SO_RCVBUF, rcvbuf)
}

func (p *proc) setLinger(s spi.Socket, onoff, secs uint16) {
	p.t.Helper()
	b, _ := spi.Linger{OnOff: onoff, Linger: secs}.MarshalBinary()
	p.must(p.tab.WSPSetSockOpt(s, spi.SOL_SOCKET, spi.SO_LINGER, b))
}

// send sends data without an overlapped and returns the count.
func (p *proc) send(s spi.Socket, data string) uint32 {
	p.t.Helper()
	n, err := p.tab.WSPSend(s, [][]byte{[]byte(data)}, 0, nil, nil, nil)
	p.must(err)
	return n
}

// recv receives up to size bytes without an overlapped.
func (p *proc) recv(s spi.Socket, size int) (string, error) {
	buf := make([]byte, size)
	var flags uint32
	n, err := p.tab.WSPRecv(s, [][]byte{buf}, &flags, nil, nil, nil)
	return string(buf[:n]), err
}

// ovRecv starts an overlapped receive of up to size bytes.
func (p *proc) ovRecv(s spi.Socket, size int, flags uint32) (*spi.Overlapped, []byte, uint32, error) {
	ov := new(spi.Overlapped)
	buf := make([]byte, size)
	n, err := p.tab.WSPRecv(s, [][]byte{buf}, &flags, ov, nil, nil)
	return ov, buf, n, err
}

// ovSend starts an overlapped send of data.
func (p *proc) ovSend(s spi.Socket, data string) (*spi.Overlapped, uint32, error) {
	ov := new(spi.Overlapped)
	n, err := p.tab.WSPSend(s, [][]byte{[]byte(data)}, 0, ov, nil, nil)
	return ov, n, err
}

// nonblocking sets FIONBIO.
func (p *proc) nonblocking(s spi.Socket, on bool) {
	p.t.Helper()
	in := []byte{0, 0, 0, 0}
	if on {
		in[0] = 1
	}
	_, err := p.tab.WSPIoctl(s, spi.FIONBIO, in, nil, nil, nil, nil)
	p.must(err)
}

// wantErr fails unless err is want (compared with errors.Is; nil wants nil).
func wantErr(t tb, what string, err error, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("%s: %v, want success", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

// diff fails with a cmp.Diff when want and got differ.
func diff(t tb, what string, want, got any) {
	t.Helper()
	samePointer := cmp.Comparer(func(a, b *spi.Overlapped) bool { return a == b })
	addrPorts := cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })
	if d := cmp.Diff(want, got, cmpopts.EquateErrors(), cmpopts.EquateEmpty(), samePointer, addrPorts); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func durationPtr(d time.Duration) *time.Duration { return &d }
