package handles

import (
	"strconv"

	"github.com/wsspi/wsspi/spi"
)

// StaleError reports the use of a handle value after the handle it named
// was closed. A table with [Options.DetectStale] puts one inside the
// [*spi.OpError] of any operation on a closed value, and [Table.Check]
// returns one for a generation that is no longer live.
//
// It unwraps to the code the operation fails with (WSAENOTSOCK for socket
// calls and Check, ERROR_INVALID_HANDLE for CloseHandle, WSAEINVAL for
// WPUModifyIFSHandle), so errors.Is(err, spi.WSAENOTSOCK) holds for it as for
// the plain error.
type StaleError struct {
	// Handle is the stale value.
	Handle spi.Handle
	// Generation is the generation of the closed handle the caller meant.
	Generation uint32
	// Kind and Owner describe that closed handle when the table still
	// knows them (it remembers the last handle closed at each value); they
	// are zero otherwise.
	Kind  Kind
	Owner spi.CatalogEntryId
	// Current is the handle now live at the same value, reused since the
	// close, or nil if none is.
	Current *Entry
	// Err is the code the failed operation reports.
	Err spi.Errno
}

// Error says which generation was closed and what, if anything, now lives
// at the value, then gives the code:
//
//	stale handle: generation 1 (socket of catalog entry 1001) was closed: not a socket (10038)
//	stale handle: generation 1 (socket of catalog entry 1001) was closed and the value reused by event (generation 2): not a socket (10038)
func (e *StaleError) Error() string {
	s := "stale handle: generation " + strconv.FormatUint(uint64(e.Generation), 10)
	if e.Kind != 0 {
		s += " (" + describe(e.Kind, e.Owner) + ")"
	}
	s += " was closed"
	if c := e.Current; c != nil {
		s += " and the value reused by " + describe(c.Kind, c.Owner) +
			" (generation " + strconv.FormatUint(uint64(c.Generation), 10) + ")"
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the code the failed operation reports.
func (e *StaleError) Unwrap() error { return e.Err }

// describe names a handle's kind and, for a socket with one, its owner.
func describe(k Kind, owner spi.CatalogEntryId) string {
	if owner == 0 {
		return k.String()
	}
	return k.String() + " of catalog entry " + strconv.FormatUint(uint64(owner), 10)
}

// Check reports whether h is live with the given generation, the one
// [Entry.Generation] showed when the caller looked it up: nil if so,
// without a lock or an allocation. Otherwise it fails with WSAENOTSOCK,
// wrapped in an [*spi.OpError] with Op "Check". With
// [Options.DetectStale], and a generation the value had, the cause is a
// [*StaleError] that tells a value that is simply closed from one that has
// been reused since, and by what.
//
// Windows has no such call: a process that keeps a handle value after
// closing it simply names whatever now lives there. Check is how a holder
// of a value (a completion port association, a pending operation) notices.
func (t *Table) Check(h spi.Handle, generation uint32) error {
	if e := t.load(h); e != nil && e.Generation == generation {
		return nil
	}
	const op = "Check"
	if !t.detectStale {
		return &spi.OpError{Op: op, Handle: h, Err: spi.WSAENOTSOCK}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	p, j, _ := t.slot(h)
	if p == nil || generation == 0 || generation > p.info[j].gen {
		return &spi.OpError{Op: op, Handle: h, Err: spi.WSAENOTSOCK}
	}
	se := staleLocked(h, p, j, generation, spi.WSAENOTSOCK)
	return &spi.OpError{Op: op, Handle: h, Err: se}
}

// staleLocked describes generation gen of h, a closed one, which failed an
// operation with code: the table remembers the kind and owner of the last
// handle closed at each value (the latest generation if nothing is live
// there, the one before if something is), and what lives there now. The
// caller holds t.mu.
func staleLocked(h spi.Handle, p *page, j uint32, gen uint32, code spi.Errno) *StaleError {
	info := p.info[j]
	se := &StaleError{Handle: h, Generation: gen, Err: code}
	last := info.gen
	if e := p.slots[j].Load(); e != nil {
		last--
		cur := *e
		se.Current = &cur
	}
	if gen == last {
		se.Kind, se.Owner = info.lastKind, info.lastOwner
	}
	return se
}
