package redirect

import (
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// ExitThread cancels what the I/O manager cancels when thread exits: the
// overlapped operations it issued through the drivers of the process's IFS
// socket handles. Each completes once with ERROR_OPERATION_ABORTED (a
// completion routine is queued to the exiting thread, so it never runs).
// Handles associated with a completion port are left alone: since Windows
// Vista their I/O is not tied to the thread that issued it. Non-IFS handles
// have no driver to cancel in, as for [Layer.CancelIo]. ExitThread costs no
// transition (the exiting thread is in the kernel already) and returns how
// many operations it cancelled.
func (l *Layer) ExitThread(thread spi.ThreadID) int {
	n := 0
	for _, e := range l.table.Snapshot().Live {
		s, ok := e.Object.(*Socket)
		if !ok || e.Kind != handles.KindIFSSocket || s.driver == nil {
			continue
		}
		if port, _ := s.file.Port(); port != nil {
			continue
		}
		n += s.driver.CancelIo(thread, false, nil)
	}
	return n
}
