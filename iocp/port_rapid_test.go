package iocp_test

import (
	"fmt"
	"reflect"
	"runtime/debug"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
	"pgregory.net/rapid"
)

// TestPortStateMachine drives one completion port and several simulated
// threads, each played by its own goroutine, with random posts, gets with
// timeouts, get-many (alertable or not), APCs, sleeps, thread exits, the
// passing of time and a close, and checks every result against a model of
// the Windows discipline: packets FIFO, waiters released LIFO, at most
// concurrency threads running unless one came back from blocking
// elsewhere, and every posted packet dequeued exactly once or dropped by
// the close. Virtual time (testing/synctest) makes timeouts exact and
// synctest.Wait tells when every thread has settled.
func TestPortStateMachine(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		inBubble(t, func() {
			m := newPortMachine(rt)
			defer m.stop()
			rt.Repeat(m.actions())
		})
	})
}

// inBubble runs f in a synctest bubble and re-raises its panic on the
// calling goroutine, where rapid looks for failures (they are panics).
//
// rapid tells failures apart by the stack where it recovers them, which is
// now always here; the signal that a shrunk case ran out of data is
// re-raised from its own line, so the shrinker does not take it for the
// failure it is shrinking.
func inBubble(t *testing.T, f func()) {
	var p any
	synctest.Test(t, func(*testing.T) {
		defer func() {
			if p = recover(); p != nil && reflect.TypeOf(p).PkgPath() != "pgregory.net/rapid" {
				p = fmt.Sprintf("%v\n%s", p, debug.Stack()) // a real panic: keep where it happened
			}
		}()
		f()
	})
	if p == nil {
		return
	}
	if reflect.TypeOf(p).Name() == "invalidData" {
		panic(p)
	}
	panic(p)
}

// The states of a simulated thread.
const (
	idle     = iota // running user code, ready for a command
	waiting         // parked in Get or GetMany
	sleeping        // parked in SleepEx
	exited
)

// result is what a thread's call returned: the keys it dequeued, the error
// code, and how many APCs ran during the call.
type result struct {
	Keys []uintptr
	Err  spi.Errno
	APCs int
}

type command struct {
	op        string // "get", "getMany", "sleep", "exit"
	timeout   time.Duration
	size      int
	alertable bool
}

// simThread is a thread's goroutine and its model.
type simThread struct {
	th   *iocp.Thread
	cmds chan command
	out  chan result
	ran  int // APCs run; touched only by the thread's goroutine

	// model
	state     int
	running   bool          // counted in the port's running threads
	suspended bool          // was running when it went to sleep
	alertable bool          // its wait is alertable
	size      int           // its wait's capacity
	deadline  time.Duration // when its wait or sleep ends; <0: never
	apcs      int           // APCs queued and not yet run
	want      *result       // the result due at the next settle
}

type portMachine struct {
	rt      *rapid.T
	p       *proc
	port    *iocp.Port
	threads []*simThread

	// model
	conc     int
	now      time.Duration
	queue    []uintptr
	stack    []int // waiting threads, oldest first
	running  int
	closed   bool
	nextKey  uintptr
	steps    int // actions run, so the close comes late enough to matter
	posted   uint64
	dequeued uint64
	dropped  uint64
	seen     map[uintptr]bool // keys dequeued so far
}

func newPortMachine(rt *rapid.T) *portMachine {
	m := &portMachine{rt: rt, p: newProc(rt, iocp.Options{}), seen: map[uintptr]bool{}}
	m.conc = rapid.IntRange(1, 3).Draw(rt, "concurrency")
	m.port = m.p.port(uint32(m.conc))
	for range rapid.IntRange(2, 4).Draw(rt, "threads") {
		st := &simThread{th: m.p.thread(), cmds: make(chan command), out: make(chan result, 1)}
		m.threads = append(m.threads, st)
		go st.serve(m.port)
	}
	return m
}

// serve plays the thread: it runs commands and reports their results.
func (st *simThread) serve(port *iocp.Port) {
	for c := range st.cmds {
		before := st.ran
		var r result
		switch c.op {
		case "get":
			e, err := port.Get(st.th, c.timeout)
			if err == nil { // posted packets have no Overlapped
				r.Keys = []uintptr{e.CompletionKey}
			}
			r.Err = spi.ErrnoOf(err)
		case "getMany":
			entries := make([]spi.OverlappedEntry, c.size)
			n, err := port.GetMany(st.th, entries, c.timeout, c.alertable)
			r.Err = spi.ErrnoOf(err)
			if r.Err == spi.WAIT_TIMEOUT {
				if n != 1 || entries[0] != (spi.OverlappedEntry{}) {
					// Not Windows' count of 1 with no entry written: a key
					// no model predicts makes the comparison fail.
					r.Keys = append(r.Keys, 0xBAD)
				}
				n = 0 // Windows' count of 1 names no entry
			}
			for _, e := range entries[:n] {
				r.Keys = append(r.Keys, e.CompletionKey)
			}
		case "sleep":
			_, err := st.th.SleepEx(c.timeout, false)
			r.Err = spi.ErrnoOf(err)
		case "exit":
			st.th.Exit()
		}
		r.APCs = st.ran - before
		st.out <- r
	}
}

func (m *portMachine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"post":    m.post,
		"get":     m.get,
		"getMany": m.getMany,
		"sleep":   m.sleep,
		"apc":     m.apc,
		"advance": m.advance,
		"close":   m.close,
		"exit":    m.exit,
		"":        m.check,
	}
}

var timeouts = rapid.SampledFrom([]time.Duration{0, 500 * time.Millisecond, time.Second, spi.Infinite})

// idleThread draws a thread that can take a command.
func (m *portMachine) idleThread(t *rapid.T) int {
	var ready []int
	for i, st := range m.threads {
		if st.state == idle {
			ready = append(ready, i)
		}
	}
	if len(ready) == 0 {
		t.Skip("no idle thread")
	}
	return rapid.SampledFrom(ready).Draw(t, "thread")
}

func (m *portMachine) post(t *rapid.T) {
	m.nextKey++
	err := m.port.Post(0, m.nextKey, nil)
	if m.closed {
		if !cmp.Equal(err, spi.ERROR_INVALID_HANDLE, equateErrors) {
			t.Fatalf("Post on a closed port: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Post: %v", err)
	}
	m.posted++
	m.queue = append(m.queue, m.nextKey)
	m.release()
	m.settle(t)
}

func (m *portMachine) get(t *rapid.T) {
	i := m.idleThread(t)
	c := command{op: "get", timeout: timeouts.Draw(t, "timeout"), size: 1}
	m.startWait(i, c)
	m.threads[i].cmds <- c
	m.settle(t)
}

func (m *portMachine) getMany(t *rapid.T) {
	i := m.idleThread(t)
	c := command{
		op:        "getMany",
		timeout:   timeouts.Draw(t, "timeout"),
		size:      rapid.IntRange(1, 3).Draw(t, "size"),
		alertable: rapid.Bool().Draw(t, "alertable"),
	}
	m.startWait(i, c)
	m.threads[i].cmds <- c
	m.settle(t)
}

// startWait models GetQueuedCompletionStatus(Ex) by thread i.
func (m *portMachine) startWait(i int, c command) {
	st := m.threads[i]
	switch {
	case m.closed:
		st.want = &result{Err: spi.ERROR_INVALID_HANDLE}
		return
	case st.running: // waiting again ends the running spell
		st.running = false
		m.running--
	}
	switch {
	case len(m.queue) > 0 && m.running < m.conc:
		st.want = &result{Keys: m.take(c.size)}
		m.running++
		st.running = true
	case c.alertable && st.apcs > 0:
		st.want = &result{Err: spi.Errno(spi.WAIT_IO_COMPLETION), APCs: st.apcs}
		st.apcs = 0
	case c.timeout == 0:
		st.want = &result{Err: spi.WAIT_TIMEOUT}
	default:
		st.state, st.alertable, st.size = waiting, c.alertable, c.size
		st.deadline = m.deadline(c.timeout)
		m.stack = append(m.stack, i)
	}
}

func (m *portMachine) deadline(d time.Duration) time.Duration {
	if d == spi.Infinite {
		return -1
	}
	return m.now + d
}

// take dequeues up to n packets.
func (m *portMachine) take(n int) []uintptr {
	n = min(n, len(m.queue))
	keys := slices.Clone(m.queue[:n])
	m.queue = m.queue[n:]
	m.dequeued += uint64(n)
	return keys
}

// release hands packets to waiters, newest first, while the concurrency
// allows.
func (m *portMachine) release() {
	for len(m.queue) > 0 && len(m.stack) > 0 && m.running < m.conc {
		i := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		st := m.threads[i]
		st.state = idle
		st.want = &result{Keys: m.take(st.size)}
		m.running++
		st.running = true
	}
}

// unpark takes thread i off the waiter stack.
func (m *portMachine) unpark(i int) {
	m.stack = slices.DeleteFunc(m.stack, func(j int) bool { return j == i })
	m.threads[i].state = idle
}

func (m *portMachine) sleep(t *rapid.T) {
	i := m.idleThread(t)
	st := m.threads[i]
	d := rapid.SampledFrom([]time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}).Draw(t, "d")
	if st.running { // blocking elsewhere lets another thread run
		st.running, st.suspended = false, true
		m.running--
		m.release()
	}
	st.state, st.deadline = sleeping, m.now+d
	st.cmds <- command{op: "sleep", timeout: d}
	m.settle(t)
}

func (m *portMachine) apc(t *rapid.T) {
	i := rapid.IntRange(0, len(m.threads)-1).Draw(t, "thread")
	st := m.threads[i]
	err := st.th.QueueAPC(func(any) { st.ran++ }, nil)
	switch {
	case st.state == exited:
		if !cmp.Equal(err, spi.WSAEFAULT, equateErrors) {
			t.Fatalf("QueueAPC to an exited thread: %v", err)
		}
		return
	case err != nil:
		t.Fatalf("QueueAPC: %v", err)
	case st.state == waiting && st.alertable:
		m.unpark(i)
		st.want = &result{Err: spi.Errno(spi.WAIT_IO_COMPLETION), APCs: st.apcs + 1}
		st.apcs = 0
	default:
		st.apcs++
	}
	m.settle(t)
}

func (m *portMachine) advance(t *rapid.T) {
	d := rapid.SampledFrom([]time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second}).Draw(t, "d")
	m.now += d
	for i, st := range m.threads {
		if st.deadline < 0 || st.deadline > m.now {
			continue
		}
		switch st.state {
		case waiting:
			m.unpark(i)
			st.want = &result{Err: spi.WAIT_TIMEOUT}
		case sleeping:
			st.state = idle
			st.want = &result{}
			if st.suspended { // counts again, even past the limit
				st.running, st.suspended = true, false
				m.running++
			}
		}
	}
	time.Sleep(d)
	m.settle(t)
}

func (m *portMachine) close(t *rapid.T) {
	if m.closed || m.steps < 15 {
		t.Skip("closed already, or too early")
	}
	if err := m.port.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	m.closeModel()
	m.settle(t)
}

func (m *portMachine) closeModel() {
	m.closed = true
	m.dropped += uint64(len(m.queue))
	m.queue = nil
	for _, i := range m.stack {
		m.threads[i].state = idle
		m.threads[i].want = &result{Err: spi.ERROR_ABANDONED_WAIT_0}
	}
	m.stack = nil
}

func (m *portMachine) exit(t *rapid.T) {
	live := 0
	for _, st := range m.threads {
		if st.state != exited {
			live++
		}
	}
	if live <= 2 {
		t.Skip("keep two threads")
	}
	i := m.idleThread(t)
	st := m.threads[i]
	if st.running {
		st.running = false
		m.running--
		m.release()
	}
	st.state = exited
	st.want = &result{}
	st.cmds <- command{op: "exit"}
	m.settle(t)
}

// settle waits until every thread is parked or idle again and checks that
// exactly the threads the model expects returned, with the expected
// results.
func (m *portMachine) settle(t *rapid.T) {
	m.steps++
	synctest.Wait()
	for i, st := range m.threads {
		select {
		case got := <-st.out:
			if st.want == nil {
				t.Fatalf("thread %d returned %+v; the model has it %s", i, got, stateName[st.state])
			}
			if diff := cmp.Diff(*st.want, got, cmp.Comparer(func(a, b []uintptr) bool { return slices.Equal(a, b) })); diff != "" {
				t.Fatalf("thread %d (-want +got):\n%s", i, diff)
			}
			for _, k := range got.Keys {
				if m.seen[k] {
					t.Fatalf("packet %d dequeued twice", k)
				}
				m.seen[k] = true
			}
			st.want = nil
		default:
			if st.want != nil {
				t.Fatalf("thread %d still blocked; the model expects %+v", i, *st.want)
			}
		}
	}
}

var stateName = []string{"idle", "waiting", "sleeping", "exited"}

func (m *portMachine) check(t *rapid.T) {
	want := iocp.PortSnapshot{
		Handle:      m.port.Handle(),
		Concurrency: m.conc,
		Queued:      len(m.queue),
		Waiting:     len(m.stack),
		Running:     m.running,
		Closed:      m.closed,
		Posted:      m.posted,
		Dequeued:    m.dequeued,
		Dropped:     m.dropped,
	}
	got := m.port.Snapshot()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("port (-model +port):\n%s", diff)
	}
	if got.Posted != got.Dequeued+got.Dropped+uint64(got.Queued) {
		t.Fatalf("packets unaccounted for: %+v", got)
	}
	if uint64(len(m.seen)) != got.Dequeued {
		t.Fatalf("%d distinct packets seen by threads, %d dequeued", len(m.seen), got.Dequeued)
	}
	if got.Queued > 0 && got.Waiting > 0 && got.Running < got.Concurrency {
		t.Fatalf("a waiter starves while the port could run it: %+v", got)
	}
}

// stop ends every thread's goroutine, so the bubble can end: the close
// abandons port waiters and the passing of time ends sleeps.
func (m *portMachine) stop() {
	if !m.closed {
		m.port.Close()
	}
	time.Sleep(time.Hour)
	synctest.Wait()
	for _, st := range m.threads {
		close(st.cmds)
	}
}
