package wsspi

import (
	"encoding/binary"
	"time"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// Select waits until a socket of readfds can be read, one of writefds
// written, or one of exceptfds has an exception, as select does, and
// rewrites each set to the sockets that are ready; it returns how many
// entries remain in the three sets together. timeout nil waits for ever,
// a zero timeout polls. nfds, which Windows ignores, has no parameter.
//
// ws2_32 hands the whole call to one provider's WSPSelect. Since Windows
// Vista it finds that provider by asking each socket's provider for
// SIO_BSP_HANDLE_SELECT (docs/facts.md §4.1): a base provider answers with
// the socket itself, a layer that passes the code down gives the base
// provider's socket (so the base provider serves select and the layer
// never sees it: an IFS layer never does), and a non-IFS layer that wants
// to see select answers with its own handle. The sets are rewritten with
// those handles, the provider of the first handle (readfds, then
// writefds, then exceptfds) gets the whole call, and its answer is mapped
// back to the client's sockets. A socket whose provider fails
// SIO_BSP_HANDLE_SELECT is passed as it is, as before Vista. A call that
// mixes sockets of several providers therefore works only if the
// serving provider knows them all: a layer installed over some protocols
// only makes select fail with WSAENOTSOCK when its sockets are mixed with
// others, as on Windows.
//
// Errors: WSANOTINITIALISED; WSAEINVAL when the sets hold no socket or a
// set's Count exceeds FD_SETSIZE; WSAENOTSOCK for an entry that is no
// socket; whatever the serving WSPSelect returns.
func (t *Thread) Select(readfds, writefds, exceptfds *spi.FDSet, timeout *time.Duration) (int, error) {
	const op = "select"
	c := t.traceCall(trace.LayerWinsock, op, 0)
	if _, err := t.p.activeLoader(op, 0); err != nil {
		return c.endCount(0, err)
	}
	sets := [3]*spi.FDSet{readfds, writefds, exceptfds}
	if t.sel == nil {
		t.sel = new(selectScratch)
	}
	bsp, lower := &t.sel.bsp, &t.sel.lower
	*lower = [3]spi.FDSet{}
	var serving *spi.WSPProcTable
	total := 0
	for i, set := range sets {
		if set == nil {
			continue
		}
		if set.Count > spi.FD_SETSIZE {
			return c.endCount(0, spi.NewOpError(op, 0, spi.WSAEINVAL))
		}
		for j, s := range set.Array[:set.Count] {
			b, err := t.bspHandle(op, s, spi.SIO_BSP_HANDLE_SELECT)
			if err != nil {
				return c.endCount(0, err)
			}
			if serving == nil {
				if serving, err = t.call(op, b); err != nil {
					return c.endCount(0, spi.NewOpError(op, s, spi.WSAENOTSOCK))
				}
			}
			bsp[i][j] = b
			lower[i].Set(b)
			total++
		}
	}
	if total == 0 {
		return c.endCount(0, spi.NewOpError(op, 0, spi.WSAEINVAL))
	}
	var args [3]*spi.FDSet
	for i := range sets {
		if sets[i] != nil {
			args[i] = &lower[i]
		}
	}
	if _, err := serving.WSPSelect(args[0], args[1], args[2], timeout); err != nil {
		return c.endCount(0, spi.NewOpError(op, 0, err))
	}
	ready := 0
	for i, set := range sets {
		if set == nil {
			continue
		}
		asked := &t.sel.asked
		*asked = *set
		set.Zero()
		for j, s := range asked.Array[:asked.Count] {
			if lower[i].IsSet(bsp[i][j]) {
				set.Set(s)
			}
		}
		ready += int(set.Count)
	}
	return c.endCount(ready, nil)
}

// bspHandle asks the provider of s for the base provider's handle that
// code (SIO_BSP_HANDLE_SELECT or SIO_BSP_HANDLE_POLL) names, as ws2_32
// does before select and WSAPoll. A provider that fails the code leaves s
// as it is; a handle that is no socket is WSAENOTSOCK.
func (t *Thread) bspHandle(op string, s spi.Socket, code uint32) (spi.Socket, error) {
	pt, err := t.call(op, s)
	if err != nil {
		return 0, spi.NewOpError(op, s, spi.WSAENOTSOCK)
	}
	if t.sel == nil {
		t.sel = new(selectScratch)
	}
	out := t.sel.out[:]
	n, err := pt.WSPIoctl(s, code, nil, out, nil, nil, &t.id)
	if err != nil || n < 8 {
		return s, nil
	}
	return spi.Socket(binary.LittleEndian.Uint64(out)), nil
}

// selectScratch is what select and WSAPoll work in, kept by the thread
// (which makes one call at a time) so a call allocates nothing of its own.
type selectScratch struct {
	bsp   [3][spi.FD_SETSIZE]spi.Socket // each entry's SIO_BSP_HANDLE_SELECT handle
	lower [3]spi.FDSet                  // the sets as the serving provider sees them
	asked spi.FDSet                     // a set as the client passed it
	out   [8]byte                       // a SIO_BSP_HANDLE_* answer
}
