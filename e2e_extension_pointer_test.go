package wsspi_test

import (
	"encoding/binary"
	"testing"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/layered"
	"github.com/wsspi/wsspi/spi"
)

// installMixUpLSP installs over the IPv4 TCP entry an IFS layer that passes
// everything down but answers SIO_GET_EXTENSION_FUNCTION_POINTER wrongly:
// for AcceptEx with the base provider's ConnectEx, for ConnectEx with a
// pointer no provider registered.
func installMixUpLSP(tb TB, m *wsspi.Machine) {
	tb.Helper()
	const path = `C:\test\mixup.dll`
	ids := must(m.Catalog().InstallLSP(catalog.LSP{
		ProviderId: spi.MustParseGUID("{3A1B0C5E-0000-4000-8000-00000000A1C5}"),
		Path:       path, Name: "mix-up LSP", IFS: true, Over: []spi.CatalogEntryId{catalog.DefaultTCPIPv4},
	}))(tb)
	m.RegisterProvider(path, func(_ uint16, info *spi.WSAProtocolInfo, up spi.WSPUpcallTable, imports spi.Imports) (spi.WSPData, spi.WSPProcTable, error) {
		owner, err := layered.HandleOwner(info, ids.Layered)
		if err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		next, err := imports.LoadNext(info, ids.Layered)
		if err != nil {
			return spi.WSPData{}, spi.WSPProcTable{}, err
		}
		lower, t := next.ProcTable, next.ProcTable
		t.WSPSocket = func(af, typ, protocol int32, _ *spi.WSAProtocolInfo, g spi.Group, flags uint32) (spi.Socket, error) {
			base := next.Info
			s, err := lower.WSPSocket(af, typ, protocol, &base, g, flags)
			if err != nil {
				return spi.INVALID_SOCKET, err
			}
			return up.WPUModifyIFSHandle(owner, s)
		}
		t.WSPIoctl = func(s spi.Socket, code uint32, in, out []byte, ov *spi.Overlapped, cr spi.CompletionRoutine, th *spi.ThreadID) (uint32, error) {
			if g, ok := spi.GUIDFromBytes(in); ok && code == spi.SIO_GET_EXTENSION_FUNCTION_POINTER && len(out) >= spi.ExtensionPointerSize {
				switch g {
				case spi.WSAID_ACCEPTEX:
					connectEx := spi.WSAID_CONNECTEX.Bytes()
					return lower.WSPIoctl(s, code, connectEx[:], out, ov, cr, th)
				case spi.WSAID_CONNECTEX:
					binary.LittleEndian.PutUint64(out, 0x1234)
					return spi.ExtensionPointerSize, nil
				}
			}
			return lower.WSPIoctl(s, code, in, out, ov, cr, th)
		}
		return spi.WSPData{Version: spi.WINSOCK_VERSION, HighVersion: spi.WINSOCK_VERSION, Description: "mix-up LSP"}, t, nil
	})
}

func TestAnExtensionPointerOfTheWrongFunctionFailsWithWSAEINVAL(t *testing.T) {
	m := wsspi.NewMachine()
	installMixUpLSP(t, m)
	p := m.NewProcess()
	t.Cleanup(func() { p.Close() })
	th := p.NewThread()
	l := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	a := must(th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	var ov spi.Overlapped
	_, err := th.AcceptEx(l, a, nil, &ov)
	wantErr(t, "AcceptEx answered with ConnectEx", opErr("AcceptEx", l, spi.WSAEINVAL), err)
}

func TestAnExtensionPointerNoProviderRegisteredFailsWithWSAEFAULT(t *testing.T) {
	m := wsspi.NewMachine()
	installMixUpLSP(t, m)
	p := m.NewProcess()
	t.Cleanup(func() { p.Close() })
	th := p.NewThread()
	s := boundSocket(t, th, spi.AF_INET)
	var ov spi.Overlapped
	_, err := th.ConnectEx(s, loopbackAddr(spi.AF_INET, 9000), nil, &ov)
	wantErr(t, "ConnectEx answered with 0x1234", opErr("ConnectEx", s, spi.WSAEFAULT), err)
}
