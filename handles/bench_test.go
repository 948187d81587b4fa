package handles_test

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/internal/benchkit"
	"github.com/wsspi/wsspi/spi"
)

// Each benchmark runs its baseline as a sub-benchmark of the same function,
// so one go test -bench run gives the ratio on one machine at one moment.

// providerContext stands in for a provider's per-socket state.
type providerContext struct{ n int }

// fill creates n sockets in table, with contexts, and returns their values.
func fill(b *testing.B, table *handles.Table, n int) []spi.Handle {
	b.Helper()
	hs := make([]spi.Handle, n)
	for i := range hs {
		s, err := table.CreateSocketHandle(1001, &providerContext{i}, nil)
		if err != nil {
			b.Fatal(err)
		}
		hs[i] = s
	}
	return hs
}

// sink keeps lookups from being optimized away.
var sink atomic.Int64

// BenchmarkHandleLookup compares Table.Lookup with sync.Map.Load on the
// same 4096 live handles, from every P at once. Target: table at most 0.2x
// syncmap, 0 allocs.
func BenchmarkHandleLookup(b *testing.B) {
	const live = 4096
	table := handles.New(handles.Options{})
	hs := fill(b, table, live)
	var m sync.Map
	for _, h := range hs {
		ctx, _ := table.QuerySocketHandleContext(h)
		m.Store(h, ctx)
	}
	b.Run("table", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i, hits := rand.IntN(live), 0
			for pb.Next() {
				if e, ok := table.Lookup(hs[i&(live-1)]); ok && e.Context != nil {
					hits++
				}
				i++
			}
			sink.Add(int64(hits))
		})
	})
	b.Run("syncmap", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i, hits := rand.IntN(live), 0
			for pb.Next() {
				if v, ok := m.Load(hs[i&(live-1)]); ok && v != nil {
					hits++
				}
				i++
			}
			sink.Add(int64(hits))
		})
	})
}

// mutexMap is the baseline handle table: a map from value to context
// behind a mutex, handing out multiples of 4 and reusing the last freed
// value first, as the table does.
type mutexMap struct {
	mu   sync.Mutex // guards all below
	m    map[spi.Handle]any
	free []spi.Handle
	next spi.Handle
}

func (mm *mutexMap) create(ctx any) spi.Handle {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	var h spi.Handle
	if n := len(mm.free); n > 0 {
		h, mm.free = mm.free[n-1], mm.free[:n-1]
	} else {
		mm.next += 4
		h = mm.next
	}
	mm.m[h] = ctx
	return h
}

func (mm *mutexMap) close(h spi.Handle) bool {
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if _, ok := mm.m[h]; !ok {
		return false
	}
	delete(mm.m, h)
	mm.free = append(mm.free, h)
	return true
}

// BenchmarkHandleCreateClose compares a WPUCreateSocketHandle and
// WPUCloseSocketHandle pair with the same on a mutex-guarded map, each
// holding 4096 other live handles. Target: table at most 1 alloc/op; the
// time target (at most 1.2x mutexmap) is read from
// BenchmarkHandleCreateCloseRatio, which runs the two interleaved.
func BenchmarkHandleCreateClose(b *testing.B) {
	const live = 4096
	ctx := &providerContext{}
	b.Run("table", func(b *testing.B) {
		table := handles.New(handles.Options{})
		fill(b, table, live)
		b.ReportAllocs()
		for b.Loop() {
			s, err := table.CreateSocketHandle(1001, ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := table.CloseSocketHandle(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mutexmap", func(b *testing.B) {
		mm := &mutexMap{m: map[spi.Handle]any{}}
		for i := range live {
			mm.create(&providerContext{i})
		}
		b.ReportAllocs()
		for b.Loop() {
			if !mm.close(mm.create(ctx)) {
				b.Fatal("close failed")
			}
		}
	})
}

// BenchmarkHandleCreateCloseRatio is BenchmarkHandleCreateClose with the
// table and the mutex-guarded map interleaved (see [benchkit.Interleave]),
// 1<<20 create+close cycles of each in turn: about a tenth of a second,
// far longer than a garbage collection cycle, so the collection of the
// table's entries spills into the map's time by well under one percent
// (at most one cycle of the dozens a table chunk runs). It reports each
// side's ns/cycle and their ratio, table/mutexmap, which carries the
// target (at most 1.2).
func BenchmarkHandleCreateCloseRatio(b *testing.B) {
	const live = 4096
	ctx := &providerContext{}
	table := handles.New(handles.Options{})
	fill(b, table, live)
	mm := &mutexMap{m: map[spi.Handle]any{}}
	for i := range live {
		mm.create(&providerContext{i})
	}
	b.ReportAllocs()
	per := benchkit.Interleave(b, 1<<20, func() {
		s, err := table.CreateSocketHandle(1001, ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := table.CloseSocketHandle(s); err != nil {
			b.Fatal(err)
		}
	}, func() {
		if !mm.close(mm.create(ctx)) {
			b.Fatal("close failed")
		}
	})
	b.ReportMetric(per[0], "table-ns/cycle")
	b.ReportMetric(per[1], "mutexmap-ns/cycle")
	b.ReportMetric(per[0]/per[1], "table/mutexmap")
}

// BenchmarkHandleLookupScale looks up the same hot set of 1k handles, in a
// shuffled order, while 1k or 1M handles are live, and reports the heap
// bytes each live handle costs (table, slot and entry; the contexts are
// nil). The hot set is the first 1k handles created. live=1M,spread looks
// up 1k handles spread evenly over the million instead, whose entries lie
// far apart in memory. Target: live=1M within 1.5x of live=1k, at most 96
// B/handle.
func BenchmarkHandleLookupScale(b *testing.B) {
	const hot = 1 << 10
	for _, c := range []struct {
		name   string
		live   int
		stride int
	}{
		{"live=1k", 1 << 10, 1},
		{"live=1M", 1 << 20, 1},
		{"live=1M,spread", 1 << 20, 1 << 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			table := handles.New(handles.Options{})
			for range c.live {
				if _, err := table.CreateSocketHandle(1001, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			perHandle := float64(after.HeapAlloc-before.HeapAlloc) / float64(c.live)

			hs := make([]spi.Handle, hot)
			for i := range hs {
				hs[i] = spi.Handle(i*c.stride+1) * 4
			}
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
			b.ReportAllocs()
			i, hits := 0, 0
			for b.Loop() {
				if e, ok := table.Lookup(hs[i&(hot-1)]); ok && e.Owner != 0 {
					hits++
				}
				i++
			}
			if hits != i {
				b.Fatalf("%d of %d lookups hit", hits, i)
			}
			b.ReportMetric(perHandle, "B/handle")
			runtime.KeepAlive(table)
		})
	}
}

// syncMapTable is the other baseline of a socket's lifecycle: values from
// a mutex-guarded free list, as mutexMap hands them out, and the contexts
// in a sync.Map, so that lookups take no lock.
type syncMapTable struct {
	mu   sync.Mutex // guards free and next
	free []spi.Handle
	next spi.Handle
	m    sync.Map
}

func (sm *syncMapTable) create(ctx any) spi.Handle {
	sm.mu.Lock()
	var h spi.Handle
	if n := len(sm.free); n > 0 {
		h, sm.free = sm.free[n-1], sm.free[:n-1]
	} else {
		sm.next += 4
		h = sm.next
	}
	sm.mu.Unlock()
	sm.m.Store(h, ctx)
	return h
}

func (sm *syncMapTable) close(h spi.Handle) bool {
	if _, ok := sm.m.LoadAndDelete(h); !ok {
		return false
	}
	sm.mu.Lock()
	sm.free = append(sm.free, h)
	sm.mu.Unlock()
	return true
}

// lookupsPerSocket is how many times BenchmarkHandleLifecycleRatio
// resolves a socket between its create and its close: every call that
// names a socket (WSPSend, WSPRecv, WSPIoctl, ...) resolves it once.
const lookupsPerSocket = 16

// BenchmarkHandleLifecycleRatio times a socket's life as a program sees
// it: WPUCreateSocketHandle, 16 lookups of the handle, and
// WPUCloseSocketHandle, with 4096 other sockets live. The baselines do the
// same on a mutex-guarded map (a lookup takes the lock) and on a sync.Map;
// the three run interleaved, 1<<18 lives each in turn. It reports each
// one's ns/cycle, table/mutexmap, which carries the target (at most 0.5),
// and table/syncmap.
func BenchmarkHandleLifecycleRatio(b *testing.B) {
	const live = 4096
	ctx := &providerContext{}
	table := handles.New(handles.Options{})
	fill(b, table, live)
	mm := &mutexMap{m: map[spi.Handle]any{}}
	sm := &syncMapTable{}
	for i := range live {
		c := &providerContext{i}
		mm.create(c)
		sm.create(c)
	}
	hits := 0
	b.ReportAllocs()
	per := benchkit.Interleave(b, 1<<18, func() {
		s, err := table.CreateSocketHandle(1001, ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		for range lookupsPerSocket {
			if e, ok := table.Lookup(s); ok && e.Context != nil {
				hits++
			}
		}
		if err := table.CloseSocketHandle(s); err != nil {
			b.Fatal(err)
		}
	}, func() {
		h := mm.create(ctx)
		for range lookupsPerSocket {
			mm.mu.Lock()
			v, ok := mm.m[h]
			mm.mu.Unlock()
			if ok && v != nil {
				hits++
			}
		}
		if !mm.close(h) {
			b.Fatal("close failed")
		}
	}, func() {
		h := sm.create(ctx)
		for range lookupsPerSocket {
			if v, ok := sm.m.Load(h); ok && v != nil {
				hits++
			}
		}
		if !sm.close(h) {
			b.Fatal("close failed")
		}
	})
	sink.Add(int64(hits))
	b.ReportMetric(per[0], "table-ns/cycle")
	b.ReportMetric(per[1], "mutexmap-ns/cycle")
	b.ReportMetric(per[2], "syncmap-ns/cycle")
	b.ReportMetric(per[0]/per[1], "table/mutexmap")
	b.ReportMetric(per[0]/per[2], "table/syncmap")
}
