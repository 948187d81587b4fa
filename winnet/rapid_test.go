package winnet_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/winnet"
)

// direction is one way of a connection in the model: the bytes written and
// not yet read, and whether the writer shut its side down.
type direction struct {
	from, to *winnet.Conn
	queued   []byte
	shut     bool
}

// maxQueued keeps the model's writes below the provider's buffers, so a
// write never has to wait for the reader.
const maxQueued = 8 << 10

// TestConnStateMachine runs random sequences of writes, reads, reads and
// writes with a passed deadline, and CloseWrite on both ends of a
// connection, over a random stack and skip policy, in a synctest bubble,
// against a model of two byte queues: every read returns the next bytes
// (as many as are queued, up to its buffer), io.EOF once the writer shut
// down and its bytes are read, and a timeout when nothing comes before its
// deadline; a deadline consumes and sends nothing.
func TestConnStateMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := rapid.SampledFrom(stacks[:3]).Draw(t, "stack")
		policy := rapid.SampledFrom([]winnet.SkipPolicy{winnet.SkipProcessWide, winnet.SkipPerSocket, winnet.SkipNever}).Draw(t, "policy")
		network := rapid.SampledFrom([]string{"tcp4", "tcp6"}).Draw(t, "network")
		rapid.SyncTest(t, func(t *rapid.T) {
			opts := sc.opts
			opts.Skip = policy
			w, closeAll, err := openWorld(machineWith(t, sc.layer), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := closeAll(); err != nil {
					t.Error(err)
				}
			}()
			c, s, err := w.pipe(network)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			defer s.Close()
			dirs := []*direction{{from: c, to: s}, {from: s, to: c}}
			pick := func(t *rapid.T) *direction { return rapid.SampledFrom(dirs).Draw(t, "direction") }
			t.Repeat(map[string]func(*rapid.T){
				"write": func(t *rapid.T) {
					d := pick(t)
					msg := rapid.SliceOfN(rapid.Byte(), 1, 512).Draw(t, "msg")
					if len(d.queued)+len(msg) > maxQueued {
						t.Skip("the buffers are full enough")
					}
					n, err := d.from.Write(msg)
					if d.shut {
						if !errors.Is(err, spi.WSAESHUTDOWN) || n != 0 {
							t.Fatalf("Write after CloseWrite = %d, %v; want 0, WSAESHUTDOWN", n, err)
						}
						return
					}
					if err != nil || n != len(msg) {
						t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(msg))
					}
					d.queued = append(d.queued, msg...)
				},
				"read": func(t *rapid.T) {
					d := pick(t)
					buf := make([]byte, rapid.IntRange(1, 1024).Draw(t, "size"))
					d.to.SetReadDeadline(time.Now().Add(time.Second))
					defer d.to.SetReadDeadline(time.Time{})
					n, err := d.to.Read(buf)
					switch {
					case len(d.queued) > 0:
						want := d.queued[:min(len(buf), len(d.queued))]
						if err != nil || !bytes.Equal(buf[:n], want) {
							t.Fatalf("Read = %q, %v; want %q", buf[:n], err, want)
						}
						d.queued = d.queued[n:]
					case d.shut:
						if n != 0 || err != io.EOF {
							t.Fatalf("Read after the peer's CloseWrite = %d, %v; want 0, io.EOF", n, err)
						}
					default:
						if n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
							t.Fatalf("Read with nothing sent = %d, %v; want 0, os.ErrDeadlineExceeded", n, err)
						}
					}
				},
				"readPastDeadline": func(t *rapid.T) {
					d := pick(t)
					d.to.SetReadDeadline(time.Now().Add(-time.Second))
					defer d.to.SetReadDeadline(time.Time{})
					if n, err := d.to.Read(make([]byte, 64)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("Read past its deadline = %d, %v; want 0, os.ErrDeadlineExceeded", n, err)
					}
				},
				"writePastDeadline": func(t *rapid.T) {
					d := pick(t)
					d.from.SetWriteDeadline(time.Now().Add(-time.Second))
					defer d.from.SetWriteDeadline(time.Time{})
					if n, err := d.from.Write([]byte("lost")); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
						t.Fatalf("Write past its deadline = %d, %v; want 0, os.ErrDeadlineExceeded", n, err)
					}
				},
				"closeWrite": func(t *rapid.T) {
					d := pick(t)
					if d.shut || rapid.IntRange(0, 7).Draw(t, "closeNow") != 0 {
						t.Skip("shut already, or not this time: a shut side ends most of the story")
					}
					if err := d.from.CloseWrite(); err != nil {
						t.Fatalf("CloseWrite: %v", err)
					}
					d.shut = true
				},
			})
		})
	})
}
