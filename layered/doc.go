// Package layered is a kit for writing non-IFS layered service providers
// (LSPs): a correct core, after Microsoft's non-IFS LSP sample, that a
// user completes with a few [Hooks]: see and change the data of sends and
// receives, the addresses of connects and accepts, the answers of ioctls,
// and decide the fate of each operation (fail it, complete it, delay it).
// A [Provider] with no hooks is a pure forwarding layer.
//
// # Hooks
//
// [Hooks.Before] sees each call of the client's that the layer serves, a
// send (WSPSend, WSPSendTo, WriteFile), a receive (WSPRecv, WSPRecvFrom,
// ReadFile), a connect (WSPConnect, ConnectEx), an accept (WSPAccept,
// AcceptEx), an ioctl (WSPIoctl, any control code) or a close
// (WSPCloseSocket), as a [Call], before the layer below is called;
// [Hooks.After] sees its result before the client is told. Each returns a
// [Verdict]:
//
//   - [Pass] goes on as the kit would;
//   - [Fail] fails the call at once (SOCKET_ERROR; nothing pends);
//   - [FailCompletion] fails it through its completion (WSA_IO_PENDING,
//     then the client's port, event or completion routine hears of the
//     error, as of any completion);
//   - [Complete] completes it with a byte count of the hook's own: from
//     Before without calling the layer below, from After with fewer (or
//     rewritten) bytes than came up;
//   - [Delay], or any verdict's [Verdict.Delayed], holds the completion
//     for a while: a timer, or the work of [Config.Scheduler] (give it
//     the machine's seeded scheduler, and one seed replays the layer's
//     delays with the rest of the run).
//
// Before may rewrite what goes down (the buffers of a send, the address of
// a connect or sendto, the input of an ioctl); After what comes up (the
// data of a receive, in place, with Complete for its new length; the
// address of a recvfrom or accept; an ioctl's output). Whatever the
// verdicts, the kit does the overlapped bookkeeping of the section below:
// each call that returns WSA_IO_PENDING or success gets exactly one
// notification, one that fails at once gets none, calls that are not
// overlapped behave the same way without notifications (a delay holds
// their return), and [Stats] counts it all. A layer that fails every third
// send is a Before of a few lines (see the example).
//
// Readiness goes through the same two hooks: the answer of WSPSelect
// ([OpSelect]: which sockets are reported ready in each set) and of
// WSPEnumNetworkEvents ([OpEnumNetworkEvents]: the events and their
// errors), which After may change, and each WSAAsyncSelect message the
// layer is about to post ([OpAsyncSelectMessage]), whose lParam Before may
// change, or drop the message, or delay it (see "Readiness").
//
// The older hooks OnSend, OnRecv, OnConnect and OnClose only see or change
// data; they run inside Before and After.
//
// # What the kit does
//
// A non-IFS layer sees every I/O on its sockets, ReadFile and WriteFile
// included, because its handles come from WPUCreateSocketHandle and the
// redirector sends file I/O on them to its WSPRecv and WSPSend. The price
// is that the client's completion port is associated with the layer's
// handle, not the lower one, so the layer must forward every completion
// itself. The kit does the hard parts once:
//
//   - WSPStartup finds the provider's layered entry in the protocol chain
//     it is loaded for, loads the next layer with [spi.Imports.LoadNext],
//     creates a private completion port and starts worker goroutines, each
//     a simulated thread of the process (CreateThread) waiting in
//     GetQueuedCompletionStatus.
//   - WSPSocket creates the lower socket through the next layer's table
//     (always overlapped) and a handle of its own with
//     WPUCreateSocketHandle, whose context is the [Socket]; every one of
//     the 30 proc-table entries maps the layer's handle to the lower one
//     (WSAENOTSOCK for a handle that is not the instance's, or is being
//     closed). WSPAccept wraps accepted connections the same way.
//   - Overlapped substitution: for each overlapped client call the kit
//     resets the client's event, keeps a copy of its thread id (opening
//     the current thread with WPUOpenCurrentThread when the call gave
//     none, and closing it after completion), marks the client's
//     overlapped in progress and issues the lower call with an overlapped
//     of its own, from a pool. When the lower call completes, the kit
//     writes Offset = flags and OffsetHigh = error into the client's
//     overlapped and calls WPUCompleteOverlappedRequest on its own handle,
//     which reaches the client's port or event; or, when the client gave
//     a completion routine, queues it with WPUQueueApc through a
//     trampoline (WPUCompleteOverlappedRequest never runs routines).
//   - Every lower socket is associated with the private port. When the
//     layer below is IFS (XP1_IFS_HANDLES in the protocol info LoadNext
//     returned), the kit sets FILE_SKIP_COMPLETION_PORT_ON_SUCCESS on the
//     lower socket, so an immediate success posts no packet, and forwards
//     it before returning success. When the layer below is not IFS,
//     skip-on-success cannot apply (KB 2568167): a packet comes for every
//     completion, immediate or not. The kit still forwards an immediate
//     success before returning it, and the worker that dequeues its
//     packet later finds it forwarded and drops it (the sample instead
//     returns WSA_IO_PENDING and forwards from the packet, which costs a
//     thread hand-off per operation per layer). Each operation is
//     completed exactly once: see "Decisions" for how.
//   - WSPGetOverlappedResult reads the client's overlapped (docs/facts.md §2.4); a
//     waiting call blocks until the kit has forwarded the operation.
//   - WSPCloseSocket makes later calls fail with WSAENOTSOCK, closes the
//     lower socket (its pending operations complete with
//     WSA_OPERATION_ABORTED and are forwarded once each) and calls
//     WPUCloseSocketHandle only when the last outstanding operation has
//     been forwarded, as the sample's CheckForContextCleanup does (a
//     completion a hook holds included).
//   - The last WSPCleanup notifies nobody: it stops the workers, closes the
//     lower sockets abortively, ends outstanding operations silently (those
//     whose completion a hook holds too; their delivery, should it come
//     later, does nothing), closes the layer's handles and cleans the next
//     layer up.
//   - SIO_BASE_HANDLE goes down unchanged, so the base provider answers it
//     through any number of layers; so do SIO_BSP_HANDLE and
//     SIO_BSP_HANDLE_POLL, and SIO_BSP_HANDLE_SELECT unless
//     [Config.ServeSelect] is set, which get the next layer's answer (see
//     "Readiness"). getsockopt(SO_PROTOCOL_INFOW) reports the layer's
//     chain entry, whose XP1_IFS_HANDLES bit is clear.
//
// # Readiness
//
// A client learns that a socket is ready in four ways that reach an LSP;
// the kit serves each as Microsoft's non-IFS sample does (docs/facts.md
// §12.5):
//
//   - WSAAsyncSelect. The layer below posts its messages with its own
//     socket in wParam, which the client has never seen, so the layer
//     cannot pass the client's window down. On the first WSPAsyncSelect of
//     a load the kit makes a hidden window of its own
//     ([spi.Imports.CreateWindow]; the last WSPCleanup destroys it); each
//     WSPAsyncSelect checks that lEvent is within FD_ALL_EVENTS and that a
//     selection names a window (WSAEINVAL otherwise: hWnd 0 with events is
//     the sample's failed IsWindow; the simulator has no window manager, so
//     any other value passes, and lEvent 0, a cancel, needs none), stores
//     the client's hWnd and message in the socket, and registers the lower
//     socket with the hidden window for the same events (lEvent 0 cancels
//     below too). The window's procedure, which runs in the layer below's
//     WPUPostMessage, maps wParam back to the layer's socket and posts
//     WPUPostMessage(the client's hWnd, its message, the layer's handle,
//     lParam), outside every lock of the kit; through a stack of kit layers
//     each reposts to the one above. A message for a lower socket the layer
//     no longer knows (closed), or for a socket whose selection the client
//     cancelled, is dropped. Closing a socket cancels its selection below
//     before the lower socket closes (and restores it should the close
//     fail), so closesocket posts nothing, as on Windows. A socket that
//     WSPAccept (or WSPJoinLeaf) makes has the listener's selection, as the
//     sample's sockets inherit hWnd and message; a message the layer below
//     posts for it before its WSPAccept returns waits until the kit has
//     paired the socket, as the sample waits for the context to be
//     inserted.
//   - WSAEventSelect and WSAEnumNetworkEvents: the handle is mapped and the
//     client's event object goes down unchanged, so the layer below records
//     the events and signals and resets the client's event itself; the
//     layer's own checks are only the handle's (WSAENOTSOCK).
//   - select. ws2_32 gives a select call to one provider's WSPSelect,
//     found since Windows Vista by asking each socket's provider for
//     SIO_BSP_HANDLE_SELECT (docs/facts.md §12.1). By default the kit
//     passes the code down, as the sample does (its answering code is
//     commented out, with the warning that a layer which serves select must
//     be installed over IPv4 and IPv6 alike, or select calls that mix its
//     sockets with others fail), so the base provider serves select and
//     the layer never sees it. With [Config.ServeSelect] the kit answers
//     with its own handle (WSAEFAULT for an output buffer smaller than a
//     SOCKET; an overlapped call completes through the client's
//     notification), and its WSPSelect serves the call: it fails with
//     WSAEINVAL when all three sets are nil, with WSAENOBUFS for a set of
//     more than FD_SETSIZE entries, maps each set to a private set of
//     lower sockets (a handle it does not know goes down unchanged, in the
//     hope that the layer below knows it; if it knows none, WSAEINVAL),
//     holds a reference on each of its sockets for the call (a concurrent
//     closesocket leaves the handle open until the select returns), calls
//     the lower WSPSelect and rebuilds the client's sets with WPUFDIsSet.
//     Whatever ServeSelect says, a layer above that serves select calls
//     this one's WSPSelect, which maps the sets the same way.
//   - WSAPoll: SIO_BSP_HANDLE_POLL goes down, so WSAPoll polls the base
//     provider's sockets and no layer sees it. The sample answers the code
//     with its own handle, but it also implements SIO_EXT_POLL, the ioctl
//     through which ws2_32 would then hand it the poll; the kit does not,
//     so it leaves WSAPoll to the base provider.
//
// [Install] puts a provider into a machine's catalog, as Microsoft's
// installer does, and registers it.
//
// # Per-process state
//
// On Windows an LSP is a DLL, and its globals exist once per process that
// loads it. In the simulator a machine registers one startup function per
// "DLL path" for all its processes ([Machine]), and calls it in each
// process that loads the provider. The WSPStartup function of a
// [Provider] therefore makes a fresh [Instance] on every call: the
// provider as loaded into one process, holding the upcall table and
// imports of that process, the next layer it loaded there, its private
// port and workers, and its sockets. This is exact because ws2_32's loader
// (package catalog) keeps the per-process WSPStartup reference count
// itself and calls a provider's WSPStartup once per process and provider
// GUID, pairing it with one WSPCleanup. (The loader keys loaded providers
// by GUID, and Microsoft's installer gives each chain its own GUID, so a
// process that uses a layered provider over TCP and over UDP holds two
// instances of it.) Code that calls WSPStartup itself, more than once for
// one process, uses [Provider.NewInstance]: an Instance counts its
// WSPStartup calls, keeps the most recent upcall table and imports, and
// undoes everything at its last WSPCleanup.
//
// # Decisions
//
// Where Windows documents nothing the kit decides, as follows.
//
//   - Handles are created for the catalog entry the process loaded the
//     provider for ([HandleOwner]): the chain entry (the sample's
//     LayerProvider), so that ws2_32 sends the calls on the handle back to
//     this instance. The hidden layered entry is only what the provider
//     looks for in a chain.
//   - Exactly once: an operation leaves its live state once, by an atomic
//     compare-and-swap, whoever tries first: the issuing call (an
//     immediate success), the worker that dequeues its packet, or
//     WSPCleanup (silently). Reference counts, one for the issuing call and
//     one for the packet that will come (or for the issuing call again
//     when none will), keep an operation's record from being reused while
//     anyone may still touch it, a queued completion routine included. A
//     record WSPCleanup abandons is never reused, since the layer below may
//     still write it. When the worker wins over the issuing call (over a
//     non-IFS layer, whose packet comes even for an immediate success), the
//     call returns WSA_IO_PENDING instead of success, so a client is never
//     told "done at once" before its notification is queued.
//   - Order: an immediate success is forwarded inline only when no other
//     operation of the socket is outstanding; otherwise it goes through
//     the private port behind the others, and the call returns
//     WSA_IO_PENDING. With one worker (the default), the client therefore
//     hears of a socket's operations in the order the layer below
//     completed them. (Over a non-IFS layer, the worker may dequeue the
//     packet of an immediate success and forward it before the issuing
//     call does; the call still returns success.)
//   - A call that fails at once (nothing started) leaves the client's
//     overlapped with Internal and OffsetHigh set to the error, since the
//     kit had marked it in progress before calling down.
//   - A lower call that fails at once yet delivers a completion (a
//     truncated datagram, WSAEMSGSIZE) returns WSA_IO_PENDING, and the
//     error comes with the completion.
//   - WSPGetOverlappedResult with wait blocks whatever the notification
//     style (the documentation allows it for events only), and fails with
//     WSAEINVAL for an overlapped that is in progress but not one of the
//     socket's operations.
//   - The last WSPCleanup sets SO_LINGER {1, 0} on each lower socket left
//     open before closing it: open sockets are reset, as WSPCleanup
//     documents.
//   - A lower close that fails leaves the layer's socket open and returns
//     the error, as WSAEWOULDBLOCK does (WSPCloseSocket documents it): the
//     layer below keeps its socket and its pending operations, whose
//     completions the layer must still forward. WSAENOTSOCK is the
//     exception: the lower socket is gone, and the layer's closes.
//   - Hooks: Before runs once the kit has substituted an overlapped call's
//     OVERLAPPED, so a call Before fails at once leaves the client's
//     OVERLAPPED as a failure at once of the layer below does (Internal
//     and OffsetHigh hold the error). A completion of the hook's own (Before's
//     FailCompletion or Complete) takes the path of an immediate success
//     of the layer below: forwarded before the call returns when the
//     socket has nothing else outstanding, through the private port
//     otherwise. After runs wherever the result arrives, once, by
//     whoever ends the operation (the issuing call or a worker); its Fail
//     fails the call at once only if the call has not returned yet (the
//     layer below answered at once), and otherwise goes through the
//     completion. A held completion waits in a state of its own (see
//     delay.go); whichever of its delivery and the last WSPCleanup comes
//     first ends it. A delay reorders: later completions of the socket may
//     overtake a held one.
//   - WSPDuplicateSocket, WSPEventSelect and WSPEnumNetworkEvents go down
//     with the lower handle and return the lower layer's answer;
//     WSPAsyncSelect goes down with the hidden window, and WSPSelect maps
//     its sets both ways (see "Readiness").
//   - WSPAsyncSelect checks lEvent and the window before the handle, as
//     the sample does: a bad lEvent on a handle that is not the layer's
//     is WSAEINVAL, not WSAENOTSOCK.
//   - The hidden window's message is WM_USER + 1; the window serves
//     nothing else. At most 16 messages wait for one socket an accept has
//     not yet paired; a message for a lower socket the layer does not know
//     while no accept is under way is dropped at once (the sample retries
//     for up to seven half-seconds, which would block the poster here,
//     since the window's procedure runs in the posting call).
//   - The count WSPSelect returns is the number of entries of the rebuilt
//     sets (after the hooks), not the layer below's count.
//   - A delayed WSAAsyncSelect message (a Before's [Delay]) is posted by a
//     timer, or by the [Config.Scheduler] keyed by the socket; it is
//     dropped if the socket closes or the last WSPCleanup comes first. With
//     timers, delayed messages may overtake each other.
//   - SIO_GET_EXTENSION_FUNCTION_POINTER for AcceptEx or ConnectEx (not
//     overlapped) is intercepted, as the sample does: once the layer below
//     knows the GUID, the layer returns a pointer to its own function.
//     That function maps the handles to the lower sockets, fetches the
//     lower function on the lower socket at each call (a layer may hand
//     out one per socket), and substitutes its overlapped as for a send,
//     so the completion reaches the client once (for AcceptEx, on the
//     listener); the first data of AcceptEx goes through OnRecv and the
//     data of ConnectEx through OnSend, and Before and After see them as
//     OpAccept (with the accept socket in Accepted) and OpConnect. Other
//     GUIDs, and the ioctl with an overlapped, go down unchanged.
//
// # Concurrency
//
// Provider, Instance and Socket are safe for concurrent use. Hooks run
// without any lock of the kit held, on the calling goroutine, a worker,
// the goroutine that delivers a held completion (a timer's, or whoever
// runs the scheduler's work), or, for a WSAAsyncSelect message, the
// goroutine of the layer below that posted it.
// Nothing blocks while holding a lock; WSPGetOverlappedResult waits on a
// channel. The last WSPCleanup waits for the workers to end, so no
// goroutine outlives it.
package layered
