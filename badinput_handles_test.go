package wsspi_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// Attacks with handle values that name the wrong thing: a handle of
// another kind, of another process, of nothing at all (0, INVALID_SOCKET,
// a value that is not a multiple of 4, one beyond every table), or of an
// object closed before (with DetectStale). Every call of the client API
// given one must fail with the Windows error and change nothing: the real
// objects keep working and the handle table is as it was.

var _ = addAttacks(
	attack{"WrongKindHandlesFailEverySocketCallAndChangeNothing", testWrongKindHandlesFailEverySocketCallAndChangeNothing},
	attack{"WrongKindHandlesFailEveryPortCallAndChangeNothing", testWrongKindHandlesFailEveryPortCallAndChangeNothing},
	attack{"WrongKindHandlesFailEveryEventCallAndChangeNothing", testWrongKindHandlesFailEveryEventCallAndChangeNothing},
	attack{"StaleHandlesCarryTheStaleErrorThroughEveryLayer", testStaleHandlesCarryTheStaleErrorThroughEveryLayer},
	attack{"StaleSocketHandlesBesideLiveIOLoseNoCompletion", testStaleSocketHandlesBesideLiveIOLoseNoCompletion},
)

// depths are the kit layer counts the attacks run at: a client on the
// base provider itself, and through one and two layers.
var depths = []int{0, 1, 2}

// handleRow is what the handle table says of one live handle, without
// the object and context, so that two snapshots compare with cmp.Diff.
type handleRow struct {
	Handle     spi.Handle
	Kind       handles.Kind
	Owner      spi.CatalogEntryId
	Generation uint32
}

// handleRows lists p's live and closing handles.
func handleRows(p *wsspi.Process) (live []handleRow, closing []spi.Handle) {
	snap := p.Handles().Snapshot()
	for _, e := range snap.Live {
		live = append(live, handleRow{e.Handle, e.Kind, e.Owner, e.Generation})
	}
	slices.SortFunc(live, func(a, b handleRow) int { return int(a.Handle>>2) - int(b.Handle>>2) })
	return live, append([]spi.Handle(nil), snap.Closing...)
}

// checkTableUnchanged fails if p's handle table differs from before.
func checkTableUnchanged(t *testing.T, what string, p *wsspi.Process, before []handleRow) {
	t.Helper()
	after, closing := handleRows(p)
	if diff := cmp.Diff(before, after); diff != "" || len(closing) != 0 {
		t.Errorf("%s changed the handle table (-before +after):\n%s\nclosing: %v", what, diff, closing)
	}
}

// closeAndCheck closes each process and fails if any handle of it is
// left, live or closing, and, once the processes are closed, if a kit
// layer holds anything.
func closeAndCheck(t *testing.T, provs []*layered.Provider, ps ...*wsspi.Process) {
	t.Helper()
	for _, p := range ps {
		check(t, p.Close())
		if snap := p.Handles().Snapshot(); len(snap.Live) != 0 || len(snap.Closing) != 0 {
			t.Errorf("process %d: handles left after Close: live %+v, closing %v", p.ID(), snap.Live, snap.Closing)
		}
	}
	eventually(t, "the layers to be idle", func() bool { return quiet(provs...) })
}

// badValue is a handle value that names nothing a call wants.
type badValue struct {
	name string
	h    spi.Handle
}

// noObjectValues are values no table hands out: 0, INVALID_SOCKET (the
// same bits as INVALID_HANDLE_VALUE), a live handle's value plus 1 or 2
// (not a multiple of 4), and values beyond every table.
func noObjectValues(live spi.Handle) []badValue {
	return []badValue{
		{"zero", 0},
		{"INVALID_SOCKET", spi.INVALID_SOCKET},
		{"unaligned by 1", live + 1},
		{"unaligned by 2", live + 2},
		{"unaligned by 3", live | 3},
		{"huge", spi.Handle(^uintptr(0) &^ 3)},
		{"beyond the table", spi.Handle(handles.DefaultCapacity+8) << 2},
	}
}

// foreignValue returns a handle of kind of process other whose value names
// nothing in p, making objects in other with mk until one does.
func foreignValue(t *testing.T, p *wsspi.Process, mk func() spi.Handle) spi.Handle {
	t.Helper()
	for range 64 {
		h := mk()
		if _, used := p.Handles().Lookup(h); !used {
			return h
		}
	}
	t.Fatal("every value the other process hands out is taken in this one")
	return 0
}

// kitWorld is a client connected through depth kit layers to a base
// server, with a port the client socket is associated with (key 7), an
// idle port, an event and a listener of the client's.
type kitWorld struct {
	*lconn
	provs    []*layered.Provider
	port     spi.Handle // k.c's
	idle     spi.Handle // a port with nothing associated
	ev       spi.Handle
	listener spi.Socket // a listening socket of the client, through the layers
	lower    spi.Socket // at depth > 0, the base provider's socket under k.c
}

func newKitWorld(t *testing.T, m *wsspi.Machine, depth int) *kitWorld {
	t.Helper()
	provs, _ := installKits(t, m, depth)
	w := &kitWorld{lconn: newLConn(t, m, spi.WSA_FLAG_OVERLAPPED), provs: provs}
	w.port = must(w.client.CreateIoCompletionPort(w.c, 0, 7, 0))(t)
	w.idle = must(w.client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
	w.ev = must(w.client.WSACreateEvent())(t)
	w.listener = listen(t, w.cth, loopbackAddr(spi.AF_INET, 7100), 4)
	if depth > 0 {
		w.lower = baseHandles(w.client)[0]
	}
	return w
}

// stillWorks checks that the world's objects work: a send and a receive
// on the client socket complete to its port with its key, the idle port
// passes a posted packet, the event sets and resets, and the listener
// accepts. It leaves them as it found them.
func (w *kitWorld) stillWorks(t *testing.T) {
	t.Helper()
	var sov, rov spi.Overlapped
	buf := make([]byte, 2)
	pendRecv(t, w.cth, w.c, buf, &rov, nil)
	if _, err := w.cth.WSASend(w.c, [][]byte{[]byte("up")}, 0, &sov, nil); err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
		t.Fatalf("WSASend on the live socket: %v", err)
	}
	if got := recvAll(t, w.sth, w.s, 2); string(got) != "up" {
		t.Errorf("the server read %q", got)
	}
	must(w.sth.WSASend(w.s, [][]byte{[]byte("ok")}, 0, nil, nil))(t)
	seen := map[*spi.Overlapped]int{}
	for range 2 {
		e := must(w.cth.GetQueuedCompletionStatus(w.port, long))(t)
		if e.CompletionKey != 7 {
			t.Errorf("packet %+v: key %d, want 7", e, e.CompletionKey)
		}
		seen[e.Overlapped]++
	}
	if diff := cmp.Diff(map[*spi.Overlapped]int{&sov: 1, &rov: 1}, seen); diff != "" || string(buf) != "ok" {
		t.Errorf("packets on the live port (-want +got):\n%s\nreceived %q", diff, buf)
	}
	var pov spi.Overlapped
	check(t, w.client.PostQueuedCompletionStatus(w.idle, 5, 6, &pov))
	if e := must(w.cth.GetQueuedCompletionStatus(w.idle, long))(t); e.Overlapped != &pov || e.NumberOfBytesTransferred != 5 || e.CompletionKey != 6 {
		t.Errorf("posted packet came back as %+v", e)
	}
	check(t, w.client.WSASetEvent(w.ev))
	if r, err := w.cth.WSAWaitForMultipleEvents([]spi.Handle{w.ev}, false, 0, false); r != spi.WSA_WAIT_EVENT_0 || err != nil {
		t.Errorf("the set event: WSAWaitForMultipleEvents = %#x, %v", r, err)
	}
	check(t, w.client.WSAResetEvent(w.ev))
	c := must(w.sth.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, baseTCP(t, w.m), 0, spi.WSA_FLAG_OVERLAPPED))(t)
	check(t, w.sth.Connect(c, loopbackAddr(spi.AF_INET, 7100)))
	a, _ := must2(w.cth.Accept(w.listener))(t)
	check(t, w.cth.Closesocket(a))
	check(t, w.sth.Closesocket(c))
	for _, p := range w.provs {
		if s := p.Stats(); s.Foreign != 0 || s.Failed != 0 {
			t.Errorf("a layer counted foreign or failed completions: %+v", s)
		}
	}
}

// finish closes what the world made and both processes, and checks that
// nothing is left.
func (w *kitWorld) finish(t *testing.T) {
	t.Helper()
	check(t, w.cth.Closesocket(w.c))
	check(t, w.cth.Closesocket(w.listener))
	check(t, w.client.CloseHandle(w.port))
	check(t, w.client.CloseHandle(w.idle))
	check(t, w.client.WSACloseEvent(w.ev))
	if len(w.provs) == 0 {
		checkNoHandles(t, w.client)
	}
	closeAndCheck(t, w.provs, w.client, w.server)
}

// wantErrno fails unless every error of calls is code: wrapped in an
// *spi.OpError named as its key when named is set.
func wantErrno(t *testing.T, what string, calls map[string]error, h spi.Handle, code spi.Errno, named bool) {
	t.Helper()
	for op, err := range calls {
		switch {
		case !errors.Is(err, code):
			t.Errorf("%s: %s on %v: %v, want %v", what, op, h, err, code)
		case named:
			var oe *spi.OpError
			if !errors.As(err, &oe) || oe.Op != op || oe.Handle != h {
				t.Errorf("%s: %s on %v: %#v, want an OpError naming %s and %v", what, op, h, err, op, h)
			}
		}
	}
}

// Every socket call, every file call and every call that takes a socket
// handle (ports, notification modes, transitions, AcceptEx and ConnectEx,
// WPUCompleteOverlappedRequest) given something that is not a socket of
// the process: a port, an event, a thread's handle, values that are no
// handle at all, another process's socket.
func testWrongKindHandlesFailEverySocketCallAndChangeNothing(t *testing.T) {
	for _, depth := range depths {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			w := newKitWorld(t, wsspi.NewMachine(), depth)
			foreign := foreignValue(t, w.client, func() spi.Handle {
				return must(w.sth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			})
			bad := append([]badValue{
				{"completion port", w.port},
				{"idle port", w.idle},
				{"event", w.ev},
				{"thread", w.cth.ID().ThreadHandle},
				{"another process's socket", foreign},
			}, noObjectValues(w.c)...)
			before, _ := handleRows(w.client)
			for _, b := range bad {
				t.Run(b.name, func(t *testing.T) {
					ov := spi.Overlapped{HEvent: w.ev}
					allFail(t, "socket calls", socketCalls(w.cth, b.h, &ov), b.h, spi.WSAENOTSOCK)
					allFail(t, "file calls", fileCalls(w.cth, b.h, &ov), b.h, spi.ERROR_INVALID_HANDLE)
					ext := map[string]error{}
					_, ext["AcceptEx listen"] = w.cth.AcceptEx(b.h, w.c, make([]byte, 64), &ov)
					_, ext["ConnectEx"] = w.cth.ConnectEx(b.h, loopbackAddr(spi.AF_INET, 7000), nil, &ov)
					wantErrno(t, "extension calls", ext, b.h, spi.WSAENOTSOCK, false)
					// A live listener given a bad accept socket.
					if _, err := w.cth.AcceptEx(w.listener, b.h, make([]byte, 64), &ov); !errors.Is(err, spi.WSAENOTSOCK) {
						t.Errorf("AcceptEx with accept socket %v: %v, want WSAENOTSOCK", b.h, err)
					}
					kernel := map[string]error{
						"SetFileCompletionNotificationModes": w.client.SetFileCompletionNotificationModes(b.h, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS),
					}
					_, kernel["HandleTransitions"] = w.client.HandleTransitions(b.h)
					if b.h != spi.INVALID_HANDLE_VALUE { // which creates a port
						_, kernel["CreateIoCompletionPort"] = w.client.CreateIoCompletionPort(b.h, 0, 1, 0)
						_, kernel["CreateIoCompletionPort existing"] = w.client.CreateIoCompletionPort(b.h, w.idle, 1, 0)
					}
					wantErrno(t, "kernel calls", kernel, b.h, spi.ERROR_INVALID_HANDLE, false)
					var done spi.Overlapped
					done.SetInProgress()
					if err := w.client.WPUCompleteOverlappedRequest(b.h, &done, 0, 1); !errors.Is(err, spi.WSAEINVAL) || !done.InProgress() {
						t.Errorf("WPUCompleteOverlappedRequest(%v): %v, overlapped %+v; want WSAEINVAL, untouched", b.h, err, done)
					}
					if ov != (spi.Overlapped{HEvent: w.ev}) {
						t.Errorf("failed calls wrote the overlapped: %+v", ov)
					}
					if r, _ := w.cth.WSAWaitForMultipleEvents([]spi.Handle{w.ev}, false, 0, false); r != uint32(spi.WSA_WAIT_TIMEOUT) {
						t.Error("a failed call signalled the event")
					}
					for _, port := range []spi.Handle{w.port, w.idle} {
						if e, err := w.cth.GetQueuedCompletionStatus(port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
							t.Errorf("a failed call queued %+v, %v", e, err)
						}
					}
					checkTableUnchanged(t, "the failed calls", w.client, before)
				})
			}
			w.stillWorks(t)
			w.finish(t)
		})
	}
}

// The port calls given something that is not a live port of the process:
// a socket (the layered one the client holds and, under a layer, the base
// socket below it), an event, a thread's handle, no handle at all, another
// process's port. CloseHandle given a thread's own handle closes nothing;
// ReadFile and WriteFile on a port fail.
func testWrongKindHandlesFailEveryPortCallAndChangeNothing(t *testing.T) {
	for _, depth := range depths {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			w := newKitWorld(t, wsspi.NewMachine(), depth)
			// Made before the foreign value is chosen, so that it cannot take it.
			fresh := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			foreign := foreignValue(t, w.client, func() spi.Handle {
				return must(w.server.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
			})
			bad := append([]badValue{
				{"socket", w.c},
				{"listener", w.listener},
				{"event", w.ev},
				{"thread", w.cth.ID().ThreadHandle},
				{"another process's port", foreign},
			}, noObjectValues(w.port)...)
			if w.lower != 0 {
				bad = append(bad, badValue{"the base socket under the layers", w.lower})
			}
			before, _ := handleRows(w.client)
			for _, b := range bad {
				t.Run(b.name, func(t *testing.T) {
					var ov spi.Overlapped
					calls := map[string]error{}
					_, calls["GetQueuedCompletionStatus"] = w.cth.GetQueuedCompletionStatus(b.h, 0)
					_, calls["GetQueuedCompletionStatusEx"] = w.cth.GetQueuedCompletionStatusEx(b.h, make([]spi.OverlappedEntry, 2), 0, false)
					calls["PostQueuedCompletionStatus"] = w.client.PostQueuedCompletionStatus(b.h, 1, 2, &ov)
					// CloseHandle closes events (see the event attack) and
					// sockets (e2e_closehandle_test.go): not bad input for it.
					if b.h != w.ev && b.h != w.c && b.h != w.listener && b.h != w.lower {
						calls["CloseHandle"] = w.client.CloseHandle(b.h)
					}
					wantErrno(t, "port calls", calls, b.h, spi.ERROR_INVALID_HANDLE, true)
					if b.h != 0 && b.h != spi.INVALID_HANDLE_VALUE {
						// 0 makes a new port; INVALID_HANDLE_VALUE is no port either.
						_, err := w.client.CreateIoCompletionPort(fresh, b.h, 1, 0)
						wantErr(t, "CreateIoCompletionPort(fresh socket, bad port)", opErr("CreateIoCompletionPort", b.h, spi.ERROR_INVALID_HANDLE), err)
					}
					if ov != (spi.Overlapped{}) {
						t.Errorf("failed calls wrote the overlapped: %+v", ov)
					}
					checkTableUnchanged(t, "the failed calls", w.client, before)
				})
			}
			t.Run("file calls on ports", func(t *testing.T) {
				for _, port := range []spi.Handle{w.port, w.idle} {
					var ov spi.Overlapped
					allFail(t, "file calls", fileCalls(w.cth, port, &ov), port, spi.ERROR_INVALID_HANDLE)
					if ov != (spi.Overlapped{}) {
						t.Errorf("failed calls wrote the overlapped: %+v", ov)
					}
				}
				checkTableUnchanged(t, "file calls on ports", w.client, before)
			})
			// The fresh socket was associated with nothing: it still can be.
			p := must(w.client.CreateIoCompletionPort(fresh, w.idle, 9, 0))(t)
			if p != w.idle {
				t.Errorf("association returned %v, want %v", p, w.idle)
			}
			check(t, w.cth.Closesocket(fresh))
			w.stillWorks(t)
			w.finish(t)
		})
	}
}

// The event calls given something that is not a live event of the
// process, and overlapped calls whose hEvent names one: each fails with
// WSA_INVALID_HANDLE before anything starts.
func testWrongKindHandlesFailEveryEventCallAndChangeNothing(t *testing.T) {
	for _, depth := range depths {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			w := newKitWorld(t, wsspi.NewMachine(), depth)
			foreign := foreignValue(t, w.client, func() spi.Handle { return must(w.server.WSACreateEvent())(t) })
			bad := append([]badValue{
				{"completion port", w.port},
				{"socket", w.c},
				{"thread", w.cth.ID().ThreadHandle},
				{"another process's event", foreign},
			}, noObjectValues(w.ev)...)
			before, _ := handleRows(w.client)
			for _, b := range bad {
				t.Run(b.name, func(t *testing.T) {
					calls := map[string]error{
						"WSASetEvent":   w.client.WSASetEvent(b.h),
						"WSAResetEvent": w.client.WSAResetEvent(b.h),
						"WSACloseEvent": w.client.WSACloseEvent(b.h),
					}
					r, err := w.cth.WSAWaitForMultipleEvents([]spi.Handle{w.ev, b.h}, false, 0, false)
					calls["WSAWaitForMultipleEvents"] = err
					if r != spi.WSA_WAIT_FAILED {
						t.Errorf("WSAWaitForMultipleEvents = %#x, want WSA_WAIT_FAILED", r)
					}
					wantErrno(t, "event calls", calls, b.h, spi.WSA_INVALID_HANDLE, true)
					if b.h&1 != 0 {
						return // the low bit of hEvent is a flag, not part of the value
					}
					// An overlapped call naming it as its event: refused
					// before it starts, so the socket's data is still there.
					var ov spi.Overlapped
					ov.HEvent = b.h
					io := map[string]error{}
					_, io["WSASend"] = w.cth.WSASend(w.c, [][]byte{[]byte("x")}, 0, &ov, nil)
					_, io["WSARecv"] = w.cth.WSARecv(w.c, [][]byte{make([]byte, 1)}, nil, &ov, nil)
					if b.h != 0 {
						wantErrno(t, "overlapped calls with a bad hEvent", io, b.h, spi.WSA_INVALID_HANDLE, false)
					} else {
						for op, err := range io {
							if err != nil && !errors.Is(err, spi.WSA_IO_PENDING) {
								t.Errorf("%s with no event: %v", op, err)
							}
						}
						// With no event, both went through: drain them.
						must(w.sth.WSASend(w.s, [][]byte{[]byte("y")}, 0, nil, nil))(t)
						if got := recvAll(t, w.sth, w.s, 1); string(got) != "x" {
							t.Errorf("server read %q", got)
						}
						for range 2 {
							if e := must(w.cth.GetQueuedCompletionStatus(w.port, long))(t); e.Overlapped != &ov {
								t.Errorf("packet %+v", e)
							}
						}
					}
					if e, err := w.cth.GetQueuedCompletionStatus(w.port, 0); !errors.Is(err, spi.WAIT_TIMEOUT) {
						t.Errorf("a refused call queued %+v", e)
					}
					checkTableUnchanged(t, "the failed calls", w.client, before)
				})
			}
			if n := fionread(t, w.sth, w.s); n != 0 {
				t.Errorf("refused sends delivered %d bytes", n)
			}
			w.stillWorks(t)
			w.finish(t)
		})
	}
}

// staleCase is one handle value closed before use, and what its calls
// must fail with.
type staleCase struct {
	name  string
	h     spi.Handle
	calls map[string]error
	code  spi.Errno
	stale bool // the error must carry a StaleError
}

// With DetectStale, every call on a closed socket's, port's or event's
// value fails with the usual code at every layer count, and every call
// that resolves a socket (the socket calls, the file calls,
// HandleTransitions) carries the StaleError that names the value; the
// table hands none of the values out again meanwhile, and nothing else
// changes. (That the kernel's calls on a closed port or event, and
// AcceptEx on a closed accept socket, carry no StaleError is
// StaleKernelHandlesCarryTheStaleError in badinput_found_test.go.)
func testStaleHandlesCarryTheStaleErrorThroughEveryLayer(t *testing.T) {
	for _, depth := range depths {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			m := wsspi.NewMachineWith(wsspi.MachineOptions{Handles: handles.Options{DetectStale: true}})
			w := newKitWorld(t, m, depth)
			s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
			check(t, w.cth.Connect(s, loopbackAddr(spi.AF_INET, 7000)))
			peer, _ := must2(w.sth.Accept(w.l))(t)
			// s dies with a receive pending: it completes, aborted, and
			// is the last thing s's value ever reports.
			sp := must(w.client.CreateIoCompletionPort(s, 0, 3, 0))(t)
			var pending spi.Overlapped
			pendRecv(t, w.cth, s, make([]byte, 4), &pending, nil)
			check(t, w.cth.Closesocket(s))
			if e, err := w.cth.GetQueuedCompletionStatus(sp, long); e.Overlapped != &pending || !errors.Is(err, spi.ERROR_CONNECTION_ABORTED) {
				t.Errorf("the pending receive ended with %+v, %v; want ERROR_CONNECTION_ABORTED", e, err)
			}
			// A layer closes its handle once the last completion is
			// forwarded, which may be just after the client dequeues it.
			eventually(t, "the closed socket's handle to go", func() bool {
				_, live := socketHandles(w.client)[s]
				return !live
			})
			check(t, w.client.CloseHandle(sp))
			port := must(w.client.CreateIoCompletionPort(spi.INVALID_HANDLE_VALUE, 0, 0, 0))(t)
			check(t, w.client.CloseHandle(port))
			ev := must(w.client.WSACreateEvent())(t)
			check(t, w.client.WSACloseEvent(ev))
			before, _ := handleRows(w.client)

			var ov spi.Overlapped
			cases := []staleCase{
				{"socket calls", s, socketCalls(w.cth, s, &ov), spi.WSAENOTSOCK, true},
				{"file calls", s, fileCalls(w.cth, s, &ov), spi.ERROR_INVALID_HANDLE, true},
			}
			ht := map[string]error{}
			_, ht["HandleTransitions"] = w.client.HandleTransitions(s)
			cases = append(cases, staleCase{"transitions", s, ht, spi.ERROR_INVALID_HANDLE, true})
			ext := map[string]error{}
			_, ext["AcceptEx"] = w.cth.AcceptEx(w.listener, s, make([]byte, 64), &ov)
			_, ext["ConnectEx"] = w.cth.ConnectEx(s, loopbackAddr(spi.AF_INET, 7000), nil, &ov)
			cases = append(cases, staleCase{"extension calls", s, ext, spi.WSAENOTSOCK, false})
			kern := map[string]error{
				"SetFileCompletionNotificationModes": w.client.SetFileCompletionNotificationModes(s, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS),
				"PostQueuedCompletionStatus":         w.client.PostQueuedCompletionStatus(port, 0, 0, nil),
				"CloseHandle port":                   w.client.CloseHandle(port),
			}
			_, kern["CreateIoCompletionPort"] = w.client.CreateIoCompletionPort(s, 0, 1, 0)
			_, kern["GetQueuedCompletionStatus"] = w.cth.GetQueuedCompletionStatus(port, 0)
			cases = append(cases, staleCase{"kernel calls", 0, kern, spi.ERROR_INVALID_HANDLE, false})
			evs := map[string]error{
				"WSASetEvent":   w.client.WSASetEvent(ev),
				"WSAResetEvent": w.client.WSAResetEvent(ev),
				"WSACloseEvent": w.client.WSACloseEvent(ev),
			}
			_, evs["WSAWaitForMultipleEvents"] = w.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false)
			cases = append(cases, staleCase{"event calls", ev, evs, spi.WSA_INVALID_HANDLE, false})
			for _, c := range cases {
				for op, err := range c.calls {
					if !errors.Is(err, c.code) {
						t.Errorf("%s: %s on a closed value: %v, want %v", c.name, op, err, c.code)
					}
					var stale *handles.StaleError
					if !errors.As(err, &stale) {
						if c.stale {
							t.Errorf("%s: %s on a closed value: %v carries no StaleError", c.name, op, err)
						}
					} else if stale.Current != nil {
						t.Errorf("%s: %s: the closed value was handed out again: %+v", c.name, op, stale.Current)
					}
				}
			}
			if ov != (spi.Overlapped{}) {
				t.Errorf("failed calls wrote the overlapped: %+v", ov)
			}
			checkTableUnchanged(t, "calls on stale values", w.client, before)
			check(t, w.sth.Closesocket(peer))
			w.stillWorks(t)
			w.finish(t)
		})
	}
}

// A client that keeps using a closed socket's value while its live
// sockets have I/O in flight: the stale calls fail and carry the
// StaleError, and every live operation still completes once. Without
// DetectStale the value is reused at once, by a lower socket of a layer
// when there is one (see StaleSocketHandleDoesNotCrashTheKit); with it, it
// stays dead.
func testStaleSocketHandlesBesideLiveIOLoseNoCompletion(t *testing.T) {
	for _, depth := range depths {
		t.Run(fmt.Sprintf("depth%d", depth), func(t *testing.T) {
			m := wsspi.NewMachineWith(wsspi.MachineOptions{Handles: handles.Options{DetectStale: true}})
			w := newKitWorld(t, m, depth)
			var stale []spi.Socket
			for range 4 {
				s := must(w.cth.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
				check(t, w.cth.Closesocket(s))
				stale = append(stale, s)
			}
			const n = 16
			ovs := make([]spi.Overlapped, n)
			bufs := make([][]byte, n)
			for i := range n {
				bufs[i] = make([]byte, 1)
				pendRecv(t, w.cth, w.c, bufs[i], &ovs[i], nil)
				var sov spi.Overlapped
				s := stale[i%len(stale)]
				_, err := w.cth.WSARecv(s, [][]byte{make([]byte, 1)}, nil, &sov, nil)
				var se *handles.StaleError
				if !errors.Is(err, spi.WSAENOTSOCK) || !errors.As(err, &se) || se.Handle != s {
					t.Errorf("WSARecv on stale %v: %v, want WSAENOTSOCK with its StaleError", s, err)
				}
				if _, err := w.cth.ReadFile(s, make([]byte, 1), &sov); !errors.Is(err, spi.ERROR_INVALID_HANDLE) || !errors.As(err, &se) {
					t.Errorf("ReadFile on stale %v: %v, want ERROR_INVALID_HANDLE with its StaleError", s, err)
				}
				if sov != (spi.Overlapped{}) {
					t.Errorf("a stale call wrote its overlapped: %+v", sov)
				}
			}
			want := pattern(0, n)
			must(w.sth.WSASend(w.s, [][]byte{want}, 0, nil, nil))(t)
			seen := map[*spi.Overlapped]int{}
			for range n {
				e := must(w.cth.GetQueuedCompletionStatus(w.port, long))(t)
				seen[e.Overlapped]++
				if e.NumberOfBytesTransferred != 1 {
					t.Errorf("packet %+v", e)
				}
			}
			for i := range n {
				if seen[&ovs[i]] != 1 {
					t.Errorf("receive %d completed %d times", i, seen[&ovs[i]])
				}
			}
			var got []byte
			for _, b := range bufs {
				got = append(got, b...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
			// A layer forwards before it unlinks: the last operation may
			// still be outstanding for a moment after its packet is taken.
			eventually(t, "the layers to hold no operation", func() bool {
				for _, p := range w.provs {
					if p.Stats().Outstanding != 0 {
						return false
					}
				}
				return true
			})
			for _, p := range w.provs {
				if s := p.Stats(); s.Foreign != 0 || s.Failed != 0 {
					t.Errorf("layer stats %+v", s)
				}
			}
			w.stillWorks(t)
			w.finish(t)
		})
	}
}
