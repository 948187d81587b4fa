package winnet_test

import (
	"errors"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/trace"
	"github.com/wsspi/wsspi/wild"
	"github.com/wsspi/wsspi/winnet"
)

// clientCalls returns the client calls pid made, each with the name of its
// result, in order, leaving out the poller's waits (which interleave with
// the rest).
func clientCalls(rec *trace.Recorder, pid uint32) []string {
	var calls []string
	for _, e := range rec.Events() {
		if e.PID != pid || e.Kind != trace.ClientReturn || e.Func == "GetQueuedCompletionStatusEx" {
			continue
		}
		calls = append(calls, e.Func+" "+e.Err.Name())
	}
	return calls
}

// The calls follow Go's net package: for a listener socket, bind, listen,
// then the association and the modes; for a dial the association and the
// modes first, then the bind ConnectEx needs, the extension pointer, ConnectEx
// and SO_UPDATE_CONNECT_CONTEXT; for an accept a fresh socket associated
// before AcceptEx, then SO_UPDATE_ACCEPT_CONTEXT. ConnectEx and AcceptEx
// succeed at once on loopback and, with
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, are not waited for.
func TestDialAndAcceptCallWinsockInGosOrder(t *testing.T) {
	rec := new(trace.Recorder)
	w := newWorld(t, wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec}), winnet.Options{})
	l, err := w.server.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Dial first: the connection waits in the backlog, so AcceptEx
	// succeeds at once and the run is the same every time.
	c, err := w.client.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l.Close()
	const ok = " ERROR_SUCCESS"
	start := []string{"CreateIoCompletionPort" + ok} // New's port
	modes := []string{"CreateIoCompletionPort" + ok, "SetFileCompletionNotificationModes" + ok}
	listen := append(append([]string{"WSASocket" + ok, "bind" + ok, "listen" + ok}, modes...), "getsockname"+ok)
	accept := append(append([]string{"WSASocket" + ok}, modes...),
		"WSAIoctl"+ok, "AcceptEx"+ok,
		"setsockopt"+ok, "getsockname"+ok, "getpeername"+ok)
	dial := append(append([]string{"WSASocket" + ok}, modes...),
		"bind"+ok, "WSAIoctl"+ok, "ConnectEx"+ok, "setsockopt"+ok, "getsockname"+ok, "getpeername"+ok)
	server := concat(start, listen, accept, []string{"closesocket" + ok}) // the listener's
	if diff := cmp.Diff(server, clientCalls(rec, w.server.Process().ID())); diff != "" {
		t.Errorf("server calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(concat(start, dial), clientCalls(rec, w.client.Process().ID())); diff != "" {
		t.Errorf("client calls (-want +got):\n%s", diff)
	}
}

func concat(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// A read deadline cancels the pending WSARecv with CancelIoEx, then the
// read waits for the packet and reads the result. Over the kit, CancelIoEx
// on the layer's handle finds nothing; with CancelBaseHandle the read asks
// for SIO_BASE_HANDLE (WSAIoctl) and cancels its thread's call there
// (CancelIo), and the kit completes the client's call as aborted.
func TestADeadlineCancelsThenWaitsForThePacket(t *testing.T) {
	const ok = " ERROR_SUCCESS"
	for _, tc := range []struct {
		layer  string
		cancel []string
	}{
		{"", []string{"CancelIoEx" + ok}},
		{"IFSPassThrough", []string{"CancelIoEx" + ok}},
		{"Kit", []string{"CancelIoEx ERROR_NOT_FOUND", "WSAIoctl" + ok, "CancelIo" + ok}},
	} {
		t.Run("layer="+tc.layer, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := new(trace.Recorder)
				m := wsspi.NewMachineWith(wsspi.MachineOptions{Trace: rec})
				if tc.layer != "" {
					l, _ := wild.Lookup(tc.layer)
					if _, err := l.Install(m, catalog.DefaultTCPIPv4); err != nil {
						t.Fatal(err)
					}
				}
				w := newWorld(t, m, winnet.Options{CancelBaseHandle: true})
				c, s, err := w.pipe("tcp4")
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				defer s.Close()
				before := len(clientCalls(rec, w.client.Process().ID()))
				c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("Read = %v, want os.ErrDeadlineExceeded", err)
				}
				want := concat([]string{"WSARecv ERROR_IO_PENDING"}, tc.cancel, []string{"WSAGetOverlappedResult ERROR_OPERATION_ABORTED"})
				if diff := cmp.Diff(want, clientCalls(rec, w.client.Process().ID())[before:]); diff != "" {
					t.Errorf("the read's calls (-want +got):\n%s", diff)
				}
			})
		})
	}
}
