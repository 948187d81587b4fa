package handles

import "strconv"

// Kind is the type of kernel object behind a handle, as the object type of a
// Windows handle (File, Event, IoCompletion, Thread) tells what it refers to.
type Kind uint8

// The kinds of object a [Table] holds.
const (
	// KindSocket is a non-IFS socket handle made by WPUCreateSocketHandle
	// ([Table.CreateSocketHandle]): Owner is the catalog entry that made it,
	// Context the provider's context for WPUQuerySocketHandleContext.
	KindSocket Kind = iota + 1
	// KindIFSSocket is an IFS socket: a base provider's socket object (a
	// file object on Windows), inserted with [Table.Insert]. Owner is 0 until
	// WPUModifyIFSHandle ([Table.ModifyIFSHandle]) records the owning
	// catalog entry.
	KindIFSSocket
	// KindEvent is an event object (WSACreateEvent, WPUCreateEvent).
	KindEvent
	// KindPort is an I/O completion port (CreateIoCompletionPort).
	KindPort
	// KindThread is a thread handle (WPUOpenCurrentThread, OpenThread).
	KindThread
)

var kindNames = [...]string{
	KindSocket:    "socket",
	KindIFSSocket: "IFS socket",
	KindEvent:     "event",
	KindPort:      "completion port",
	KindThread:    "thread",
}

// String returns the kind's name in words ("socket", "IFS socket", "event",
// "completion port", "thread"), or "Kind(n)" for a value outside the list.
func (k Kind) String() string {
	if k.valid() {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

func (k Kind) valid() bool { return k >= KindSocket && k <= KindThread }
