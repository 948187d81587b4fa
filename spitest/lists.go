package spitest

import (
	"sync"

	"github.com/wsspi/wsspi/handles"
)

// handleLists are the socket action's handle lists: the table before and
// after the action, and the handles it made. Each socket action refills
// them, and a finished run hands their storage on to the next run
// (releaseLists): growing them anew in every run was a tenth of a run's
// memory (bench/README.md, "spitest").
type handleLists struct{ before, after, added []handles.Entry }

var listPool = sync.Pool{New: func() any { return new(handleLists) }}

// releaseLists hands e's lists on to a later run, emptied so that they
// keep no object of this run alive. e takes no snapshot afterwards.
func (e *env) releaseLists() {
	l := e.lists
	e.lists = nil
	l.before, l.after, l.added = clearAll(l.before), clearAll(l.after), clearAll(l.added)
	listPool.Put(l)
}

// clearAll zeroes the whole of s's storage and returns it empty.
func clearAll(s []handles.Entry) []handles.Entry {
	s = s[:cap(s)]
	clear(s)
	return s[:0]
}
