package spitest

import (
	"math/rand/v2"

	"pgregory.net/rapid"

	"github.com/wsspi/wsspi/spi"
)

const workloadName = "Workload"

// drawer is where the workload's decisions come from: a seeded random
// source, or a rapid.T, which records them so that rapid can shrink them.
type drawer interface {
	// intn returns a number in [0, n).
	intn(n int, label string) int
	// seed returns a seed for the scheduler.
	seed() uint64
}

type randDrawer struct{ r *rand.Rand }

func newRandDrawer(seed uint64) randDrawer {
	return randDrawer{rand.New(rand.NewPCG(seed, 0x5eed))}
}

func (d randDrawer) intn(n int, _ string) int { return d.r.IntN(n) }
func (d randDrawer) seed() uint64             { return d.r.Uint64() }

type rapidDrawer struct{ t *rapid.T }

func (d rapidDrawer) intn(n int, label string) int {
	return rapid.IntRange(0, n-1).Draw(d.t, label)
}

func (d rapidDrawer) seed() uint64 {
	return rapid.Uint64Range(0, 1<<16).Draw(d.t, "scheduler seed (0: no scheduler)")
}

// action is one kind of workload step.
type action struct {
	name string
	do   func(e *env, d drawer)
}

// actions are the workload's steps: random clients over the target entry
// and their peers on the base entry, with the scheduler and the faults
// driven in between.
var actions = []action{
	{"socket", func(e *env, d drawer) {
		if open(e) < 4 {
			m := mech(d.intn(3, "notification (0 port, 1 event, 2 routine)"))
			e.socket(e.threads[d.intn(2, "thread")], m)
		}
	}},
	{"send", func(e *env, d drawer) { transfer(e, d, true, false) }},
	{"recv", func(e *env, d drawer) { transfer(e, d, false, false) }},
	{"writefile", func(e *env, d drawer) { transfer(e, d, true, true) }},
	{"readfile", func(e *env, d drawer) { transfer(e, d, false, true) }},
	{"ioctl", func(e *env, d drawer) {
		if s := pick(e, d, false); s != nil {
			if d.intn(2, "overlapped") == 1 {
				e.ioctl(s)
			} else {
				e.baseHandle(s)
			}
		}
	}},
	{"peersend", func(e *env, d drawer) {
		if s := pick(e, d, true); s != nil {
			e.peerSend(s, 1+d.intn(48, "size"))
		}
	}},
	{"peerrecv", func(e *env, d drawer) {
		if s := pick(e, d, true); s != nil {
			e.peerRecv(s)
		}
	}},
	{"peerclose", func(e *env, d drawer) {
		if s := pick(e, d, true); s != nil {
			e.peerClose(s)
		}
	}},
	{"closesocket", func(e *env, d drawer) {
		if s := pick(e, d, false); s != nil {
			e.close(s)
		}
	}},
	{"fault", func(e *env, d drawer) {
		s := pick(e, d, true)
		if s == nil {
			return
		}
		kind := TransferKind(1 + d.intn(2, "fault on (0 send, 1 receive)"))
		switch d.intn(3, "fault (0 fail, 1 short, 2 reset)") {
		case 0:
			e.faults.FailTransfer(s.base, kind, 0, spi.WSAENOBUFS)
			e.logf("fault armed: the next base %v on %s fails with WSAENOBUFS", transferWord(kind), s)
		case 1:
			s.short = true
			e.faults.ShortTransfer(s.base, kind, 0, 1+d.intn(4, "short to"))
			e.logf("fault armed: the next base %v on %s is cut short", transferWord(kind), s)
		default:
			s.reset = true
			e.faults.ResetTransfer(s.base, kind, 0)
			e.logf("fault armed: the next base %v on %s resets the connection", transferWord(kind), s)
		}
	}},
	{"step", func(e *env, d drawer) {
		if e.sched != nil {
			for range 1 + d.intn(4, "scheduler steps") {
				e.sched.Step()
			}
		}
	}},
	{"collect", func(e *env, _ drawer) { e.collect() }},
	{"settle", func(e *env, _ drawer) {
		e.settle()
		e.collect()
	}},
}

// transferWord is how the log names a kind of transfer.
type transferWord TransferKind

func (k transferWord) String() string {
	if TransferKind(k) == SendTransfer {
		return "send"
	}
	return "receive"
}

// open counts the client sockets not closed.
func open(e *env) int { return len(e.open) }

// pick draws an open client socket (with a live peer, if peer is set), or
// returns nil when there is none.
func pick(e *env, d drawer, peer bool) *sock {
	var room [8]*sock
	ok := room[:0]
	for _, s := range e.open {
		if !peer || (s.peer != 0 && !s.gone) {
			ok = append(ok, s)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	return ok[d.intn(len(ok), "socket")]
}

// transfer issues a send or a receive on a drawn socket.
func transfer(e *env, d drawer, send, file bool) {
	s := pick(e, d, false)
	if s == nil {
		return
	}
	if outstanding(s.sends)+outstanding(s.recvs) >= 8 {
		return
	}
	e.issue(s, send, file, 1+d.intn(48, "size"))
}

// outstanding counts the operations of ops awaiting their notification.
func outstanding(ops []*op) int {
	n := 0
	for _, o := range ops {
		if o.expectsNote() && len(o.notes) == 0 {
			n++
		}
	}
	return n
}

// runWorkload runs the workload over entry id with decisions from d and
// returns its findings.
func runWorkload(cfg *config, f Factory, id spi.CatalogEntryId, d drawer, run string) []*Finding {
	var sched *Scheduler
	if s := d.seed(); s != 0 {
		sched = NewScheduler(s)
	}
	_, isRapid := d.(rapidDrawer)
	return runOnce(cfg, f, id, workloadName, sched, run, isRapid, func(e *env) {
		for i := range 2 {
			e.socket(e.threads[i], mech(d.intn(3, "first sockets' notification (0 port, 1 event, 2 routine)")))
		}
		if r, ok := d.(rapidDrawer); ok {
			names := map[string]func(*rapid.T){}
			for _, a := range actions {
				names[a.name] = func(t *rapid.T) {
					a.do(e, rapidDrawer{t})
					e.quiesce()
				}
			}
			r.t.Repeat(names)
			return
		}
		for range cfg.steps {
			actions[d.intn(len(actions), "action")].do(e, d)
			e.quiesce()
			if len(e.findings) > 0 {
				return
			}
		}
	})
}
