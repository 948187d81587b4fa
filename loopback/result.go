package loopback

import (
	"slices"

	"github.com/wsspi/wsspi/spi"
)

// knowsLocked reports whether ov belongs to an operation of the socket that
// has not been delivered yet.
func (s *socket) knowsLocked(ov *spi.Overlapped) bool {
	return s.sendq.has(ov) || s.recvq.has(ov) || s.notifyq.has(ov) ||
		(s.inflight != nil && s.inflight.req.Overlapped == ov) ||
		slices.ContainsFunc(s.acceptData, func(o *op) bool { return o.req.Overlapped == ov }) ||
		s.n.addressListChangePendingLocked(s, ov) || s.pollPendingLocked(ov)
}

// getOverlappedResult implements WSPGetOverlappedResult per the provider
// convention: while Internal is WSS_OPERATION_IN_PROGRESS the operation is
// pending (WSA_IO_INCOMPLETE without wait; with wait, block until it is
// delivered, or WSAEINVAL if the socket has no such operation); then
// InternalHigh is the byte count, Offset the flags and OffsetHigh the error
// (Internal when OffsetHigh is 0 and Internal is not, for a result the
// kernel wrote alone). Bytes and flags come back with an error too.
func (s *socket) getOverlappedResult(ov *spi.Overlapped, wait bool) (uint32, uint32, error) {
	if ov == nil {
		return 0, 0, spi.WSAEFAULT
	}
	if ov.InProgress() {
		if !wait {
			return 0, 0, spi.WSA_IO_INCOMPLETE
		}
		n := s.n
		n.mu.Lock()
		for ov.InProgress() {
			if !s.knowsLocked(ov) {
				n.mu.Unlock()
				return 0, 0, spi.WSAEINVAL
			}
			n.cond.Wait()
		}
		n.mu.Unlock()
	}
	bytes, flags := uint32(ov.LoadInternalHigh()), ov.LoadOffset()
	e := spi.Errno(ov.LoadOffsetHigh())
	if e == 0 {
		e = spi.NtStatusToWinsockError(spi.NTStatus(ov.LoadInternal()))
	}
	return bytes, flags, errOrNil(e)
}
