package iocp

import (
	"time"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// CreateIoCompletionPort models CreateIoCompletionPort in its three modes:
//
//   - file == INVALID_HANDLE_VALUE, existing == 0: create a port letting
//     concurrency threads run at once (0: [Kernel.Processors]); key is
//     ignored. It returns the new port's handle.
//   - file and existing both given: associate the file handle with the
//     existing port and key, and return existing; concurrency is ignored.
//   - file given, existing == 0: create a port and associate file with it.
//
// A file handle belongs to one port for life: associating it again fails
// with ERROR_INVALID_PARAMETER, as does associating a handle not opened for
// overlapped I/O or passing INVALID_HANDLE_VALUE with an existing port. A
// file handle with no [File] behind it, or an existing handle that is not a
// live port, fails with ERROR_INVALID_HANDLE; a full handle table with
// WSAENOBUFS. On failure no port is left behind.
func (k *Kernel) CreateIoCompletionPort(file, existing spi.Handle, key uintptr, concurrency uint32) (spi.Handle, error) {
	const op = "CreateIoCompletionPort"
	if file == spi.INVALID_HANDLE_VALUE {
		if existing != 0 {
			return 0, spi.NewOpError(op, existing, spi.ERROR_INVALID_PARAMETER)
		}
		p, err := k.NewPort(concurrency)
		if err != nil {
			return 0, err
		}
		return p.handle, nil
	}
	f, ok := k.lookupFile(file)
	if !ok {
		return 0, spi.NewOpError(op, file, spi.ERROR_INVALID_HANDLE)
	}
	if existing != 0 {
		p, ok := k.lookupPort(existing)
		if !ok {
			return 0, spi.NewOpError(op, existing, spi.ERROR_INVALID_HANDLE)
		}
		if err := f.Associate(p, key); err != nil {
			return 0, onHandle(err, file)
		}
		return existing, nil
	}
	p, err := k.NewPort(concurrency)
	if err != nil {
		return 0, err
	}
	if err := f.Associate(p, key); err != nil {
		p.Close()
		return 0, onHandle(err, file)
	}
	return p.handle, nil
}

// onHandle names h as the handle of err, an [*spi.OpError] without one.
func onHandle(err error, h spi.Handle) error {
	if oe, ok := err.(*spi.OpError); ok && oe.Handle == 0 {
		c := *oe
		c.Handle = h
		return &c
	}
	return err
}

// PostQueuedCompletionStatus models PostQueuedCompletionStatus: see
// [Port.Post]. A handle that is not a live port fails with
// ERROR_INVALID_HANDLE.
func (k *Kernel) PostQueuedCompletionStatus(port spi.Handle, bytes uint32, key uintptr, ov *spi.Overlapped) error {
	p, ok := k.lookupPort(port)
	if !ok {
		return spi.NewOpError("PostQueuedCompletionStatus", port, spi.ERROR_INVALID_HANDLE)
	}
	return p.Post(bytes, key, ov)
}

// GetQueuedCompletionStatus models GetQueuedCompletionStatus called by th:
// see [Port.Get] for the outcomes. A handle that is not a live port fails
// with ERROR_INVALID_HANDLE.
func (k *Kernel) GetQueuedCompletionStatus(th *Thread, port spi.Handle, timeout time.Duration) (spi.OverlappedEntry, error) {
	if k.dead.Load() {
		return spi.OverlappedEntry{}, errTerminated("GetQueuedCompletionStatus", port)
	}
	p, ok := k.lookupPort(port)
	if !ok {
		return spi.OverlappedEntry{}, spi.NewOpError("GetQueuedCompletionStatus", port, spi.ERROR_INVALID_HANDLE)
	}
	return p.Get(th, timeout)
}

// GetQueuedCompletionStatusEx models GetQueuedCompletionStatusEx called by
// th: see [Port.GetMany] for the outcomes. An empty entries fails with
// ERROR_INVALID_PARAMETER, then a handle that is not a live port with
// ERROR_INVALID_HANDLE.
func (k *Kernel) GetQueuedCompletionStatusEx(th *Thread, port spi.Handle, entries []spi.OverlappedEntry, timeout time.Duration, alertable bool) (int, error) {
	const op = "GetQueuedCompletionStatusEx"
	if len(entries) == 0 {
		return 0, spi.NewOpError(op, port, spi.ERROR_INVALID_PARAMETER)
	}
	if k.dead.Load() {
		return 0, errTerminated(op, port)
	}
	p, ok := k.lookupPort(port)
	if !ok {
		return 0, spi.NewOpError(op, port, spi.ERROR_INVALID_HANDLE)
	}
	return p.GetMany(th, entries, timeout, alertable)
}

// CloseHandle models CloseHandle on the objects of this package: a port
// ([Port.Close]), an event ([Event.Close]), or a thread handle from
// [Kernel.WPUOpenCurrentThread] ([Kernel.WPUCloseThread]). Anything else
// fails with ERROR_INVALID_HANDLE, including a thread's own handle, which
// [Thread.Exit] closes, and socket handles, which their providers close.
func (k *Kernel) CloseHandle(h spi.Handle) error {
	e, ok := k.table.Lookup(h)
	if ok {
		switch o := e.Object.(type) {
		case *Port:
			if e.Kind == handles.KindPort && o.k == k {
				return o.Close()
			}
		case *Event:
			if e.Kind == handles.KindEvent && o.k == k {
				return o.Close()
			}
		case *Thread:
			if e.Kind == handles.KindThread && o.k == k && o.closeOpened(h) {
				return nil
			}
		}
	}
	return spi.NewOpError("CloseHandle", h, spi.ERROR_INVALID_HANDLE)
}

// CreateEvent models CreateEvent: see [Kernel.NewEvent]. It returns the
// event's handle.
func (k *Kernel) CreateEvent(manualReset, initialState bool) (spi.Handle, error) {
	e, err := k.NewEvent(manualReset, initialState)
	if err != nil {
		return 0, err
	}
	return e.handle, nil
}

// WSACreateEvent models WSACreateEvent and WPUCreateEvent: a manual-reset
// event, not signalled.
func (k *Kernel) WSACreateEvent() (spi.Handle, error) { return k.CreateEvent(true, false) }

// SetEvent models SetEvent, WSASetEvent and WPUSetEvent: see [Event.Set].
// A handle that is not a live event fails with WSA_INVALID_HANDLE.
func (k *Kernel) SetEvent(h spi.Handle) error {
	if e, ok := k.lookupEvent(h); ok {
		return e.Set()
	}
	return spi.NewOpError("SetEvent", h, spi.WSA_INVALID_HANDLE)
}

// ResetEvent models ResetEvent, WSAResetEvent and WPUResetEvent: see
// [Event.Reset]. A handle that is not a live event fails with
// WSA_INVALID_HANDLE.
func (k *Kernel) ResetEvent(h spi.Handle) error {
	if e, ok := k.lookupEvent(h); ok {
		return e.Reset()
	}
	return spi.NewOpError("ResetEvent", h, spi.WSA_INVALID_HANDLE)
}

// WSAWaitForMultipleEvents models WSAWaitForMultipleEvents called by th on
// event handles: see [Thread.WaitForEvents] for the results. A handle that
// is not a live event (a port, say) fails with WSA_WAIT_FAILED and
// WSA_INVALID_HANDLE.
func (k *Kernel) WSAWaitForMultipleEvents(th *Thread, events []spi.Handle, waitAll bool, timeout time.Duration, alertable bool) (uint32, error) {
	const op = "WSAWaitForMultipleEvents"
	if len(events) == 0 || len(events) > spi.WSA_MAXIMUM_WAIT_EVENTS {
		return spi.WSA_WAIT_FAILED, spi.NewOpError(op, 0, spi.WSA_INVALID_PARAMETER)
	}
	if k.dead.Load() {
		return spi.WSA_WAIT_FAILED, errTerminated(op, 0)
	}
	evs := th.evs[:len(events)] // the calling thread's scratch space
	defer clear(evs)
	for i, h := range events {
		e, ok := k.lookupEvent(h)
		if !ok {
			return spi.WSA_WAIT_FAILED, spi.NewOpError(op, h, spi.WSA_INVALID_HANDLE)
		}
		evs[i] = e
	}
	return th.WaitForEvents(evs, waitAll, timeout, alertable)
}

// SetFileCompletionNotificationModes models
// SetFileCompletionNotificationModes: see
// [File.SetCompletionNotificationModes]. A handle with no [File] behind it
// fails with ERROR_INVALID_HANDLE.
func (k *Kernel) SetFileCompletionNotificationModes(h spi.Handle, flags uint8) error {
	f, ok := k.lookupFile(h)
	if !ok {
		return spi.NewOpError("SetFileCompletionNotificationModes", h, spi.ERROR_INVALID_HANDLE)
	}
	return f.SetCompletionNotificationModes(flags)
}

// WPUQueueApc models WPUQueueApc: it queues apc(context) to the thread id
// names, to run in its next alertable wait (see [Thread.QueueAPC]). It fails
// with WSAEFAULT if id is nil, names no thread of this process, or names one
// that has exited.
func (k *Kernel) WPUQueueApc(id *spi.ThreadID, apc spi.UserAPC, context any) error {
	th, ok := k.lookupThread(id)
	if !ok {
		var h spi.Handle
		if id != nil {
			h = id.ThreadHandle
		}
		return spi.NewOpError("WPUQueueApc", h, spi.WSAEFAULT)
	}
	return th.QueueAPC(apc, context)
}

// WPUOpenCurrentThread models WPUOpenCurrentThread called by th: it opens a
// new handle to th and returns it as a WSATHREADID, which a layered
// provider passes to a lower layer as the issuing thread of I/O it starts
// itself. Every open needs a matching [Kernel.WPUCloseThread];
// [ThreadSnapshot.OpenIDs] counts the open ones. It fails with WSAENOBUFS
// when the handle table is full.
func (k *Kernel) WPUOpenCurrentThread(th *Thread) (spi.ThreadID, error) {
	if th.k != k {
		panic("iocp: WPUOpenCurrentThread with a Thread of another Kernel")
	}
	// No enter/leave: th is the calling thread in the model, but the
	// goroutine that calls is not th's (the root names its worker, which
	// sits in an alertable wait), so the call must not claim th.
	h, err := k.table.Insert(handles.KindThread, th)
	if err != nil {
		return spi.ThreadID{}, spi.NewOpError("WPUOpenCurrentThread", 0, spi.ErrnoOf(err))
	}
	th.mu.Lock()
	if th.opened == nil {
		th.opened = make(map[spi.Handle]struct{})
	}
	th.opened[h] = struct{}{}
	th.mu.Unlock()
	return spi.ThreadID{ThreadHandle: h, Reserved: uintptr(th.id)}, nil
}

// WPUCloseThread models WPUCloseThread: it closes a thread id from
// [Kernel.WPUOpenCurrentThread], also after the thread has exited. It
// fails with WSAEFAULT if id is nil or is not such an id still open.
func (k *Kernel) WPUCloseThread(id *spi.ThreadID) error {
	if id != nil {
		if e, ok := k.table.Lookup(id.ThreadHandle); ok && e.Kind == handles.KindThread {
			if th, ok := e.Object.(*Thread); ok && th.k == k && uintptr(th.id) == id.Reserved && th.closeOpened(id.ThreadHandle) {
				return nil
			}
		}
	}
	var h spi.Handle
	if id != nil {
		h = id.ThreadHandle
	}
	return spi.NewOpError("WPUCloseThread", h, spi.WSAEFAULT)
}

// closeOpened closes h if it is a handle of th from WPUOpenCurrentThread.
func (th *Thread) closeOpened(h spi.Handle) bool {
	th.mu.Lock()
	_, ok := th.opened[h]
	delete(th.opened, h)
	th.mu.Unlock()
	if ok {
		th.k.table.Close(h)
	}
	return ok
}
