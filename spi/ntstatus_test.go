package spi_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wsspi/wsspi/spi"
)

// statusRow is one named status: its value as ntstatus.h and
// golang.org/x/sys/windows give it, and what each call family reports for it.
type statusRow struct {
	status  spi.NTStatus
	name    string
	value   uint32
	win32   spi.Errno // GetQueuedCompletionStatus, GetOverlappedResult (W-ERR)
	winsock spi.Errno // WSAGetOverlappedResult (W-WS)
}

var statusRows = []statusRow{
	{spi.STATUS_SUCCESS, "STATUS_SUCCESS", 0x00000000, 0, 0},
	{spi.STATUS_USER_APC, "STATUS_USER_APC", 0x000000C0, spi.ERROR_MR_MID_NOT_FOUND, spi.ERROR_MR_MID_NOT_FOUND},
	{spi.STATUS_TIMEOUT, "STATUS_TIMEOUT", 0x00000102, spi.ERROR_TIMEOUT, spi.ERROR_TIMEOUT},
	{spi.STATUS_PENDING, "STATUS_PENDING", 0x00000103, spi.ERROR_IO_PENDING, spi.WSA_IO_PENDING},
	{spi.STATUS_BUFFER_OVERFLOW, "STATUS_BUFFER_OVERFLOW", 0x80000005, spi.ERROR_MORE_DATA, spi.WSAEMSGSIZE},
	{spi.STATUS_UNSUCCESSFUL, "STATUS_UNSUCCESSFUL", 0xC0000001, spi.ERROR_GEN_FAILURE, spi.WSAEINVAL},
	{spi.STATUS_NOT_IMPLEMENTED, "STATUS_NOT_IMPLEMENTED", 0xC0000002, spi.ERROR_INVALID_FUNCTION, spi.WSAEOPNOTSUPP},
	{spi.STATUS_INVALID_HANDLE, "STATUS_INVALID_HANDLE", 0xC0000008, spi.ERROR_INVALID_HANDLE, spi.WSAENOTSOCK},
	{spi.STATUS_INVALID_PARAMETER, "STATUS_INVALID_PARAMETER", 0xC000000D, spi.ERROR_INVALID_PARAMETER, spi.WSAEINVAL},
	{spi.STATUS_INVALID_DEVICE_REQUEST, "STATUS_INVALID_DEVICE_REQUEST", 0xC0000010, spi.ERROR_INVALID_FUNCTION, spi.WSAEINVAL},
	{spi.STATUS_NO_MEMORY, "STATUS_NO_MEMORY", 0xC0000017, spi.ERROR_NOT_ENOUGH_MEMORY, spi.WSAENOBUFS},
	{spi.STATUS_ACCESS_DENIED, "STATUS_ACCESS_DENIED", 0xC0000022, spi.ERROR_ACCESS_DENIED, spi.WSAEACCES},
	{spi.STATUS_BUFFER_TOO_SMALL, "STATUS_BUFFER_TOO_SMALL", 0xC0000023, spi.ERROR_INSUFFICIENT_BUFFER, spi.WSAEFAULT},
	{spi.STATUS_OBJECT_TYPE_MISMATCH, "STATUS_OBJECT_TYPE_MISMATCH", 0xC0000024, spi.ERROR_INVALID_HANDLE, spi.WSAENOTSOCK},
	{spi.STATUS_INSUFFICIENT_RESOURCES, "STATUS_INSUFFICIENT_RESOURCES", 0xC000009A, spi.ERROR_NO_SYSTEM_RESOURCES, spi.WSAENOBUFS},
	{spi.STATUS_DEVICE_NOT_READY, "STATUS_DEVICE_NOT_READY", 0xC00000A3, spi.ERROR_NOT_READY, spi.WSAEWOULDBLOCK},
	{spi.STATUS_PIPE_DISCONNECTED, "STATUS_PIPE_DISCONNECTED", 0xC00000B0, spi.ERROR_PIPE_NOT_CONNECTED, spi.WSAESHUTDOWN},
	{spi.STATUS_IO_TIMEOUT, "STATUS_IO_TIMEOUT", 0xC00000B5, spi.ERROR_SEM_TIMEOUT, spi.WSAETIMEDOUT},
	{spi.STATUS_NOT_SUPPORTED, "STATUS_NOT_SUPPORTED", 0xC00000BB, spi.ERROR_NOT_SUPPORTED, spi.WSAEOPNOTSUPP},
	{spi.STATUS_REMOTE_NOT_LISTENING, "STATUS_REMOTE_NOT_LISTENING", 0xC00000BC, spi.ERROR_REM_NOT_LIST, spi.WSAECONNREFUSED},
	{spi.STATUS_NETWORK_NAME_DELETED, "STATUS_NETWORK_NAME_DELETED", 0xC00000C9, spi.ERROR_NETNAME_DELETED, spi.WSAEINVAL},
	{spi.STATUS_REQUEST_NOT_ACCEPTED, "STATUS_REQUEST_NOT_ACCEPTED", 0xC00000D0, spi.ERROR_REQ_NOT_ACCEP, spi.WSAEWOULDBLOCK},
	{spi.STATUS_CANCELLED, "STATUS_CANCELLED", 0xC0000120, spi.ERROR_OPERATION_ABORTED, spi.WSA_OPERATION_ABORTED},
	{spi.STATUS_LOCAL_DISCONNECT, "STATUS_LOCAL_DISCONNECT", 0xC000013B, spi.ERROR_NETNAME_DELETED, spi.WSAECONNABORTED},
	{spi.STATUS_REMOTE_DISCONNECT, "STATUS_REMOTE_DISCONNECT", 0xC000013C, spi.ERROR_NETNAME_DELETED, spi.WSAECONNRESET},
	{spi.STATUS_INVALID_CONNECTION, "STATUS_INVALID_CONNECTION", 0xC0000140, spi.ERROR_UNEXP_NET_ERR, spi.WSAENOTCONN},
	{spi.STATUS_INVALID_ADDRESS, "STATUS_INVALID_ADDRESS", 0xC0000141, spi.ERROR_UNEXP_NET_ERR, spi.WSAEADDRNOTAVAIL},
	{spi.STATUS_INVALID_ADDRESS_COMPONENT, "STATUS_INVALID_ADDRESS_COMPONENT", 0xC0000207, spi.ERROR_INVALID_NETNAME, spi.WSAEADDRNOTAVAIL},
	{spi.STATUS_TOO_MANY_ADDRESSES, "STATUS_TOO_MANY_ADDRESSES", 0xC0000209, spi.ERROR_TOO_MANY_NAMES, spi.WSAENOBUFS},
	{spi.STATUS_ADDRESS_ALREADY_EXISTS, "STATUS_ADDRESS_ALREADY_EXISTS", 0xC000020A, spi.ERROR_DUP_NAME, spi.WSAEADDRINUSE},
	{spi.STATUS_CONNECTION_DISCONNECTED, "STATUS_CONNECTION_DISCONNECTED", 0xC000020C, spi.ERROR_NETNAME_DELETED, spi.WSAECONNRESET},
	{spi.STATUS_CONNECTION_RESET, "STATUS_CONNECTION_RESET", 0xC000020D, spi.ERROR_NETNAME_DELETED, spi.WSAECONNRESET},
	{spi.STATUS_NOT_FOUND, "STATUS_NOT_FOUND", 0xC0000225, spi.ERROR_NOT_FOUND, spi.WSAEINVAL},
	{spi.STATUS_CONNECTION_REFUSED, "STATUS_CONNECTION_REFUSED", 0xC0000236, spi.ERROR_CONNECTION_REFUSED, spi.WSAECONNREFUSED},
	{spi.STATUS_GRACEFUL_DISCONNECT, "STATUS_GRACEFUL_DISCONNECT", 0xC0000237, spi.ERROR_GRACEFUL_DISCONNECT, spi.WSAEDISCON},
	{spi.STATUS_CONNECTION_ACTIVE, "STATUS_CONNECTION_ACTIVE", 0xC000023B, spi.ERROR_CONNECTION_ACTIVE, spi.WSAEISCONN},
	{spi.STATUS_NETWORK_UNREACHABLE, "STATUS_NETWORK_UNREACHABLE", 0xC000023C, spi.ERROR_NETWORK_UNREACHABLE, spi.WSAENETUNREACH},
	{spi.STATUS_HOST_UNREACHABLE, "STATUS_HOST_UNREACHABLE", 0xC000023D, spi.ERROR_HOST_UNREACHABLE, spi.WSAEHOSTUNREACH},
	{spi.STATUS_PROTOCOL_UNREACHABLE, "STATUS_PROTOCOL_UNREACHABLE", 0xC000023E, spi.ERROR_PROTOCOL_UNREACHABLE, spi.WSAENETUNREACH},
	{spi.STATUS_PORT_UNREACHABLE, "STATUS_PORT_UNREACHABLE", 0xC000023F, spi.ERROR_PORT_UNREACHABLE, spi.WSAECONNRESET},
	{spi.STATUS_REQUEST_ABORTED, "STATUS_REQUEST_ABORTED", 0xC0000240, spi.ERROR_REQUEST_ABORTED, spi.WSAEINTR},
	{spi.STATUS_CONNECTION_ABORTED, "STATUS_CONNECTION_ABORTED", 0xC0000241, spi.ERROR_CONNECTION_ABORTED, spi.WSAECONNABORTED},
	{spi.STATUS_HOST_DOWN, "STATUS_HOST_DOWN", 0xC0000350, spi.ERROR_HOST_DOWN, spi.WSAEHOSTDOWN},
}

type statusFaces struct {
	Value          uint32
	String         string
	Win32, Winsock spi.Errno
}

func TestEveryNamedStatusHasItsValueNameAndBothMappings(t *testing.T) {
	for _, r := range statusRows {
		want := statusFaces{r.value, fmt.Sprintf("%s (0x%08X)", r.name, r.value), r.win32, r.winsock}
		got := statusFaces{uint32(r.status), r.status.String(), spi.RtlNtStatusToDosError(r.status), spi.NtStatusToWinsockError(r.status)}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", r.name, diff)
		}
	}
}

// TestWindowsCompletionPairs checks the Internal/GetLastError pairs Wine's
// ws2_32 tests see on Windows (docs/facts.md §9.3, §9.4), and the Winsock face of
// the same packets.
func TestWindowsCompletionPairs(t *testing.T) {
	tests := []struct {
		name           string
		status         spi.NTStatus
		win32, winsock spi.Errno
	}{
		{"AcceptEx pending when the listener closes", spi.STATUS_CANCELLED, 995, 995},
		{"WSARecv pending at closesocket", spi.STATUS_CONNECTION_ABORTED, 1236, spi.WSAECONNABORTED},
		{"WSARecv pending at closesocket on XP", spi.STATUS_LOCAL_DISCONNECT, 64, spi.WSAECONNABORTED},
		{"peer reset while WSARecv is pending", spi.STATUS_CONNECTION_RESET, 64, spi.WSAECONNRESET},
		{"datagram larger than the buffer", spi.STATUS_BUFFER_OVERFLOW, 234, spi.WSAEMSGSIZE},
		{"accept socket closed after AcceptEx on win2000", spi.STATUS_PIPE_DISCONNECTED, 233, spi.WSAESHUTDOWN},
	}
	for _, tt := range tests {
		got := [2]spi.Errno{spi.RtlNtStatusToDosError(tt.status), spi.NtStatusToWinsockError(tt.status)}
		if diff := cmp.Diff([2]spi.Errno{tt.win32, tt.winsock}, got); diff != "" {
			t.Errorf("%s: %v [Win32, Winsock] (-want +got):\n%s", tt.name, tt.status, diff)
		}
	}
}

func TestWinsockErrorGivesTheStatusThatMapsBackToIt(t *testing.T) {
	tests := []struct {
		errno spi.Errno
		want  spi.NTStatus
	}{
		{0, spi.STATUS_SUCCESS},
		{spi.WSA_IO_PENDING, spi.STATUS_PENDING},
		{spi.WSA_OPERATION_ABORTED, spi.STATUS_CANCELLED},
		{spi.ERROR_OPERATION_ABORTED, spi.STATUS_CANCELLED},
		{spi.WSAEMSGSIZE, spi.STATUS_BUFFER_OVERFLOW},
		{spi.WSAEINTR, spi.STATUS_REQUEST_ABORTED},
		{spi.WSAEACCES, spi.STATUS_ACCESS_DENIED},
		{spi.WSAEINVAL, spi.STATUS_INVALID_PARAMETER},
		{spi.WSAEWOULDBLOCK, spi.STATUS_DEVICE_NOT_READY},
		{spi.WSAENOTSOCK, spi.STATUS_INVALID_HANDLE},
		{spi.WSAEOPNOTSUPP, spi.STATUS_NOT_SUPPORTED},
		{spi.WSAEADDRINUSE, spi.STATUS_ADDRESS_ALREADY_EXISTS},
		{spi.WSAEADDRNOTAVAIL, spi.STATUS_INVALID_ADDRESS},
		{spi.WSAENETUNREACH, spi.STATUS_NETWORK_UNREACHABLE},
		{spi.WSAECONNABORTED, spi.STATUS_CONNECTION_ABORTED},
		{spi.WSAECONNRESET, spi.STATUS_CONNECTION_RESET},
		{spi.WSAENOBUFS, spi.STATUS_INSUFFICIENT_RESOURCES},
		{spi.WSAEISCONN, spi.STATUS_CONNECTION_ACTIVE},
		{spi.WSAENOTCONN, spi.STATUS_INVALID_CONNECTION},
		{spi.WSAESHUTDOWN, spi.STATUS_PIPE_DISCONNECTED},
		{spi.WSAETIMEDOUT, spi.STATUS_IO_TIMEOUT},
		{spi.WSAECONNREFUSED, spi.STATUS_CONNECTION_REFUSED},
		{spi.WSAEHOSTDOWN, spi.STATUS_HOST_DOWN},
		{spi.WSAEHOSTUNREACH, spi.STATUS_HOST_UNREACHABLE},
		{spi.WSAEDISCON, spi.STATUS_GRACEFUL_DISCONNECT},
		// No status of their own: the NTWIN32 form.
		{spi.WSAEFAULT, 0xC007271E},
		{spi.WSAENETDOWN, 0xC0072742},
		{spi.ERROR_IO_INCOMPLETE, 0xC00703E4},
		{spi.ERROR_NETNAME_DELETED, 0xC0070040},
		// Not a Win32 or Winsock code.
		{0x10000, spi.STATUS_UNSUCCESSFUL},
		{0xFFFFFFFF, spi.STATUS_UNSUCCESSFUL},
	}
	for _, tt := range tests {
		got := spi.WinsockErrorToNtStatus(tt.errno)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("WinsockErrorToNtStatus(%d) (-want +got):\n%s", uint32(tt.errno), diff)
		}
	}
}

// TestGQCSFaceOfAProviderReportedError: a provider's Winsock code, stored as a
// status, shows the Win32 code Windows would show for that failure.
func TestGQCSFaceOfAProviderReportedError(t *testing.T) {
	tests := []struct {
		errno spi.Errno
		win32 spi.Errno
	}{
		{spi.WSAECONNRESET, spi.ERROR_NETNAME_DELETED},
		{spi.WSAECONNABORTED, spi.ERROR_CONNECTION_ABORTED},
		{spi.WSA_OPERATION_ABORTED, spi.ERROR_OPERATION_ABORTED},
		{spi.WSAEMSGSIZE, spi.ERROR_MORE_DATA},
		{spi.WSAECONNREFUSED, spi.ERROR_CONNECTION_REFUSED},
		{spi.WSAETIMEDOUT, spi.ERROR_SEM_TIMEOUT},
		{spi.WSAEFAULT, spi.WSAEFAULT}, // no status of its own: unwrapped as is
	}
	for _, tt := range tests {
		got := spi.RtlNtStatusToDosError(spi.WinsockErrorToNtStatus(tt.errno))
		if diff := cmp.Diff(tt.win32, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tt.errno, diff)
		}
	}
}

func TestRtlNtStatusToDosErrorGeneralRules(t *testing.T) {
	tests := []struct {
		name   string
		status spi.NTStatus
		want   spi.Errno
	}{
		{"zero passes through", 0, 0},
		{"customer bit passes through", 0x20000000, 0x20000000},
		{"customer error passes through", 0xE0001234, 0xE0001234},
		{"customer bit wins over a table row", 0x2000020D, 0x2000020D},
		{"0xD is read as 0xC", 0xD000020D, spi.ERROR_NETNAME_DELETED},
		{"0xD is read as 0xC, NTWIN32 form", 0xD0072746, spi.WSAECONNRESET},
		{"facility 1 error gives the low word", 0xC0010057, 0x57},
		{"NTWIN32 warning gives the low word", 0x800703E4, spi.ERROR_IO_INCOMPLETE},
		{"NTWIN32 error gives the low word", 0xC0072746, spi.WSAECONNRESET},
		{"NTWIN32 error of zero gives zero", 0xC0070000, 0},
		{"unknown error", 0xC0009999, spi.ERROR_MR_MID_NOT_FOUND},
		{"unknown informational", 0x40001234, spi.ERROR_MR_MID_NOT_FOUND},
		{"unknown warning", 0x80001234, spi.ERROR_MR_MID_NOT_FOUND},
		{"NTWIN32 informational is not unwrapped", 0x40070040, spi.ERROR_MR_MID_NOT_FOUND},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, spi.RtlNtStatusToDosError(tt.status)); diff != "" {
			t.Errorf("%s: RtlNtStatusToDosError(%#x) (-want +got):\n%s", tt.name, uint32(tt.status), diff)
		}
	}
}

func TestNtStatusToWinsockErrorGeneralRules(t *testing.T) {
	tests := []struct {
		name   string
		status spi.NTStatus
		want   spi.Errno
	}{
		{"success", 0, 0},
		{"unknown informational takes the Win32 mapping", 0x40001234, spi.ERROR_MR_MID_NOT_FOUND},
		{"timeout takes the Win32 mapping", spi.STATUS_TIMEOUT, spi.ERROR_TIMEOUT},
		{"unknown error", 0xC0009999, spi.WSAEINVAL},
		{"unknown warning", 0x80001234, spi.WSAEINVAL},
		{"customer error", 0xE0001234, spi.WSAEINVAL},
		{"0xD form is not read as 0xC", 0xD000020D, spi.WSAEINVAL},
		{"NTWIN32 error gives the low word", 0xC0072746, spi.WSAECONNRESET},
		{"NTWIN32 warning gives the low word", 0x800703E4, spi.ERROR_IO_INCOMPLETE},
		{"Wine's facility-1 IO_INCOMPLETE row", 0xC00103E4, spi.ERROR_IO_INCOMPLETE},
		{"other facility-1 errors are unknown", 0xC0010057, spi.WSAEINVAL},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, spi.NtStatusToWinsockError(tt.status)); diff != "" {
			t.Errorf("%s: NtStatusToWinsockError(%#x) (-want +got):\n%s", tt.name, uint32(tt.status), diff)
		}
	}
}

func TestEveryWinsockAndWin32CodeSurvivesTheStatusRoundTrip(t *testing.T) {
	for e := spi.Errno(0); e <= 0xFFFF; e++ {
		s := spi.WinsockErrorToNtStatus(e)
		if got := spi.NtStatusToWinsockError(s); got != e {
			t.Fatalf("NtStatusToWinsockError(WinsockErrorToNtStatus(%d)) = %d via %v", uint32(e), uint32(got), s)
		}
		if e != 0 && e != spi.WSA_IO_PENDING && s.IsSuccess() {
			t.Fatalf("WinsockErrorToNtStatus(%d) = %v, a success status for a failure", uint32(e), s)
		}
		if s>>16 == 0xC007 {
			if got := spi.RtlNtStatusToDosError(s); got != e {
				t.Fatalf("RtlNtStatusToDosError(%v) = %d, want the wrapped %d", s, uint32(got), uint32(e))
			}
		}
	}
}

func TestStatusSeverity(t *testing.T) {
	type severity struct{ Success, Error bool }
	tests := []struct {
		status spi.NTStatus
		want   severity
	}{
		{spi.STATUS_SUCCESS, severity{Success: true}},
		{spi.STATUS_PENDING, severity{Success: true}},
		{spi.STATUS_TIMEOUT, severity{Success: true}},
		{0x40000000, severity{Success: true}},
		{spi.STATUS_BUFFER_OVERFLOW, severity{}},
		{spi.STATUS_CANCELLED, severity{Error: true}},
		{0xE0000001, severity{Error: true}},
	}
	for _, tt := range tests {
		got := severity{tt.status.IsSuccess(), tt.status.IsError()}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%v (-want +got):\n%s", tt.status, diff)
		}
	}
}

func TestStatusText(t *testing.T) {
	tests := []struct {
		status spi.NTStatus
		want   string
	}{
		{spi.STATUS_CONNECTION_RESET, "STATUS_CONNECTION_RESET (0xC000020D)"},
		{spi.STATUS_SUCCESS, "STATUS_SUCCESS (0x00000000)"},
		{0xC0009999, "NTSTATUS 0xC0009999"},
		{0xC0072746, "NTSTATUS 0xC0072746 (Win32 code 10054)"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, tt.status.String()); diff != "" {
			t.Errorf("String (-want +got):\n%s", diff)
		}
		var err error = tt.status
		if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
			t.Errorf("Error (-want +got):\n%s", diff)
		}
	}
	var err error = spi.NewOpError("WSARecv", 0, spi.STATUS_CANCELLED)
	var s spi.NTStatus
	if !errors.As(err, &s) || s != spi.STATUS_CANCELLED {
		t.Errorf("errors.As(%v) = %v, want STATUS_CANCELLED", err, s)
	}
}

// TestMappedWin32CodesHaveText checks that every code the mappings produce
// has its own description instead of the numeric fallback.
func TestMappedWin32CodesHaveText(t *testing.T) {
	for _, r := range statusRows {
		for _, e := range []spi.Errno{r.win32, r.winsock} {
			if strings.HasPrefix(e.Error(), "winsock error ") {
				t.Errorf("%s maps to %d, which has no text: %q", r.name, uint32(e), e.Error())
			}
		}
	}
}

// FuzzNtStatusMapping: no status or code panics a mapping, the severity
// tests agree with each other, the NTWIN32 form unwraps in both mappings, and
// every 16-bit code survives the trip through a status.
func FuzzNtStatusMapping(f *testing.F) {
	for _, r := range statusRows {
		f.Add(uint32(r.status), uint32(r.winsock))
	}
	f.Add(uint32(0xC0072746), uint32(0x10000))
	f.Add(uint32(0xD000020D), uint32(0xFFFF))
	f.Add(uint32(0x20000000), uint32(0xFFFFFFFF))
	f.Fuzz(func(t *testing.T, status, code uint32) {
		s := spi.NTStatus(status)
		_ = s.String()
		if s.Error() != s.String() {
			t.Fatalf("Error %q != String %q", s.Error(), s.String())
		}
		if s.IsSuccess() && s.IsError() {
			t.Fatalf("%v is both a success and an error", s)
		}
		win32 := spi.RtlNtStatusToDosError(s)
		winsock := spi.NtStatusToWinsockError(s)
		if hi := status >> 16; hi == 0xC007 || hi == 0x8007 {
			if win32 != spi.Errno(status&0xFFFF) || winsock != spi.Errno(status&0xFFFF) {
				t.Fatalf("%v: Win32 %d, Winsock %d, want both the low word", s, uint32(win32), uint32(winsock))
			}
		}
		if s.IsError() && status&0x20000000 == 0 && status>>16 != 0xC001 && status>>16 != 0xC007 && status>>16 != 0xD001 && status>>16 != 0xD007 && win32 == 0 {
			t.Fatalf("error %v maps to Win32 success", s)
		}
		if !s.IsSuccess() && winsock == 0 && status>>16 != 0xC007 && status>>16 != 0x8007 {
			t.Fatalf("failure %v maps to Winsock success", s)
		}

		e := spi.Errno(code)
		back := spi.WinsockErrorToNtStatus(e)
		if code > 0xFFFF {
			if back != spi.STATUS_UNSUCCESSFUL {
				t.Fatalf("WinsockErrorToNtStatus(%#x) = %v, want STATUS_UNSUCCESSFUL", code, back)
			}
			return
		}
		if got := spi.NtStatusToWinsockError(back); got != e {
			t.Fatalf("NtStatusToWinsockError(WinsockErrorToNtStatus(%d)) = %d via %v", code, uint32(got), back)
		}
	})
}
