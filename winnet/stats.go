package winnet

import "sync/atomic"

// Stats counts what the stack's operations met on their way. It is a
// snapshot.
type Stats struct {
	// Cancels counts CancelIoEx calls of interrupted operations;
	// CancelsNotFound those that failed with ERROR_NOT_FOUND (the call had
	// ended, or the handle is a non-IFS layer's, which CancelIoEx cannot
	// reach); BaseCancels the CancelIo calls on the SIO_BASE_HANDLE socket
	// that cancelled something (Options.CancelBaseHandle).
	Cancels, CancelsNotFound, BaseCancels int64
	// ForeignPackets counts packets the poller dequeued that named no
	// operation of the stack.
	ForeignPackets int64
	// StalePackets counts packets that arrived for an operation that had
	// already returned, found when the next operation of the direction
	// started: a packet for a call that succeeded at once on a socket with
	// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS that its provider did not honour
	// (a non-IFS layer's, KB 2568167).
	StalePackets int64
	// Packets counts the packets the poller dequeued.
	Packets int64
}

// stats holds the counters behind Stats.
type stats struct {
	cancels, cancelsNotFound, baseCancels, stalePackets atomic.Int64
}

// Stats returns a snapshot of the stack's counters.
func (st *Stack) Stats() Stats {
	return Stats{
		Cancels:         st.stats.cancels.Load(),
		CancelsNotFound: st.stats.cancelsNotFound.Load(),
		BaseCancels:     st.stats.baseCancels.Load(),
		ForeignPackets:  st.poller.foreign.Load(),
		StalePackets:    st.stats.stalePackets.Load(),
		Packets:         st.poller.delivered.Load(),
	}
}
