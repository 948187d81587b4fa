package wild

import (
	"net/netip"
	"sync"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// InstallEarlyClose installs, over the entries over, EarlyClose: a
// non-IFS layer that
// substitutes its own overlapped and forwards completions with
// WPUCompleteOverlappedRequest, as a correct layer does, but closes its
// handle (WPUCloseSocketHandle) in WSPCloseSocket before its outstanding
// operations complete: their forwarding then fails with WSAEINVAL and the
// client never hears of them. It counts forwarding calls and their
// failures. It serves port and event clients only (it never runs
// completion routines) and GetOverlappedResult without wait. The mistake
// is the one Microsoft's sample guards against by closing the handle from
// the last completion (docs/facts.md §8.2, CheckForContextCleanup).
func InstallEarlyClose(m layered.Machine, over ...spi.CatalogEntryId) (*Layer, catalog.LSPEntries, error) {
	return install(m, earlyCloseID, false, over, earlyCloseTable)
}

// eop is an EarlyClose operation: its own overlapped and the client's.
type eop struct {
	ov     spi.Overlapped
	client *spi.Overlapped
	handle spi.Socket // the layer's handle, which the completion names
}

// eops are an instance's operations awaiting their packet, found by the
// address of their own overlapped.
type eops struct {
	mu  sync.Mutex
	ops map[*spi.Overlapped]*eop
}

func (e *eops) put(o *eop) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ops == nil {
		e.ops = map[*spi.Overlapped]*eop{}
	}
	e.ops[&o.ov] = o
}

// take returns and forgets the op of ov, or nil for an overlapped that is
// not one of the instance's.
func (e *eops) take(ov *spi.Overlapped) *eop {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.ops[ov]
	delete(e.ops, ov)
	return o
}

// earlyCloseTable starts an EarlyClose instance's private port and worker
// and builds its table.
func earlyCloseTable(in *instance) (spi.WSPProcTable, error) {
	im := in.imports
	port, err := im.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 1)
	if err != nil {
		return spi.WSPProcTable{}, err
	}
	tid, err := im.CreateThread()
	if err != nil {
		_ = im.CloseHandle(port)
		return spi.WSPProcTable{}, err
	}
	var done sync.WaitGroup
	var ops eops
	done.Add(1)
	go func() {
		defer done.Done()
		defer func() { _ = im.ExitThread(tid) }()
		for {
			pkt, err := im.GetQueuedCompletionStatus(tid, port, spi.Infinite)
			if pkt.Overlapped == nil {
				if err != nil {
					return
				}
				continue
			}
			o := ops.take(pkt.Overlapped)
			if o == nil {
				continue // not one of ours: never read as memory
			}
			status := spi.NtStatusToWinsockError(spi.NTStatus(pkt.Internal))
			o.client.StoreOffset(o.ov.LoadOffset())
			o.client.StoreOffsetHigh(uint32(status))
			if im.WPUCompleteOverlappedRequest(o.handle, o.client, status, pkt.NumberOfBytesTransferred) != nil {
				in.l.forwardFailed.Add(1)
			} else {
				in.l.forwarded.Add(1)
			}
		}
	}()

	t := in.mappedTable()
	next := &in.next.ProcTable
	associate := func(h spi.Socket, err error) (spi.Socket, error) {
		if err != nil {
			return h, err
		}
		s, _ := in.lower(h)
		if _, err := im.CreateIoCompletionPort(s.lower, port, uintptr(h), 0); err != nil {
			_ = next.WSPCloseSocket(s.lower)
			_ = in.forget(h)
			return spi.INVALID_SOCKET, err
		}
		return h, nil
	}
	socket, accept := t.WSPSocket, t.WSPAccept
	t.WSPSocket = func(af, typ, protocol int32, info *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
		h, err := socket(af, typ, protocol, info, g, flags|spi.WSA_FLAG_OVERLAPPED)
		if err == nil && info != nil && info.ProviderReserved != 0 {
			// A copy from WSPDuplicateSocket: its lower socket shares a file
			// object that already has a port, for life; this layer takes no
			// completions of its overlapped I/O (the packets go to the
			// original's port, where they are foreign), a bug it keeps.
			return h, nil
		}
		return associate(h, err)
	}
	t.WSPAccept = func(h spi.Socket, cond spi.ConditionFunc, data any) (spi.Socket, netip.AddrPort, error) {
		nh, addr, err := accept(h, cond, data)
		nh, err = associate(nh, err)
		return nh, addr, err
	}
	// issue substitutes the layer's overlapped: every completion, immediate
	// or not, comes back as a packet, since skip-on-success is never set.
	issue := func(h spi.Socket, ov *spi.Overlapped, call func(lower spi.Socket, ov *spi.Overlapped) (uint32, error)) (uint32, error) {
		s, err := in.lower(h)
		if err != nil {
			return 0, err
		}
		if ov == nil {
			return call(s.lower, nil)
		}
		o := &eop{client: ov, handle: h}
		ov.SetInProgress()
		ops.put(o)
		n, err := call(s.lower, &o.ov)
		if err == nil || spi.ErrnoOf(err) == spi.WSA_IO_PENDING {
			return 0, spi.WSA_IO_PENDING
		}
		ops.take(&o.ov)
		ov.StoreInternal(uintptr(spi.WinsockErrorToNtStatus(spi.ErrnoOf(err))))
		return n, err
	}
	t.WSPSend = func(h spi.Socket, bufs [][]byte, flags uint32, ov *spi.Overlapped, _ spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		in.l.sends.Add(1)
		return issue(h, ov, func(lower spi.Socket, lov *spi.Overlapped) (uint32, error) {
			return next.WSPSend(lower, bufs, flags, lov, nil, th)
		})
	}
	t.WSPRecv = func(h spi.Socket, bufs [][]byte, flags *uint32, ov *spi.Overlapped, _ spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
		in.l.recvs.Add(1)
		return issue(h, ov, func(lower spi.Socket, lov *spi.Overlapped) (uint32, error) {
			return next.WSPRecv(lower, bufs, flags, lov, nil, th)
		})
	}
	t.WSPGetOverlappedResult = func(h spi.Socket, ov *spi.Overlapped, _ bool) (uint32, uint32, error) {
		if _, err := in.lower(h); err != nil {
			return 0, 0, err
		}
		if ov.InProgress() {
			return 0, 0, spi.WSA_IO_INCOMPLETE
		}
		if e := spi.Errno(ov.LoadOffsetHigh()); e != 0 {
			return uint32(ov.LoadInternalHigh()), ov.LoadOffset(), e
		}
		return uint32(ov.LoadInternalHigh()), ov.LoadOffset(), nil
	}
	// The mistake: the handle goes before the operations that still need it.
	t.WSPCloseSocket = func(h spi.Socket) error {
		s, err := in.lower(h)
		if err != nil {
			return err
		}
		if err := in.forget(h); err != nil {
			return err
		}
		return next.WSPCloseSocket(s.lower)
	}
	t.WSPCleanup = func() error {
		_ = im.CloseHandle(port)
		done.Wait()
		return in.cleanup()
	}
	return t, nil
}
