package spi

// WSPUpcallTable models WSPUPCALLTABLE: the 15 services ws2_32 hands a
// provider, by value, at WSPStartup, in header order. A provider keeps the
// most recently supplied table.
type WSPUpcallTable struct {
	// WPUCloseEvent closes an event made by WPUCreateEvent.
	WPUCloseEvent func(event Handle) error
	// WPUCloseSocketHandle removes a socket made by WPUCreateSocketHandle
	// from the handle table (WSAENOTSOCK for any other handle). The
	// provider still frees its own per-socket state.
	WPUCloseSocketHandle func(s Socket) error
	// WPUCreateEvent creates a manual-reset, non-signalled event.
	WPUCreateEvent func() (Handle, error)
	// WPUCreateSocketHandle creates a socket handle owned by the catalog
	// entry, recording context against it (WSAENOBUFS when the table is
	// full). ReadFile and WriteFile on it reach the owner's WSPRecv and
	// WSPSend through the redirector.
	WPUCreateSocketHandle func(catalogEntryId CatalogEntryId, context any) (Socket, error)
	// WPUFDIsSet reports whether s is in set.
	WPUFDIsSet func(s Socket, set *FDSet) bool
	// WPUGetProviderPath returns the "DLL path" of a provider, environment
	// strings unexpanded (WSAEINVAL for an unknown provider).
	WPUGetProviderPath func(providerId GUID) (string, error)
	// WPUModifyIFSHandle registers an IFS handle as owned by the catalog
	// entry and returns the handle to use from then on (WSAEINVAL for an
	// invalid proposed handle).
	WPUModifyIFSHandle func(catalogEntryId CatalogEntryId, proposedHandle Socket) (Socket, error)
	// WPUPostMessage posts a window message (kept for WSPAsyncSelect).
	WPUPostMessage func(hWnd HWND, msg uint32, wParam, lParam uintptr) bool
	// WPUQueryBlockingCallback returns the blocking hook for the entry's
	// provider and its context; the callback may be nil.
	WPUQueryBlockingCallback func(catalogEntryId CatalogEntryId) (BlockingCallback, any, error)
	// WPUQuerySocketHandleContext returns the context recorded by
	// WPUCreateSocketHandle (WSAENOTSOCK for any other handle).
	WPUQuerySocketHandleContext func(s Socket) (any, error)
	// WPUQueueApc queues apc(context) to the thread; it runs in that
	// thread's next alertable wait (WSAEFAULT for an invalid thread id).
	WPUQueueApc func(thread *ThreadID, apc UserAPC, context any) error
	// WPUResetEvent resets an event.
	WPUResetEvent func(event Handle) error
	// WPUSetEvent signals an event (ERROR_INVALID_HANDLE for a bad one).
	WPUSetEvent func(event Handle) error
	// WPUOpenCurrentThread returns a thread id for the calling thread, to
	// pass to a lower layer; each open needs a WPUCloseThread.
	WPUOpenCurrentThread func() (ThreadID, error)
	// WPUCloseThread closes a thread id from WPUOpenCurrentThread.
	WPUCloseThread func(thread *ThreadID) error
}
