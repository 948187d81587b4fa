// Package handles is the process handle table of the simulated ws2_32: the
// table behind WPUCreateSocketHandle, WPUQuerySocketHandleContext,
// WPUCloseSocketHandle and WPUModifyIFSHandle, and the one place where every
// kernel object of a simulated process (IFS sockets, events, completion
// ports, threads) gets its handle value.
//
// # Values
//
// A handle value is a nonzero multiple of 4, as on Windows, where the two low
// bits of a handle are free for tags: the value of slot i is (i+1)*4, so the
// first handle of a table is 0x4. No value is ever 0 or
// [spi.INVALID_SOCKET]. A closed value is handed out again, most recently
// freed first, as Windows reuses handle values; [Entry.Generation] counts the
// times a value has been handed out, so that a holder of an old handle can
// tell it from the new one ([Table.Check]).
//
// # Entries
//
// Each live handle has an [Entry] of a [Kind]:
//
//   - [KindSocket]: a non-IFS socket from [Table.CreateSocketHandle]
//     (WPUCreateSocketHandle), with the catalog entry that owns it and the
//     provider's context, which [Table.QuerySocketHandleContext] gives back.
//   - [KindIFSSocket]: a base provider's socket object, put in the table with
//     [Table.Insert]; [Table.ModifyIFSHandle] (WPUModifyIFSHandle) records
//     which catalog entry owns it.
//   - [KindEvent], [KindPort], [KindThread]: other kernel objects, which later
//     parts of the simulator store with [Table.Insert].
//
// # Errors
//
// Every operation fails as its Win32 model does, with an [*spi.OpError] that
// names the Win32 function and the handle and wraps an [spi.Errno]:
// WSAENOBUFS when the table is full, WSAENOTSOCK for a socket call on
// anything that is not a live WPUCreateSocketHandle socket, WSAEINVAL for a
// bad handle proposed to WPUModifyIFSHandle, ERROR_INVALID_HANDLE for
// CloseHandle on a value that is not live. No handle value passed in makes
// the table panic; misuse of the Go API does (inserting a [KindSocket] with
// [Table.Insert], releasing a [Ref] twice), with a message that says so.
//
// # References
//
// [Table.Acquire] resolves a handle and takes a reference, as the kernel's
// ObReferenceObjectByHandle does; [Ref.Release] drops it. A close while
// references are held makes the value unresolvable at once, but the value is
// freed for reuse only at the last release, so an operation in flight never
// sees its handle reused under it.
//
// # Debugging stale handles
//
// With [Options.DetectStale] the table keeps freed values in quarantine
// before reusing them, and reports a use of a closed value as a
// [*StaleError] that says which generation was closed and what, if anything,
// now lives behind the value. [Options.FailAlloc] makes chosen allocations
// fail with WSAENOBUFS, and [Options.Capacity] bounds the table, so tests can
// reach the full-table paths deterministically.
//
// # Concurrency and cost
//
// A [Table] is safe for concurrent use. [Table.Lookup], [Table.Acquire],
// [Table.QuerySocketHandleContext] and the success path of [Table.Check]
// take no lock and do not allocate: the table is a directory, replaced as
// it grows, of pages of 256 atomic pointers, indexed by value/4-1, to
// immutable entries. Writers serialize on one mutex. A live handle costs about 90
// bytes beyond the objects the caller stores in it.
//
// Every create takes a fresh entry, and no entry is ever reused, since a
// lookup may still be copying it and a [Ref] holds on to it: that is the
// price of lookups without a lock. A create and close cost about what an
// insert and a delete in a mutex-guarded map do, and about half of that
// is allocating the entry and collecting it, so the comparison moves with
// the process's heap and GOGC (see BenchmarkHandleCreateCloseRatio).
//
// Entries are allocated in blocks of 8, and a block stays in memory while
// any of its entries is live or referenced: a closed handle's context and
// object may stay reachable for a while after the close. As on Windows,
// closing a handle is not what frees a provider's state; do not count on
// the garbage collector to observe it.
package handles
