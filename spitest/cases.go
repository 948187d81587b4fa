package spitest

import (
	"errors"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/spi"
)

// kase is one entry of the case table: a scripted scenario run on a fresh
// machine for every target entry, once inline and once per scheduling
// seed. Its findings name the rules it checks; every case also checks the
// rules every run checks (each operation notified once, by the chosen
// mechanism, handles closed and cleaned up).
type kase struct {
	name  string
	rules []Rule
	run   func(e *env)
}

// cases is the case table shared by [Run] and [Check].
var cases = []kase{
	{"Notify/port", []Rule{ruleCompletesOnce, ruleMechanism, rulePortKey, ruleResult}, func(e *env) { notify(e, viaPort) }},
	{"Notify/event", []Rule{ruleCompletesOnce, ruleMechanism, ruleResult}, func(e *env) { notify(e, viaEvent) }},
	{"Notify/routine", []Rule{ruleCompletesOnce, ruleMechanism}, func(e *env) { notify(e, viaRoutine) }},
	{"Immediate", []Rule{ruleImmediate}, immediate},
	{"CloseAborts", []Rule{ruleCloseAborts, ruleHandleClose}, closeAborts},
	{"Handles", []Rule{ruleHandleClose, ruleCleanup, ruleContext}, handleLife},
	{"IFSFlag", []Rule{ruleIFSFlag}, func(e *env) { e.socket(e.threads[0], viaPort) }},
	{"ReadFileWriteFile", []Rule{ruleReadFile}, readWriteFile},
	{"BaseHandle", []Rule{ruleBaseHandle}, baseHandle},
	{"StreamOrder", []Rule{ruleStream, ruleStreamData}, streamOrder},
	{"Faults/SocketFails", []Rule{ruleSocketFails}, socketFails},
	{"Faults/StartupFails", []Rule{ruleStartupFails}, startupFails},
	{"Faults/Reset", []Rule{ruleCompletesOnce}, resetFault},
	{"Readiness/EventSelect", []Rule{ruleNetworkEventOnce, ruleCloseEventOnce, ruleSelectNonBlocking}, eventSelect},
	{"Readiness/AsyncSelect", []Rule{ruleNetworkEventOnce, ruleCloseEventOnce, ruleAsyncSelectHandle, ruleSelectNonBlocking}, asyncSelect},
	{"Readiness/Select", []Rule{ruleSelectReady}, selectReady},
	{"Readiness/Poll", []Rule{rulePollReady, ruleAFDPoll}, pollReady},
}

// notify: a receive that pends and a send that completes, through one
// mechanism, each notified once with its bytes.
func notify(e *env, m mech) {
	s := e.socket(e.threads[0], m)
	if s == nil || s.peer == 0 {
		return
	}
	r1 := e.issue(s, false, false, 16)
	r2 := e.issue(s, false, false, 16)
	e.settle()
	e.collect()
	e.peerSend(s, 10)
	e.settle()
	e.collect()
	e.issue(s, true, false, 32)
	e.peerSend(s, 20)
	e.settle()
	e.collect()
	e.peerRecv(s)
	e.awaitAll()
	for _, o := range []*op{r1, r2} {
		switch {
		case o.ret != nil && !o.pending:
			e.fail(ruleCompletesOnce, "%s failed at once on a connected socket: %v", o.name, o.ret)
		case len(o.notes) == 0:
			e.fail(ruleCompletesOnce, "%s returned %s; the peer then sent %d bytes, yet it was never notified by %v",
				o.name, errText(o.ret), len(s.peerSent), o.mech)
		}
	}
}

// immediate: a send that succeeds at once is notified; a send after
// shutdown(SD_SEND) and a send the base fails at once are not.
func immediate(e *env) {
	for _, m := range []mech{viaPort, viaEvent, viaRoutine} {
		s := e.socket(e.threads[1], m)
		if s == nil || s.peer == 0 {
			continue
		}
		e.issue(s, true, false, 8)
		e.faults.FailTransfer(s.base, SendTransfer, 0, spi.WSAENOBUFS)
		o := e.issue(s, true, false, 8)
		if o.ret == nil || o.pending {
			e.logf("%s: the injected WSAENOBUFS did not reach the client (%v)", o.name, errText(o.ret))
		}
		e.clientOp++
		if err := s.th.Shutdown(s.h, spi.SD_SEND); err != nil {
			e.logf("shutdown(%s): %v", s.name, err)
		}
		e.issue(s, true, false, 8)
		e.settle()
		e.collect()
		e.peerRecv(s)
	}
	e.awaitAll()
}

// closeAborts: receives pending on each mechanism, then closesocket: each
// completes once with an abort status (see abortStatus).
func closeAborts(e *env) {
	for _, m := range []mech{viaPort, viaEvent, viaRoutine} {
		s := e.socket(e.threads[0], m)
		if s == nil || s.peer == 0 {
			continue
		}
		var rs []*op
		for range 3 {
			rs = append(rs, e.issue(s, false, false, 8))
		}
		e.settle()
		e.collect()
		e.close(s)
		e.awaitAll()
		for _, o := range rs {
			if !o.pending && !o.immediate {
				continue
			}
			if len(o.notes) > 0 && !abortStatus(o.notes[0].status) {
				e.fail(ruleCloseAborts, "%s, pending with no data to receive when its socket was closed, completed with %v instead of WSA_OPERATION_ABORTED or WSAECONNABORTED",
					o.name, errText(errOrNil(o.notes[0].status)))
			}
		}
	}
}

// handleLife: sockets with traffic, some closed with operations pending;
// finish then checks the handles.
func handleLife(e *env) {
	for i, m := range []mech{viaPort, viaEvent, viaRoutine, viaPort} {
		s := e.socket(e.threads[i%2], m)
		if s == nil || s.peer == 0 {
			continue
		}
		e.issue(s, false, false, 8)
		e.peerSend(s, 4)
		e.issue(s, true, false, 4)
		e.settle()
		e.collect()
		if i%2 == 0 {
			e.issue(s, false, false, 8)
			e.close(s)
		}
	}
	e.awaitAll()
}

// readWriteFile: WriteFile and ReadFile on the client's handle move bytes
// and are notified like WSASend and WSARecv, on either kind of handle.
func readWriteFile(e *env) {
	for _, m := range []mech{viaPort, viaEvent} {
		s := e.socket(e.threads[0], m)
		if s == nil || s.peer == 0 {
			continue
		}
		w := e.issue(s, true, true, 12)
		r := e.issue(s, false, true, 12)
		e.peerSend(s, 7)
		e.settle()
		e.collect()
		e.peerRecv(s)
		e.awaitAll()
		for _, o := range []*op{w, r} {
			if !o.pending && !o.immediate {
				e.fail(ruleReadFile, "%s on %v handle %v failed: %v", o.name, kindName(e.ifs), s.h, errText(o.ret))
			} else if len(o.notes) == 1 && o.notes[0].status != 0 {
				e.fail(ruleReadFile, "%s on %v handle %v completed with %v", o.name, kindName(e.ifs), s.h, errText(errOrNil(o.notes[0].status)))
			}
		}
		// (When the stream check found the peer's bytes wrong, it said so.)
		if got, err := e.peerReceived(s); err == nil && s.out == nil && len(got) != len(w.buf) && len(w.notes) == 1 {
			e.fail(ruleReadFile, "%s: WriteFile of %d bytes completed but the peer received %d", s.name, len(w.buf), len(got))
		}
		if !e.ifs {
			if tr, err := e.p.HandleTransitions(s.h); err == nil && tr.Total() < 2*6 {
				e.fail(ruleReadFile, "%s: ReadFile and WriteFile on the non-IFS handle %v cost %d transitions; redirected calls cost 6 each", s.name, s.h, tr.Total())
			}
		}
	}
}

func kindName(ifs bool) string {
	if ifs {
		return "the IFS"
	}
	return "the non-IFS"
}

// baseHandle: SIO_BASE_HANDLE, plain and overlapped, answers the base
// provider's socket.
func baseHandle(e *env) {
	for _, m := range []mech{viaPort, viaRoutine} {
		s := e.socket(e.threads[0], m)
		if s == nil {
			continue
		}
		if s.base == 0 {
			e.fail(ruleBaseHandle, "%s: WSASocket made no base provider socket (or more than one), so the answer cannot be checked", s.name)
		}
		e.baseHandle(s)
		e.ioctl(s)
		e.settle()
		e.collect()
	}
	e.awaitAll()
}

// streamOrder: many sends and receives in flight at once, some cut short
// by the base, arrive in order and once.
func streamOrder(e *env) {
	s := e.socket(e.threads[0], viaPort)
	if s == nil || s.peer == 0 {
		return
	}
	s.short = true
	for i := range 6 {
		e.issue(s, false, i%2 == 1, 5+i)
	}
	e.faults.ShortTransfer(s.base, RecvTransfer, 2, 3)
	for i := range 4 {
		e.peerSend(s, 9+i)
		e.issue(s, true, i == 2, 7+i)
		if i == 1 {
			e.faults.ShortTransfer(s.base, SendTransfer, 0, 2)
		}
		e.settle()
		e.collect()
		e.peerRecv(s)
	}
	for range 4 {
		e.issue(s, false, false, 16)
	}
	e.settle()
	e.collect()
	e.peerRecv(s)
	e.awaitAll()
}

// socketFails: every handle allocation WSASocket makes fails in turn; each
// failing WSASocket returns an error and leaves nothing behind.
func socketFails(e *env) {
	for skip := 0; skip < 8; skip++ {
		before := e.snapshot()
		e.faults.FailAllocAfter(skip)
		e.clientOp++
		h, err := e.threads[0].WSASocket(e.entry.AddressFamily, e.entry.SocketType, e.entry.Protocol, &e.entry, 0, spi.WSA_FLAG_OVERLAPPED)
		e.settle()
		e.logf("WSASocket with handle allocation %d failing = %v, %v", skip+1, h, errText(err))
		if err == nil {
			e.clientOp++
			_ = e.threads[0].Closesocket(h)
			e.settle()
			// The armed fault did not fire during the call: every
			// allocation of WSASocket has been tried.
			e.faults.mu.Lock()
			e.faults.allocs = nil
			e.faults.mu.Unlock()
			return
		}
		if h != spi.INVALID_SOCKET {
			e.fail(ruleSocketFails, "WSASocket failed (%v) but returned %v, not INVALID_SOCKET", err, h)
		}
		for _, en := range added(before, e.snapshot()) {
			if en.Kind == handles.KindSocket || en.Kind == handles.KindIFSSocket {
				e.fail(ruleSocketFails, "when handle allocation %d of WSASocket fails with WSAENOBUFS, WSASocket fails (%v) but leaves %v handle %v open",
					skip+1, spi.ErrnoOf(err), en.Kind, en.Handle)
			}
		}
	}
}

// startupFails: the base provider's WSPStartup fails; WSASocket through
// the target fails cleanly, and once the fault is gone a new process
// creates sockets again.
func startupFails(e *env) {
	p := e.m.NewProcess()
	th := p.NewThread()
	e.faults.FailStartup(spi.WSASYSNOTREADY)
	h, err := th.WSASocket(e.entry.AddressFamily, e.entry.SocketType, e.entry.Protocol, &e.entry, 0, spi.WSA_FLAG_OVERLAPPED)
	e.logf("WSASocket with the base's WSPStartup failing = %v, %v", h, errText(err))
	if err == nil {
		if len(e.faults.Fired()) > 0 {
			e.fail(ruleStartupFails, "the base provider's WSPStartup failed, yet WSASocket through entry %d succeeded (%v)", e.entry.CatalogEntryId, h)
		}
		_ = th.Closesocket(h)
	} else if spi.ErrnoOf(err) == 0 {
		e.fail(ruleStartupFails, "WSASocket failed with an error that carries no Winsock code: %v", err)
	}
	h, err = th.WSASocket(e.entry.AddressFamily, e.entry.SocketType, e.entry.Protocol, &e.entry, 0, spi.WSA_FLAG_OVERLAPPED)
	if err != nil && errors.Is(err, spi.WSASYSNOTREADY) {
		e.fail(ruleStartupFails, "after one failed WSPStartup of the base provider, WSASocket keeps failing: %v", err)
	}
	if err == nil {
		_ = th.Closesocket(h)
	}
	e.settle()
	th.Exit()
	if err := p.Close(); err != nil {
		e.logf("second process WSACleanup: %v", err)
	}
	e.settle()
	for _, en := range p.Handles().Snapshot().Live {
		e.fail(ruleStartupFails, "after a failed startup and WSACleanup, the process still has handle %v: %v", en.Handle, en.Kind)
	}
}

// resetFault: the base resets the connection under pending operations;
// each completes once with an error.
func resetFault(e *env) {
	for _, m := range []mech{viaPort, viaEvent, viaRoutine} {
		s := e.socket(e.threads[0], m)
		if s == nil || s.peer == 0 {
			continue
		}
		e.issue(s, false, false, 8)
		e.issue(s, false, false, 8)
		s.reset = true
		e.faults.ResetTransfer(s.base, SendTransfer, 0)
		e.issue(s, true, false, 8)
		e.settle()
		e.collect()
	}
	e.awaitAll()
}
