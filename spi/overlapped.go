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

	record any // the structure this Overlapped is part of, as its owner declared it (SetRecord)
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

// SetRecord declares r as the record this Overlapped is part of, as a C
// provider embeds the OVERLAPPED it passes down in a structure of its own
// (the LSP sample's WSAOVERLAPPEDPLUS) and finds that structure again
// from a packet's LPOVERLAPPED with CONTAINING_RECORD. The owner sets it
// once, before the Overlapped first leaves its hands, and keeps it for
// the Overlapped's life ([Overlapped.Reset] keeps it): the field is not
// synchronized, so a SetRecord concurrent with a Record of the same
// Overlapped is a data race. No Windows field holds it, and nothing but
// Record reads it.
func (o *Overlapped) SetRecord(r any) { o.record = r }

// Record returns what SetRecord declared, or nil. It is a claim, not a
// proof: a packet may carry a copy of an Overlapped (a copy carries the
// declaration too) or one of someone else's, so a provider trusts the
// record only after checking that the Overlapped it got is the record's
// own, by address.
func (o *Overlapped) Record() any { return o.record }

// Reset zeroes the fields Windows defines (Internal, InternalHigh,
// Offset, OffsetHigh, HEvent) for the Overlapped's next operation, and
// keeps its record. Like any write, it must not race with an operation
// in flight on the Overlapped.
func (o *Overlapped) Reset() {
	o.Internal, o.InternalHigh, o.Offset, o.OffsetHigh, o.HEvent = 0, 0, 0, 0, 0
}

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

// Equal reports whether o and p have the same Windows fields (Internal,
// InternalHigh, Offset, OffsetHigh, HEvent); the record (see SetRecord)
// is not compared. It is what github.com/google/go-cmp uses to compare
// Overlapped values.
func (o Overlapped) Equal(p Overlapped) bool {
	return o.Internal == p.Internal && o.InternalHigh == p.InternalHigh &&
		o.Offset == p.Offset && o.OffsetHigh == p.OffsetHigh && o.HEvent == p.HEvent
}
