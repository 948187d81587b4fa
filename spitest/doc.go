// Package spitest is a conformance kit for Winsock service providers, the
// testing/fstest of this module: it runs a provider, usually a layered
// service provider (LSP), through a table of cases that each check a
// Winsock rule, and through a random workload of clients driven by rapid,
// on fresh simulated machines, and reports every rule broken, quoting the
// rule and its source.
//
// # Typical usage inside a test
//
// A [Factory] installs the provider under test into a fresh machine and
// names the catalog entries to test; [Run] runs every case as a subtest:
//
//	func TestMyLSP(t *testing.T) {
//		spitest.Run(t, func(m *wsspi.Machine) (spitest.Target, error) {
//			_, ids, err := layered.Install(m, layered.Options{
//				Name: "My LSP", GUID: myGUID, Path: `C:\lsp\my.dll`,
//				Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
//				Config: layered.Config{Hooks: myHooks},
//			})
//			return spitest.Target{Entries: ids.Chains}, err
//		})
//	}
//
// [Check] runs the same cases and returns the findings as one error, for a
// program, a rapid property ([Draw]) or a test that wants to look at them.
//
// # What is checked
//
// Each case runs on a fresh machine for every target entry: once with
// the simulator doing its work inline, then with a seeded [Scheduler]
// for each of a few seeds ([Seeds]). The client side is the kit's:
// sockets made through the target entry with WSA_FLAG_OVERLAPPED, each
// connected to a peer socket made on the base entry under the chain, each
// hearing of its operations by one mechanism (a completion port with a
// key of its own, an event per operation, or a completion routine on the
// issuing thread). Every run checks, for every operation, the rules of
// [Rules]:
//
//   - an operation that returned WSA_IO_PENDING or success is notified
//     exactly once, by the mechanism the client chose, with the client's
//     key, in an alertable wait of the issuing thread for a routine, with
//     a status block and a WSAGetOverlappedResult that agree with the
//     notification; one that failed at once is never notified;
//   - closing a socket completes its pending operations, once each, with
//     WSA_OPERATION_ABORTED;
//   - once every socket is closed and every operation completed, no handle
//     from WPUCreateSocketHandle is left, and once the process has called
//     WSACleanup no handle of any kind is (sockets, events, ports, thread
//     ids from WPUOpenCurrentThread);
//   - each successful WPUCreateSocketHandle is matched, per handle value
//     and generation of use (a value closed and made again is a new
//     generation), by exactly one successful WPUCloseSocketHandle from the
//     provider that made it before cleanup ends, and no WPUCloseSocketHandle
//     names a handle that is not open from that provider: a second close,
//     which ws2_32 answers with WSAENOTSOCK, is a finding, as is a close of
//     another provider's handle. The kit's machines record a trace of the
//     providers' upcalls (wsspi.MachineOptions.Trace, package trace) and
//     read it once the process has cleaned up. Runs over an entry with
//     XP1_IFS_HANDLES, and over the loopback base provider alone (a nil
//     Factory), record no trace: their providers make no
//     WPUCreateSocketHandle handle (one that does breaks the IFS flag rule
//     below), and tracing slows a run down;
//   - the entry's XP1_IFS_HANDLES matches the kind of handle WSASocket
//     returns (an IFS file object, or a WPUCreateSocketHandle handle), and
//     a WPUCreateSocketHandle handle is owned by the chain and gives back
//     its context;
//   - ReadFile and WriteFile work on the handle, reaching a non-IFS layer;
//   - SIO_BASE_HANDLE answers the base provider's socket, the one file
//     object WSASocket made (the layer must not intercept it);
//   - the bytes of each connection arrive in order, once, and as they were
//     sent, or as the target's Transform says (see "Layers that change
//     data" below).
//
// The cases add scenarios that reach the rules' corners: pending receives
// closed under each mechanism, immediate failures, and the faults below.
// The "Handles" case makes sockets under each mechanism, with traffic, and
// closes two of its four with a receive pending (the others at the end), so that a layer closes its
// handles both at once and from the last completion; the checks above then
// find a handle left open, closed twice, or closed by the wrong provider.
//
// The "Readiness" cases check how the client learns that a socket is
// ready, on client sockets connected as above and made non-blocking:
//
//   - "Readiness/EventSelect" and "Readiness/AsyncSelect" select FD_READ,
//     FD_WRITE and FD_CLOSE, with WSAEventSelect (the events read with
//     WSAEnumNetworkEvents once the event object is set) or with
//     WSAAsyncSelect (the messages posted to a window of the client's,
//     wsspi.Process.PostedMessages). They want FD_WRITE at the selection
//     of a connected socket, once; one FD_READ when the peer sends, none
//     for more data until a receive re-enables it, and another after a
//     receive that leaves data; FD_CLOSE once after the peer's graceful
//     close, with no error, and once after its reset, with WSAECONNRESET;
//     nothing for the socket's own closesocket (rules NetworkEventOnce and
//     CloseEventOnce); FD_WRITE again for a new selection after one was
//     cancelled; and, while a selection is on, ioctlsocket(FIONBIO, 0)
//     failing with WSAEINVAL, succeeding once it is cancelled
//     (SelectNonBlocking). Each message must carry the client's message
//     number and name the client's socket in wParam, the target's handle
//     and not a lower one (AsyncSelectHandle); its lParam is
//     WSAMAKESELECTREPLY(event, error).
//   - "Readiness/Select": select with a zero timeout reports the client's
//     socket writable when connected, readable once the peer sent data and
//     no longer once the data is read, and readable after the peer's
//     graceful close (a receive then returns 0 at once) and after its reset
//     (a receive fails with WSAECONNRESET), the sets naming the client's
//     handle and the count the handles left in them (SelectReady). select
//     is routed as ws2_32 routes it since Windows Vista, to the provider of
//     the socket that SIO_BSP_HANDLE_SELECT on the client's socket names,
//     which must be a socket of the process. A non-IFS layer that passes
//     the code down, as Microsoft's sample does and the layered kit does
//     without Config.ServeSelect, leaves select to the base provider,
//     which gets the base socket and the layer never sees the call; one
//     that answers with its own handle serves it. The case wants the same
//     answers either way: the client gets them through whichever provider
//     serves.
//   - "Readiness/Poll": WSAPoll with a zero timeout reports POLLWRNORM on a
//     connected socket, POLLRDNORM once the peer sent data and no longer
//     once it is read, POLLRDNORM|POLLHUP after the peer's graceful close
//     and POLLHUP after its reset (PollReady). WSAPoll polls the socket
//     that SIO_BSP_HANDLE_POLL names, so a layer that answers it with its
//     own handle, not an AFD socket, gets POLLNVAL. IOCTL_AFD_POLL issued
//     on the SIO_BASE_HANDLE socket, as libuv issues it, reports waiting
//     data as AFD_POLL_RECEIVE (AFDPoll).
//
// The names are listed by [CaseNames]; [Cases] selects some.
//
// # The workload
//
// The "Workload" case runs random clients: sockets, sends, receives,
// ReadFile and WriteFile, ioctls, closes in mid-flight, peer sends,
// receives and closes, faults, and steps of the scheduler, checking the
// rules after every step and at the end, after a full cleanup. [Run]
// drives it with rapid: a failure shrinks to a minimal sequence of steps,
// printed with the draws, and is replayed by
//
//	go test -run 'TestMyLSP/Workload/entry1006' -rapid.seed=N
//	go test -run 'TestMyLSP/Workload/entry1006' -rapid.failfile=testdata/rapid/.../x.fail
//
// rapid writes the fail file under testdata/rapid/ of the test's package
// and replays every fail file there first on later runs: commit it to keep
// the reproduction. The number of workload runs is rapid's -rapid.checks
// (100 by default) and their length -rapid.steps (30 by default). [Check]
// without [Draw] runs the workload once from a seed ([Seed], [Steps]).
//
// For longer runs set SPITEST_LONG=1 in the environment: every scripted
// case then runs with 24 scheduler seeds instead of 3 and a seeded
// workload runs 400 steps instead of 60; combine with -rapid.checks=N for
// more workload runs.
//
// # Scheduling
//
// A [Scheduler] is an [spi.Scheduler] driven by a PCG random source: given
// to a machine (wsspi.MachineOptions.Scheduler), the loopback base provider
// and the completion rule hand it the work they would otherwise do inline
// (the delivery of completions, the end of a close, the notification of a
// completion), and let it turn an immediate completion into a pending one.
// The kit runs the queued work between the client's steps, so a run
// explores the orderings Windows allows: completions before or after the
// call returns, completions racing a close, notifications and APCs
// arriving late. The same seed gives the same run when the provider does
// its work on the goroutines that call it; a provider with goroutines of
// its own (a layered provider's workers, the process's APC thread) is made
// deterministic by running inside a testing/synctest bubble, where the kit
// waits for those goroutines with synctest.Wait after every step. [Run]
// always runs in bubbles; [Check] does when given [Bubble]. Outside a
// bubble the kit waits in real time, up to [Timeout], for notifications
// and, at the end of a run, for the provider to close its socket handles.
// select and WSAPoll wait for the poll they issue, whose end a seeded
// scheduler delivers only when the kit runs its queued work, so the kit
// makes them on a goroutine of its own meanwhile.
//
// # Layers that change data
//
// A layer that encrypts, compresses or frames the data it carries declares
// what it does in [Target.Transform], and the stream checks look through
// it. The kit's peers are sockets of the base entry, below every layer, so
// they see the wire: what a peer receives is read with Transform.Unwire
// and must be a prefix of what the client sent, in order and once; what a
// peer sends is made with Transform.Wire from plain bytes, and the client
// must receive those plain bytes. The counts the client is told stay its
// own: a send completes with the count of the client's bytes it took, a
// receive with the count of plain bytes put in the client's buffers, and
// what the wire carries shows in neither.
//
// A layer that changes lengths (compression, framing) is checked the same
// way, because whole streams are compared, never single transfers: the
// peer may read 30 bytes of wire for the 48 the client sent, and Unwire of
// those 30 must be a prefix of the 48; a receive of the client completes
// with the plain bytes the layer made of the wire it read, however many
// wire bytes that took. Unwire of a wire cut inside a block gives the
// plain bytes before the block, so a transfer that stops anywhere reads as
// a prefix, and the stream is judged again as more arrives. The base
// provider's short transfers (see Faults) cut the wire too: a layer that
// then sends its next block before the rest of a cut one breaks the
// stream, and the peer's Unwire finds it.
//
// The kit's payload never repeats four bytes in a run, so when what one
// end received leaves what the other sent, the four bytes from the first
// wrong one tell the two stream rules apart: found elsewhere in the
// stream, they break StreamOrder (out of order, or again); found nowhere,
// StreamData (a layer changed the data and declared no Transform, or a
// wrong one). Each direction of a connection is reported once, when those
// four bytes have arrived or the run ends (fewer, at the end, are taken
// for a change, and the finding says so); the records of what each end
// received go on as they were, so a finding shows what happened. A Transform
// whose Unwire does not undo its Wire on a sample stream, or whose Wire is
// not incremental, gives one finding of the rule "Factory", and nothing
// else is run.
//
// ReadFile and WriteFile on an IFS handle go straight to the base
// provider, so an IFS layer cannot change their data: with a Transform
// declared, the kit reports the StreamData they break, and says why. The
// kit tests stream entries only; datagram entries are skipped, and with
// them any change a layer makes to datagrams.
//
// # Faults
//
// [Faults] injects what Windows allows to fail: chosen handle
// allocations, WPUCreateSocketHandle among them, fail with WSAENOBUFS; the
// base provider's WSPStartup fails; a transfer of the base provider fails
// at once, comes back short, or finds its connection reset. The cases use
// them ("Faults/..."), the workload arms them at random, and a plain test
// can arm them itself (see the example of Faults).
//
// # Rules and their sources
//
// A finding quotes the rule it breaks ([Rule]) with its sources: for a
// Winsock rule, the source keys and the numbered sections of the
// project's fact sheet, docs/facts.md, which states the rule with its
// references; for a rule of the kit's own, "spitest". The kit's own rules,
// which Windows does not state but a conformance run needs, are these:
//
//   - Factory: The factory installs the provider under test into a fresh
//     machine and names catalog entries that exist and pass catalog lint,
//     with a Transform, if it declares one, whose Unwire undoes its Wire.
//   - NoPanic: A provider reports errors; it does not panic.
//   - Serves: Each target entry serves sockets: on a fresh machine, with
//     no fault armed, a WSASocket through it succeeds. (A provider whose
//     WSPStartup always fails, or whose DLL does not load, breaks it, and
//     nothing else is run.)
//   - Connect: A connect through the target entry that succeeds reaches
//     the address the client named: the peer's listener has the
//     connection to accept.
//   - StreamData (with D:protoinfo, docs/facts.md §3.2): The bytes one end
//     of a connection receives are the bytes the other end sent, through
//     the Transform the target declares: a layer that changes the data it
//     carries declares how.
//
// [Rules] returns every rule the kit checks.
//
// # Bad input
//
// A factory that panics, returns an error, installs nothing, names an
// entry that is missing or cannot serve sockets, or leaves a catalog that
// fails catalog lint gives one finding of the rule "Factory" and nothing
// else is run. A provider that panics on the kit's goroutine gives a
// finding; one that panics on a goroutine of its own ends the test
// binary, as any goroutine panic does.
//
// # Concurrency
//
// Run and Check may be called from several goroutines at once; each run
// uses its own machine. A run drives its client from one goroutine. A
// [Scheduler] and a [Faults] are safe for concurrent use. Findings are
// plain values.
package spitest
