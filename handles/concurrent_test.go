package handles_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// TestConcurrentUseKeepsEveryHandleItsOwn runs many goroutines that create,
// query, acquire, close-while-acquired and close handles in a small table,
// so values are reused all the time, while others look up arbitrary values.
// Run under -race. Each worker checks that its own handle keeps its own
// context and that a value closed while it holds a reference stays dead
// until it releases; at the end the table is empty and the whole capacity
// can be handed out again.
func TestConcurrentUseKeepsEveryHandleItsOwn(t *testing.T) {
	const (
		workers  = 16
		rounds   = 400
		capacity = 24 // less than workers*2: creates fail now and then
	)
	table := handles.New(handles.Options{Capacity: capacity})
	var wg sync.WaitGroup
	errs := make(chan error, workers*2)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for w := range workers {
		id := spi.CatalogEntryId(1001 + w)
		wg.Go(func() {
			for n := range rounds {
				ctx := [2]int{w, n}
				s, err := table.CreateSocketHandle(id, ctx, nil)
				if errors.Is(err, spi.WSAENOBUFS) {
					continue // full for now
				}
				if err != nil {
					fail(err)
					return
				}
				if got, err := table.QuerySocketHandleContext(s); err != nil || got != ctx {
					fail(errors.New("query of own handle gave another context or failed"))
					return
				}
				ref, ok := table.Acquire(s)
				if !ok || ref.Entry().Context != ctx || ref.Entry().Owner != id {
					fail(errors.New("acquire of own handle failed or gave another entry"))
					return
				}
				if n%2 == 0 {
					// Close while holding the reference: the value must
					// stay dead until the release, whoever creates.
					if err := table.CloseSocketHandle(s); err != nil {
						fail(err)
						return
					}
					if _, ok := table.Lookup(s); ok {
						fail(errors.New("value live again while a reference was held"))
						return
					}
					ref.Release()
					continue
				}
				ref.Release()
				if err := table.Close(s); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	for range workers / 4 {
		wg.Go(func() {
			for n := range rounds * 4 {
				v := spi.Handle(n%(capacity+2)) * 4
				if e, ok := table.Lookup(v); ok && (e.Handle != v || e.Kind != handles.KindSocket) {
					fail(errors.New("lookup gave an entry of another value or kind"))
					return
				}
				if r, ok := table.Acquire(v + 4); ok {
					r.Release()
				}
				_ = table.Check(v, 1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if diff := cmp.Diff(handles.Snapshot{Capacity: capacity}, table.Snapshot()); diff != "" {
		t.Errorf("table not empty at the end (-want +got):\n%s", diff)
	}
	for i := range capacity {
		if _, err := table.Insert(handles.KindEvent, nil); err != nil {
			t.Fatalf("Insert %d of %d into the emptied table: %v", i+1, capacity, err)
		}
	}
}
