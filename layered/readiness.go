package layered

import (
	"encoding/binary"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// select and WSAEnumNetworkEvents through the layer, and the
// SIO_BSP_HANDLE_SELECT answer that decides whether select reaches it
// (see the package documentation, "Readiness"). WSAAsyncSelect is in
// asyncselect.go.

// answers reports whether the layer answers the control code itself with
// its own handle: SIO_BSP_HANDLE_SELECT under [Config.ServeSelect].
func (in *Instance) answers(code uint32) bool {
	return code == spi.SIO_BSP_HANDLE_SELECT && in.p.cfg.ServeSelect
}

// putHandle writes h into out as a SOCKET (8 bytes, little-endian), the
// answer of a SIO_BSP_HANDLE* code: WSAEFAULT when out is smaller (D-IOCTL,
// docs/facts.md §12.1).
func putHandle(out []byte, h spi.Socket) (uint32, error) {
	if len(out) < 8 {
		return 0, spi.WSAEFAULT
	}
	binary.LittleEndian.PutUint64(out, uint64(h))
	return 8, nil
}

// selection is one WSPSelect call's translation, per set (read, write,
// except): the client's handles as asked, the lower socket each goes down
// as, the layer's socket each names (nil: a handle the layer does not
// know, passed down unchanged), and the private sets of lower sockets.
type selection struct {
	asked [3][spi.FD_SETSIZE]spi.Socket
	low   [3][spi.FD_SETSIZE]spi.Socket
	socks [3][spi.FD_SETSIZE]*Socket
	count [3]uint32
	lower [3]spi.FDSet
	first *Socket // the first socket of the layer's, in set order
}

// selectSockets serves WSPSelect as Microsoft's sample does
// (docs/facts.md §12.5, §12.1): with all three sets nil it fails with
// WSAEINVAL, with a set of more than FD_SETSIZE entries with WSAENOBUFS.
// Each set is mapped to a private set of lower sockets, a handle the
// layer does not know going down unchanged (in the hope that the layer
// below knows it), and each socket of the layer's is referenced so that a
// concurrent closesocket cannot close its handle under the call; if the
// layer knows none of the handles, WSAEINVAL. The layer below selects,
// and each client set is rebuilt from the handles it asked for whose
// lower socket WPUFDIsSet finds in the lower set. The count is the
// entries of the rebuilt sets. With hooks, Before and After see the call
// as [OpSelect].
func (in *Instance) selectSockets(readfds, writefds, exceptfds *spi.FDSet, timeout *time.Duration) (int, error) {
	e, err := in.current()
	if err != nil {
		return 0, err
	}
	sets := [3]*spi.FDSet{readfds, writefds, exceptfds}
	if readfds == nil && writefds == nil && exceptfds == nil {
		return 0, spi.WSAEINVAL
	}
	sel := new(selection)
	defer in.release(e, sel)
	for i, set := range sets {
		if set == nil {
			continue
		}
		if set.Count > spi.FD_SETSIZE {
			return 0, spi.WSAENOBUFS
		}
		sel.count[i] = set.Count
		for j, h := range set.Array[:set.Count] {
			sel.asked[i][j], sel.low[i][j] = h, h
			if s, err := in.lookup(e, h); err == nil && s.ref() {
				sel.socks[i][j], sel.low[i][j] = s, s.lower
				if sel.first == nil {
					sel.first = s
				}
			}
			sel.lower[i].Set(sel.low[i][j])
		}
	}
	if sel.first == nil {
		return 0, spi.WSAEINVAL
	}
	down := func(*Call) (uint32, error) {
		var args [3]*spi.FDSet
		for i := range sets {
			if sets[i] != nil {
				args[i] = &sel.lower[i]
			}
		}
		if _, err := e.next.ProcTable.WSPSelect(args[0], args[1], args[2], timeout); err != nil {
			return 0, err
		}
		for i, set := range sets {
			if set == nil {
				continue
			}
			set.Zero()
			for j := range sel.count[i] {
				if e.upcalls.WPUFDIsSet(sel.low[i][j], &sel.lower[i]) {
					set.Set(sel.asked[i][j])
				}
			}
		}
		return uint32(entries(sets)), nil
	}
	if !in.p.cfg.Hooks.acts() {
		n, err := down(nil)
		return int(n), err
	}
	c := &Call{Op: OpSelect, Func: fnSelect, Socket: sel.first, Sets: sets}
	if _, err := in.sync(sel.first, c, down, nil); err != nil {
		return 0, err
	}
	return entries(sets), nil
}

// entries counts the sockets of the sets.
func entries(sets [3]*spi.FDSet) int {
	n := 0
	for _, set := range sets {
		if set != nil {
			n += int(min(set.Count, spi.FD_SETSIZE))
		}
	}
	return n
}

// release drops the references a WSPSelect call took (see ref).
func (in *Instance) release(e *env, sel *selection) {
	for i := range sel.socks {
		for _, s := range sel.socks[i][:sel.count[i]] {
			if s != nil {
				in.unref(e, s)
			}
		}
	}
}

// ref keeps s's handle open for a call under way (the sample's
// FindAndRefSocketContext): closeLower and the last forwarded completion
// leave the handle to unref while a reference is held. It fails for a
// socket that is closing.
func (s *Socket) ref() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.refs++
	return true
}

// unref drops a reference ref took, and closes the handle of a socket
// that closed meanwhile once nothing else keeps it open (the sample's
// DerefSocketContext).
func (in *Instance) unref(e *env, s *Socket) {
	s.mu.Lock()
	s.refs--
	now := s.refs == 0 && s.pending.Load() == 0 && s.lowerClosed && !s.handleClosed
	s.handleClosed = s.handleClosed || now
	s.mu.Unlock()
	if now {
		in.closeHandle(e, s)
	}
}

// enumNetworkEvents serves WSPEnumNetworkEvents: the handle is mapped and
// the client's event object goes down unchanged, as the sample does
// (docs/facts.md §12.5), so the layer below resets it. With hooks, Before
// and After see the call as [OpEnumNetworkEvents], and After may change
// the events and errors reported.
func (in *Instance) enumNetworkEvents(h spi.Socket, event spi.Handle) (spi.WSANetworkEvents, error) {
	e, s, err := in.resolve(h)
	if err != nil {
		return spi.WSANetworkEvents{}, err
	}
	if !in.p.cfg.Hooks.acts() {
		return e.next.ProcTable.WSPEnumNetworkEvents(s.lower, event)
	}
	var ev spi.WSANetworkEvents
	c := &Call{Op: OpEnumNetworkEvents, Func: fnEnumNetworkEvents, Socket: s, Event: event, NetworkEvents: &ev}
	if _, err := in.sync(s, c, func(*Call) (uint32, error) {
		var err error
		ev, err = e.next.ProcTable.WSPEnumNetworkEvents(s.lower, event)
		return 0, err
	}, nil); err != nil {
		return spi.WSANetworkEvents{}, err
	}
	return ev, nil
}
