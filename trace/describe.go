package trace

import (
	"strconv"
	"strings"

	"github.com/wsspi/wsspi/spi"
)

// participant is one lifeline: a layer of a process.
type participant struct {
	pid   uint32
	layer Layer
}

// participants lists the lifelines of events, process by process in the
// order processes first appear: the client, ws2_32, the IFS layer, the
// provider layers in the order they first appear (from the top layer
// down, since a layer is called before the one below it), the kernel. Only
// layers that appear are listed.
func participants(events []Event) []participant {
	type proc struct {
		fixed     map[LayerKind]bool
		providers []Layer
		seen      map[Layer]bool
		other     []Layer // layers of an unknown kind, in order
	}
	var order []uint32
	procs := map[uint32]*proc{}
	add := func(pid uint32, l Layer) {
		if l.Kind == 0 {
			return
		}
		p := procs[pid]
		if p == nil {
			p = &proc{fixed: map[LayerKind]bool{}, seen: map[Layer]bool{}}
			procs[pid] = p
			order = append(order, pid)
		}
		switch l.Kind {
		case LayerClient, LayerWinsock, LayerIFS, LayerKernel:
			p.fixed[l.Kind] = true
		default:
			if !p.seen[l] {
				p.seen[l] = true
				if l.Kind == LayerProvider {
					p.providers = append(p.providers, l)
				} else {
					p.other = append(p.other, l)
				}
			}
		}
	}
	for _, e := range events {
		if e.Kind.IsReturn() {
			add(e.PID, e.Layer)
			add(e.PID, e.Caller)
		} else {
			add(e.PID, e.Caller)
			add(e.PID, e.Layer)
		}
	}
	var out []participant
	for _, pid := range order {
		p := procs[pid]
		for _, k := range []LayerKind{LayerClient, LayerWinsock, LayerIFS} {
			if p.fixed[k] {
				out = append(out, participant{pid, Layer{Kind: k}})
			}
		}
		for _, l := range p.providers {
			out = append(out, participant{pid, l})
		}
		if p.fixed[LayerKernel] {
			out = append(out, participant{pid, Layer{Kind: LayerKernel}})
		}
		for _, l := range p.other {
			out = append(out, participant{pid, l})
		}
	}
	return out
}

// actor is the layer that acts in e: the caller of a call, the layer that
// returns, the layer an event happens in.
func actor(e Event) Layer {
	if e.Kind.IsCall() {
		return e.Caller
	}
	return e.Layer
}

// describe returns the text of e shared by the renderers: what happened,
// without who did it.
func describe(e Event) string {
	var b strings.Builder
	switch {
	case e.Kind.IsCall():
		b.WriteString(e.Func)
		b.WriteByte('(')
		args := argList{&b, 0}
		if e.Handle != 0 {
			args.add(e.Handle.String())
		}
		if e.Entry != 0 && (e.Kind == Upcall || e.Entry != e.Layer.ID) {
			args.add("entry " + strconv.FormatUint(uint64(e.Entry), 10))
		}
		if e.Err != 0 {
			args.add("status " + errnoString(e.Err, true))
		}
		if e.Bytes != 0 {
			args.add(bytesText(e.Bytes))
		}
		if e.Key != 0 {
			args.add("key " + strconv.FormatUint(uint64(e.Key), 10))
		}
		if e.Thread != 0 && e.Kind != ClientCall {
			args.add("thread " + e.Thread.String())
		}
		b.WriteByte(')')
	case e.Kind.IsReturn():
		b.WriteString(e.Func)
		b.WriteString(" = ")
		if e.Err != 0 {
			b.WriteString(errnoString(e.Err, winsockFunc(e.Func)))
		} else {
			b.WriteString("ok")
		}
		if e.NewHandle != 0 {
			b.WriteString(", " + e.NewHandle.String())
		}
		if e.Bytes != 0 {
			b.WriteString(", " + bytesText(e.Bytes))
		}
		if e.Key != 0 {
			b.WriteString(", key " + strconv.FormatUint(uint64(e.Key), 10))
		}
		if e.Value != 0 {
			b.WriteString(", " + valueText(e.Func, e.Value))
		}
	case e.Kind == Transition:
		b.WriteString("transitions on " + e.Handle.String() + " for " + e.Func + ": +" +
			strconv.FormatUint(e.UserToKernel, 10) + " user->kernel, +" +
			strconv.FormatUint(e.KernelToUser, 10) + " kernel->user")
	case e.Kind == Completion:
		b.WriteString("completion on " + e.Handle.String() + ": ")
		b.WriteString(statusText(e.Err, e.Bytes))
		b.WriteString(" -> ")
		b.WriteString(deliveryText(e))
	case e.Kind == APCRun:
		b.WriteString("thread " + e.Thread.String() + " runs " + e.Func)
		if e.Func == "completion routine" {
			b.WriteString(" (" + statusText(e.Err, e.Bytes) + ")")
		}
	case e.Kind == HandleCreated, e.Kind == HandleClosed:
		verb := " created: "
		if e.Kind == HandleClosed {
			verb = " closed: "
		}
		b.WriteString("handle " + e.Handle.String() + verb + e.Object)
		if e.Entry != 0 {
			b.WriteString(" of entry " + strconv.FormatUint(uint64(e.Entry), 10))
		}
	default:
		b.WriteString(e.Kind.String())
		if e.Func != "" {
			b.WriteString(" " + e.Func)
		}
	}
	return b.String()
}

// argList writes comma-separated arguments.
type argList struct {
	b *strings.Builder
	n int
}

func (a *argList) add(s string) {
	if a.n > 0 {
		a.b.WriteString(", ")
	}
	a.b.WriteString(s)
	a.n++
}

func bytesText(n uint32) string {
	if n == 1 {
		return "1 byte"
	}
	return strconv.FormatUint(uint64(n), 10) + " bytes"
}

// statusText is the result of an I/O: "ok, 5 bytes" or the error.
func statusText(err spi.Errno, bytes uint32) string {
	s := "ok"
	if err != 0 {
		s = errnoString(err, true)
	}
	return s + ", " + bytesText(bytes)
}

// valueText names what a wait returned.
func valueText(fn string, v uint32) string {
	switch {
	case fn == "GetQueuedCompletionStatusEx":
		return strconv.FormatUint(uint64(v), 10) + " packets"
	case v == spi.WAIT_IO_COMPLETION:
		return "WAIT_IO_COMPLETION"
	case fn == "WSAWaitForMultipleEvents" && v < spi.WSA_MAXIMUM_WAIT_EVENTS:
		return "WSA_WAIT_EVENT_0+" + strconv.FormatUint(uint64(v), 10)
	}
	return "value " + strconv.FormatUint(uint64(v), 10)
}

// deliveryText says where a completion went, and where it did not.
func deliveryText(e Event) string {
	var parts []string
	d := e.Delivery
	port := "port " + e.Port.String()
	switch {
	case d&DeliveredPort != 0:
		parts = append(parts, port+" key "+strconv.FormatUint(uint64(e.Key), 10))
	case d&Dropped != 0:
		parts = append(parts, port+" closed, packet dropped")
	case d&SkippedLowBit != 0:
		parts = append(parts, port+" skipped (hEvent low bit)")
	case d&SkippedOnSuccess != 0:
		parts = append(parts, port+" skipped (skip on success)")
	}
	switch {
	case d&DeliveredEvent != 0:
		parts = append(parts, "event "+e.EventHandle.String()+" set")
	case e.EventHandle != 0:
		parts = append(parts, "event "+e.EventHandle.String()+" not set (invalid handle)")
	}
	switch {
	case d&DeliveredAPC != 0:
		parts = append(parts, "completion routine queued to thread "+e.Thread.String())
	case e.Thread != 0:
		parts = append(parts, "completion routine not queued (thread "+e.Thread.String()+" gone)")
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
