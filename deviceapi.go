package wsspi

import (
	"errors"

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
