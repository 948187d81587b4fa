package trace

import (
	"strconv"
	"strings"
	"time"

	"github.com/wsspi/wsspi/spi"
)

// Kind says what an [Event] records.
type Kind uint8

// The kinds of event. A call and its return are two events, so that what
// happens during a call (a call into the layer below, a completion) sits
// between them.
const (
	// ClientCall: a thread of the client calls a Winsock, file or kernel32
	// function (Func) on Handle. Layer is where the call goes: ws2_32 for
	// Winsock functions, the IFS layer for ReadFile, WriteFile and
	// CancelIo, the kernel for ports, events and waits. Bytes is the size
	// of the buffers passed.
	ClientCall Kind = iota + 1
	// ClientReturn: the client call returns Err, and Bytes, NewHandle,
	// Key or Value as the function returns them.
	ClientReturn
	// WSPCall: Caller calls the proc-table entry Func of provider layer
	// Layer, routed by catalog entry Entry, on socket Handle; Thread is the
	// thread id argument of an overlapped call. Bytes is the size of the
	// buffers passed. WSPStartup and WSPCleanup appear with ws2_32 as the
	// caller: its loader makes those calls, also for a layer's LoadNext.
	WSPCall
	// WSPReturn: the entry returns Err, and Bytes or NewHandle.
	WSPReturn
	// Upcall: provider layer Caller calls Func, a WPU function or a kernel32
	// function it links directly, served by ws2_32 (Layer). Entry is a
	// catalog entry id argument; Err and Bytes are the status and byte count
	// of WPUCompleteOverlappedRequest; Key the key of
	// PostQueuedCompletionStatus.
	Upcall
	// UpcallReturn: the upcall returns Err, and NewHandle, Bytes or Key.
	UpcallReturn
	// Transition: the IFS layer charges UserToKernel and KernelToUser
	// transitions on Handle for Func (ReadFile, WriteFile, CancelIo,
	// CancelIoEx, WPUCompleteOverlappedRequest, or WSPRecv and WSPSend for
	// the trip up to a non-IFS provider and back).
	Transition
	// Completion: the completion rule ends an overlapped I/O on Handle with
	// status Err and Bytes, delivering it as Delivery says: to Port with
	// Key, to EventHandle, or as a completion routine queued to Thread.
	Completion
	// APCRun: Thread runs an APC in an alertable wait. Func is
	// "completion routine" for a routine queued by the completion rule
	// (Err and Bytes are its arguments) and "APC" for any other.
	APCRun
	// HandleCreated: Handle now names an Object ("socket", "IFS socket",
	// "event", "completion port", "thread"); Entry is the owner of a socket
	// made by WPUCreateSocketHandle.
	HandleCreated
	// HandleClosed: Handle no longer names its Object; Entry is the owner
	// it had.
	HandleClosed
)

var kindNames = [...]string{
	ClientCall:    "client call",
	ClientReturn:  "client return",
	WSPCall:       "WSP call",
	WSPReturn:     "WSP return",
	Upcall:        "upcall",
	UpcallReturn:  "upcall return",
	Transition:    "transition",
	Completion:    "completion",
	APCRun:        "APC run",
	HandleCreated: "handle created",
	HandleClosed:  "handle closed",
}

// String returns the kind in words ("WSP call"), or "Kind(n)".
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// IsCall reports whether k is the start of a call: [ClientCall],
// [WSPCall] or [Upcall].
func (k Kind) IsCall() bool { return k == ClientCall || k == WSPCall || k == Upcall }

// IsReturn reports whether k is the end of a call: [ClientReturn],
// [WSPReturn] or [UpcallReturn].
func (k Kind) IsReturn() bool { return k == ClientReturn || k == WSPReturn || k == UpcallReturn }

// LayerKind is the kind of participant a [Layer] is.
type LayerKind uint8

// The participants of a process, from the client down.
const (
	// LayerClient is the client program: its threads.
	LayerClient LayerKind = iota + 1
	// LayerWinsock is ws2_32: the client API and the upcalls.
	LayerWinsock
	// LayerIFS is the IFS layer (ws2ifsl): ReadFile and WriteFile on
	// socket handles, their redirection to non-IFS providers, and the
	// kernel side of WPUCompleteOverlappedRequest.
	LayerIFS
	// LayerProvider is a service provider layer: a layered provider or a
	// base provider.
	LayerProvider
	// LayerKernel is the kernel: handles, completion ports, events,
	// threads and their APC queues.
	LayerKernel
)

var layerKindNames = [...]string{
	LayerClient:   "client",
	LayerWinsock:  "ws2_32",
	LayerIFS:      "IFS",
	LayerProvider: "provider",
	LayerKernel:   "kernel",
}

// String returns the name of the participant ("ws2_32"), or
// "LayerKind(n)".
func (k LayerKind) String() string {
	if int(k) < len(layerKindNames) && layerKindNames[k] != "" {
		return layerKindNames[k]
	}
	return "LayerKind(" + strconv.Itoa(int(k)) + ")"
}

// Layer names a participant of a process: the client, ws2_32, the IFS
// layer, the kernel, or one provider layer. Layers compare with ==.
type Layer struct {
	Kind LayerKind
	// ID is, for a provider layer, the layer's own catalog entry: the hidden
	// layered entry of a layered provider (the first element of the chains
	// it heads), the entry itself for a base provider. 0 otherwise.
	ID spi.CatalogEntryId
	// Name is, for a provider layer, the ProtocolName of that entry; empty
	// otherwise, or when the entry is no longer in the catalog.
	Name string
}

// String returns the layer as the renderers label it: "ws2_32", or a
// provider's name and id, "MSAFD Tcpip [TCP/IP] 1001".
func (l Layer) String() string {
	if l.Kind != LayerProvider {
		return l.Kind.String()
	}
	id := strconv.FormatUint(uint64(l.ID), 10)
	if l.Name == "" {
		return "provider " + id
	}
	return l.Name + " " + id
}

// Delivery is how the completion rule delivered a completion: a set of
// outcomes, because one completion may post a packet and set an event. The
// zero Delivery means nothing was delivered: no port, no event, no routine.
type Delivery uint8

// The outcomes of the completion rule.
const (
	// DeliveredPort: a packet {Bytes, Key, overlapped, Err} was queued to
	// Port.
	DeliveredPort Delivery = 1 << iota
	// DeliveredEvent: the event EventHandle (hEvent, low bit masked) was
	// set.
	DeliveredEvent
	// DeliveredAPC: the completion routine was queued as an APC to Thread.
	DeliveredAPC
	// SkippedLowBit: the handle has a port, but the low bit of hEvent kept
	// the completion off it.
	SkippedLowBit
	// SkippedOnSuccess: the handle has a port, but
	// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS kept an immediate success off it.
	SkippedOnSuccess
	// Dropped: the packet was for Port, which is closed.
	Dropped
)

var deliveryNames = [...]string{"port", "event", "APC", "skipped port (hEvent low bit)", "skipped port (skip on success)", "dropped (port closed)"}

// String lists the outcomes joined by "+", or "none".
func (d Delivery) String() string {
	if d == 0 {
		return "none"
	}
	var b strings.Builder
	for i, name := range deliveryNames {
		if d&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte('+')
			}
			b.WriteString(name)
		}
	}
	if rest := d &^ (1<<len(deliveryNames) - 1); rest != 0 {
		if b.Len() > 0 {
			b.WriteByte('+')
		}
		b.WriteString("Delivery(" + strconv.Itoa(int(rest)) + ")")
	}
	return b.String()
}

// Event is one recorded step. Which fields are set depends on Kind (see
// the kinds); the others are zero. Events are plain values that compare
// with == and cmp.Diff; only Time is volatile (see [Comparable]).
type Event struct {
	// Seq numbers the events of a [Recorder] from 1, in recording order.
	Seq uint64
	// PID is the id of the process the event happened in.
	PID uint32
	// Kind says what happened.
	Kind Kind
	// Layer is where it happened: the callee of a call and its return, the
	// IFS layer for a transition, the kernel for completions, APCs and
	// handles.
	Layer Layer
	// Caller is who made a call: the client, ws2_32, the IFS layer or a
	// provider layer. Zero for kinds that are not calls or returns.
	Caller Layer
	// Thread is the handle of the thread concerned: the caller of a client
	// call, the thread id argument of a WSP call or upcall, the target of a
	// completion routine, the runner of an APC.
	Thread spi.Handle
	// Func is the function: "WSASend", "WSPSend",
	// "WPUCompleteOverlappedRequest".
	Func string
	// Handle is the handle the event names: the socket of a call, the
	// handle an I/O completes on, a handle created or closed.
	Handle spi.Handle
	// Entry is a catalog entry id: the one a WSP call was routed by, a
	// catalog id argument of an upcall, the owner of a socket handle.
	Entry spi.CatalogEntryId
	// Err is the result of a return, 0 for success (WSA_IO_PENDING for an
	// overlapped call that pends), the status of a completion, or the
	// status a call passes on (WPUCompleteOverlappedRequest).
	Err spi.Errno
	// Bytes is a byte count: the size of the buffers a call passes, the
	// bytes a call or a completion transferred.
	Bytes uint32
	// Value is what a wait returns (WSA_WAIT_EVENT_0 + i,
	// WAIT_IO_COMPLETION), or the number of packets
	// GetQueuedCompletionStatusEx removed.
	Value uint32
	// NewHandle is the handle a successful call made: a socket, an event,
	// a port, a thread.
	NewHandle spi.Handle
	// Delivery is how a completion was delivered.
	Delivery Delivery
	// Port is the port a completion was for, the handle's port.
	Port spi.Handle
	// Key is a completion key: of a packet a completion posted or a
	// client dequeued.
	Key uintptr
	// EventHandle is the event a completion was to set (hEvent, low bit
	// masked).
	EventHandle spi.Handle
	// Object is the kind of object a created or closed handle names.
	Object string
	// UserToKernel and KernelToUser are the transitions a Transition
	// event charges.
	UserToKernel, KernelToUser uint64
	// Time is when the event was recorded. It is volatile: it differs from
	// run to run.
	Time time.Time
}

// Sink receives events as the simulator's layers produce them; the PID and
// Seq of the events it receives may be left for it to fill in. Layers take
// a Sink as an optional observer: nil means tracing is off. A Sink must be
// safe for concurrent use and must not call back into the simulator.
type Sink func(Event)
