package iocp

import (
	"sync/atomic"

	"github.com/wsspi/wsspi/spi"
)

// File is the completion context of a file or socket handle: what the I/O
// manager keeps in a file object for [Kernel.Complete]. It records whether
// the handle was opened for overlapped I/O, the completion port and key it
// is associated with (set once, for the handle's life), its completion
// notification modes, and the file object's own event. Make one with
// [Kernel.NewFile]; the socket objects of other packages hold one and
// expose it through [FileHolder], so that handle-based calls find it.
//
// A File is safe for concurrent use.
type File struct {
	overlapped bool
	event      Event                       // the file object's own event
	assoc      atomic.Pointer[association] // set once by Associate
	modes      atomic.Uint32               // FILE_SKIP_* flags; only ever added
}

// association is a File's port and key.
type association struct {
	port *Port
	key  uintptr
}

// FileHolder is implemented by the objects a handle table keeps for
// file-like handles (socket objects) that carry a [File]. The handle-based
// calls of [Kernel] that take a file handle, [Kernel.CreateIoCompletionPort]
// and [Kernel.SetFileCompletionNotificationModes], find the File of a handle
// whose object is a *File or a FileHolder. CompletionFile must be safe for
// concurrent use and return the same File for the handle's whole life.
type FileHolder interface {
	CompletionFile() *File
}

// FileSnapshot is the observable state of a [File]. It is a copy; each
// field is read atomically on its own.
type FileSnapshot struct {
	Overlapped bool
	Port       spi.Handle // the associated port, or 0
	Key        uintptr    // the completion key of the association
	Modes      uint8      // FILE_SKIP_* flags set so far
	Signaled   bool       // the file object's own event
}

// Snapshot returns the file's observable state.
func (f *File) Snapshot() FileSnapshot {
	s := FileSnapshot{
		Overlapped: f.overlapped,
		Modes:      f.Modes(),
		Signaled:   f.event.Snapshot().Signaled,
	}
	if a := f.assoc.Load(); a != nil {
		s.Port, s.Key = a.port.handle, a.key
	}
	return s
}

// Overlapped reports whether the handle was opened for overlapped I/O
// (FILE_FLAG_OVERLAPPED, WSA_FLAG_OVERLAPPED).
func (f *File) Overlapped() bool { return f.overlapped }

// Port returns the port the handle is associated with and its key, or nil.
func (f *File) Port() (*Port, uintptr) {
	if a := f.assoc.Load(); a != nil {
		return a.port, a.key
	}
	return nil, 0
}

// Modes returns the completion notification modes set so far.
func (f *File) Modes() uint8 { return uint8(f.modes.Load()) }

// Event returns the file object's own event. [Kernel.Complete] sets it when
// an I/O on the handle completes with no OVERLAPPED event to signal, unless
// FILE_SKIP_SET_EVENT_ON_HANDLE is set; waiting on it is waiting on the
// handle. It has no handle of its own and cannot be closed.
func (f *File) Event() *Event { return &f.event }

// Associate associates the handle with port p and key, as
// CreateIoCompletionPort does with an existing port: every I/O completing on
// the handle from then on posts {bytes, key, overlapped} to p. The
// association lasts for the handle's life. It fails with
// ERROR_INVALID_PARAMETER if the handle is not overlapped or is already
// associated (with p or another port), and with ERROR_INVALID_HANDLE if p is
// nil or closed. The port may belong to another Kernel than the file: a
// file object shared by two processes (a duplicated handle) is associated
// by whichever process does it first, and its completions go to that port
// from then on, whichever process issued the I/O. The error's reason
// ([spi.Reason]) says which rule refused the association; the error names no
// handle, since a File does not know its handle value ([Kernel.CreateIoCompletionPort]
// names it).
func (f *File) Associate(p *Port, key uintptr) error {
	const op = "CreateIoCompletionPort"
	switch {
	case p == nil:
		return spi.NewOpError(op, 0, spi.Because(spi.ERROR_INVALID_HANDLE, "no completion port"))
	case !f.overlapped:
		return spi.NewOpError(op, 0, spi.Because(spi.ERROR_INVALID_PARAMETER,
			"the handle was not opened for overlapped I/O (a socket needs WSA_FLAG_OVERLAPPED)"))
	case p.isClosed():
		return spi.NewOpError(op, 0, spi.Because(spi.ERROR_INVALID_HANDLE, "port "+p.handle.String()+" is closed"))
	case !f.assoc.CompareAndSwap(nil, &association{p, key}):
		return spi.NewOpError(op, 0, spi.Because(spi.ERROR_INVALID_PARAMETER,
			"the handle is already associated with port "+f.assoc.Load().port.handle.String()))
	}
	return nil
}

// SetCompletionNotificationModes adds flags to the handle's completion
// notification modes, as SetFileCompletionNotificationModes does. Modes
// are cumulative and can never be removed:
//
//   - FILE_SKIP_COMPLETION_PORT_ON_SUCCESS: an I/O that succeeds at once
//     (or ends at once with a warning, see [Kernel.Complete]) posts no
//     packet to the port (the caller handles the result inline).
//     It fails with ERROR_INVALID_PARAMETER on a handle that is not
//     overlapped.
//   - FILE_SKIP_SET_EVENT_ON_HANDLE: the file object's own event is not set;
//     an OVERLAPPED event still is.
//   - FILE_SKIP_SET_USER_EVENT_ON_FAST_IO: an I/O that succeeds at once (or
//     ends at once with a warning) does not set the OVERLAPPED's event. The
//     simulator's drivers have no separate fast I/O path; an immediate
//     success stands for one, which is where the I/O manager skips the event.
//
// Any other bit fails with ERROR_INVALID_PARAMETER, and a failed call adds
// nothing. Setting a mode again, or other modes, never clears one.
func (f *File) SetCompletionNotificationModes(flags uint8) error {
	const op = "SetFileCompletionNotificationModes"
	const known = spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS | spi.FILE_SKIP_SET_EVENT_ON_HANDLE | spi.FILE_SKIP_SET_USER_EVENT_ON_FAST_IO
	if flags&^known != 0 || flags&spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS != 0 && !f.overlapped {
		return spi.NewOpError(op, 0, spi.ERROR_INVALID_PARAMETER)
	}
	f.modes.Or(uint32(flags))
	return nil
}

// setOwnEvent sets the file object's event unless the modes say not to.
func (f *File) setOwnEvent() {
	if f.modes.Load()&spi.FILE_SKIP_SET_EVENT_ON_HANDLE == 0 {
		f.event.set()
	}
}
