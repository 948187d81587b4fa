// Package trace records what happens inside a simulated Windows machine, one
// structured [Event] per step, and renders a recording as a plain-text
// timeline ([Text]) or a Mermaid sequence diagram ([Mermaid]).
//
// # What is recorded
//
// Every layer of a process reports its steps to a [Sink]:
//
//   - client calls: the Winsock, file and kernel32 functions a simulated
//     thread calls ([ClientCall] and [ClientReturn]), with the thread, the
//     handle and the result;
//   - WSP calls: each proc-table entry of each provider layer, whoever
//     calls it: ws2_32 for a client call, the IFS layer for a redirected
//     ReadFile or WriteFile, a layered provider for a call into the layer
//     below it ([WSPCall] and [WSPReturn]), with the layer, the catalog
//     entry the call was routed by, the handle and the result;
//   - upcalls: the WPU functions and the kernel32 functions a provider
//     calls on its own behalf ([Upcall] and [UpcallReturn]);
//   - user/kernel transitions spent in the IFS layer ([Transition]);
//   - completions: the end of an overlapped I/O and how it reached the
//     client, a packet to a port, an event, an APC, or nothing, and why
//     ([Completion], [Delivery]);
//   - APCs run by a thread in an alertable wait ([APCRun]);
//   - handles created and closed, with the kind of object and owner
//     ([HandleCreated], [HandleClosed]).
//
// Turn recording on by giving a machine a [Recorder]:
//
//	rec := new(trace.Recorder)
//	m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
//	... // run a scripted client
//	trace.Text(os.Stdout, rec.Events())
//
// With no recorder nothing is recorded, nothing is wrapped, nothing is
// allocated, and each place that would record pays a nil check. With one,
// each event costs a few hundred nanoseconds and bytes, more for the
// reflection of a wrapped table call (BenchmarkTrace in package wsspi
// measures both).
//
// # Comparing traces
//
// Events are plain values. Their Seq and PID are deterministic for a
// deterministic script; their Time is not. [Comparable] returns a copy with
// the volatile fields zeroed, so a test can compare a trace with cmp.Diff.
// [Filter] keeps the events a test cares about.
//
// # Wrapping tables
//
// [WrapProcTable], [WrapUpcalls] and [WrapImports] return copies of a
// provider's tables whose entries report every call and return to a
// [Sink] before and after calling the original entry: the simulator uses
// them to see per-layer WSP calls without any change to providers, and a test
// of a single provider can use them directly. They use reflection and
// allocate; they are for traced runs only.
//
// # Concurrency
//
// A [Recorder] is safe for concurrent use; events recorded from several
// goroutines get their sequence numbers in the order they reach it. The
// wrappers are as safe for concurrent use as the tables they wrap. The
// renderers and helpers work on slices the caller owns.
package trace
