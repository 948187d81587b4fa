package handles_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// manyHandles is enough handles to fill several of a table's pages and
// end inside one.
const manyHandles = 5*256 + 17

// TestATableOfManyHandlesResolvesEachAcrossItsPages fills a table past
// several page boundaries, closes every third handle, and checks every
// value, the snapshot, and the reuse of the freed values.
func TestATableOfManyHandlesResolvesEachAcrossItsPages(t *testing.T) {
	table := handles.New(handles.Options{Capacity: manyHandles})
	hs := make([]spi.Handle, manyHandles)
	for i := range hs {
		s, err := table.CreateSocketHandle(1, i, nil)
		if err != nil {
			t.Fatalf("create %d: %v", i+1, err)
		}
		h := spi.Handle(s)
		if want := spi.Handle(4 * (i + 1)); h != want {
			t.Fatalf("create %d gave %v, want %v", i+1, h, want)
		}
		hs[i] = h
	}
	_, err := table.CreateSocketHandle(1, nil, nil)
	checkError(t, &spi.OpError{Op: "WPUCreateSocketHandle", Err: spi.WSAENOBUFS}, err)
	var live []handles.Entry
	for i, h := range hs {
		if i%3 == 0 {
			if err := table.CloseSocketHandle(spi.Socket(h)); err != nil {
				t.Fatalf("close %v: %v", h, err)
			}
			continue
		}
		e, _ := table.Lookup(h)
		live = append(live, e)
	}
	for i, h := range hs {
		e, ok := table.Lookup(h)
		if ok != (i%3 != 0) || ok && e.Context != i {
			t.Errorf("Lookup(%v) = %+v, %v; want context %d live %v", h, e, ok, i, i%3 != 0)
		}
	}
	if diff := cmp.Diff(handles.Snapshot{Capacity: manyHandles, Live: live}, table.Snapshot()); diff != "" {
		t.Errorf("snapshot (-want +got):\n%s", diff)
	}
	for range (manyHandles + 2) / 3 {
		if _, err := table.CreateSocketHandle(1, nil, nil); err != nil {
			t.Fatalf("create into a freed value: %v", err)
		}
	}
	if got := table.Len(); got != manyHandles {
		t.Errorf("Len = %d after refilling, want %d", got, manyHandles)
	}
}

// TestLookupsWhileTheTableGrowsFindOnlyLiveHandles looks up values of
// pages not yet made, and of pages being made, while another goroutine
// fills the table. Run under -race: the directory is replaced as pages
// are added, and readers hold no lock.
func TestLookupsWhileTheTableGrowsFindOnlyLiveHandles(t *testing.T) {
	table := handles.New(handles.Options{})
	var created atomic.Int64 // handles created so far; each one's context is its value
	var wg sync.WaitGroup
	done := make(chan struct{})
	for r := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				h := spi.Handle(4 * (1 + (i*7+r)%(manyHandles+300)))
				n := created.Load() // before the lookup: a create may land in between
				e, ok := table.Lookup(h)
				if !ok {
					if int64(h/4) <= n {
						t.Errorf("Lookup(%v) failed after %d creates", h, n)
						return
					}
					continue
				}
				if e.Handle != h || e.Context != h {
					t.Errorf("Lookup(%v) = %+v", h, e)
					return
				}
			}
		})
	}
	for i := range manyHandles {
		s, err := table.CreateSocketHandle(1, spi.Handle(4*(i+1)), nil)
		if err != nil {
			t.Fatalf("create %d: %v", i+1, err)
		}
		created.Store(int64(s / 4))
	}
	close(done)
	wg.Wait()
}
