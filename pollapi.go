package wsspi

import (
	"errors"
	"math"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// WSAPoll waits until one of the sockets in fds has an event it asks for,
// as WSAPoll does, sets each entry's Revents, and returns how many entries
// have a nonzero Revents (0 when timeout expired). timeout is in
// milliseconds: negative waits for ever, 0 returns at once.
//
// Events may ask for POLLRDNORM, POLLRDBAND, POLLWRNORM and POLLWRBAND
// (POLLIN, POLLOUT); POLLERR, POLLHUP and POLLNVAL are reported whether
// asked or not. POLLPRI, or any other bit, fails the call with WSAEINVAL
// (the Microsoft provider does not support POLLPRI; refusing it is the
// simulator's reading). An entry with a negative Fd is skipped with
// Revents 0; one that is no socket gets POLLNVAL.
//
// Like ws2_32 since Windows Vista, WSAPoll reaches no provider's WSPSelect:
// it asks each socket's provider for SIO_BSP_HANDLE_POLL, the base
// provider's socket (a socket whose provider fails the code is used as it
// is), and waits with one IOCTL_AFD_POLL on those base sockets, so no
// layer sees it. A handle that is no base provider socket (a non-IFS
// layer's own handle, given back by a layer that answers the code with
// it) gets POLLNVAL. The mapping from AFD events: AFD_POLL_RECEIVE and
// AFD_POLL_ACCEPT are POLLRDNORM, AFD_POLL_RECEIVE_EXPEDITED POLLRDBAND,
// AFD_POLL_SEND POLLWRNORM (each when asked); the peer's graceful close
// (AFD_POLL_DISCONNECT) is POLLHUP, with POLLRDNORM when asked, since a
// receive returns 0 at once; a reset (AFD_POLL_ABORT) and a failed connect
// (AFD_POLL_CONNECT_FAIL) are POLLHUP|POLLERR; a socket closed meanwhile
// (AFD_POLL_LOCAL_CLOSE) is POLLNVAL.
//
// Errors: WSANOTINITIALISED; WSAEINVAL for no entries, an invalid Events,
// or no entry with a socket to poll (all negative).
func (t *Thread) WSAPoll(fds []spi.WSAPOLLFD, timeout int32) (int, error) {
	const op = "WSAPoll"
	c := t.traceCall(trace.LayerWinsock, op, 0)
	if _, err := t.p.activeLoader(op, 0); err != nil {
		return c.endCount(0, err)
	}
	if len(fds) == 0 {
		return c.endCount(0, spi.NewOpError(op, 0, spi.WSAEINVAL))
	}
	const askable = spi.POLLRDNORM | spi.POLLRDBAND | spi.POLLWRNORM | spi.POLLWRBAND
	for _, fd := range fds {
		if !skippedFd(fd.Fd) && fd.Events&^askable != 0 {
			return c.endCount(0, spi.NewOpError(op, fd.Fd, spi.WSAEINVAL))
		}
	}
	base := make([]spi.Socket, len(fds)) // 0: not polled
	var info spi.AFDPollInfo
	valid := 0
	for i := range fds {
		fds[i].Revents = 0
		if skippedFd(fds[i].Fd) {
			continue
		}
		valid++
		b, err := t.bspHandle(op, fds[i].Fd, spi.SIO_BSP_HANDLE_POLL)
		if err != nil || !t.isAFDSocket(b) {
			fds[i].Revents = spi.POLLNVAL
			continue
		}
		base[i] = b
		info.Handles = append(info.Handles, spi.AFDPollHandleInfo{Handle: b, Events: afdEventsOf(fds[i].Events)})
	}
	if valid == 0 {
		return c.endCount(0, spi.NewOpError(op, 0, spi.WSAEINVAL))
	}
	ready := 0
	for _, fd := range fds {
		if fd.Revents != 0 {
			ready++
		}
	}
	if len(info.Handles) == 0 {
		return c.endCount(ready, nil)
	}
	switch {
	case ready > 0 || timeout == 0:
		info.Timeout = 0
	case timeout < 0:
		info.Timeout = math.MaxInt64
	default:
		info.Timeout = -int64(timeout) * 10_000 // relative, in 100 ns units
	}
	buf := info.Marshal()
	if err := t.pollWait(info.Handles[0].Handle, buf); err != nil {
		return c.endCount(0, spi.NewOpError(op, 0, err))
	}
	got, _ := spi.ParseAFDPollInfo(buf) // no handles after a timeout
	for _, h := range got.Handles {
		for i := range fds {
			if base[i] == h.Handle && fds[i].Revents == 0 {
				if fds[i].Revents = pollEventsOf(h.Events, fds[i].Events); fds[i].Revents != 0 {
					ready++
				}
			}
		}
	}
	return c.endCount(ready, nil)
}

// skippedFd reports whether fd is negative as a C SOCKET reads it, so
// WSAPoll ignores it.
func skippedFd(fd spi.Socket) bool { return int64(fd) < 0 }

// isAFDSocket reports whether h is a base provider's socket, whose driver
// serves IOCTL_AFD_POLL.
func (t *Thread) isAFDSocket(h spi.Handle) bool {
	d, ok := t.p.providerFileDriver(h)
	if !ok {
		return false
	}
	_, ok = d.(spi.DeviceController)
	return ok
}

// pollWait issues the poll on h and waits for it to end, as ws2_32 waits
// on a request of its own (no completion packet); a poll that ends with
// STATUS_TIMEOUT is no error. The error is a Winsock code.
func (t *Thread) pollWait(h spi.Handle, buf []byte) error {
	var iosb spi.Overlapped
	iosb.HEvent = 1 // no completion packet
	if err := t.deviceIoControl(h, spi.IOCTL_AFD_POLL, buf, buf, &iosb, true); err != nil {
		var st spi.NTStatus
		if errors.As(err, &st) {
			if st == spi.STATUS_TIMEOUT {
				return nil
			}
			return spi.NtStatusToWinsockError(st)
		}
		return err
	}
	return nil
}

// afdEventsOf is the AFD poll request for a WSAPOLLFD's events; the events
// reported whatever is asked are always requested.
func afdEventsOf(events int16) uint32 {
	req := uint32(spi.AFD_POLL_DISCONNECT | spi.AFD_POLL_ABORT | spi.AFD_POLL_LOCAL_CLOSE | spi.AFD_POLL_CONNECT_FAIL)
	if events&spi.POLLRDNORM != 0 {
		req |= spi.AFD_POLL_RECEIVE | spi.AFD_POLL_ACCEPT
	}
	if events&spi.POLLRDBAND != 0 {
		req |= spi.AFD_POLL_RECEIVE_EXPEDITED
	}
	if events&spi.POLLWRNORM != 0 {
		req |= spi.AFD_POLL_SEND
	}
	return req
}

// pollEventsOf maps the AFD events of a poll back to revents for an entry
// that asked for events.
func pollEventsOf(afd uint32, events int16) int16 {
	var r int16
	if afd&(spi.AFD_POLL_RECEIVE|spi.AFD_POLL_ACCEPT) != 0 {
		r |= spi.POLLRDNORM
	}
	if afd&spi.AFD_POLL_RECEIVE_EXPEDITED != 0 {
		r |= spi.POLLRDBAND
	}
	if afd&spi.AFD_POLL_SEND != 0 {
		r |= spi.POLLWRNORM
	}
	if afd&spi.AFD_POLL_DISCONNECT != 0 {
		r |= spi.POLLHUP | spi.POLLRDNORM
	}
	r &= events | spi.POLLHUP
	if afd&(spi.AFD_POLL_ABORT|spi.AFD_POLL_CONNECT_FAIL) != 0 {
		r |= spi.POLLHUP | spi.POLLERR
	}
	if afd&spi.AFD_POLL_LOCAL_CLOSE != 0 {
		r |= spi.POLLNVAL
	}
	return r
}
