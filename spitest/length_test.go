package spitest_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spitest"
)

// The nibble code, a length-changing transform: each plain byte b goes on
// the wire as two, a lead 0x80|b>>4 (top bit set) and a follower
// 0x40|b&0x0f (top bit clear), so the wire is twice the plain bytes. A
// lead followed by another lead is a code a short send cut: it is dropped,
// so a layer whose send the base cut after a lead reports the codes that
// went whole, and the next send's codes follow. A lead at the end of a
// wire is a code not complete yet.
const (
	nibbleLead     = 0x80
	nibbleFollower = 0x40
)

func nibbleEncode(dst, plain []byte) []byte {
	for _, b := range plain {
		dst = append(dst, nibbleLead|b>>4, nibbleFollower|b&0x0f)
	}
	return dst
}

// nibbleDecoder decodes the nibble code, carrying a lead from one piece of
// wire to the next. A strict decoder refuses a byte that is not of the
// code; a lenient one, the layer's, drops it.
type nibbleDecoder struct {
	lead    byte
	hasLead bool
	strict  bool
}

// decode appends the plain bytes of wire to dst and returns them.
func (d *nibbleDecoder) decode(dst, wire []byte) ([]byte, error) {
	for _, w := range wire {
		switch {
		case w&0xf0 == nibbleLead:
			d.lead, d.hasLead = w, true // a lead before it, if any, was cut
		case w&0xf0 == nibbleFollower && d.hasLead:
			dst = append(dst, d.lead<<4|w&0x0f)
			d.hasLead = false
		case d.strict:
			return dst, errors.New("not the nibble code")
		}
	}
	return dst, nil
}

var nibbleTransform = &spitest.Transform{
	Wire: func(sends [][]byte) []byte {
		var w []byte
		for _, s := range sends {
			w = nibbleEncode(w, s)
		}
		return w
	},
	Unwire: func(wire []byte) ([]byte, error) {
		d := nibbleDecoder{strict: true}
		return d.decode(nil, wire)
	},
}

// nibbleLayer installs a layer of package layered that carries the nibble
// code. Before encodes a send's buffers, and After completes the send with
// the count of the client's bytes whose codes went whole. After decodes a
// receive in the client's buffers and completes it with the plain count;
// a code cut between two receives is decoded by whichever of the two
// finishes second, at the end of the first or the start of the second
// (see nibbleRecvs), and bytes that are not of the code are dropped. The
// target declares tr.
func nibbleLayer(tr *spitest.Transform) spitest.Factory {
	var mu sync.Mutex // guards the sockets' nibbleRecvs
	recvs := func(s *layered.Socket) *nibbleRecvs {
		r, _ := s.Value().(*nibbleRecvs)
		if r == nil {
			r = &nibbleRecvs{seq: map[*byte]int{}}
			s.SetValue(r) // kept with the socket: receives may complete after it closes
		}
		return r
	}
	return hookLayer("Nibble", 3, tr, layered.Hooks{
		Before: func(c *layered.Call) layered.Verdict {
			switch {
			case c.Op == layered.OpSend:
				var w []byte
				for _, b := range c.Bufs {
					w = nibbleEncode(w, b)
				}
				c.Bufs = [][]byte{w}
			case c.Op == layered.OpRecv && len(c.Bufs) > 0 && len(c.Bufs[0]) > 0:
				mu.Lock()
				recvs(c.Socket).begin(&c.Bufs[0][0])
				mu.Unlock()
			}
			return layered.Pass()
		},
		After: func(c *layered.Call) layered.Verdict {
			switch {
			case c.Op == layered.OpSend && c.Err == 0:
				return layered.Complete(c.N / 2)
			case c.Op != layered.OpRecv || len(c.Bufs) == 0 || len(c.Bufs[0]) == 0:
				return layered.Pass()
			}
			var wire []byte
			if c.Err == 0 {
				left := c.N
				for _, b := range c.Bufs {
					k := min(uint32(len(b)), left)
					wire = append(wire, b[:k]...)
					left -= k
				}
			}
			mu.Lock()
			plain := recvs(c.Socket).end(&c.Bufs[0][0], wire)
			mu.Unlock()
			if c.Err != 0 || c.N == 0 {
				return layered.Pass()
			}
			n := uint32(len(plain))
			for _, b := range c.Bufs {
				plain = plain[copy(b, plain):]
			}
			return layered.Complete(n)
		},
	})
}

// nibbleRecvs decodes the receives of one socket. The layer below fills a
// socket's receives in the order they reach it, which is the order Before
// sees them, but their results may reach After in another order (in this
// simulator they do, under the kit's scheduler, when a receive that
// completes at once overtakes the delivery of an earlier one): a code
// cut between two receives, a lead ending one and a follower starting the
// next, is decoded by whichever of the two After sees second. Each
// receive's plain bytes are then its own codes, and a cut code at its
// start or end, so the client, reading its receives in issue order, reads
// the plain stream. A receive that carries no data (an error, the end of
// the stream) is passed over.
type nibbleRecvs struct {
	seq   map[*byte]int // receives begun and not ended, by their first buffer
	recvs []*nibbleRecv // every receive begun, in order
}

type nibbleRecv struct {
	done, data bool
	lead       int // a lead ending the receive's wire, awaiting its follower; -1: none
	follower   int // a follower starting the receive's wire, awaiting its lead; -1: none
}

// begin notes a receive reaching the layer below, named by its first
// buffer.
func (r *nibbleRecvs) begin(key *byte) {
	r.seq[key] = len(r.recvs)
	r.recvs = append(r.recvs, &nibbleRecv{lead: -1, follower: -1})
}

// end notes the result of the receive named by key, which carried wire
// (nothing for an error), and returns its plain bytes.
func (r *nibbleRecvs) end(key *byte, wire []byte) []byte {
	k, ok := r.seq[key]
	if !ok {
		return nil
	}
	delete(r.seq, key)
	me := r.recvs[k]
	me.done, me.data = true, len(wire) > 0
	var plain []byte
	if len(wire) > 0 && wire[0]&0xf0 == nibbleFollower {
		if p := r.neighbour(k, -1); p != nil && !p.done {
			me.follower = int(wire[0]) // p decodes it
		} else if p != nil && p.lead >= 0 {
			plain = append(plain, byte(p.lead)<<4|wire[0]&0x0f)
			p.lead = -1
		}
		wire = wire[1:]
	}
	lead := -1
	for _, w := range wire {
		switch {
		case w&0xf0 == nibbleLead:
			lead = int(w) // a lead before it, if any, was cut
		case w&0xf0 == nibbleFollower && lead >= 0:
			plain = append(plain, byte(lead)<<4|w&0x0f)
			lead = -1
		}
	}
	if lead >= 0 {
		if q := r.neighbour(k, +1); q != nil && q.done && q.follower >= 0 {
			plain = append(plain, byte(lead)<<4|byte(q.follower)&0x0f)
			q.follower = -1
		} else {
			me.lead = lead // the next receive decodes it
		}
	}
	return plain
}

// neighbour returns the receive before (dir -1) or after (+1) receive k
// in the stream: the nearest that carried data or has not ended, or nil.
func (r *nibbleRecvs) neighbour(k, dir int) *nibbleRecv {
	for j := k + dir; j >= 0 && j < len(r.recvs); j += dir {
		if x := r.recvs[j]; !x.done || x.data {
			return x
		}
	}
	return nil
}

// TestTransformLengthChanging: a layer whose wire is twice the client's
// bytes passes every case, the workload included, when its target
// declares the code: the peer's wire, read through Unwire, is what the
// client sent, the client receives the plain bytes of the wire the peer
// sent, and the client is told its own counts, through short transfers
// that cut a code in two. (The kit's payload does not compress, so the
// test's code doubles; a layer whose wire is shorter is checked alike.)
func TestTransformLengthChanging(t *testing.T) {
	spitest.Run(t, nibbleLayer(nibbleTransform))
}

// TestTransformLengthChangingUndeclared: the same layer with no Transform
// declared, or with the XOR's, breaks StreamData and no other rule.
func TestTransformLengthChangingUndeclared(t *testing.T) {
	for name, tr := range map[string]*spitest.Transform{"undeclared": nil, "another": xorTransform(0x5a)} {
		t.Run(name, func(t *testing.T) {
			for _, c := range []string{"Notify/port", "ReadFileWriteFile", "StreamOrder"} {
				fs := findingsOf(t, nibbleLayer(tr), spitest.Cases(c))
				if diff := cmp.Diff([]string{"StreamData"}, rulesOf(fs)); diff != "" {
					t.Errorf("case %s: the rules broken (-want +got):\n%s\n%v", c, diff, fs)
				}
			}
		})
	}
}

// TestNibbleCode: the nibble code's Unwire undoes its Wire, drops a code
// cut after its lead, and reads a lead at the end as a code to come.
func TestNibbleCode(t *testing.T) {
	plain := []byte{0x00, 0x7f, 0x80, 0xff, 0x5a}
	wire := nibbleTransform.Wire([][]byte{plain[:2], plain[2:]})
	for _, tc := range []struct {
		wire []byte
		want []byte
	}{
		{wire, plain},
		{wire[:5], plain[:2]}, // a lead at the end
		{append(append([]byte{}, wire[:5]...), wire[6:]...), []byte{0x00, 0x7f, 0xff, 0x5a}}, // the third code cut after its lead
	} {
		got, err := nibbleTransform.Unwire(tc.wire)
		if err != nil {
			t.Fatalf("Unwire(%v): %v", tc.wire, err)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Unwire(%v) (-want +got):\n%s", tc.wire, diff)
		}
	}
	if _, err := nibbleTransform.Unwire([]byte{nibbleFollower}); err == nil {
		t.Errorf("Unwire of a follower with no lead succeeded")
	}
}
