package handles

import "github.com/wsspi/wsspi/trace"

// traceLocked reports that the handle of e was created or closed (kind).
func (t *Table) traceLocked(kind trace.Kind, e *Entry) {
	t.trace(trace.Event{
		Kind:   kind,
		Layer:  trace.Layer{Kind: trace.LayerKernel},
		Handle: e.Handle,
		Object: e.Kind.String(),
		Entry:  e.Owner,
	})
}
