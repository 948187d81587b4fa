package redirect

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

// Socket is the object the handle table keeps for a socket handle: its
// completion context (port, key, notification modes), the base provider's
// driver for an IFS handle, the transitions spent on it, and a cache of the
// proc table of the provider that owns it, so routing a call takes no lock.
// For an IFS handle it is also the [spi.FileObject] the base provider
// completes I/O through. A Socket is safe for concurrent use.
type Socket struct {
	layer *Layer
	// handle is the socket's first handle. The table publishes the socket
	// before the handle's value is known, and a stale handle value reused
	// for it can reach the socket from another goroutine at once (a layer
	// completing on a handle it closed), so it is atomic.
	handle atomic.Uintptr
	file   *iocp.File
	driver spi.FileDriver // nil for a handle from WPUCreateSocketHandle
	counts counter

	owner atomic.Pointer[ownerCache] // the proc table of the owning entry, once known

	// completing holds the overlapped of the WPUCompleteOverlappedRequest
	// calls under way: rarely more than one, so a slice, which a claim
	// scans, costs less than a map, which every claim would hash into and
	// delete from.
	mu         sync.Mutex // guards completing and waits
	completing []*spi.Overlapped
	// waits are the redirected file requests of a synchronous handle
	// waiting for their completion, by the overlapped the layer issued
	// them with: each channel closes when the request completes, or the
	// handle closes.
	waits   map[*spi.Overlapped]chan struct{}
	aborted map[*spi.Overlapped]struct{} // the waits abortWaits ended, until their callers look

	// synchronous marks a handle from WPUCreateSocketHandle opened for
	// synchronous I/O ([Layer.MarkSynchronous]).
	synchronous atomic.Bool

	hmu     sync.Mutex   // guards handles
	handles []handleRef  // the handles naming the file object, in every process
	first   [1]handleRef // the storage of handles while there is one (almost always)
}

// setHandle records h, made in the process of layer l, as the socket's
// first handle.
func (s *Socket) setHandle(l *Layer, h spi.Socket) {
	s.handle.Store(uintptr(h))
	s.hmu.Lock()
	s.first[0] = handleRef{l, h}
	s.handles = s.first[:]
	s.hmu.Unlock()
}

// handleRef is one handle of a file object: its value in the table of a
// process's layer.
type handleRef struct {
	l *Layer
	h spi.Handle
}

// dropRefLocked forgets the handle h of l, reporting whether it was one.
func (s *Socket) dropRefLocked(l *Layer, h spi.Handle) bool {
	for i, r := range s.handles {
		if r.l == l && r.h == h {
			s.handles = slices.Delete(s.handles, i, i+1)
			return true
		}
	}
	return false
}

// claim marks ov as being completed by WPUCompleteOverlappedRequest, if it
// is an operation in progress (Internal == WSS_OPERATION_IN_PROGRESS, as
// the provider convention sets it) that no other call is completing.
func (s *Socket) claim(ov *spi.Overlapped) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.completing, ov) || !ov.InProgress() {
		return false
	}
	s.completing = append(s.completing, ov)
	return true
}

// unclaimAndWake ends a claim once Internal has left
// WSS_OPERATION_IN_PROGRESS, and wakes a synchronous call waiting for ov
// (see wake), under one lock. It follows a successful claim of ov on s,
// which put ov in completing.
func (s *Socket) unclaimAndWake(ov *spi.Overlapped) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wakeLocked(ov)
	i := slices.Index(s.completing, ov)
	last := len(s.completing) - 1
	s.completing[i] = s.completing[last]
	s.completing[last] = nil // keep no Overlapped alive
	s.completing = s.completing[:last]
}

// ownerCache pairs a catalog entry with the proc table serving it; it is
// replaced whole, never changed, so a reader sees a consistent pair.
type ownerCache struct {
	l     *Layer // the process the proc table is loaded in: a file object may have handles in several
	id    spi.CatalogEntryId
	procs *spi.WSPProcTable
}

// IFS reports whether the handle is an IFS file object rather than a
// WPUCreateSocketHandle handle.
func (s *Socket) IFS() bool { return s.driver != nil }

// Transitions returns the transitions spent on the handle so far.
func (s *Socket) Transitions() Transitions { return s.counts.load() }

// CompletionFile returns the completion context ([iocp.FileHolder]).
func (s *Socket) CompletionFile() *iocp.File { return s.file }

// Handle returns the handle value ([spi.FileObject]).
func (s *Socket) Handle() spi.Handle { return spi.Handle(s.handle.Load()) }

// Complete runs the completion rule for an I/O on this handle
// ([spi.FileObject]).
func (s *Socket) Complete(req spi.IORequest, status spi.Errno, bytes, flags uint32, immediate bool) {
	// The kernel's only failures are a stale hEvent (the packet is still
	// posted) and an issuing thread that has exited (Windows drops that
	// thread's routine): both are the client's doing and, as on Windows,
	// nobody is told.
	_ = s.layer.kernel.Complete(iocp.Completion{
		File: s.file, Handle: s.Handle(), Request: req, Status: status, Bytes: bytes, Flags: flags, Immediate: immediate,
	})
}

// CompleteStatus runs the completion rule for an I/O that ended with a
// driver's own NTSTATUS ([spi.FileObject]).
func (s *Socket) CompleteStatus(req spi.IORequest, status spi.NTStatus, bytes uint32, immediate bool) {
	_ = s.layer.kernel.Complete(iocp.Completion{
		File: s.file, Handle: s.Handle(), Request: req, NTStatus: status, Bytes: bytes, Immediate: immediate,
	})
}

// ResetEvent resets the request's event in the issuing process
// ([spi.FileObject]).
func (s *Socket) ResetEvent(req spi.IORequest) error { return s.layer.kernel.ResetRequestEvent(req) }

// Close closes the file object's remaining handles ([spi.FileObject]): a
// handle the client closed already with CloseHandle (whose value may name
// another object now) is not among them. It fails with
// ERROR_INVALID_HANDLE when no handle was left to close.
func (s *Socket) Close() error {
	s.hmu.Lock()
	refs := s.handles
	s.handles = nil
	s.hmu.Unlock()
	if len(refs) == 0 {
		return spi.NewOpError("CloseHandle", s.Handle(), spi.ERROR_INVALID_HANDLE)
	}
	for _, r := range refs {
		_ = r.l.table.CloseObject(r.h, s)
	}
	return nil
}

// Driver returns the base provider's driver of an IFS socket, nil for a
// handle from WPUCreateSocketHandle.
func (s *Socket) Driver() spi.FileDriver { return s.driver }

// CachedOwner returns the cached proc table of the provider that owns the
// handle in the process of layer l, if the cache is for l and catalog
// entry id.
func (s *Socket) CachedOwner(l *Layer, id spi.CatalogEntryId) *spi.WSPProcTable {
	if c := s.owner.Load(); c != nil && c.l == l && c.id == id {
		return c.procs
	}
	return nil
}

// CacheOwner records procs as the proc table serving catalog entry id in
// the process of layer l.
func (s *Socket) CacheOwner(l *Layer, id spi.CatalogEntryId, procs *spi.WSPProcTable) {
	s.owner.Store(&ownerCache{l: l, id: id, procs: procs})
}
