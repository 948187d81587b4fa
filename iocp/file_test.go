package iocp_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
)

func TestCompletionNotificationModesAreCumulativeAndSticky(t *testing.T) {
	p := newProc(t, iocp.Options{})
	h, f := p.file(true)
	var got []uint8
	for _, flags := range []uint8{spi.FILE_SKIP_SET_EVENT_ON_HANDLE, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, 0, spi.FILE_SKIP_SET_EVENT_ON_HANDLE} {
		if err := p.k.SetFileCompletionNotificationModes(h, flags); err != nil {
			t.Fatal(err)
		}
		got = append(got, f.Modes())
	}
	if diff := cmp.Diff([]uint8{2, 3, 3, 3}, got); diff != "" {
		t.Errorf("modes after each call (-want +got):\n%s", diff)
	}
}

func TestSetFileCompletionNotificationModesErrors(t *testing.T) {
	p := newProc(t, iocp.Options{})
	overlapped, _ := p.file(true)
	sync, syncFile := p.file(false)
	port := p.port(0)
	tests := []struct {
		name  string
		h     spi.Handle
		flags uint8
		want  error
	}{
		{name: "skip-on-success on a non-overlapped handle", h: sync, flags: spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS, want: spi.ERROR_INVALID_PARAMETER},
		{name: "skip-set-event on a non-overlapped handle", h: sync, flags: spi.FILE_SKIP_SET_EVENT_ON_HANDLE},
		{name: "skip-user-event-on-fast-io", h: overlapped, flags: spi.FILE_SKIP_SET_USER_EVENT_ON_FAST_IO},
		{name: "unknown flag", h: overlapped, flags: 0x8, want: spi.ERROR_INVALID_PARAMETER},
		{name: "a port handle", h: port.Handle(), flags: spi.FILE_SKIP_SET_EVENT_ON_HANDLE, want: spi.ERROR_INVALID_HANDLE},
		{name: "not live", h: 0x4000, flags: spi.FILE_SKIP_SET_EVENT_ON_HANDLE, want: spi.ERROR_INVALID_HANDLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.k.SetFileCompletionNotificationModes(tt.h, tt.flags)
			if diff := cmp.Diff(tt.want, err, equateErrors); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if err != nil && opOf(err) != "SetFileCompletionNotificationModes" {
				t.Errorf("Op = %q", opOf(err))
			}
		})
	}
	if got := syncFile.Modes(); got != spi.FILE_SKIP_SET_EVENT_ON_HANDLE {
		t.Errorf("a failed call changed the modes: %#x", got)
	}
}

// socket is a stand-in for a socket object of a later package.
type socket struct{ file *iocp.File }

func (s *socket) CompletionFile() *iocp.File { return s.file }

func TestHandleCallsFindTheFileOfASocketObject(t *testing.T) {
	p := newProc(t, iocp.Options{})
	s := &socket{p.k.NewFile(true)}
	h, err := p.table.CreateSocketHandle(1001, "ctx", s)
	if err != nil {
		t.Fatal(err)
	}
	port, err := p.k.CreateIoCompletionPort(h, 0, 7, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.k.SetFileCompletionNotificationModes(h, spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS); err != nil {
		t.Fatal(err)
	}
	want := iocp.FileSnapshot{Overlapped: true, Port: port, Key: 7, Modes: spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS}
	if diff := cmp.Diff(want, s.file.Snapshot()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// An object with no File behind it is not a file handle.
	bare, err := p.table.Insert(handles.KindIFSSocket, &socket{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.k.CreateIoCompletionPort(bare, 0, 0, 0); err == nil {
		t.Error("associated a handle with no File")
	}
}

func TestFileEventCannotBeClosed(t *testing.T) {
	p := newProc(t, iocp.Options{})
	f := p.k.NewFile(true)
	if diff := cmp.Diff(spi.ERROR_INVALID_HANDLE, f.Event().Close(), equateErrors); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if h := f.Event().Handle(); h != 0 {
		t.Errorf("the file's event has handle %v, want none", h)
	}
}

func TestAssociateErrors(t *testing.T) {
	p := newProc(t, iocp.Options{})
	closed := p.port(0)
	closed.Close()
	tests := []struct {
		name       string
		overlapped bool
		port       *iocp.Port
		want       error
	}{
		{name: "nil port", overlapped: true, want: spi.ERROR_INVALID_HANDLE},
		{name: "closed port", overlapped: true, port: closed, want: spi.ERROR_INVALID_HANDLE},
		{name: "non-overlapped handle", port: p.port(0), want: spi.ERROR_INVALID_PARAMETER},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := p.k.NewFile(tt.overlapped)
			if diff := cmp.Diff(tt.want, f.Associate(tt.port, 1), equateErrors); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if port, _ := f.Port(); port != nil {
				t.Error("a failed association stuck")
			}
		})
	}
	// A file object shared with another process (a duplicated handle) may
	// be associated with that process's port.
	other := newProc(t, iocp.Options{}).port(0)
	if err := p.k.NewFile(true).Associate(other, 1); err != nil {
		t.Errorf("associating with another kernel's port: %v", err)
	}
}

func TestThreadsStayInTheirProcess(t *testing.T) {
	a, b := newProc(t, iocp.Options{}), newProc(t, iocp.Options{})
	th := a.thread()
	calls := map[string]func(){
		"Get":                  func() { b.port(0).Get(th, 0) },
		"GetMany":              func() { b.port(0).GetMany(th, make([]spi.OverlappedEntry, 1), 0, false) },
		"WaitForEvents":        func() { th.WaitForEvents([]*iocp.Event{b.event(true, true)}, false, 0, false) },
		"WPUOpenCurrentThread": func() { b.k.WPUOpenCurrentThread(th) },
	}
	for name, call := range calls {
		if panicOf(call) == nil {
			t.Errorf("%s with a thread of another Kernel did not panic", name)
		}
	}
}
