package wsspi

import (
	"time"

	"github.com/wsspi/wsspi/redirect"
	"github.com/wsspi/wsspi/spi"
)

// services builds what a provider receives at WSPStartup besides its
// catalog entry: the process's upcall table and the functions a provider
// links from ws2_32 and the kernel directly. Every provider of a process
// gets the same services.
func (p *Process) services(*spi.WSAProtocolInfo) (spi.WSPUpcallTable, spi.Imports) {
	return spi.WSPUpcallTable{
			WPUCloseEvent:               p.wpuCloseEvent,
			WPUCloseSocketHandle:        p.wpuCloseSocketHandle,
			WPUCreateEvent:              p.kernel.WSACreateEvent,
			WPUCreateSocketHandle:       p.wpuCreateSocketHandle,
			WPUFDIsSet:                  func(s spi.Socket, set *spi.FDSet) bool { return set.IsSet(s) },
			WPUGetProviderPath:          p.wpuGetProviderPath,
			WPUModifyIFSHandle:          p.wpuModifyIFSHandle,
			WPUPostMessage:              p.wpuPostMessage,
			WPUQueryBlockingCallback:    p.wpuQueryBlockingCallback,
			WPUQuerySocketHandleContext: p.table.QuerySocketHandleContext,
			WPUQueueApc:                 p.kernel.WPUQueueApc,
			WPUResetEvent:               p.wpuResetEvent,
			WPUSetEvent:                 p.wpuSetEvent,
			WPUOpenCurrentThread:        p.wpuOpenCurrentThread,
			WPUCloseThread:              p.kernel.WPUCloseThread,
		}, spi.Imports{
			WPUCompleteOverlappedRequest:       p.WPUCompleteOverlappedRequest,
			CreateFileObject:                   p.ifs.CreateFileObject,
			FileDriver:                         p.providerFileDriver,
			ReleaseFileHandle:                  p.ifs.ReleaseFileHandle,
			DuplicateHandle:                    p.providerDuplicateHandle,
			LoadNext:                           p.loadNext,
			CreateIoCompletionPort:             p.kernel.CreateIoCompletionPort,
			GetQueuedCompletionStatus:          p.providerGetQueuedCompletionStatus,
			PostQueuedCompletionStatus:         p.kernel.PostQueuedCompletionStatus,
			SetFileCompletionNotificationModes: p.kernel.SetFileCompletionNotificationModes,
			CloseHandle:                        p.kernel.CloseHandle,
			CreateThread:                       p.providerCreateThread,
			ExitThread:                         p.providerExitThread,
			CreateWindow:                       p.createWindow,
			DestroyWindow:                      p.destroyWindow,
			RegisterExtension:                  p.registerExtension,
			ExtensionFunction:                  p.ExtensionFunction,
		}
}

// loadNext serves [spi.Imports.LoadNext] from the process's loader.
func (p *Process) loadNext(chain *spi.WSAProtocolInfo, self spi.CatalogEntryId) (spi.NextLayer, error) {
	l, err := p.activeLoader("WSPStartup", 0)
	if err != nil {
		return spi.NextLayer{}, err
	}
	prov, info, err := l.LoadNext(chain, self)
	if err != nil {
		return spi.NextLayer{}, err
	}
	return spi.NextLayer{ProcTable: prov.ProcTable, Info: info, Cleanup: func() error { return l.Cleanup(prov) }}, nil
}

// providerCreateThread makes a simulated thread for a provider's own
// goroutine.
func (p *Process) providerCreateThread() (spi.ThreadID, error) {
	th, err := p.kernel.NewThread()
	if err != nil {
		return spi.ThreadID{}, err
	}
	return th.ID(), nil
}

// providerExitThread ends a thread made by providerCreateThread.
func (p *Process) providerExitThread(id spi.ThreadID) error {
	th, err := p.kernel.Thread(&id)
	if err != nil {
		return err
	}
	p.ifs.ExitThread(id)
	th.Exit()
	return nil
}

// providerGetQueuedCompletionStatus is GetQueuedCompletionStatus called by
// a provider's thread, named by its id.
func (p *Process) providerGetQueuedCompletionStatus(id spi.ThreadID, port spi.Handle, timeout time.Duration) (spi.OverlappedEntry, error) {
	th, err := p.kernel.Thread(&id)
	if err != nil {
		return spi.OverlappedEntry{}, err
	}
	return p.kernel.GetQueuedCompletionStatus(th, port, timeout)
}

// WPUCompleteOverlappedRequest completes an overlapped operation on a socket
// made by WPUCreateSocketHandle, as ws2_32's export of that name does (see
// [redirect.Layer.CompleteOverlappedRequest]): a packet to the port the
// client associated with s, with the client's key, unless the hEvent low
// bit is set, and the hEvent event; never a completion routine, and never
// skipped by FILE_SKIP_COMPLETION_PORT_ON_SUCCESS. It fails with WSAEINVAL
// for any other handle.
func (p *Process) WPUCompleteOverlappedRequest(s spi.Socket, ov *spi.Overlapped, dwError spi.Errno, cbTransferred uint32) error {
	return p.ifs.CompleteOverlappedRequest(s, ov, dwError, cbTransferred)
}

// wpuCloseSocketHandle is WPUCloseSocketHandle.
// A synchronous handle's file requests still waiting end as aborted (see
// package redirect).
func (p *Process) wpuCloseSocketHandle(s spi.Socket) error {
	e, _ := p.table.Lookup(s)
	if err := p.table.CloseSocketHandle(s); err != nil {
		return err
	}
	if sock, ok := e.Object.(*redirect.Socket); ok {
		p.ifs.CloseSocketHandle(sock)
	}
	return nil
}

// wpuCreateSocketHandle is WPUCreateSocketHandle: a non-IFS socket handle
// owned by catalog entry id. An id that names no entry of the process's
// catalog fails with WSAEINVAL: ws2_32 could never route a call on such a
// handle, so not even closesocket would reach the provider again.
func (p *Process) wpuCreateSocketHandle(id spi.CatalogEntryId, context any) (spi.Socket, error) {
	if !p.knowsEntry(id) {
		return spi.INVALID_SOCKET, spi.NewOpError("WPUCreateSocketHandle", 0, spi.WSAEINVAL)
	}
	return p.ifs.CreateSocketHandle(id, context)
}

// wpuModifyIFSHandle is WPUModifyIFSHandle: the proposed handle, which must
// be a live IFS file object, is now owned by catalog entry id, and calls on
// it go to that entry's provider. The value is returned unchanged. An id
// that names no entry of the process's catalog fails with WSAEINVAL and
// leaves the handle's owner as it was.
func (p *Process) wpuModifyIFSHandle(id spi.CatalogEntryId, proposed spi.Socket) (spi.Socket, error) {
	if !p.knowsEntry(id) {
		return spi.INVALID_SOCKET, spi.NewOpError("WPUModifyIFSHandle", proposed, spi.WSAEINVAL)
	}
	return p.table.ModifyIFSHandle(id, proposed)
}

// knowsEntry reports whether id names an entry of the process's view of
// the catalog, a provider the process could have loaded.
func (p *Process) knowsEntry(id spi.CatalogEntryId) bool {
	l := p.loader.Load()
	if l == nil {
		return false
	}
	_, ok := l.View().Entry(id)
	return ok
}

// wpuGetProviderPath is WPUGetProviderPath, served from the process's view.
func (p *Process) wpuGetProviderPath(providerId spi.GUID) (string, error) {
	l, err := p.activeLoader("WPUGetProviderPath", 0)
	if err != nil {
		return "", err
	}
	return l.View().WPUGetProviderPath(providerId)
}

// wpuQueryBlockingCallback is WPUQueryBlockingCallback. Winsock 2.2 has no
// blocking hooks (WSASetBlockingHook is gone), so the callback is always
// nil and providers block on native objects; an id not in the process's
// catalog fails with WSAEINVAL.
func (p *Process) wpuQueryBlockingCallback(id spi.CatalogEntryId) (spi.BlockingCallback, any, error) {
	const op = "WPUQueryBlockingCallback"
	l, err := p.activeLoader(op, 0)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := l.View().Entry(id); !ok {
		return nil, nil, spi.NewOpError(op, 0, spi.WSAEINVAL)
	}
	return nil, nil, nil
}

// The event upcalls fail with ERROR_INVALID_HANDLE (= WSA_INVALID_HANDLE)
// for a handle that is not a live event, as WPUSetEvent documents.

func (p *Process) wpuSetEvent(h spi.Handle) error {
	return spi.NewOpError("WPUSetEvent", h, unwrapErrno(p.kernel.SetEvent(h)))
}

func (p *Process) wpuResetEvent(h spi.Handle) error {
	return spi.NewOpError("WPUResetEvent", h, unwrapErrno(p.kernel.ResetEvent(h)))
}

func (p *Process) wpuCloseEvent(h spi.Handle) error {
	if _, err := p.kernel.Event(h); err != nil {
		return spi.NewOpError("WPUCloseEvent", h, spi.ERROR_INVALID_HANDLE)
	}
	return spi.NewOpError("WPUCloseEvent", h, unwrapErrno(p.kernel.CloseHandle(h)))
}

// wpuOpenCurrentThread is WPUOpenCurrentThread. Go has no thread identity,
// so the calling thread is taken to be the process's worker thread (see
// the package documentation).
func (p *Process) wpuOpenCurrentThread() (spi.ThreadID, error) {
	if _, err := p.activeLoader("WPUOpenCurrentThread", 0); err != nil {
		return spi.ThreadID{}, err
	}
	w, err := p.workerThread()
	if err != nil {
		return spi.ThreadID{}, spi.NewOpError("WPUOpenCurrentThread", 0, spi.ErrnoOf(err))
	}
	return p.kernel.WPUOpenCurrentThread(w.th)
}

// unwrapErrno returns the code inside err, or nil.
func unwrapErrno(err error) error {
	if err == nil {
		return nil
	}
	return spi.ErrnoOf(err)
}
