package winnet

import (
	"sync/atomic"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// poller is the goroutine that plays Go's runtime netpoll on Windows: it
// waits on the stack's port with GetQueuedCompletionStatusEx and hands each
// packet to the operation whose OVERLAPPED it carries, found by the
// completion key the socket was associated under.
type poller struct {
	st   *Stack
	th   *wsspi.Thread
	done chan struct{} // closed when the goroutine returns
	// foreign counts packets that named no operation of the stack (an
	// unknown key, or an OVERLAPPED that is neither of the fd's).
	foreign, delivered atomic.Int64
	// err is the error the wait ended with.
	err atomic.Value
}

// pollerBatch is how many packets one GetQueuedCompletionStatusEx call
// takes, the size of the runtime's array.
const pollerBatch = 64

func startPoller(st *Stack, th *wsspi.Thread) *poller {
	pl := &poller{st: st, th: th, done: make(chan struct{})}
	go pl.run()
	return pl
}

func (pl *poller) run() {
	defer close(pl.done)
	entries := make([]spi.OverlappedEntry, pollerBatch)
	for {
		n, err := pl.th.GetQueuedCompletionStatusEx(pl.st.port, entries, spi.Infinite, false)
		if err != nil {
			// The port closed (Stack.Close) or the process ended: no
			// packet will come again. Go's runtime throws here; the
			// stack instead wakes every waiting operation.
			pl.err.Store(err)
			return
		}
		for _, e := range entries[:n] {
			pl.deliver(e)
		}
		clear(entries[:n])
	}
}

// deliver wakes the operation e belongs to, as netpollready does.
func (pl *poller) deliver(e spi.OverlappedEntry) {
	pl.delivered.Add(1)
	fd := pl.st.lookup(e.CompletionKey)
	if fd == nil {
		pl.foreign.Add(1)
		return
	}
	switch e.Overlapped {
	case &fd.rop.ov:
		fd.rop.ready()
	case &fd.wop.ov:
		fd.wop.ready()
	default:
		pl.foreign.Add(1)
	}
}
