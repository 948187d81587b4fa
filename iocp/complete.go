package iocp

import (
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// Completion describes the end of one overlapped I/O, for [Kernel.Complete].
// It is a plain value; the Kernel keeps none of it but the Overlapped.
type Completion struct {
	// File is the completion context of the handle the I/O was issued on:
	// its port, key and notification modes. nil stands for a handle with
	// none (no port, no modes, no event of its own).
	File *File
	// Request is the request as the client issued it: the Overlapped to
	// complete (required), the completion routine if any, and the issuing
	// thread, where the routine runs.
	Request spi.IORequest
	// Status is the result, 0 for success (a Winsock or Win32 code).
	Status spi.Errno
	// NTStatus, when not 0, is the result as a driver gives it (AFD's
	// STATUS_TIMEOUT for a poll that timed out): it is stored in Internal
	// as is, instead of the status of Status, and Status is then taken as
	// its Winsock code ([spi.NtStatusToWinsockError]) when 0.
	NTStatus spi.NTStatus
	// Bytes is the number of bytes transferred.
	Bytes uint32
	// Flags are the receive flags passed to a completion routine (0 for
	// sends).
	Flags uint32
	// Handle is the handle the I/O was issued on, as the trace reports it
	// (see [Options.Trace]); 0 when unknown. The rule itself does not use
	// it.
	Handle spi.Handle
	// Immediate says that the call that started the I/O returns its result
	// at once (success or failure) instead of WSA_IO_PENDING; with
	// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS an immediate success posts no
	// packet, nor does an immediate warning (see [Kernel.Complete]).
	Immediate bool
}

// Complete is the completion rule: the one function every I/O path of the
// simulator calls when an overlapped operation ends, whether it ended at
// once or after pending. In order, it
//
//  1. writes InternalHigh = Bytes, then Internal = the NTSTATUS of Status
//     ([spi.WinsockErrorToNtStatus]: STATUS_CONNECTION_RESET for
//     WSAECONNRESET, STATUS_CANCELLED for WSA_OPERATION_ABORTED, ...), each
//     atomically, so a client polling Internal (HasOverlappedIoCompleted)
//     sees the byte count by the time Internal leaves STATUS_PENDING
//     (WSS_OPERATION_IN_PROGRESS); the packet's Internal holds the same
//     status;
//  2. with a completion routine: queues it as an APC to the issuing thread,
//     where it runs as routine(Status, Bytes, Overlapped, Flags) in that
//     thread's next alertable wait. HEvent is then the client's to use and
//     is ignored, and no packet is posted;
//  3. otherwise: posts {Bytes, key, Overlapped, Status} to the handle's port
//     if it has one, unless the low bit of HEvent is set or
//     FILE_SKIP_COMPLETION_PORT_ON_SUCCESS applies (an Immediate success on
//     an overlapped handle, or an Immediate warning: WSAEMSGSIZE or
//     ERROR_MORE_DATA, the codes of STATUS_BUFFER_OVERFLOW, which is not an
//     error to the I/O manager, so a truncated datagram received at once
//     is handled inline like a success); then sets the event HEvent names,
//     low bit masked, resolved through the handle table;
//  4. sets the file object's own event when no OVERLAPPED event was set,
//     unless FILE_SKIP_SET_EVENT_ON_HANDLE.
//
// With [Options.Scheduler] set, step 1 still happens at once and, for a
// completion that is not Immediate, steps 2 to 4 are handed to the
// scheduler (in order per handle), as the I/O manager may finish a request
// after the call that completed it returns. An Immediate completion is
// notified at once: its caller may reuse the OVERLAPPED when it returns.
//
// A port closed while the handle is associated with it drops the packet. An
// operation that fails synchronously, before it starts, notifies nothing:
// its caller returns the error and does not call Complete.
//
// Complete fails with WSAEFAULT, doing nothing, when Request.Overlapped is
// nil. When HEvent names no live event it still posts the packet and fails
// with WSA_INVALID_HANDLE (Op "SetEvent"); the I/O path should have refused
// the handle when the operation started, as NtReadFile does. When the
// issuing thread has exited or Request.Thread names none it fails with
// WSAEFAULT (Op "WPUQueueApc") and the routine does not run, as Windows
// cancels a thread's I/O when it exits.
func (k *Kernel) Complete(c Completion) error {
	ov := c.Request.Overlapped
	if ov == nil {
		return spi.NewOpError("WPUCompleteOverlappedRequest", 0, spi.WSAEFAULT)
	}
	ov.StoreInternalHigh(uintptr(c.Bytes))
	if c.NTStatus != 0 {
		if c.Status == 0 {
			c.Status = spi.NtStatusToWinsockError(c.NTStatus)
		}
		ov.StoreInternal(uintptr(c.NTStatus))
	} else {
		ov.StoreInternal(uintptr(spi.WinsockErrorToNtStatus(c.Status)))
	}
	if k.sched != nil && !c.Immediate {
		return k.deferNotify(c)
	}
	return k.notify(c)
}

// notify is the notification step of the completion rule (steps 2 to 4 of
// [Kernel.Complete]). With tracing on, the completion is reported before
// anyone can see it (a thread dequeuing the packet, waking on the event,
// running the routine), so that the trace never shows a completion taken
// before it was delivered: under the port's lock when a packet is posted,
// otherwise before the routine is queued or the event set.
func (k *Kernel) notify(c Completion) error {
	ov := c.Request.Overlapped
	f := c.File
	if c.Request.Routine != nil {
		if k.trace != nil {
			var err error
			if _, ok := k.issuer(c.Request.Thread).lookupThread(&c.Request.Thread); !ok {
				err = spi.WSAEFAULT
			}
			k.traceNotify(c, nil, 0, 0, err)
		}
		err := k.issuer(c.Request.Thread).WPUQueueApc(&c.Request.Thread, runRoutine, &routineCall{
			routine: c.Request.Routine, status: c.Status, bytes: c.Bytes, ov: ov, flags: c.Flags,
		})
		if f != nil {
			f.setOwnEvent()
		}
		return err
	}
	// The event is read before the packet is posted: once it is, the
	// client may dequeue it and reuse the overlapped at once.
	ev := ov.EventHandle()
	var event *Event
	var err error
	if ev != 0 {
		var ok bool
		if event, ok = k.issuer(c.Request.Thread).lookupEvent(ev); !ok {
			err = spi.NewOpError("SetEvent", ev, spi.WSA_INVALID_HANDLE)
		}
	}
	var a *association
	var d trace.Delivery // what happened, for the trace
	traced := func(port trace.Delivery) {
		d |= port
		if event != nil {
			d |= trace.DeliveredEvent
		}
		k.traceNotify(c, a, d, ev, err)
	}
	posting := false
	if f != nil {
		if a = f.assoc.Load(); a != nil {
			switch {
			case ov.SkipsPort():
				d = trace.SkippedLowBit
			case f.skipsPortOnSuccess(c):
				d = trace.SkippedOnSuccess
			default:
				posting = true
			}
		}
	}
	if posting {
		var before func(bool)
		if k.trace != nil {
			before = func(posted bool) {
				if posted {
					traced(trace.DeliveredPort)
				} else {
					traced(trace.Dropped)
				}
			}
		}
		a.port.post(spi.OverlappedEntry{
			CompletionKey:            a.key,
			Overlapped:               ov,
			Internal:                 uintptr(spi.WinsockErrorToNtStatus(c.Status)),
			NumberOfBytesTransferred: c.Bytes,
		}, before)
	} else if k.trace != nil {
		traced(0)
	}
	switch {
	case event != nil && f != nil && f.skipsEventOnFastIO(c):
	case event != nil:
		if !event.set() { // closed since it was looked up
			err = spi.NewOpError("SetEvent", ev, spi.WSA_INVALID_HANDLE)
		}
	case ev == 0 && f != nil:
		f.setOwnEvent()
	}
	return err
}

// deferNotify hands the notification step to the kernel's scheduler, keyed
// by the file (by the overlapped when there is none) so that the
// notifications of one handle keep their order. The errors the step would
// report are found now, so the caller still gets them: an issuing thread
// that is gone (the routine is then dropped at once), an hEvent that names
// no event (the packet is still posted).
func (k *Kernel) deferNotify(c Completion) error {
	var err error
	if c.Request.Routine != nil {
		if _, ok := k.issuer(c.Request.Thread).lookupThread(&c.Request.Thread); !ok {
			return spi.NewOpError("WPUQueueApc", c.Request.Thread.ThreadHandle, spi.WSAEFAULT)
		}
	} else if h := c.Request.Overlapped.EventHandle(); h != 0 {
		if _, ok := k.issuer(c.Request.Thread).lookupEvent(h); !ok {
			err = spi.NewOpError("SetEvent", h, spi.WSA_INVALID_HANDLE)
		}
	}
	var key any = c.File
	if c.File == nil {
		key = c.Request.Overlapped
	}
	k.sched.Defer(key, func() { _ = k.notify(c) })
	return err
}

// ResetRequestEvent resets the event of an overlapped request as the I/O
// manager does when the I/O starts: the event the OVERLAPPED's hEvent names
// (low bit masked) in the issuing process (see [Kernel.issuer]); nothing
// when hEvent is 0 or the request has a completion routine (hEvent is then
// the client's). It fails with WSA_INVALID_HANDLE (Op "ResetEvent") if
// hEvent names no event.
func (k *Kernel) ResetRequestEvent(req spi.IORequest) error {
	if req.Overlapped == nil || req.Routine != nil {
		return nil
	}
	h := req.Overlapped.EventHandle()
	if h == 0 {
		return nil
	}
	e, ok := k.issuer(req.Thread).lookupEvent(h)
	if !ok {
		return spi.NewOpError("ResetEvent", h, spi.WSA_INVALID_HANDLE)
	}
	return e.Reset()
}

// issuer returns the kernel of the process whose thread id issued an I/O:
// k itself, or, for I/O a process issued on a file object it shares with
// k's process (a duplicated handle), that process's kernel, in whose table
// the request's event and thread are found, as the I/O manager signals
// the event and queues the APC the request referenced when it started.
// An id of no live thread gives k.
func (k *Kernel) issuer(id spi.ThreadID) *Kernel {
	if id.Reserved == 0 {
		return k
	}
	if _, ok := k.lookupThread(&id); ok {
		return k
	}
	if th, ok := threadsByID.Load(uint64(id.Reserved)); ok {
		return th.(*Thread).k
	}
	return k
}

// skipsPortOnSuccess reports whether FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
// keeps c off the port.
func (f *File) skipsPortOnSuccess(c Completion) bool {
	return c.Immediate && notError(c.Status) && f.overlapped &&
		f.modes.Load()&spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS != 0
}

// skipsEventOnFastIO reports whether FILE_SKIP_SET_USER_EVENT_ON_FAST_IO
// keeps c from setting the OVERLAPPED's event.
func (f *File) skipsEventOnFastIO(c Completion) bool {
	return c.Immediate && notError(c.Status) && f.modes.Load()&spi.FILE_SKIP_SET_USER_EVENT_ON_FAST_IO != 0
}

// notError reports whether status stands for an NTSTATUS that is not an
// error to the I/O manager (!NT_ERROR): success, or a warning such as
// STATUS_BUFFER_OVERFLOW (a truncated datagram, WSAEMSGSIZE). The I/O
// manager treats such a result returned at once as it treats a success.
func notError(status spi.Errno) bool {
	return status == 0 || !spi.WinsockErrorToNtStatus(status).IsError()
}

// routineCall is a completion routine with its arguments, queued as the
// context of the runRoutine APC: the trampoline of the Microsoft LSP sample.
type routineCall struct {
	routine spi.CompletionRoutine
	status  spi.Errno
	bytes   uint32
	ov      *spi.Overlapped
	flags   uint32
}

func runRoutine(ctx any) {
	c := ctx.(*routineCall)
	c.routine(c.status, c.bytes, c.ov, c.flags)
}
