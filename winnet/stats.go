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
}

// stats holds the counters behind Stats.
type stats struct {
	cancels, cancelsNotFound, baseCancels atomic.Int64
}

// Stats returns a snapshot of the stack's counters.
func (st *Stack) Stats() Stats {
	return Stats{
		Cancels:         st.stats.cancels.Load(),
		CancelsNotFound: st.stats.cancelsNotFound.Load(),
		BaseCancels:     st.stats.baseCancels.Load(),
		ForeignPackets:  st.poller.foreign.Load(),
	}
}
