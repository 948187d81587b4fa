package iocp

import (
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// traceNotify reports the notification step of the completion rule for c:
// d says what it did, a is the handle's port association (nil for none),
// ev the event the overlapped named, err what the step failed with. A
// completion routine was queued unless err says otherwise.
func (k *Kernel) traceNotify(c Completion, a *association, d trace.Delivery, ev spi.Handle, err error) {
	e := trace.Event{
		Kind:     trace.Completion,
		Layer:    trace.Layer{Kind: trace.LayerKernel},
		Handle:   c.Handle,
		Err:      c.Status,
		Bytes:    c.Bytes,
		Delivery: d,
	}
	if c.Request.Routine != nil {
		e.Thread = c.Request.Thread.ThreadHandle
		if err == nil {
			e.Delivery = trace.DeliveredAPC
		}
	} else {
		e.EventHandle = ev
	}
	if a != nil {
		e.Port = a.port.handle
		e.Key = a.key
	}
	k.trace(e)
}

// traceAPC reports that th runs the APC whose context is ctx.
func (k *Kernel) traceAPC(th *Thread, ctx any) {
	e := trace.Event{Kind: trace.APCRun, Layer: trace.Layer{Kind: trace.LayerKernel}, Thread: th.handle, Func: "APC"}
	if r, ok := ctx.(*routineCall); ok {
		e.Func, e.Err, e.Bytes = "completion routine", r.status, r.bytes
	}
	k.trace(e)
}
