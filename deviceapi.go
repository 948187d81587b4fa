package wsspi

import (
	"errors"
	"strings"

	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/trace"
)

// NtDeviceIoControlFile sends device control code to the driver behind
// handle h, as ntdll's NtDeviceIoControlFile does; wepoll, mio and libuv
// issue IOCTL_AFD_POLL this way on a base provider's socket handle (build
// its buffer with [spi.AFDPollInfo]). iosb receives the final status
// (Internal) and byte count (InternalHigh), as an OVERLAPPED's first two
// fields are an IO_STATUS_BLOCK. event, when not 0, is reset when the
// request starts and set when it ends. apcContext is what a completion
// packet carries as its lpOverlapped: with iosb, a handle associated with
// a completion port gets a packet when the request ends; with nil it gets
// none, as libuv asks by passing no ApcContext. (The simulator's packets
// carry the OVERLAPPED holding the status, so apcContext must be nil or
// iosb; it keeps event and the no-packet choice in iosb.HEvent, as
// kernel32's DeviceIoControl reads them from an OVERLAPPED.)
//
// The result is the NTSTATUS the call returns, as an error: nil for
// STATUS_SUCCESS (the completion is notified all the same),
// spi.STATUS_PENDING when the request ends later, anything else when it
// did not start (iosb is then not written). On a handle not opened for
// overlapped I/O (a socket made without WSA_FLAG_OVERLAPPED) the call
// waits for the request to end and returns its final status. Errors:
// STATUS_INVALID_HANDLE for a handle that is no socket, or an event that
// names nothing; STATUS_INVALID_DEVICE_REQUEST for a handle from
// WPUCreateSocketHandle (a non-IFS layer's socket is no AFD endpoint,
// which is why pollers ask for SIO_BASE_HANDLE first) and for a driver
// that serves no device controls; whatever the driver returns. Compare
// with errors.Is(err, spi.STATUS_PENDING). It panics if iosb is nil or
// apcContext is neither nil nor iosb.
func (t *Thread) NtDeviceIoControlFile(h spi.Handle, event spi.Handle, apcContext, iosb *spi.Overlapped, code uint32, in, out []byte) error {
	if iosb == nil {
		panic("wsspi: NtDeviceIoControlFile needs an IO_STATUS_BLOCK (iosb)")
	}
	if apcContext != nil && apcContext != iosb {
		panic("wsspi: NtDeviceIoControlFile: apcContext must be nil or iosb")
	}
	c := t.traceCall(trace.LayerIFS, "NtDeviceIoControlFile", h, in)
	iosb.HEvent = event
	if apcContext == nil {
		iosb.HEvent |= 1
	}
	sync := false
	if s, err := t.p.ifs.Socket("NtDeviceIoControlFile", h); err == nil && !s.Overlapped() {
		sync = true
	}
	return c.end(t.deviceIoControl(h, code, in, out, iosb, sync))
}

// deviceIoControl issues the device control with iosb as its OVERLAPPED
// and, with wait set, waits for a pending request to end, on the request's
// event or on one of its own, and returns the request's final status.
func (t *Thread) deviceIoControl(h spi.Handle, code uint32, in, out []byte, iosb *spi.Overlapped, wait bool) error {
	const op = "NtDeviceIoControlFile"
	if wait {
		if iosb.EventHandle() == 0 {
			ev, err := t.p.kernel.WSACreateEvent()
			if err != nil {
				return spi.NewOpError(op, h, spi.STATUS_INSUFFICIENT_RESOURCES)
			}
			defer t.p.kernel.CloseHandle(ev)
			iosb.HEvent = ev | iosb.HEvent&1
		}
	}
	_, err := t.p.ifs.DeviceIoControl(t.id, h, code, in, out, iosb)
	if !wait || !errors.Is(err, spi.STATUS_PENDING) {
		return err
	}
	if _, werr := t.p.kernel.WSAWaitForMultipleEvents(t.th, []spi.Handle{iosb.EventHandle()}, false, spi.Infinite, false); werr != nil {
		return spi.NewOpError(op, h, spi.STATUS_CANCELLED) // the process is closing
	}
	if st := spi.NTStatus(iosb.LoadInternal()); st != spi.STATUS_SUCCESS {
		return spi.NewOpError(op, h, st)
	}
	return nil
}

// afdDevice is the name of the AFD device, under which NtCreateFile opens
// helper handles.
const afdDevice = `\Device\Afd\`

// NtCreateFile opens the one kind of named file the simulator has: an AFD
// helper handle, as wepoll opens \Device\Afd\Wepoll and mio
// \Device\Afd\Mio with NtCreateFile (SYNCHRONIZE, share read and write,
// FILE_OPEN, no extended attributes). The result is an AFD file object
// with no endpoint: no socket, but a handle to issue IOCTL_AFD_POLL on for
// the process's sockets with [Thread.NtDeviceIoControlFile], associated
// with the poller's completion port, so the polled sockets need no port of
// the poller's (the base socket below a non-IFS layer is on the layer's
// private port already). The name after \Device\Afd\ may be anything but
// may not be empty (mio#1444, docs/facts.md §13); any other path is
// STATUS_OBJECT_NAME_NOT_FOUND. The base provider is the AFD driver here,
// so the process must have started Winsock (WSANOTINITIALISED otherwise,
// a simulator's rule) and the provider is loaded if it was not. Close the
// handle with [Process.CloseHandle].
func (p *Process) NtCreateFile(path string) (spi.Handle, error) {
	const op = "NtCreateFile"
	c := p.traceCall(trace.LayerIFS, op, 0)
	if len(path) <= len(afdDevice) || !strings.EqualFold(path[:len(afdDevice)], afdDevice) {
		return c.endHandle(0, spi.NewOpError(op, 0, spi.STATUS_OBJECT_NAME_NOT_FOUND))
	}
	l, err := p.activeLoader(op, 0)
	if err != nil {
		return c.endHandle(0, err)
	}
	entry, ok := l.View().Entry(catalog.DefaultTCPIPv4)
	if !ok {
		return c.endHandle(0, spi.NewOpError(op, 0, spi.STATUS_OBJECT_NAME_NOT_FOUND))
	}
	if _, err := p.loadForSocket(l, entry); err != nil {
		return c.endHandle(0, spi.NewOpError(op, 0, err))
	}
	h, err := p.lb.OpenAFDHelper()
	return c.endHandle(h, spi.NewOpError(op, 0, err))
}
