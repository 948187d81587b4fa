package loopback_test

import (
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/wsspi/wsspi/loopback"
	"github.com/wsspi/wsspi/spi"
)

// This file drives one TCP connection whose client end is selected with
// WSPEventSelect and checks, after every action, the network events
// against a small model of the documented rules (docs/facts.md §12.3):
// which events the next WSPEnumNetworkEvents reports, with their errors,
// each once until its re-enabling call, and that the event is set exactly
// when an action records something.

// evModel is the model of the client end.
type evModel struct {
	rx       int  // bytes from the peer not yet received
	fin      bool // the peer's FIN arrived
	reset    bool // the connection was reset by the peer
	toPeer   int  // bytes sent to the peer and not yet read by it
	peerShut bool // the peer shut its sending side down
	peerGone bool // the peer closed abortively

	armed    int32
	recorded spi.WSANetworkEvents
}

// The client's SO_SNDBUF plus the peer's SO_RCVBUF: a send is accepted
// while fewer bytes than this wait at the peer (or none do).
const evWindow = 8

const evMask = spi.FD_READ | spi.FD_WRITE | spi.FD_CLOSE | spi.FD_CONNECT

func (m *evModel) condition(ev int32) (bool, spi.Errno) {
	switch ev {
	case spi.FD_CONNECT:
		return true, 0
	case spi.FD_READ:
		return !m.reset && m.rx > 0, 0
	case spi.FD_WRITE:
		return !m.reset && (m.toPeer == 0 || m.toPeer < evWindow), 0
	case spi.FD_CLOSE:
		if m.reset {
			return true, spi.WSAECONNRESET
		}
		return m.fin && m.rx == 0, 0
	}
	return false, 0
}

// evaluate records the armed events whose condition holds; it reports
// whether it recorded any.
func (m *evModel) evaluate() bool {
	hit := false
	for _, ev := range []int32{spi.FD_CONNECT, spi.FD_READ, spi.FD_WRITE, spi.FD_CLOSE} {
		if m.armed&ev == 0 {
			continue
		}
		if ok, err := m.condition(ev); ok {
			m.armed &^= ev
			m.recorded.NetworkEvents |= ev
			for i := range spi.FD_MAX_EVENTS {
				if ev == 1<<i {
					m.recorded.ErrorCode[i] = err
				}
			}
			hit = true
		}
	}
	return hit
}

func TestNetworkEventsOfOneConnectionMatchTheModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		p := newProc(rt, loopback.NewNetwork())
		c, s := p.pairOf(spi.AF_INET)
		p.limit(c, s, evWindow/2, evWindow/2)
		m := &evModel{armed: evMask}
		p.eventSelect(c, evA, evMask)
		want := m.evaluate()

		// check compares the signals of an action with the model's verdict.
		check := func(what string, recorded bool) {
			sig := p.k.takeSignals()
			for _, sg := range sig {
				if sg != setEvent(evA) {
					rt.Fatalf("%s: unexpected upcall %+v", what, sg)
				}
			}
			if (len(sig) > 0) != recorded {
				rt.Fatalf("%s: %d SetEvent calls, model recorded: %v", what, len(sig), recorded)
			}
		}
		check("selection", want)

		rt.Repeat(map[string]func(*rapid.T){
			"peer sends": func(rt *rapid.T) {
				if m.peerShut || m.peerGone {
					rt.Skip("the peer cannot send")
				}
				k := rapid.IntRange(1, 5).Draw(rt, "bytes")
				p.send(s, strings.Repeat("p", k))
				m.rx += k
				check("peer sends", m.evaluate())
			},
			"client receives": func(rt *rapid.T) {
				k := rapid.IntRange(1, 6).Draw(rt, "size")
				got, err := p.recv(c, k)
				var rec bool
				switch {
				case m.reset:
					wantErr(rt, "recv after a reset", err, spi.WSAECONNRESET)
				case m.rx == 0 && !m.fin:
					wantErr(rt, "recv of nothing", err, spi.WSAEWOULDBLOCK)
				default:
					wantErr(rt, "recv", err, nil)
					n := min(k, m.rx)
					if len(got) != n {
						rt.Fatalf("recv got %d bytes, want %d", len(got), n)
					}
					m.rx -= n
					rec = m.evaluate()
				}
				m.armed |= spi.FD_READ | spi.FD_OOB
				rec = m.evaluate() || rec
				check("client receives", rec)
			},
			"client sends": func(rt *rapid.T) {
				k := rapid.IntRange(1, 5).Draw(rt, "bytes")
				_, err := p.tab.WSPSend(c, [][]byte{[]byte(strings.Repeat("c", k))}, 0, nil, nil, nil)
				switch {
				case m.reset:
					wantErr(rt, "send after a reset", err, spi.WSAECONNRESET)
					check("client sends", false)
				case m.toPeer > 0 && m.toPeer >= evWindow:
					wantErr(rt, "send to a full window", err, spi.WSAEWOULDBLOCK)
					m.armed |= spi.FD_WRITE
					check("client sends", m.evaluate())
				default:
					wantErr(rt, "send", err, nil)
					m.toPeer += k
					check("client sends", m.evaluate())
				}
			},
			"peer receives": func(rt *rapid.T) {
				if m.peerGone || m.toPeer == 0 {
					rt.Skip("nothing for the peer to read")
				}
				got, err := p.recv(s, 100)
				wantErr(rt, "peer recv", err, nil)
				if len(got) != m.toPeer {
					rt.Fatalf("peer got %d bytes, want %d", len(got), m.toPeer)
				}
				m.toPeer = 0
				check("peer receives", m.evaluate())
			},
			"peer shuts down": func(rt *rapid.T) {
				if m.peerShut || m.peerGone {
					rt.Skip("done already")
				}
				p.must(p.tab.WSPShutdown(s, spi.SD_SEND))
				m.peerShut, m.fin = true, true
				check("peer shuts down", m.evaluate())
			},
			"peer resets": func(rt *rapid.T) {
				if m.peerGone {
					rt.Skip("gone already")
				}
				p.setLinger(s, 1, 0)
				p.must(p.tab.WSPCloseSocket(s))
				p.k.take()
				m.peerGone, m.reset = true, true
				m.rx, m.fin, m.toPeer = 0, false, 0
				check("peer resets", m.evaluate())
			},
			"enumerate": func(rt *rapid.T) {
				diff(rt, "WSPEnumNetworkEvents", m.recorded, p.enum(c))
				m.recorded = spi.WSANetworkEvents{}
				check("enumerate", false)
			},
			"reselect": func(rt *rapid.T) {
				p.eventSelect(c, evA, evMask)
				kept := m.recorded.NetworkEvents != 0
				m.armed |= (spi.FD_READ | spi.FD_WRITE) &^ m.recorded.NetworkEvents
				check("reselect", m.evaluate() || kept)
			},
		})
	})
}
