package layered

import (
	"github.com/wsspi/wsspi/spi"
)

// How the kit carries out the verdicts of Before and After (see [Hooks]).
// An overlapped call runs Before once begin has substituted its overlapped,
// and before applies the verdict: a failure at once ends the op as a
// failure of the layer below at once would (failNow); a failure through
// the completion, or a completion of the hook's own, ends it without the
// layer below, through the path of an immediate success (selfComplete); a
// delay goes with the op to forward, which runs After wherever the result
// arrives (inline, on a worker) and holds the notification (hold). A call
// that is not overlapped runs both hooks around its lower call (sync).

// Names of the functions a Call names.
const (
	fnSend      = "WSPSend"
	fnSendTo    = "WSPSendTo"
	fnRecv      = "WSPRecv"
	fnRecvFrom  = "WSPRecvFrom"
	fnConnect   = "WSPConnect"
	fnAccept    = "WSPAccept"
	fnIoctl     = "WSPIoctl"
	fnClose     = "WSPCloseSocket"
	fnAcceptEx  = "AcceptEx"
	fnConnectEx = "ConnectEx"

	fnSelect            = "WSPSelect"
	fnEnumNetworkEvents = "WSPEnumNetworkEvents"
	fnPostMessage       = "WPUPostMessage"
)

// completes reports whether Complete applies to c's call: WSPAccept and
// WSPCloseSocket only the layer below can do.
func (c *Call) completes() bool { return c.Func != fnAccept && c.Func != fnClose }

// before carries out Before's verdict v on the overlapped op o, which
// begin started: it reports whether the op ended without going down, with
// what the call returns.
func (in *Instance) before(e *env, o *op, v Verdict) (bool, uint32, error) {
	o.delay = v.delay
	switch v.act {
	case actFail:
		n, err := in.failNow(e, o, v.err)
		return true, n, err
	case actFailCompletion:
		n, err := in.selfComplete(e, o, result{status: v.err})
		return true, n, err
	case actComplete:
		n, err := in.selfComplete(e, o, result{n: o.call.complete(v.n)})
		return true, n, err
	}
	return false, 0, nil
}

// failNow ends an op that never went down with err, at once: the call
// returns err, the client's overlapped holds it, nobody is notified.
func (in *Instance) failNow(e *env, o *op, err spi.Errno) (uint32, error) {
	if o.casState(opLive, opDone) { // else the last WSPCleanup abandoned it meanwhile
		o.endSilently(e, err)
		in.finish(e, o)
	}
	in.noPacket(o)
	o.release()
	return 0, err
}

// selfComplete ends an op that never went down with result r, as an
// immediate success of the layer below ends: forwarded now when no other
// operation of the socket is outstanding, or else through the private
// port behind them (the call then returns WSA_IO_PENDING). After sees r
// as the result.
func (in *Instance) selfComplete(e *env, o *op, r result) (uint32, error) {
	o.self, o.res = true, r
	if o.sock.pending.Load() == 1 {
		out := in.forward(e, o, r, true, false)
		in.noPacket(o) // nothing went down: no packet will come
		o.release()
		return out.returns()
	}
	o.ov.StoreOffset(r.flags)
	if e.imports.PostQueuedCompletionStatus(e.port, r.n, uintptr(o.sock.handle), &o.ov) != nil {
		in.forward(e, o, r, false, false) // the port is gone: cleanup is under way
		in.noPacket(o)
	}
	o.release()
	return 0, spi.WSA_IO_PENDING
}

// sync runs a call that is not overlapped through Before and After: down
// does the call (the lower call, and what the layer adds), up writes back
// what After may change (nil: nothing). A delay holds the return.
func (in *Instance) sync(s *Socket, c *Call, down func(*Call) (uint32, error), up func(*Call)) (uint32, error) {
	h := &in.p.cfg.Hooks
	var v Verdict
	if h.Before != nil {
		v = h.Before(c)
	}
	delay := v.delay
	var n uint32
	var err error
	switch {
	case v.act == actFail:
		in.wait(s, delay)
		return 0, v.err
	case v.act == actFailCompletion:
		err = v.err
	case v.act == actComplete && c.completes():
		n = c.complete(v.n)
	default:
		n, err = down(c)
	}
	if h.After != nil {
		c.N, c.Err = n, errnoOf(err)
		v := h.After(c)
		if up != nil {
			up(c)
		}
		switch {
		case v.act == actFail, v.act == actFailCompletion:
			n, err = 0, v.err
		case v.act == actComplete && c.completes():
			n, err = c.complete(v.n), nil
		}
		delay += v.delay
	}
	in.wait(s, delay)
	return n, err
}
