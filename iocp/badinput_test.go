package iocp_test

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
	"pgregory.net/rapid"
)

// Every call that takes a handle value answers any value, live or not, of
// any kind, with success or a documented code wrapped in *spi.OpError, and
// never panics or blocks.
func TestHandleCallsAnswerArbitraryValues(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		p := newProc(rt, iocp.Options{})
		th := p.thread()
		port, _ := p.associated(1)
		fh, _ := p.file(true)
		closed := p.event(true, false)
		closed.Close()
		opened, _ := p.k.WPUOpenCurrentThread(th)
		live := []spi.Handle{th.Handle(), port.Handle(), fh, p.event(true, true).Handle(), closed.Handle(), opened.ThreadHandle}
		handle := rapid.OneOf(
			rapid.SampledFrom(live),
			rapid.SampledFrom([]spi.Handle{0, 1, 3, spi.INVALID_HANDLE_VALUE, spi.INVALID_HANDLE_VALUE - 3}),
			rapid.Custom(func(t *rapid.T) spi.Handle { return spi.Handle(rapid.Uintptr().Draw(t, "raw")) }),
		)
		h := func(label string) spi.Handle { return handle.Draw(rt, label) }
		var ov spi.Overlapped
		ov.HEvent = h("hEvent")
		id := spi.ThreadID{ThreadHandle: h("thread"), Reserved: rapid.Uintptr().Draw(rt, "reserved")}
		calls := map[string]func() error{
			"CreateIoCompletionPort": func() error {
				_, err := p.k.CreateIoCompletionPort(h("file"), h("existing"), 0, rapid.Uint32().Draw(rt, "n"))
				return err
			},
			"PostQueuedCompletionStatus": func() error { return p.k.PostQueuedCompletionStatus(h("port"), 0, 0, nil) },
			"GetQueuedCompletionStatus": func() error {
				_, err := p.k.GetQueuedCompletionStatus(th, h("port"), 0)
				return err
			},
			"GetQueuedCompletionStatusEx": func() error {
				_, err := p.k.GetQueuedCompletionStatusEx(th, h("port"), make([]spi.OverlappedEntry, rapid.IntRange(0, 2).Draw(rt, "size")), 0, true)
				return err
			},
			"CloseHandle":    func() error { return p.k.CloseHandle(h("handle")) },
			"SetEvent":       func() error { return p.k.SetEvent(h("event")) },
			"ResetEvent":     func() error { return p.k.ResetEvent(h("event")) },
			"WPUQueueApc":    func() error { return p.k.WPUQueueApc(&id, func(any) {}, nil) },
			"WPUCloseThread": func() error { return p.k.WPUCloseThread(&id) },
			"SetFileCompletionNotificationModes": func() error {
				return p.k.SetFileCompletionNotificationModes(h("file"), rapid.Uint8().Draw(rt, "flags"))
			},
			"WSAWaitForMultipleEvents": func() error {
				events := rapid.SliceOfN(handle, 0, 3).Draw(rt, "events")
				_, err := p.k.WSAWaitForMultipleEvents(th, events, rapid.Bool().Draw(rt, "all"), 0, true)
				return err
			},
			"Complete": func() error {
				return p.k.Complete(iocp.Completion{Request: spi.IORequest{Overlapped: &ov, Thread: id, Routine: func(spi.Errno, uint32, *spi.Overlapped, uint32) {}}})
			},
		}
		names := slices.Sorted(maps.Keys(calls))
		for range rapid.IntRange(1, 20).Draw(rt, "calls") {
			name := rapid.SampledFrom(names).Draw(rt, "call")
			err := calls[name]()
			var oe *spi.OpError
			var code spi.Errno
			if err != nil && (!errors.As(err, &oe) || !errors.As(err, &code)) {
				rt.Fatalf("%s: %v is not an *spi.OpError with an Errno", name, err)
			}
		}
		th.SleepEx(0, true)
	})
}
