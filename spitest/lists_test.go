package spitest

import (
	"testing"

	"github.com/wsspi/wsspi/handles"
)

// A finished run hands its handle lists on empty: the next run reuses
// their storage, and no entry of the finished run, whose objects it would
// keep alive, is left in it; the env keeps no hold of them.
func TestReleasedListsKeepNothingOfTheirRun(t *testing.T) {
	obj := new(int)
	l := &handleLists{
		before: []handles.Entry{{Object: obj}, {Context: obj}},
		after:  []handles.Entry{{Object: obj}},
		added:  []handles.Entry{{Object: obj}},
	}
	e := &env{lists: l}
	e.releaseLists()
	if e.lists != nil {
		t.Error("the env still has its lists after releasing them")
	}
	for name, s := range map[string][]handles.Entry{"before": l.before, "after": l.after, "added": l.added} {
		if len(s) != 0 {
			t.Errorf("%s has %d entries after the release", name, len(s))
		}
		for i, en := range s[:cap(s)] {
			if en != (handles.Entry{}) {
				t.Errorf("%s keeps entry %d of the finished run: %+v", name, i, en)
			}
		}
	}
}
