// Package clienttest is a conformance kit for Winsock clients, the
// counterpart of package spitest, which tests providers: it runs a piece
// of client logic (a scenario) on a matrix of simulated machines, one
// with no layered service provider (LSP) and others with the providers of
// package wild installed alone and in stacks, with and without a seeded
// scheduler, and says under which configurations the client breaks and
// why. The providers of package wild behave like the LSPs that broke real
// networking libraries; a client that passes the matrix has met each of
// them.
//
// # Typical usage inside a test
//
// A [Scenario] gets a fresh machine and does what the client does; [Run]
// runs it under every configuration, each a subtest named after it:
//
//	func TestMyClient(t *testing.T) {
//		clienttest.Run(t, func(m *wsspi.Machine) error {
//			th := m.NewProcess().NewThread()
//			pr, err := th.SocketPair(wsspi.PairOptions{
//				ServerEntry: catalog.DefaultTCPIPv4, CompletionPort: true})
//			if err != nil {
//				return err
//			}
//			return myclient.Serve(th, pr.Client, pr.Port) // the code under test
//		})
//	}
//
// [Check] runs the same matrix and returns a [Result] for each
// configuration, for a program or a test that wants to look at them, and
// [Matrix] prints results as a table.
//
// # Writing a scenario
//
// The machine a scenario gets has the configuration's layers installed
// and no process running. The scenario starts the processes it needs
// (Machine.NewProcess), makes its sockets as the client does, through the
// catalog's choice, so that they cross the layers, and returns an error
// when the client fails. A peer the scenario talks to is best made on a
// base entry (PairOptions.ServerEntry, ListenOptions), below every layer,
// so that a failure is the client's side alone. Waiting for ever is fine:
// the kit bounds each configuration (see "Hangs" below). The kit shuts
// the machine down when the scenario returns (Machine.Shutdown), so the
// scenario need not close what it opened.
//
// A scenario runs on a goroutine of the kit's: it must not call
// t.Fatal, t.FailNow or t.Skip (the kit reports the runtime.Goexit they
// call as a failure). A panic of the scenario is a [*PanicError]; a panic
// on a goroutine the scenario started ends the test binary, as any
// goroutine's panic does.
//
// # The matrix
//
// The configurations are built from wild.All, so a provider added to
// package wild joins the matrix. Each has a layout and a scheduler
// setting, and a name made of them ([Config.Name]):
//
//   - "NoLSP": the loopback base provider alone;
//   - "P/tcp4", "P/tcp6", "P/udp" and "P/all" for each provider P of
//     package wild: P installed over the TCP/IPv4 entry, the TCP/IPv6
//     entry, both UDP entries, or all of those, as far as its Over allows
//     (a TCP-only provider has no "udp"); a layer over some protocols only
//     leaves the client's other sockets on the base provider, where a
//     client's process-wide assumptions break;
//   - stacks, over every entry all their layers apply to, named by their
//     layers top first, as a protocol chain lists them: "Kit+Kit/all",
//     "Kit+Kit+Kit/all", the kit over each IFS provider
//     ("Kit+IFSPassThrough/all", IFS under non-IFS, the only order
//     Microsoft's installer makes; catalog lint rejects the other), two
//     kits over it ("Kit+Kit+IFSPassThrough/all"), and each other non-IFS
//     provider over the kit ("Naive+Kit/all").
//
// package wild installs its kit under one GUID, so in a stack of kits the
// ones below the top are copies of it with GUIDs and "DLL paths" of the
// kit's own (named "Kit 1", "Kit 2" in the catalog).
//
// Each layout runs once with no scheduler (the simulator doing its work
// inline, on the goroutine that causes it) and once for each of the seeds
// 1 and 2 with a spitest.Scheduler ("Naive/tcp4/seed1"), which delays
// completions, the ends of closes and notifications, and turns some
// immediate completions into pending ones, as Windows may. The scenario
// knows nothing of the scheduler: the kit runs its queued work, one
// function at a time, whenever every goroutine of the run waits. With the
// eleven providers of package wild the matrix holds 54 layouts, 162
// configurations ([Configs] lists them). The whole matrix of a small
// scenario runs in well under a second (BenchmarkMatrix measures
// configurations per second; bench/README.md has the figures).
//
// # Choosing configurations
//
// [Names] runs the configurations some patterns name, [Select] returns
// them, [Only] runs a list the test made (its own configurations too:
// any layers of package wild over any base entries). A pattern is a name
// ("Naive/tcp4/seed1"), a prefix of names that ends at a "/" ("Naive",
// "Naive/tcp4"), or a path.Match pattern, whose "*" stays within a segment
// ("Naive/*", "*/tcp6", "*+Kit/all", "*/*/seed1"). [Seeds] sets the number
// of seeds. Two environment variables override the options, so a run can
// be widened or narrowed without an edit of the test:
//
//	CLIENTTEST_SEEDS=50 go test -run TestMyClient      # 50 seeds per layout
//	CLIENTTEST_CONFIGS='Naive/*,Kit+Kit' go test -run TestMyClient
//
// # Reading a failure
//
// A [Result]'s Err is what the scenario returned, or a finding of the
// kit's: a [*TimeoutError] for a scenario that did not return in time, a
// [*PanicError], or a [*SetupError] when the machine could not be built
// (a bug of the kit or of package wild, never of the client). The first
// failing configuration is run a second time with the machine's trace
// recorder on (wsspi.MachineOptions.Trace), and its Result carries the
// trace as package trace's text timeline: every client call, every WSP
// call of every layer, the upcalls, completions and handles, in order,
// where the lost completion or the unexpected error shows; for a scenario
// that returned in time it stops where the scenario returned, leaving out
// the kit's shutdown of the machine. [TraceAll]
// traces every failure. Run reports each failure with t.Error, the first
// with its trace, and logs the matrix at the end:
//
//	layout               inline   seed1    seed2
//	NoLSP                pass     pass     pass
//	Kit/tcp4             pass     pass     pass
//	Naive/tcp4           timeout  timeout  timeout
//	...
//	3 of 81 configurations failed:
//	  Naive/tcp4: timeout: the scenario did not return within 10s; once the machine shut down it returned: ...
//
// # Replaying
//
// Run prints, with each failure, the command that runs its configuration
// alone, through CLIENTTEST_CONFIGS:
//
//	CLIENTTEST_CONFIGS=Naive/tcp4/seed1 go test -run '^TestMyClient$'
//
// The seed is part of the name, and a name may carry a seed outside the
// matrix, so a failure found with CLIENTTEST_SEEDS=50 at seed 37 replays
// alone as CLIENTTEST_CONFIGS=Naive/tcp4/seed37. In Check,
// Names("Naive/tcp4/seed37") does the same. go test's own -run selects
// subtests too ('TestMyClient/^Naive$/^tcp4$'; each segment is a
// regular expression, hence the anchors).
//
// Inside a testing/synctest bubble (always in Run; in Check with
// [Bubble]) a seed replays the run exactly, the same completions in the
// same order and the same trace, when the configuration's layers do their
// work on the goroutines that call them: no layer, IFS layers, and
// layers such as Naive. The kit of package layered has worker threads of
// its own (they dequeue the completions of the layer below), which run
// as soon as they are woken; under load (the race detector, say) two of
// them, or one and the client, can reach the scheduler in either order,
// so a seed of a configuration with the kit usually replays its outcome
// but is not certain to (in the kit's tests, a few runs in a hundred
// under -race, none without it). Outside a bubble the scheduler's work
// runs on a goroutine of the kit's as soon as it can, and a seed replays
// its decisions only.
//
// # Hangs
//
// Each configuration has a limit ([Timeout], 10s by default). A scenario
// that has not returned by then gets a [*TimeoutError]: the kit shuts the
// machine down, which ends every wait of its processes (a port wait with
// ERROR_ABANDONED_WAIT_0, other waits with ERROR_PROCESS_ABORTED), and
// the error carries what the scenario returned then. In a bubble the
// limit is the bubble's clock, which jumps ahead as soon as every
// goroutine waits, so a hang costs no real time; outside a bubble it is
// real time.
//
// A scenario that waits on something of its own that the shutdown cannot
// reach (a channel, a mutex) does not end; the kit reports the timeout
// and leaves its goroutine behind. Run recovers the deadlock its bubble
// then ends with; a Check in the caller's bubble leaves that bubble
// deadlocked, which synctest.Test reports. In a bubble time stands still
// while any goroutine runs, so a scenario that spins without ever waiting
// (polling a port with a zero timeout in a loop) is bounded by go test's
// -timeout alone, and under the seeded scheduler it starves the work it
// polls for, which runs only when every goroutine waits. Such a scenario
// should wait with a timeout, as real event loops do, or run outside a
// bubble: [RealTime] for Run, Check without [Bubble].
//
// A goroutine blocked on a sync.Mutex is not waiting in synctest's
// sense either. Under the seeded scheduler in a bubble, a scenario in
// which one goroutine holds a lock while it waits for I/O, and another
// blocks on that lock, stalls for good: the I/O completes only once every
// goroutine waits, and the one on the lock never does; the bubble's clock
// stands still, so the limit does not end it. net/http's Server.Close is
// such a case: it holds the server's lock while it closes the listeners,
// and closing a listener waits for its pending accept to end, while a
// connection's goroutine ending at the same moment takes the same lock.
// Close the listener before the server, or run without the bubble.
//
// # Concurrency
//
// Run and Check may be called from several goroutines at once; each
// configuration runs on a machine of its own, one after the other.
// Results and findings are plain values.
package clienttest
