package wsspi

import (
	"sync"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/redirect"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// The participants of a process other than its provider layers.
var (
	clientLayer  = trace.Layer{Kind: trace.LayerClient}
	winsockLayer = trace.Layer{Kind: trace.LayerWinsock}
	ifsLayer     = trace.Layer{Kind: trace.LayerIFS}
)

// tracer is the tracing state of a process whose machine has a
// [trace.Recorder]; a process without one has a nil tracer, and every
// traced path tests for nil before doing anything else.
type tracer struct {
	sink trace.Sink // records an event as this process's

	mu     sync.Mutex                     // guards tables
	tables map[tableKey]*spi.WSPProcTable // proc tables wrapped for one caller and entry
}

// tableKey names a wrapped proc table: the table of a loaded provider as
// called by caller for catalog entry entry.
type tableKey struct {
	caller trace.Layer
	entry  spi.CatalogEntryId
	procs  *spi.WSPProcTable
}

// newTracer returns the tracer of process pid recording into rec, or nil
// if rec is nil.
func newTracer(rec *trace.Recorder, pid uint32) *tracer {
	if rec == nil {
		return nil
	}
	return &tracer{
		sink:   func(e trace.Event) { e.PID = pid; rec.Record(e) },
		tables: map[tableKey]*spi.WSPProcTable{},
	}
}

// traceSink returns the sink the process's parts report to, nil when
// tracing is off.
func (tr *tracer) traceSink() trace.Sink {
	if tr == nil {
		return nil
	}
	return tr.sink
}

// handleOptions adds the tracer's sink to the options of the process's
// handle table, after the sink opts may already have.
func (tr *tracer) handleOptions(opts handles.Options) handles.Options {
	if tr == nil {
		return opts
	}
	if prev := opts.Trace; prev != nil {
		opts.Trace = func(e trace.Event) { prev(e); tr.sink(e) }
	} else {
		opts.Trace = tr.sink
	}
	return opts
}

// register places a provider "DLL" in the process's registry; with tracing
// on, the provider's startup, its WSPCleanup, its upcalls and the imports
// it calls are reported.
func (p *Process) register(path string, startup spi.WSPStartupFunc) {
	if p.tr != nil {
		startup = p.tracedStartup(path, startup)
	}
	p.registry.Register(path, startup)
}

// tracedStartup wraps the startup function of the provider at path: it
// reports WSPStartup and the WSPCleanup of the table it returns as called by
// ws2_32 (whose loader makes those calls), and hands the provider an
// upcall table and imports that report its calls, with LoadNext returning
// the next layer's table wrapped to report the provider's calls into it.
func (p *Process) tracedStartup(path string, startup spi.WSPStartupFunc) spi.WSPStartupFunc {
	sink := p.tr.sink
	return func(version uint16, info *spi.WSAProtocolInfo, upcalls spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		self := p.startupLayer(path, info)
		var entry spi.CatalogEntryId
		if info != nil {
			entry = info.CatalogEntryId
		}
		upcalls = trace.WrapUpcalls(upcalls, self, sink)
		if next := imports.LoadNext; next != nil {
			imports.LoadNext = func(chain *spi.WSAProtocolInfo, id spi.CatalogEntryId) (spi.NextLayer, error) {
				nl, err := next(chain, id)
				if err == nil {
					below := nextInChain(chain, id, nl.Info.CatalogEntryId)
					cleanup := nl.ProcTable.WSPCleanup
					nl.ProcTable = trace.WrapProcTable(nl.ProcTable, p.traceLayer(id), p.traceLayer(below), below, sink)
					nl.ProcTable.WSPCleanup = cleanup // reported by the loader's wrapper
				}
				return nl, err
			}
		}
		imports = trace.WrapImports(imports, self, sink)
		e := trace.Event{Kind: trace.WSPCall, Layer: self, Caller: winsockLayer, Func: "WSPStartup", Entry: entry}
		sink(e)
		data, procs, err := startup(version, info, upcalls, imports)
		e.Kind, e.Err = trace.WSPReturn, spi.ErrnoOf(err)
		sink(e)
		if err == nil && procs.WSPCleanup != nil {
			procs.WSPCleanup = trace.WrapProcTable(procs, winsockLayer, self, entry, sink).WSPCleanup
		}
		return data, procs, err
	}
}

// nextInChain returns the element of chain after id, or def if chain does
// not hold id followed by another element.
func nextInChain(chain *spi.WSAProtocolInfo, id, def spi.CatalogEntryId) spi.CatalogEntryId {
	if chain == nil {
		return def
	}
	c := chain.ProtocolChain
	n := min(int(c.ChainLen), len(c.ChainEntries))
	for i := 0; i+1 < n; i++ {
		if c.ChainEntries[i] == id {
			return c.ChainEntries[i+1]
		}
	}
	return def
}

// startupLayer finds which layer of the entry info a provider at path is
// being started for: the first element of info's chain (info itself for a
// base or layered entry) installed with that path.
func (p *Process) startupLayer(path string, info *spi.WSAProtocolInfo) trace.Layer {
	if info == nil {
		return trace.Layer{Kind: trace.LayerProvider, Name: path}
	}
	ids := []spi.CatalogEntryId{info.CatalogEntryId}
	if c := info.ProtocolChain; c.ChainLen > 1 {
		ids = c.ChainEntries[:min(int(c.ChainLen), len(c.ChainEntries))]
	}
	if l := p.loader.Load(); l != nil {
		v := l.View()
		for _, id := range ids {
			if e, ok := v.Entry(id); ok {
				if got, err := v.WSCGetProviderPath(e.ProviderId); err == nil && got == path {
					return p.traceLayer(id)
				}
			}
		}
	}
	return p.traceLayer(info.CatalogEntryId)
}

// traceLayer names the provider layer that serves catalog entry id in the
// process's view: for a chain, its top layer.
func (p *Process) traceLayer(id spi.CatalogEntryId) trace.Layer {
	l := trace.Layer{Kind: trace.LayerProvider, ID: id}
	loader := p.loader.Load()
	if loader == nil {
		return l
	}
	v := loader.View()
	e, ok := v.Entry(id)
	if !ok {
		return l
	}
	if c := e.ProtocolChain; c.ChainLen > 1 && len(c.ChainEntries) > 0 {
		l.ID = c.ChainEntries[0]
		if e, ok = v.Entry(l.ID); !ok {
			return l
		}
	}
	l.Name = e.ProtocolName
	return l
}

// tracedProcs returns procs wrapped to report the calls caller makes to
// the layer of catalog entry entry, made once per caller, entry and table.
// WSPCleanup is left as procs has it: the loader's wrapper reports it.
func (p *Process) tracedProcs(caller trace.Layer, entry spi.CatalogEntryId, procs *spi.WSPProcTable) *spi.WSPProcTable {
	tr := p.tr
	k := tableKey{caller, entry, procs}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if w, ok := tr.tables[k]; ok {
		return w
	}
	w := trace.WrapProcTable(*procs, caller, p.traceLayer(entry), entry, tr.sink)
	w.WSPCleanup = procs.WSPCleanup
	tr.tables[k] = &w
	return &w
}

// socketProcs returns the proc table ws2_32 calls for a new socket of
// catalog entry entry: procs, wrapped when tracing is on.
func (p *Process) socketProcs(entry spi.CatalogEntryId, procs *spi.WSPProcTable) *spi.WSPProcTable {
	if p.tr == nil {
		return procs
	}
	return p.tracedProcs(winsockLayer, entry, procs)
}

// tracedOwner is [Process.socketOwner] for a traced caller: the owner's
// table, wrapped to report the calls caller makes to it.
func (p *Process) tracedOwner(caller trace.Layer, op string, s spi.Socket) (*spi.WSPProcTable, error) {
	procs, err := p.socketOwner(op, s)
	if err != nil {
		return nil, err
	}
	e, _ := p.table.Lookup(s)
	return p.tracedProcs(caller, e.Owner, procs), nil
}

// redirectOwner is how the IFS layer finds the provider of a non-IFS
// handle: [Process.socketOwner], traced as the IFS layer's calls when
// tracing is on.
func (p *Process) redirectOwner() redirect.OwnerFunc {
	if p.tr == nil {
		return p.socketOwner
	}
	return func(op string, s spi.Socket) (*spi.WSPProcTable, error) {
		return p.tracedOwner(ifsLayer, op, s)
	}
}

// clientCall is a client call being traced: its ClientCall event, whose
// copy with the results is its ClientReturn. A nil *clientCall stands for
// a call made with tracing off; its methods then only pass the results
// through.
type clientCall struct {
	sink trace.Sink
	e    trace.Event
}

// traceCall reports that t calls fn, a function served by layer to, on
// handle h with buffers bufs; nil when tracing is off.
func (t *Thread) traceCall(to trace.LayerKind, fn string, h spi.Handle, bufs ...[]byte) *clientCall {
	if t.p.tr == nil {
		return nil
	}
	return t.p.tr.call(t.id.ThreadHandle, to, fn, h, bufs)
}

// traceCall reports a call of fn by the process that names no thread.
func (p *Process) traceCall(to trace.LayerKind, fn string, h spi.Handle) *clientCall {
	if p.tr == nil {
		return nil
	}
	return p.tr.call(0, to, fn, h, nil)
}

func (tr *tracer) call(thread spi.Handle, to trace.LayerKind, fn string, h spi.Handle, bufs [][]byte) *clientCall {
	c := &clientCall{sink: tr.sink, e: trace.Event{
		Kind: trace.ClientCall, Layer: trace.Layer{Kind: to}, Caller: clientLayer,
		Thread: thread, Func: fn, Handle: h, Bytes: trace.BuffersLen(bufs...),
	}}
	c.sink(c.e)
	return c
}

// finish reports the return of the call with err and the results in r.
func (c *clientCall) finish(err error, r trace.Event) {
	e := c.e
	e.Kind, e.Err = trace.ClientReturn, spi.ErrnoOf(err)
	e.Bytes, e.Value, e.NewHandle, e.Key = r.Bytes, r.Value, r.NewHandle, r.Key
	if err != nil {
		e.NewHandle = 0
	}
	c.sink(e)
}

// end reports the return of a call that returns only err, and returns err.
func (c *clientCall) end(err error) error {
	if c != nil {
		c.finish(err, trace.Event{})
	}
	return err
}

// endN reports the return of a call that transferred n bytes.
func (c *clientCall) endN(n uint32, err error) (uint32, error) {
	if c != nil {
		c.finish(err, trace.Event{Bytes: n})
	}
	return n, err
}

// endValue reports the return of a wait that returned v.
func (c *clientCall) endValue(v uint32, err error) (uint32, error) {
	if c != nil {
		c.finish(err, trace.Event{Value: v})
	}
	return v, err
}

// endCount reports the return of a call that returned a count n.
func (c *clientCall) endCount(n int, err error) (int, error) {
	if c != nil {
		c.finish(err, trace.Event{Value: uint32(n)})
	}
	return n, err
}

// endHandle reports the return of a call that made handle h.
func (c *clientCall) endHandle(h spi.Handle, err error) (spi.Handle, error) {
	if c != nil {
		c.finish(err, trace.Event{NewHandle: h})
	}
	return h, err
}

// endPacket reports the return of a dequeue that got packet e.
func (c *clientCall) endPacket(e spi.OverlappedEntry, err error) (spi.OverlappedEntry, error) {
	if c != nil {
		c.finish(err, trace.Event{Bytes: e.NumberOfBytesTransferred, Key: e.CompletionKey})
	}
	return e, err
}
