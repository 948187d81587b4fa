package handles

import "github.com/wsspi/wsspi/spi"

// CreateSocketHandle makes a non-IFS socket handle owned by catalog entry id
// and records context against it, as WPUCreateSocketHandle does; object is
// the kernel object behind the handle (the simulator's socket object for
// the ReadFile/WriteFile redirector), and may be nil.
//
// It fails with WSAENOBUFS, the one error Windows documents, when the table
// is full or [Options.FailAlloc] says so, and with WSAEINVAL for id 0, which
// names no catalog entry (the table does not consult the catalog itself).
// On failure it returns INVALID_SOCKET, as the Win32 function does.
func (t *Table) CreateSocketHandle(id spi.CatalogEntryId, context any, object any) (spi.Socket, error) {
	const op = "WPUCreateSocketHandle"
	if id == 0 {
		return spi.INVALID_SOCKET, &spi.OpError{Op: op, Err: spi.WSAEINVAL}
	}
	s, err := t.add(op, KindSocket, id, context, object)
	if err != nil {
		return spi.INVALID_SOCKET, err
	}
	return s, nil
}

// QuerySocketHandleContext returns the context recorded for s by
// CreateSocketHandle, as WPUQuerySocketHandleContext does. It fails with
// WSAENOTSOCK for anything that is not a live [KindSocket] handle: a closed
// or never-issued value, 0, INVALID_SOCKET, or the handle of an IFS socket,
// which has no context. It takes no lock on success.
func (t *Table) QuerySocketHandleContext(s spi.Socket) (any, error) {
	if e := t.load(s); e != nil && e.Kind == KindSocket {
		return e.Context, nil
	}
	return nil, t.fail("WPUQuerySocketHandleContext", s, spi.WSAENOTSOCK)
}

// CloseSocketHandle removes a socket made by CreateSocketHandle from the
// table, as WPUCloseSocketHandle does; the provider still frees its own
// state. The value stops resolving at once and is freed for reuse at once,
// or at the last [Ref.Release] if references are held. It fails with
// WSAENOTSOCK for anything that is not a live [KindSocket] handle, so a
// second close of the same handle fails.
func (t *Table) CloseSocketHandle(s spi.Socket) error {
	return t.remove("WPUCloseSocketHandle", s, true, spi.WSAENOTSOCK)
}

// ModifyIFSHandle registers the live IFS socket handle proposed as owned by
// catalog entry id, as WPUModifyIFSHandle does, and returns the handle the
// provider must use from then on.
//
// The returned value is always proposed itself. Windows documents that it
// may return a modified handle; ReactOS returns the proposed value
// unchanged, and so does this table, so an IFS layer that asserts the two
// are equal (as Microsoft's IFS LSP sample does) keeps working. A layered
// provider that calls it on a lower layer's handle takes the ownership over:
// Owner is the id of the last call.
//
// It fails with WSAEINVAL, and returns INVALID_SOCKET, when proposed is not
// a live [KindIFSSocket] handle or id is 0.
func (t *Table) ModifyIFSHandle(id spi.CatalogEntryId, proposed spi.Socket) (spi.Socket, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, j, e := t.slot(proposed)
	if e == nil || e.Kind != KindIFSSocket || id == 0 {
		return spi.INVALID_SOCKET, t.errorLocked("WPUModifyIFSHandle", proposed, spi.WSAEINVAL)
	}
	// Entries are immutable: publish a copy with the new owner.
	n := t.newEntryLocked()
	*n = *e
	n.Owner = id
	p.slots[j].Store(n)
	return proposed, nil
}
