package wsspi

import (
	"time"

	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// Thread is a simulated thread of a [Process]: the issuer of calls, and the
// owner of an APC queue. Completion routines of the overlapped calls it
// issues run on it, during its alertable waits ([Thread.SleepEx],
// [Thread.WSAWaitForMultipleEvents] and [Thread.GetQueuedCompletionStatusEx]
// with alertable set). Like a Windows thread, a Thread does one thing at a
// time: call its methods from one goroutine.
type Thread struct {
	p  *Process
	th *iocp.Thread
	id spi.ThreadID

	sel *selectScratch // select's sets, made at its first call

	// openType is the thread's SO_OPENTYPE, which ws2_32 keeps per thread:
	// 0, or SO_SYNCHRONOUS_ALERT or SO_SYNCHRONOUS_NONALERT, which make
	// socket() create sockets that are not overlapped. Only the thread's
	// own goroutine reads and writes it.
	openType uint32
}

// NewThread starts a thread in the process. It panics if the handle table
// is full; [Process.CreateThread] returns the error instead.
func (p *Process) NewThread() *Thread {
	t, err := p.CreateThread()
	if err != nil {
		panic("wsspi: NewThread: " + err.Error())
	}
	return t
}

// CreateThread starts a thread in the process, as CreateThread does. It
// fails with WSAENOBUFS when the handle table is full.
func (p *Process) CreateThread() (*Thread, error) {
	th, err := p.kernel.NewThread()
	if err != nil {
		return nil, err
	}
	return &Thread{p: p, th: th, id: th.ID()}, nil
}

// Process returns the thread's process.
func (t *Thread) Process() *Process { return t.p }

// ID returns the thread's WSATHREADID, what providers receive as the issuing
// thread of its overlapped calls.
func (t *Thread) ID() spi.ThreadID { return t.id }

// Kernel returns the kernel thread, for inspection (see
// [iocp.Thread.Snapshot]).
func (t *Thread) Kernel() *iocp.Thread { return t.th }

// Exit ends the thread, as ExitThread does. The overlapped operations it
// issued on socket handles that are not associated with a completion port
// are cancelled: each completes once with ERROR_OPERATION_ABORTED, and
// takes no data. (Since Windows Vista, I/O on a handle associated with a
// port is not tied to the thread that issued it, and goes on.) Then its
// handle closes, and APCs queued to it, completion routines included, never
// run.
func (t *Thread) Exit() {
	t.p.ifs.ExitThread(t.id)
	t.th.Exit()
}

// SleepEx waits for d (spi.Infinite for ever). An alertable sleep runs the
// thread's queued APCs, completion routines among them, and returns
// WAIT_IO_COMPLETION; otherwise it returns 0 when d has passed.
func (t *Thread) SleepEx(d time.Duration, alertable bool) (uint32, error) {
	c := t.traceCall(trace.LayerKernel, "SleepEx", 0)
	return c.endValue(t.th.SleepEx(d, alertable))
}

// GetQueuedCompletionStatus dequeues one packet from port, waiting up to
// timeout (0 polls, spi.Infinite waits for ever), as
// GetQueuedCompletionStatus does. A packet of a failed I/O comes back with
// its error; a timeout gives WAIT_TIMEOUT and a nil Overlapped; a port
// closed during the wait gives ERROR_ABANDONED_WAIT_0.
func (t *Thread) GetQueuedCompletionStatus(port spi.Handle, timeout time.Duration) (spi.OverlappedEntry, error) {
	c := t.traceCall(trace.LayerKernel, "GetQueuedCompletionStatus", port)
	return c.endPacket(t.p.kernel.GetQueuedCompletionStatus(t.th, port, timeout))
}

// GetQueuedCompletionStatusEx dequeues up to len(entries) packets from port
// at once, as GetQueuedCompletionStatusEx does, and returns how many it
// removed. Each entry's Internal holds its own status. An alertable wait
// runs queued APCs and returns WAIT_IO_COMPLETION instead.
func (t *Thread) GetQueuedCompletionStatusEx(port spi.Handle, entries []spi.OverlappedEntry, timeout time.Duration, alertable bool) (int, error) {
	c := t.traceCall(trace.LayerKernel, "GetQueuedCompletionStatusEx", port)
	return c.endCount(t.p.kernel.GetQueuedCompletionStatusEx(t.th, port, entries, timeout, alertable))
}

// WSAWaitForMultipleEvents waits for one or all of events, as
// WSAWaitForMultipleEvents does, and returns WSA_WAIT_EVENT_0 plus the index
// of the signalled event, WSA_WAIT_TIMEOUT, or WSA_WAIT_IO_COMPLETION after
// running APCs in an alertable wait.
func (t *Thread) WSAWaitForMultipleEvents(events []spi.Handle, waitAll bool, timeout time.Duration, alertable bool) (uint32, error) {
	c := t.traceCall(trace.LayerKernel, "WSAWaitForMultipleEvents", 0)
	return c.endValue(t.p.kernel.WSAWaitForMultipleEvents(t.th, events, waitAll, timeout, alertable))
}

// CreateIoCompletionPort creates a port, associates a handle with a port, or
// both, as CreateIoCompletionPort does: file INVALID_HANDLE_VALUE with
// existing 0 creates a port that lets concurrency threads run at once (0
// for the machine's processor count); a socket handle with existing 0
// creates a port and associates the socket with it; a socket with an
// existing port associates it and returns that port. A handle belongs to
// one port for life: a second association fails with
// ERROR_INVALID_PARAMETER. Any other file handle, 0 included, fails with
// ERROR_INVALID_HANDLE, as on Windows, where only INVALID_HANDLE_VALUE
// means "no file".
func (p *Process) CreateIoCompletionPort(file, existing spi.Handle, key uintptr, concurrency uint32) (spi.Handle, error) {
	c := p.traceCall(trace.LayerKernel, "CreateIoCompletionPort", file)
	return c.endHandle(p.kernel.CreateIoCompletionPort(file, existing, key, concurrency))
}

// PostQueuedCompletionStatus queues a packet to port, as
// PostQueuedCompletionStatus does; the values come back unchanged.
func (p *Process) PostQueuedCompletionStatus(port spi.Handle, bytes uint32, key uintptr, ov *spi.Overlapped) error {
	c := p.traceCall(trace.LayerKernel, "PostQueuedCompletionStatus", port)
	return c.end(p.kernel.PostQueuedCompletionStatus(port, bytes, key, ov))
}

// SetFileCompletionNotificationModes adds FILE_SKIP_* modes to a handle, as
// SetFileCompletionNotificationModes does. Modes are cumulative and
// sticky.
func (p *Process) SetFileCompletionNotificationModes(h spi.Handle, flags uint8) error {
	c := p.traceCall(trace.LayerKernel, "SetFileCompletionNotificationModes", h)
	return c.end(p.kernel.SetFileCompletionNotificationModes(h, flags))
}

// WSACreateEvent creates a manual-reset event, not signalled.
func (p *Process) WSACreateEvent() (spi.Handle, error) {
	c := p.traceCall(trace.LayerKernel, "WSACreateEvent", 0)
	return c.endHandle(p.kernel.WSACreateEvent())
}

// CreateEvent creates an event, as CreateEvent does.
func (p *Process) CreateEvent(manualReset, initialState bool) (spi.Handle, error) {
	c := p.traceCall(trace.LayerKernel, "CreateEvent", 0)
	return c.endHandle(p.kernel.CreateEvent(manualReset, initialState))
}

// WSASetEvent signals an event.
func (p *Process) WSASetEvent(h spi.Handle) error {
	c := p.traceCall(trace.LayerKernel, "WSASetEvent", h)
	return c.end(spi.RenameOpError("WSASetEvent", h, p.kernel.SetEvent(h)))
}

// WSAResetEvent resets an event.
func (p *Process) WSAResetEvent(h spi.Handle) error {
	c := p.traceCall(trace.LayerKernel, "WSAResetEvent", h)
	return c.end(spi.RenameOpError("WSAResetEvent", h, p.kernel.ResetEvent(h)))
}

// WSACloseEvent closes an event; WSA_INVALID_HANDLE if h is not one.
func (p *Process) WSACloseEvent(h spi.Handle) error {
	c := p.traceCall(trace.LayerKernel, "WSACloseEvent", h)
	if _, err := p.kernel.Event(h); err != nil {
		return c.end(spi.NewOpError("WSACloseEvent", h, spi.WSA_INVALID_HANDLE))
	}
	return c.end(p.kernel.CloseHandle(h))
}

// CloseHandle closes a port, an event or a socket handle, as CloseHandle
// does. Microsoft documents that a socket must be closed with closesocket;
// CloseHandle on one does what Windows does all the same:
//
//   - on an IFS socket (the base provider's file object) the driver ends
//     the socket as closesocket would, at the kernel level: pending
//     operations complete as for closesocket (STATUS_CONNECTION_ABORTED on
//     a connected socket), the connection closes; the provider's
//     WSPCloseSocket is not called, so its user-mode state for the socket
//     stays until its WSPCleanup;
//   - on a handle from WPUCreateSocketHandle (a non-IFS layered provider's)
//     only the handle closes. The provider is not told: its socket, its
//     lower socket and its pending operations stay, and those operations
//     never reach the client, since the provider's
//     WPUCompleteOverlappedRequest on the closed handle fails; all of it
//     ends at the provider's WSPCleanup. That is why only closesocket is
//     safe.
func (p *Process) CloseHandle(h spi.Handle) error {
	c := p.traceCall(trace.LayerKernel, "CloseHandle", h)
	if _, err := p.ifs.Socket("CloseHandle", h); err == nil {
		return c.end(p.ifs.CloseHandle(h))
	}
	return c.end(p.kernel.CloseHandle(h))
}
