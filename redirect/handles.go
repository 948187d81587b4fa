package redirect

import (
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// A socket's file object may have several handles, in one process or in
// several: DuplicateHandle, and WSADuplicateSocket, which a base provider
// serves with a duplicated handle as msafd does. Every handle names the
// same Socket, so the socket has one completion context (one port for
// life, whichever process associated it) and one driver. The socket ends
// when its last handle closes: by the provider's WSPCloseSocket through
// ReleaseFileHandle and FileObject.Close, or by CloseHandle, which runs
// the driver's Cleanup.

// DuplicateFile gives target (a layer of this process or another's) a new
// handle to the IFS file object behind h, owned by the same catalog entry,
// as DuplicateHandle and NtDuplicateObject do. A handle from
// WPUCreateSocketHandle cannot be duplicated: its meaning is the context a
// layered provider of this process keeps, which no other handle, and no
// other process's copy of the provider, could find; it fails with
// ERROR_NOT_SUPPORTED (Microsoft warns that layered providers can make
// DuplicateHandle on sockets fail). Any other handle fails with
// ERROR_INVALID_HANDLE, and a full target table with WSAENOBUFS.
func (l *Layer) DuplicateFile(h spi.Handle, target *Layer) (spi.Handle, error) {
	const op = "DuplicateHandle"
	e, ok := l.table.Lookup(h)
	s, isSocket := e.Object.(*Socket)
	switch {
	case !ok || !isSocket || (e.Kind != handles.KindIFSSocket && e.Kind != handles.KindSocket):
		return 0, l.table.Error(op, h, spi.ERROR_INVALID_HANDLE)
	case s.driver == nil:
		return 0, spi.NewOpError(op, h, spi.ERROR_NOT_SUPPORTED)
	}
	d, err := target.table.Insert(handles.KindIFSSocket, s)
	if err != nil {
		return 0, spi.NewOpError(op, h, spi.ErrnoOf(err))
	}
	if e.Owner != 0 {
		if _, err := target.table.ModifyIFSHandle(e.Owner, d); err != nil {
			_ = target.table.Close(d)
			return 0, spi.NewOpError(op, h, spi.ErrnoOf(err))
		}
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if len(s.handles) == 0 { // the socket closed meanwhile
		_ = target.table.CloseObject(d, s)
		return 0, l.table.Error(op, h, spi.ERROR_INVALID_HANDLE)
	}
	s.handles = append(s.handles, handleRef{target, d})
	return d, nil
}

// ReleaseFileHandle serves [spi.Imports.ReleaseFileHandle] for the layer's
// process: h closes unless it is its file object's last handle, which is
// left open for the provider to end the socket.
func (l *Layer) ReleaseFileHandle(h spi.Handle) (last bool, err error) {
	const op = "NtClose"
	s, err := l.Socket(op, h)
	if err != nil || s.driver == nil {
		return false, spi.NewOpError(op, h, spi.WSAENOTSOCK)
	}
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if len(s.handles) == 1 {
		return true, nil
	}
	if !s.dropRefLocked(l, h) {
		return false, spi.NewOpError(op, h, spi.WSAENOTSOCK)
	}
	return false, l.table.CloseObject(h, s)
}

// CloseHandle is CloseHandle on socket handle h of the layer's process:
// the handle closes without the owning provider's WSPCloseSocket. When it
// is the last handle of an IFS socket's file object, the driver ends the
// socket as AFD does ([spi.FileDriver.Cleanup]); a handle from
// WPUCreateSocketHandle just closes, and the layered provider that made it
// is not told.
func (l *Layer) CloseHandle(h spi.Handle) error {
	const op = "CloseHandle"
	s, err := l.Socket(op, h)
	if err != nil {
		return err
	}
	s.hmu.Lock()
	cleanup := s.driver != nil && len(s.handles) == 1 && s.handles[0] == (handleRef{l, h})
	if !cleanup && !s.dropRefLocked(l, h) {
		s.hmu.Unlock()
		return spi.NewOpError(op, h, spi.ERROR_INVALID_HANDLE)
	}
	s.hmu.Unlock()
	if cleanup {
		s.driver.Cleanup() // ends the socket and closes h through Close
		return nil
	}
	return l.table.CloseObject(h, s)
}
