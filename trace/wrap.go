package trace

import (
	"reflect"

	"github.com/wsspi/wsspi/spi"
)

// WrapProcTable returns a copy of procs whose entries report to sink: a
// [WSPCall] before calling the entry of procs and a [WSPReturn] after, with
// Caller caller, Layer layer and Entry entry. The events name the socket
// argument (Handle), the thread id argument (Thread), the size of the first
// buffer argument (Bytes), and the results: the error (Err), a byte count
// (Bytes), a new socket (NewHandle). Nil entries stay nil. With a nil sink it
// returns procs unchanged.
func WrapProcTable(procs spi.WSPProcTable, caller, layer Layer, entry spi.CatalogEntryId, sink Sink) spi.WSPProcTable {
	wrapFuncs(&procs, site{call: WSPCall, ret: WSPReturn, caller: caller, layer: layer, entry: entry, sink: sink})
	return procs
}

// WrapUpcalls returns a copy of up whose entries report to sink an
// [Upcall] before calling the entry of up and an [UpcallReturn] after, with
// Caller provider and Layer ws2_32. The events name the handle argument, a
// catalog entry id argument (Entry), a thread id argument (Thread), and the
// results: the error and a handle made (NewHandle). Nil entries stay nil.
// With a nil sink it returns up unchanged.
func WrapUpcalls(up spi.WSPUpcallTable, provider Layer, sink Sink) spi.WSPUpcallTable {
	wrapFuncs(&up, site{call: Upcall, ret: UpcallReturn, caller: provider, layer: Layer{Kind: LayerWinsock}, sink: sink})
	return up
}

// WrapImports is [WrapUpcalls] for the functions a provider links
// directly. WPUCompleteOverlappedRequest reports its status and byte count
// (Err and Bytes of the Upcall event); PostQueuedCompletionStatus its byte
// count and key; GetQueuedCompletionStatus the packet it dequeued (Bytes
// and Key of the return); CreateFileObject and CreateThread the handle
// made. LoadNext is reported as a call like the others; wrapping the table
// it returns is the caller's business.
func WrapImports(im spi.Imports, provider Layer, sink Sink) spi.Imports {
	wrapFuncs(&im, site{call: Upcall, ret: UpcallReturn, caller: provider, layer: Layer{Kind: LayerWinsock}, sink: sink})
	return im
}

// site is where the wrapped functions of one table report.
type site struct {
	call, ret     Kind
	caller, layer Layer
	entry         spi.CatalogEntryId
	sink          Sink
}

// wrapFuncs replaces every non-nil func field of the struct ptr points to
// with a function that reports to s.
func wrapFuncs(ptr any, s site) {
	if s.sink == nil {
		return
	}
	v := reflect.ValueOf(ptr).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.Func || f.IsNil() {
			continue
		}
		orig := reflect.ValueOf(f.Interface())
		f.Set(reflect.MakeFunc(f.Type(), s.wrap(t.Field(i).Name, orig)))
	}
}

// wrap returns the implementation of a wrapper of orig, the function
// called name.
func (s site) wrap(name string, orig reflect.Value) func([]reflect.Value) []reflect.Value {
	sig := analyze(name, orig.Type())
	return func(args []reflect.Value) []reflect.Value {
		e := Event{Kind: s.call, Layer: s.layer, Caller: s.caller, Func: name, Entry: s.entry}
		sig.arguments(&e, args)
		s.sink(e)
		out := orig.Call(args)
		e.Kind, e.Err, e.Bytes, e.Key = s.ret, 0, 0, 0
		sig.results(&e, out)
		s.sink(e)
		return out
	}
}

// The types whose arguments and results the wrappers report.
var (
	handleType      = reflect.TypeFor[spi.Handle]()
	entryType       = reflect.TypeFor[spi.CatalogEntryId]()
	threadType      = reflect.TypeFor[spi.ThreadID]()
	threadPtrType   = reflect.TypeFor[*spi.ThreadID]()
	errnoType       = reflect.TypeFor[spi.Errno]()
	errorType       = reflect.TypeFor[error]()
	buffersType     = reflect.TypeFor[[][]byte]()
	bufferType      = reflect.TypeFor[[]byte]()
	uint32Type      = reflect.TypeFor[uint32]()
	packetType      = reflect.TypeFor[spi.OverlappedEntry]()
	fileObjectType  = reflect.TypeFor[spi.FileObject]()
	argumentsByName = map[string]struct{ bytes, key int }{
		// The uint32 and uintptr arguments that are a byte count or a
		// completion key; elsewhere they are flags, codes or messages.
		"WPUCompleteOverlappedRequest": {bytes: 3, key: -1},
		"PostQueuedCompletionStatus":   {bytes: 1, key: 2},
		"CreateIoCompletionPort":       {bytes: -1, key: 2},
	}
)

// signature records where a function's reported arguments and results
// are; -1 means it has none.
type signature struct {
	handle, entry, thread, threadPtr, errno, buffers, buffer, bytes, key int
	err, newHandle, newThread, newFile, outBytes, packet                 int
}

func analyze(name string, ft reflect.Type) signature {
	s := signature{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
	ins := map[reflect.Type]*int{
		handleType: &s.handle, entryType: &s.entry, threadType: &s.thread, threadPtrType: &s.threadPtr,
		errnoType: &s.errno, buffersType: &s.buffers, bufferType: &s.buffer,
	}
	outs := map[reflect.Type]*int{
		errorType: &s.err, handleType: &s.newHandle, threadType: &s.newThread, fileObjectType: &s.newFile,
		uint32Type: &s.outBytes, packetType: &s.packet,
	}
	for i := range ft.NumIn() {
		if p := ins[ft.In(i)]; p != nil && *p < 0 {
			*p = i
		}
	}
	for i := range ft.NumOut() {
		if p := outs[ft.Out(i)]; p != nil && *p < 0 {
			*p = i
		}
	}
	if a, ok := argumentsByName[name]; ok {
		s.bytes, s.key = a.bytes, a.key
	}
	return s
}

// arguments fills e from the arguments of a call.
func (s signature) arguments(e *Event, args []reflect.Value) {
	if s.handle >= 0 {
		e.Handle = spi.Handle(args[s.handle].Uint())
	}
	if s.entry >= 0 {
		e.Entry = spi.CatalogEntryId(args[s.entry].Uint())
	}
	if s.thread >= 0 {
		e.Thread = args[s.thread].Interface().(spi.ThreadID).ThreadHandle
	}
	if s.threadPtr >= 0 {
		if id := args[s.threadPtr].Interface().(*spi.ThreadID); id != nil {
			e.Thread = id.ThreadHandle
		}
	}
	if s.errno >= 0 {
		e.Err = spi.Errno(args[s.errno].Uint())
	}
	switch {
	case s.bytes >= 0:
		e.Bytes = uint32(args[s.bytes].Uint())
	case s.buffers >= 0:
		e.Bytes = BuffersLen(args[s.buffers].Interface().([][]byte)...)
	case s.buffer >= 0:
		e.Bytes = uint32(args[s.buffer].Len())
	}
	if s.key >= 0 {
		e.Key = uintptr(args[s.key].Uint())
	}
}

// results fills e from the results of a call.
func (s signature) results(e *Event, out []reflect.Value) {
	if s.outBytes >= 0 {
		e.Bytes = uint32(out[s.outBytes].Uint())
	}
	if s.packet >= 0 {
		p := out[s.packet].Interface().(spi.OverlappedEntry)
		e.Bytes, e.Key = p.NumberOfBytesTransferred, p.CompletionKey
	}
	if s.err >= 0 {
		if err, _ := out[s.err].Interface().(error); err != nil {
			e.Err = spi.ErrnoOf(err)
			return // a failed call makes no handle
		}
	}
	switch {
	case s.newHandle >= 0:
		e.NewHandle = spi.Handle(out[s.newHandle].Uint())
	case s.newThread >= 0:
		e.NewHandle = out[s.newThread].Interface().(spi.ThreadID).ThreadHandle
	case s.newFile >= 0:
		if fo, _ := out[s.newFile].Interface().(spi.FileObject); fo != nil {
			e.NewHandle = fo.Handle()
		}
	}
}

// BuffersLen returns the total length of bufs, capped at the largest
// uint32: the Bytes of a call that passes them.
func BuffersLen(bufs ...[]byte) uint32 {
	var n uint64
	for _, b := range bufs {
		n += uint64(len(b))
	}
	return uint32(min(n, 1<<32-1))
}
