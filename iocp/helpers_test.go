package iocp_test

import (
	"errors"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/spi"
	"pgregory.net/rapid"
)

// equateErrors compares a got error with a wanted spi.Errno through
// errors.Is, which sees through *spi.OpError.
var equateErrors = cmpopts.EquateErrors()

// proc is one simulated process: a handle table and its kernel.
type proc struct {
	t     rapid.TB
	table *handles.Table
	k     *iocp.Kernel
}

func newProc(t rapid.TB, opts iocp.Options) *proc {
	t.Helper()
	table := handles.New(handles.Options{})
	return &proc{t: t, table: table, k: iocp.NewKernel(table, opts)}
}

func (p *proc) thread() *iocp.Thread {
	p.t.Helper()
	th, err := p.k.NewThread()
	if err != nil {
		p.t.Fatal(err)
	}
	return th
}

func (p *proc) port(concurrency uint32) *iocp.Port {
	p.t.Helper()
	port, err := p.k.NewPort(concurrency)
	if err != nil {
		p.t.Fatal(err)
	}
	return port
}

func (p *proc) event(manual, initial bool) *iocp.Event {
	p.t.Helper()
	e, err := p.k.NewEvent(manual, initial)
	if err != nil {
		p.t.Fatal(err)
	}
	return e
}

// file puts a file object with a fresh completion context in the table, as
// a base provider's IFS socket is, and returns its handle and context.
func (p *proc) file(overlapped bool) (spi.Handle, *iocp.File) {
	p.t.Helper()
	f := p.k.NewFile(overlapped)
	h, err := p.table.Insert(handles.KindIFSSocket, f)
	if err != nil {
		p.t.Fatal(err)
	}
	return h, f
}

// associated makes a port and an overlapped file handle associated with it
// under key, through CreateIoCompletionPort.
func (p *proc) associated(key uintptr) (*iocp.Port, *iocp.File) {
	p.t.Helper()
	fh, f := p.file(true)
	h, err := p.k.CreateIoCompletionPort(fh, 0, key, 0)
	if err != nil {
		p.t.Fatal(err)
	}
	port, err := p.k.Port(h)
	if err != nil {
		p.t.Fatal(err)
	}
	return port, f
}

// opOf returns the Op of an *spi.OpError, or "" for anything else.
func opOf(err error) string {
	var oe *spi.OpError
	if errors.As(err, &oe) {
		return oe.Op
	}
	return ""
}
