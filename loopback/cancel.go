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
		mine := q.extract(func(o *op) bool { return o.req.Overlapped != nil && match(o) })
		for o := mine.pop(); o != nil; o = mine.pop() {
			n.finishLocked(o, spi.ERROR_OPERATION_ABORTED, &fl)
			count++
		}
	}
	count += n.cancelAcceptDataLocked(s, match, &fl)
	count += n.cancelAddressListChangeLocked(s, match, &fl)
	count += n.cancelPollsLocked(s, match, &fl)
	if count > 0 {
		n.settleLocked(s, &fl)
	}
	n.mu.Unlock()
	fl.flush()
	return count
}
