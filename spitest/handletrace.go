package spitest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// handleKey names a handle value in one process.
type handleKey struct {
	pid uint32
	h   spi.Handle
}

// handleUse is one generation of use of a handle value: from the
// successful WPUCreateSocketHandle that made it to the WPUCloseSocketHandle
// that closed it.
type handleUse struct {
	gen      int         // 1 for the first use of the value in the process, then 2, ...
	owner    trace.Layer // the provider layer that made it
	entry    spi.CatalogEntryId
	made     uint64 // the event that returned it
	closedBy trace.Layer
	closed   uint64 // the event of the close, 0 while open
}

// checkHandleTrace reads the run's trace and checks, per handle value and
// generation of use, that each successful WPUCreateSocketHandle is matched
// by exactly one successful WPUCloseSocketHandle from the provider that
// made it, and that no WPUCloseSocketHandle names a handle that is not
// open from that provider. A close is judged when it is called, before
// ws2_32 removes the handle, so that a handle value reused by a
// WPUCreateSocketHandle that returns on another goroutine is never taken
// for the old one. Handles in leaked (by value, in the client's process)
// were already reported as left open.
func (e *env) checkHandleTrace(leaked map[spi.Handle]bool) {
	if e.rec == nil {
		return
	}
	open := map[handleKey]*handleUse{}
	last := map[handleKey]*handleUse{} // the last use of each value, open or closed
	type closeCall struct {
		pid    uint32
		caller trace.Layer
		h      spi.Handle
	}
	bad := map[closeCall][]string{}      // closes judged wrong at their call, awaiting their return
	good := map[closeCall][]*handleUse{} // closes judged right at their call, awaiting their return
	for _, ev := range e.rec.Events() {
		k := handleKey{ev.PID, ev.Handle}
		c := closeCall{ev.PID, ev.Caller, ev.Handle}
		switch {
		case ev.Kind == trace.UpcallReturn && ev.Func == "WPUCreateSocketHandle" && ev.Err == 0 && ev.NewHandle != 0:
			k.h = ev.NewHandle
			u := &handleUse{gen: 1, owner: ev.Caller, entry: ev.Entry, made: ev.Seq}
			if p := last[k]; p != nil {
				u.gen = p.gen + 1
			}
			open[k], last[k] = u, u
		case ev.Kind == trace.Upcall && ev.Func == "WPUCloseSocketHandle":
			u := open[k]
			if u == nil {
				bad[c] = append(bad[c], e.handleName(ev.PID, ev.Handle)+": "+e.badClose(ev, nil, last[k]))
				continue
			}
			// ws2_32 removes the handle whoever closes it.
			u.closedBy, u.closed = ev.Caller, ev.Seq
			delete(open, k)
			if u.owner == ev.Caller {
				good[c] = append(good[c], u)
			} else {
				bad[c] = append(bad[c], e.handleName(ev.PID, ev.Handle)+": "+e.badClose(ev, u, nil))
			}
		case ev.Kind == trace.UpcallReturn && ev.Func == "WPUCloseSocketHandle":
			if d := bad[c]; len(d) > 0 {
				bad[c] = d[1:]
				e.fail(ruleHandleClose, "%s; ws2_32 answered %v", d[0], errText(errOrNil(ev.Err)))
				continue
			}
			us := good[c]
			if len(us) == 0 || ev.Err == 0 {
				good[c] = us[min(1, len(us)):]
				continue
			}
			u := us[0]
			good[c] = us[1:]
			e.fail(ruleHandleClose, "%s: WPUCloseSocketHandle by %v (event %d) on generation %d of the handle, which it made and had not closed, failed with %v",
				e.handleName(ev.PID, ev.Handle), ev.Caller, ev.Seq, u.gen, errText(errOrNil(ev.Err)))
			if open[k] == nil && last[k] == u { // still open: the close did nothing
				u.closedBy, u.closed = trace.Layer{}, 0
				open[k] = u
			}
		}
	}
	var never []string // closes that never returned, in a stable order
	for _, ds := range bad {
		never = append(never, ds...)
	}
	slices.Sort(never)
	for _, d := range never {
		e.fail(ruleHandleClose, "%s", d)
	}
	keys := slices.Collect(maps.Keys(open))
	slices.SortFunc(keys, func(a, b handleKey) int { return cmp.Compare(open[a].made, open[b].made) })
	for _, k := range keys {
		u := open[k]
		if k.pid == e.p.ID() && leaked[k.h] {
			continue
		}
		e.fail(ruleHandleClose, "%s: generation %d of the handle, made by WPUCreateSocketHandle of %v for entry %d (event %d), was never closed by WPUCloseSocketHandle before cleanup ended",
			e.handleName(k.pid, k.h), u.gen, u.owner, u.entry, u.made)
	}
}

// badClose says why the WPUCloseSocketHandle call ev is wrong: u is the
// open use of its handle value, made by another provider, or nil, and prev
// the last use of the value, closed.
func (e *env) badClose(ev trace.Event, u, prev *handleUse) string {
	switch {
	case u != nil:
		return fmt.Sprintf("WPUCloseSocketHandle by %v (event %d) closes generation %d of the handle, which %v made by WPUCreateSocketHandle for entry %d (event %d): a provider closes only its own handles",
			ev.Caller, ev.Seq, u.gen, u.owner, u.entry, u.made)
	case prev != nil && prev.closedBy == ev.Caller && prev.owner == ev.Caller:
		return fmt.Sprintf("WPUCloseSocketHandle called twice by %v for generation %d of the handle, made by WPUCreateSocketHandle for entry %d (event %d): closed at event %d, closed again at event %d",
			ev.Caller, prev.gen, prev.entry, prev.made, prev.closed, ev.Seq)
	case prev != nil:
		return fmt.Sprintf("WPUCloseSocketHandle by %v (event %d) on a handle that is not open: generation %d, made by %v (event %d), was closed by %v at event %d",
			ev.Caller, ev.Seq, prev.gen, prev.owner, prev.made, prev.closedBy, prev.closed)
	}
	return fmt.Sprintf("WPUCloseSocketHandle by %v (event %d) on a handle that WPUCreateSocketHandle never made", ev.Caller, ev.Seq)
}

// handleName names handle h of process pid, with the client sockets that
// had that value.
func (e *env) handleName(pid uint32, h spi.Handle) string {
	var names []string
	if pid == e.p.ID() {
		for _, s := range e.socks {
			if s.h == h {
				names = append(names, s.name)
			}
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("handle %v", h)
	}
	return fmt.Sprintf("handle %v (the value of client socket %s)", h, strings.Join(names, ", "))
}
