package redirect

import (
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// A handle from WPUCreateSocketHandle is a file object of the ws2ifsl
// driver, opened for synchronous I/O when the socket is created without
// WSA_FLAG_OVERLAPPED (ws2_32 sets the thread's open type to
// SO_SYNCHRONOUS_NONALERT for the call, and ws2help opens the handle with
// FILE_SYNCHRONOUS_IO_NONALERT: docs/facts.md §8.1). A ReadFile or
// WriteFile without an OVERLAPPED on such a handle waits in the driver
// until the request completes. The driver hands the request up to the
// owning provider as an overlapped WSPRecv or WSPSend, with an OVERLAPPED
// of its own (Perl/perl5#6860 reports the overlapped WSPSend), and the
// request completes when the provider completes that OVERLAPPED with
// WPUCompleteOverlappedRequest, as for any overlapped call of a non-IFS
// provider, an immediate success included (docs/facts.md §2.5). A
// provider that never completes it leaves the file call waiting until the
// handle closes (WPUCloseSocketHandle), which ends it with
// ERROR_OPERATION_ABORTED. The simulator does not refuse a port for such
// a handle, as Windows does for a synchronous file object.

// MarkSynchronous marks h, if it is a live handle from
// WPUCreateSocketHandle, as opened for synchronous I/O: ReadFile and
// WriteFile without an OVERLAPPED on it are redirected as described
// above. Other handles are left alone. ws2_32 calls it when WSASocket,
// called without WSA_FLAG_OVERLAPPED, returns h.
func (l *Layer) MarkSynchronous(h spi.Handle) {
	if e, ok := l.table.Lookup(h); ok && e.Kind == handles.KindSocket {
		if s, ok := e.Object.(*Socket); ok {
			s.synchronous.Store(true)
		}
	}
}

// syncRedirect serves a ReadFile or WriteFile without an OVERLAPPED on a
// synchronous non-IFS handle: call issues the provider's call with the
// layer's own OVERLAPPED, and the result is that OVERLAPPED's once it
// completes. An immediate failure completes nothing and is returned.
func (s *Socket) syncRedirect(op string, call func(ov *spi.Overlapped) (uint32, error)) (uint32, error) {
	ov := new(spi.Overlapped)
	done := s.await(ov)
	n, err := call(ov)
	if err != nil && spi.ErrnoOf(err) != spi.WSA_IO_PENDING {
		s.unawait(ov)
		return n, fileError(op, s.Handle(), err)
	}
	<-done
	if ov.InProgress() || !s.completed(ov) {
		return 0, spi.NewOpError(op, s.Handle(), spi.ERROR_OPERATION_ABORTED)
	}
	bytes := uint32(ov.LoadInternalHigh())
	if st := spi.NTStatus(ov.LoadInternal()); !st.IsSuccess() {
		return bytes, spi.NewOpError(op, s.Handle(), spi.RtlNtStatusToDosError(st))
	}
	return bytes, nil
}

// await registers ov as a request waiting for its completion.
func (s *Socket) await(ov *spi.Overlapped) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.waits == nil {
		s.waits = map[*spi.Overlapped]chan struct{}{}
	}
	ch := make(chan struct{})
	s.waits[ov] = ch
	return ch
}

// unawait forgets a request that failed at once.
func (s *Socket) unawait(ov *spi.Overlapped) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.waits, ov)
}

// wakeLocked ends the wait of the request of ov, if one waits, once
// WPUCompleteOverlappedRequest has completed it; s.mu is held.
func (s *Socket) wakeLocked(ov *spi.Overlapped) {
	if ch, ok := s.waits[ov]; ok {
		delete(s.waits, ov)
		close(ch)
	}
}

// completed reports whether ov's wait ended by its completion rather than
// by the handle's close (abortWaits), and forgets the abort.
func (s *Socket) completed(ov *spi.Overlapped) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, aborted := s.aborted[ov]
	delete(s.aborted, ov)
	return !aborted
}

// abortWaits ends every waiting request as aborted: the handle closed.
func (s *Socket) abortWaits() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ov, ch := range s.waits {
		if s.aborted == nil {
			s.aborted = map[*spi.Overlapped]struct{}{}
		}
		s.aborted[ov] = struct{}{}
		close(ch)
	}
	s.waits = nil
}

// CloseSocketHandle models WPUCloseSocketHandle's end of the file object:
// the requests waiting on a synchronous handle h end as aborted. ws2_32
// calls it once the handle table has closed h.
func (l *Layer) CloseSocketHandle(s *Socket) {
	if s != nil && s.driver == nil {
		s.abortWaits()
	}
}
