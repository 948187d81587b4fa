package wsspi

import (
	"sync/atomic"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

// socketObject is what the handle table holds for a socket handle: the
// file object's completion context (port, key, notification modes) and the
// provider that owns the handle, cached so that routing a call needs no
// lock. For an IFS socket it is also the [spi.FileObject] the base
// provider completes I/O through, and it keeps the provider's driver, which
// ReadFile and WriteFile reach directly.
type socketObject struct {
	p      *Process
	handle spi.Handle
	file   *iocp.File
	driver spi.FileDriver // nil for a handle from WPUCreateSocketHandle

	ownerID atomic.Uint32                    // catalog entry the cached owner serves
	owner   atomic.Pointer[catalog.Provider] // cached provider of ownerID
}

// CompletionFile returns the completion context, for the kernel's
// handle-based calls (CreateIoCompletionPort and friends).
func (o *socketObject) CompletionFile() *iocp.File { return o.file }

// setOwner caches the provider serving catalog entry id.
func (o *socketObject) setOwner(id spi.CatalogEntryId, prov *catalog.Provider) {
	o.owner.Store(prov)
	o.ownerID.Store(uint32(id))
}

// Handle returns the handle value (spi.FileObject).
func (o *socketObject) Handle() spi.Handle { return o.handle }

// Complete runs the completion rule for an I/O on this handle
// (spi.FileObject).
func (o *socketObject) Complete(req spi.IORequest, status spi.Errno, bytes, flags uint32, immediate bool) {
	// The kernel's only failures are a stale hEvent (the packet is still
	// posted) and an issuing thread that has exited (Windows cancels that
	// thread's routine): both are the client's doing and, as on Windows,
	// nobody is told.
	_ = o.p.kernel.Complete(iocp.Completion{
		File: o.file, Request: req, Status: status, Bytes: bytes, Flags: flags, Immediate: immediate,
	})
}

// Close closes the handle of the file object (spi.FileObject).
func (o *socketObject) Close() error { return o.p.table.Close(o.handle) }
