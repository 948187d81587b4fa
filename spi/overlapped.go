package spi

import (
	"sync/atomic"
	"unsafe"
)

// Overlapped models OVERLAPPED / WSAOVERLAPPED with the layout of
// golang.org/x/sys/windows (offsets 0, 8, 16, 20, 24 on 64-bit).
//
// Internal and InternalHigh belong to whoever implements the I/O: the
// simulated I/O manager for IFS handles, the provider for non-IFS handles.
// Offset and OffsetHigh are reserved for service providers. HEvent is an
// event handle, or client context when a completion routine is used; its low
// bit, when set on a valid event, keeps the completion off the port.
//
// The simulator writes these fields with sync/atomic while a client may poll
// them, so read them with the Load methods when an operation may be in
// flight. Each outstanding operation needs its own Overlapped.
type Overlapped struct {
	Internal     uintptr
	InternalHigh uintptr
	Offset       uint32
	OffsetHigh   uint32
	HEvent       Handle
}

// LoadInternal atomically reads Internal (the status).
func (o *Overlapped) LoadInternal() uintptr { return atomic.LoadUintptr(&o.Internal) }

// StoreInternal atomically writes Internal.
func (o *Overlapped) StoreInternal(v uintptr) { atomic.StoreUintptr(&o.Internal, v) }

// LoadInternalHigh atomically reads InternalHigh (the byte count).
func (o *Overlapped) LoadInternalHigh() uintptr { return atomic.LoadUintptr(&o.InternalHigh) }

// StoreInternalHigh atomically writes InternalHigh.
func (o *Overlapped) StoreInternalHigh(v uintptr) { atomic.StoreUintptr(&o.InternalHigh, v) }

// LoadOffset atomically reads Offset (result flags, by provider convention).
func (o *Overlapped) LoadOffset() uint32 { return atomic.LoadUint32(&o.Offset) }

// StoreOffset atomically writes Offset.
func (o *Overlapped) StoreOffset(v uint32) { atomic.StoreUint32(&o.Offset, v) }

// LoadOffsetHigh atomically reads OffsetHigh (the Winsock error, by provider
// convention).
func (o *Overlapped) LoadOffsetHigh() uint32 { return atomic.LoadUint32(&o.OffsetHigh) }

// StoreOffsetHigh atomically writes OffsetHigh.
func (o *Overlapped) StoreOffsetHigh(v uint32) { atomic.StoreUint32(&o.OffsetHigh, v) }

// LoadHEvent atomically reads HEvent.
func (o *Overlapped) LoadHEvent() Handle {
	return Handle(atomic.LoadUintptr((*uintptr)(unsafe.Pointer(&o.HEvent))))
}

// InProgress reports whether Internal still says WSS_OPERATION_IN_PROGRESS
// (STATUS_PENDING), as HasOverlappedIoCompleted tests.
func (o *Overlapped) InProgress() bool { return o.LoadInternal() == WSS_OPERATION_IN_PROGRESS }

// SetInProgress starts an overlapped operation the way the recommended
// provider convention does: InternalHigh = 0, then Internal =
// WSS_OPERATION_IN_PROGRESS.
//
// A field that already holds its value is not written again (an atomic
// write costs a locked instruction; a layer that passes its own Overlapped
// down finds it already marked).
func (o *Overlapped) SetInProgress() {
	if o.LoadInternalHigh() != 0 {
		o.StoreInternalHigh(0)
	}
	if o.LoadInternal() != WSS_OPERATION_IN_PROGRESS {
		o.StoreInternal(WSS_OPERATION_IN_PROGRESS)
	}
}

// EventHandle returns HEvent with its low bit masked: the event to signal.
func (o *Overlapped) EventHandle() Handle { return o.LoadHEvent() &^ 1 }

// SkipsPort reports whether the low bit of HEvent is set, which keeps a
// completion off the handle's port when HEvent names a valid event.
func (o *Overlapped) SkipsPort() bool { return o.LoadHEvent()&1 != 0 }

// OverlappedEntry models OVERLAPPED_ENTRY, one packet removed by
// GetQueuedCompletionStatusEx.
type OverlappedEntry struct {
	CompletionKey            uintptr
	Overlapped               *Overlapped
	Internal                 uintptr
	NumberOfBytesTransferred uint32
}

// CompletionRoutine models LPWSAOVERLAPPED_COMPLETION_ROUTINE: it runs as an
// APC on the thread that issued the operation, during an alertable wait.
// flags is 0 for sends.
type CompletionRoutine func(dwError Errno, cbTransferred uint32, ov *Overlapped, flags uint32)

// UserAPC models LPWSAUSERAPC, the function WPUQueueApc queues. context is
// the single value passed to WPUQueueApc (a DWORD_PTR in C).
type UserAPC func(context any)

// BlockingCallback models LPBLOCKINGCALLBACK: it returns true to keep
// waiting and false once the blocking call was cancelled.
type BlockingCallback func(context any) bool
