package loopback

import "github.com/wsspi/wsspi/spi"

// CancelIo cancels the pending overlapped operations of the socket issued
// by thread (matched by ThreadHandle; any thread with allThreads) that use
// ov (any with ov nil). Each completes once with ERROR_OPERATION_ABORTED.
// Blocking calls are not cancelled (CancelIo does not cancel synchronous
// I/O).
func (s *socket) CancelIo(thread spi.ThreadID, allThreads bool, ov *spi.Overlapped) int {
	n := s.n
	match := func(o *op) bool {
		return (allThreads || o.req.Thread.ThreadHandle == thread.ThreadHandle) &&
			(ov == nil || o.req.Overlapped == ov)
	}
	var fl flushList
	count := 0
	n.mu.Lock()
	for _, q := range [2]*opQueue{&s.sendq, &s.recvq} {
		var prev *op
		for o := q.head; o != nil; {
			next := o.next
			if o.req.Overlapped != nil && match(o) {
				q.remove(prev, o)
				n.finishLocked(o, spi.ERROR_OPERATION_ABORTED, &fl)
				count++
			} else {
				prev = o
			}
			o = next
		}
	}
	count += n.cancelAcceptDataLocked(s, match, &fl)
	count += n.cancelAddressListChangeLocked(s, match, &fl)
	if count > 0 {
		n.settleLocked(s, &fl)
	}
	n.mu.Unlock()
	fl.flush()
	return count
}
