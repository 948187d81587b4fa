package wsspi_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// This file drives random sends and receives (WSASend, WSARecv, WriteFile,
// ReadFile; overlapped, or not overlapped on nonblocking sockets),
// shutdowns, buffer changes and closes over a TCP connection between two
// processes, through the root API, each end's socket associated with a
// completion port of its process. A model of the stream rules the loopback
// provider documents predicts every result, every packet and every byte
// received: nothing is lost, repeated or reordered, each overlapped
// operation is notified exactly once, and none is notified that failed at
// once or, with FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, succeeded at once.

// rop is one operation as the model sees it.
type rop struct {
	id      int
	end     int
	send    bool
	ov      *spi.Overlapped // nil: not overlapped
	buf     []byte          // the bytes sent, or the receive buffer
	n       int             // bytes a receive holds so far
	want    []byte          // the bytes a receive must hold
	done    bool            // finished in the model
	failed  bool            // failed when issued: nothing to notify
	packets int             // packets seen
}

// rend is one end of the connection: its socket and port, and the model
// of the socket.
type rend struct {
	k    *conn
	name string
	h    spi.Socket
	port spi.Handle
	skip bool // FILE_SKIP_COMPLETION_PORT_ON_SUCCESS

	closed             bool
	err                spi.Errno // the reset that ended the connection
	shutSend, shutRecv bool
	connected          bool // the peer is still there (no reset)
	rx                 []byte
	fin, finPending    bool
	sndbuf, rcvbuf     int
	sendq, recvq       []*rop
	next               byte // the value of the next byte this end sends
}

// rpacket is a packet due or seen on a port.
type rpacket struct {
	Op     int
	Status spi.Errno
	Bytes  uint32
}

type streamModel struct {
	ends   [2]*rend
	ops    map[*spi.Overlapped]*rop
	all    []*rop
	due    map[string][]rpacket // by class (see class), in order
	nextID int
}

// class names the order a packet belongs to: sends, and receives, of one
// end complete in the order they were issued.
func (m *streamModel) class(o *rop) string {
	if o.send {
		return m.ends[o.end].name + " sends"
	}
	return m.ends[o.end].name + " receives"
}

// finish ends o with a result; its packet is due unless it succeeded at
// once on a socket that skips those.
func (m *streamModel) finish(o *rop, status spi.Errno, n int, immediate bool) {
	o.done = true
	if o.ov == nil || immediate && status == 0 && m.ends[o.end].skip {
		return
	}
	c := m.class(o)
	m.due[c] = append(m.due[c], rpacket{o.id, status, uint32(n)})
}

// gone reports whether end y can no longer receive.
func (m *streamModel) gone(y int) bool { return m.ends[y].closed || m.ends[y].shutRecv }

// fits reports whether end x may hand size bytes to its peer now.
func (m *streamModel) fits(x, size int) bool {
	y := 1 - x
	b := len(m.ends[y].rx)
	return m.gone(y) || size == 0 || b == 0 || b < m.ends[x].sndbuf+m.ends[y].rcvbuf
}

// deliver hands data from end x to its peer, and reports whether the peer
// answers with a reset, having gone.
func (m *streamModel) deliver(x int, data []byte) bool {
	y := 1 - x
	if m.gone(y) {
		return len(data) > 0
	}
	m.ends[y].rx = append(m.ends[y].rx, data...)
	return false
}

// abort ends the connection of end x with err.
func (m *streamModel) abort(x int, err spi.Errno) {
	e := m.ends[x]
	e.err, e.connected, e.rx, e.fin, e.finPending = err, false, nil, false, false
	for _, o := range e.sendq {
		m.finish(o, err, 0, false)
	}
	for _, o := range e.recvq {
		m.finish(o, err, o.n, false)
	}
	e.sendq, e.recvq = nil, nil
}

// rst makes end y reset the connection.
func (m *streamModel) rst(y int) {
	x := 1 - y
	if m.ends[y].connected {
		if m.ends[x].closed {
			m.ends[x].connected = false
		} else {
			m.abort(x, spi.WSAECONNRESET)
		}
	}
	if e := m.ends[y]; e.closed {
		e.connected, e.rx, e.fin = false, nil, false
		return
	}
	m.abort(y, spi.WSAECONNABORTED)
}

// sendFin starts the graceful end of end x's sending side.
func (m *streamModel) sendFin(x int) {
	if e := m.ends[x]; e.connected {
		if len(e.sendq) == 0 {
			m.ends[1-x].fin = true
		} else {
			e.finPending = true
		}
	}
}

// settle moves everything that can move: queued sends into the peer's
// buffer, buffered bytes and the end of the stream into queued receives.
func (m *streamModel) settle() {
	for progress := true; progress; {
		progress = false
		for x, e := range m.ends {
			for len(e.sendq) > 0 && e.connected && m.fits(x, len(e.sendq[0].buf)) {
				o := e.sendq[0]
				e.sendq = e.sendq[1:]
				rst := m.deliver(x, o.buf)
				m.finish(o, 0, len(o.buf), false)
				if rst {
					m.rst(1 - x)
				}
				progress = true
			}
			if e.finPending && len(e.sendq) == 0 && e.connected {
				e.finPending, m.ends[1-x].fin = false, true
				progress = true
			}
			for len(e.recvq) > 0 && (len(e.rx) > 0 || e.fin) {
				o := e.recvq[0]
				e.recvq = e.recvq[1:]
				m.take(e, o)
				m.finish(o, 0, o.n, false)
				progress = true
			}
		}
	}
}

// take moves what fits of e's buffered bytes into receive o.
func (m *streamModel) take(e *rend, o *rop) {
	k := min(len(e.rx), len(o.buf)-o.n)
	o.want = append(o.want, e.rx[:k]...)
	e.rx = e.rx[k:]
	o.n += k
}

// callErr is the error a call named op on end e returns for code:
// file calls report file-style codes.
func callErr(op string, e *rend, file bool, code spi.Errno) error {
	if code == 0 {
		return nil
	}
	if file { // kernel32 reports the Win32 code of the request's status
		code = spi.RtlNtStatusToDosError(spi.WinsockErrorToNtStatus(code))
	}
	return opErr(op, e.h, code)
}

// result compares what a call returned with what the model says.
func (m *streamModel) result(t *rapid.T, what string, gotN uint32, gotErr error, wantN int, wantErr error) {
	t.Helper()
	if diff := cmp.Diff(wantErr, gotErr); gotN != uint32(wantN) || diff != "" {
		t.Fatalf("%s = %d, %v; model says %d, %v", what, gotN, gotErr, wantN, wantErr)
	}
}

// drain takes every packet off both ports and checks them, the status
// blocks and the bytes received against the model.
func (m *streamModel) drain(t *rapid.T) {
	t.Helper()
	got := map[string][]rpacket{}
	for x, e := range m.ends {
		for {
			p, err := e.k.threadOf(x).GetQueuedCompletionStatus(e.port, 0)
			if p.Overlapped == nil {
				if spi.ErrnoOf(err) != spi.WAIT_TIMEOUT {
					t.Fatalf("%s port: %v", e.name, err)
				}
				break
			}
			o := m.ops[p.Overlapped]
			switch {
			case o == nil:
				t.Fatalf("%s port: a packet for an unknown overlapped", e.name)
			case o.end != x || p.CompletionKey != uintptr(x+1):
				t.Fatalf("op %d of %s: packet %+v on the port of %s", o.id, m.ends[o.end].name, p, e.name)
			case spi.RtlNtStatusToDosError(spi.NTStatus(p.Internal)) != spi.ErrnoOf(err):
				t.Fatalf("op %d: packet Internal %#x, error %v", o.id, p.Internal, err)
			}
			o.packets++
			c := m.class(o)
			got[c] = append(got[c], rpacket{o.id, spi.NtStatusToWinsockError(spi.NTStatus(p.Internal)), p.NumberOfBytesTransferred})
			if !o.send && string(o.buf[:p.NumberOfBytesTransferred]) != string(o.want) {
				t.Fatalf("op %d received %q; model says %q", o.id, o.buf[:p.NumberOfBytesTransferred], o.want)
			}
		}
	}
	if diff := cmp.Diff(m.due, got); diff != "" {
		t.Fatalf("packets by class (-model +got):\n%s", diff)
	}
	m.due = map[string][]rpacket{}
	for _, o := range m.all {
		if o.packets > 1 {
			t.Fatalf("op %d notified %d times", o.id, o.packets)
		}
		pending := !o.done && !o.failed
		if o.ov != nil && pending != o.ov.InProgress() {
			t.Fatalf("op %d: pending in the model %v, Internal %#x", o.id, pending, o.ov.LoadInternal())
		}
		if o.failed && o.ov != nil && (o.ov.LoadInternal() != 0 || o.ov.LoadInternalHigh() != 0) {
			t.Fatalf("op %d failed at once but its status block was written: %+v", o.id, o.ov)
		}
	}
}

// threadOf returns the thread of end x (0: client, 1: server).
func (k *conn) threadOf(x int) *wsspi.Thread {
	if x == 0 {
		return k.cth
	}
	return k.sth
}

// rcall is how an operation is issued: through Winsock or the file
// system, overlapped or not.
type rcall struct {
	file, overlapped bool
}

func (m *streamModel) newOp(x int, send bool, buf []byte) *rop {
	o := &rop{id: m.nextID, end: x, send: send, buf: buf}
	m.nextID++
	m.all = append(m.all, o)
	return o
}

// issue makes the send or receive o as c says, on the socket and in the
// model, and compares the results.
func (m *streamModel) issue(t *rapid.T, c rcall, o *rop) {
	t.Helper()
	x := o.end
	e, th := m.ends[x], m.ends[x].k.threadOf(x)
	if c.overlapped {
		o.ov = new(spi.Overlapped)
		m.ops[o.ov] = o
	}
	var op string
	var n uint32
	var err error
	switch {
	case o.send && c.file:
		op = "WriteFile"
		n, err = th.WriteFile(e.h, o.buf, o.ov)
	case o.send:
		op = "WSASend"
		n, err = th.WSASend(e.h, [][]byte{o.buf}, 0, o.ov, nil)
	case c.file:
		op = "ReadFile"
		n, err = th.ReadFile(e.h, o.buf, o.ov)
	default:
		op = "WSARecv"
		n, err = th.WSARecv(e.h, [][]byte{o.buf}, nil, o.ov, nil)
	}
	what := fmt.Sprintf("%s %s of %d bytes (op %d, %+v)", e.name, op, len(o.buf), o.id, c)
	queue, ready, shut := &e.recvq, len(e.recvq) == 0 && (len(e.rx) > 0 || e.fin), e.shutRecv
	if o.send {
		queue, ready, shut = &e.sendq, len(e.sendq) == 0 && m.fits(x, len(o.buf)), e.shutSend
	}
	var code spi.Errno
	switch {
	case e.closed:
		code = spi.WSAENOTSOCK
	case shut:
		code = spi.WSAESHUTDOWN
	case e.err != 0:
		code = e.err
	case ready:
		k := len(o.buf)
		if !o.send {
			m.take(e, o)
			k = o.n
		} else if m.deliver(x, o.buf) {
			m.rst(1 - x)
		}
		m.settle()
		m.finish(o, 0, k, true)
		m.result(t, what, n, err, k, nil)
		if !o.send && string(o.buf[:n]) != string(o.want) {
			t.Fatalf("%s received %q; model says %q", what, o.buf[:n], o.want)
		}
		return
	case c.overlapped:
		*queue = append(*queue, o)
		m.settle()
		m.result(t, what, n, err, 0, callErr(op, e, c.file, spi.WSA_IO_PENDING))
		return
	default:
		code = spi.WSAEWOULDBLOCK
	}
	o.failed = true
	m.result(t, what, n, err, 0, callErr(op, e, c.file, code))
}

// close closes end x, abortively or not, in the socket and the model.
func (m *streamModel) close(t *rapid.T, x int, abortive bool) {
	e := m.ends[x]
	th := e.k.threadOf(x)
	if e.closed {
		m.result(t, "closesocket", 0, th.Closesocket(e.h), 0, opErr("closesocket", e.h, spi.WSAENOTSOCK))
		return
	}
	if abortive {
		setLinger(t, th, e.h, 1, 0)
	}
	err := th.Closesocket(e.h)
	e.closed = true
	// closesocket aborts a connected stream socket's pending I/O
	// (STATUS_CONNECTION_ABORTED); a reset does not disconnect the socket
	// in this sense.
	for _, o := range e.sendq {
		m.finish(o, spi.WSAECONNABORTED, 0, false)
	}
	for _, o := range e.recvq {
		m.finish(o, spi.WSAECONNABORTED, o.n, false)
	}
	e.sendq, e.recvq = nil, nil
	if abortive || len(e.rx) > 0 {
		m.rst(x)
	} else {
		m.sendFin(x)
	}
	m.settle()
	m.result(t, "closesocket", 0, err, 0, nil)
}

func TestConnectionThroughTheRootAPIMatchesTheStreamModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
		m := &streamModel{ops: map[*spi.Overlapped]*rop{}, due: map[string][]rpacket{}}
		for x, name := range []string{"client", "server"} {
			e := &rend{k: k, name: name, h: k.c, connected: true, next: byte(x) << 7}
			if x == 1 {
				e.h = k.s
			}
			th := k.threadOf(x)
			p := th.Process()
			e.port = must(p.CreateIoCompletionPort(e.h, 0, uintptr(x+1), 0))(t)
			e.skip = rapid.Bool().Draw(t, name+" skips packets of immediate successes")
			if e.skip {
				check(t, p.SetFileCompletionNotificationModes(e.h, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS))
			}
			setNonblocking(t, th, e.h, true)
			e.sndbuf = rapid.IntRange(0, 6).Draw(t, name+" SO_SNDBUF")
			e.rcvbuf = rapid.IntRange(0, 6).Draw(t, name+" SO_RCVBUF")
			setInt(t, th, e.h, spi.SO_SNDBUF, uint32(e.sndbuf))
			setInt(t, th, e.h, spi.SO_RCVBUF, uint32(e.rcvbuf))
			m.ends[x] = e
		}
		endGen := rapid.IntRange(0, 1)
		callGen := rapid.Custom(func(t *rapid.T) rcall {
			return rcall{rapid.Bool().Draw(t, "file"), rapid.Bool().Draw(t, "overlapped")}
		})

		t.Repeat(map[string]func(*rapid.T){
			"send": func(t *rapid.T) {
				x := endGen.Draw(t, "end")
				e := m.ends[x]
				data := make([]byte, rapid.IntRange(0, 10).Draw(t, "size"))
				for i := range data {
					data[i] = e.next
					e.next++
				}
				m.issue(t, callGen.Draw(t, "call"), m.newOp(x, true, data))
			},
			"receive": func(t *rapid.T) {
				x := endGen.Draw(t, "end")
				m.issue(t, callGen.Draw(t, "call"), m.newOp(x, false, make([]byte, rapid.IntRange(0, 10).Draw(t, "size"))))
			},
			"shutdown": func(t *rapid.T) {
				x := endGen.Draw(t, "end")
				how := rapid.SampledFrom([]int32{spi.SD_SEND, spi.SD_RECEIVE, spi.SD_BOTH}).Draw(t, "how")
				e := m.ends[x]
				err := k.threadOf(x).Shutdown(e.h, how)
				what := fmt.Sprintf("%s shutdown(%d)", e.name, how)
				if e.closed {
					m.result(t, what, 0, err, 0, opErr("shutdown", e.h, spi.WSAENOTSOCK))
					return
				}
				if how != spi.SD_SEND {
					e.shutRecv = true
					if e.connected && len(e.rx) > 0 {
						m.rst(x) // unread data resets the connection
					}
				}
				if how != spi.SD_RECEIVE && !e.shutSend {
					e.shutSend = true
					m.sendFin(x)
				}
				m.settle()
				m.result(t, what, 0, err, 0, nil)
			},
			"set buffer": func(t *rapid.T) {
				x := endGen.Draw(t, "end")
				snd := rapid.Bool().Draw(t, "SO_SNDBUF")
				v := rapid.IntRange(0, 12).Draw(t, "bytes")
				e := m.ends[x]
				name := int32(spi.SO_RCVBUF)
				if snd {
					name = spi.SO_SNDBUF
				}
				err := k.threadOf(x).Setsockopt(e.h, spi.SOL_SOCKET, name, u32(uint32(v)))
				var want error
				switch {
				case e.closed:
					want = opErr("setsockopt", e.h, spi.WSAENOTSOCK)
				case snd:
					e.sndbuf = v
				default:
					e.rcvbuf = v
				}
				m.settle()
				m.result(t, fmt.Sprintf("%s setsockopt(%d, %d)", e.name, name, v), 0, err, 0, want)
			},
			"close": func(t *rapid.T) {
				if rapid.IntRange(0, 3).Draw(t, "close now (1 in 4)") == 0 { // so that runs last
					m.close(t, endGen.Draw(t, "end"), rapid.Bool().Draw(t, "abortive"))
				}
			},
			"": m.drain,
		})

		// Closing both ends finishes every operation, and leaves nothing
		// behind but the ports.
		for x := range m.ends {
			if !m.ends[x].closed {
				m.close(t, x, false)
			}
		}
		m.drain(t)
		for _, o := range m.all {
			if !o.done && !o.failed {
				t.Fatalf("op %d never finished", o.id)
			}
		}
		check(t, k.sth.Closesocket(k.l))
		for x, e := range m.ends {
			p := k.threadOf(x).Process()
			check(t, p.CloseHandle(e.port))
			checkNoHandles(t, p)
		}
	})
}
