package wild_test

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
	"github.com/wsspi/wsspi/wild"
)

// setOpenType sets the thread's SO_OPENTYPE, as Perl does before it makes
// its sockets.
func (c *client) setOpenType(t *testing.T, v uint32) {
	t.Helper()
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	check(t, c.th.Setsockopt(spi.INVALID_SOCKET, spi.SOL_SOCKET, spi.SO_OPENTYPE, b[:]))
}

// perlSocket makes a socket as Perl's socket() does, through the catalog's
// first TCP/IPv4 entry or, with info, the entry it names (the fix of
// Perl/perl5#6860), and connects it to a server socket on the base entry,
// which it returns too.
func (c *client) perlSocket(t *testing.T, info *spi.WSAProtocolInfo) (s, server spi.Socket) {
	t.Helper()
	l := must(c.srv.ListenTCP(netip.MustParseAddrPort("127.0.0.1:0"), wsspi.ListenOptions{Entry: catalog.DefaultTCPIPv4}))(t)
	defer l.Close()
	if info == nil {
		s = must(c.th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	} else {
		s = must(c.th.WSASocket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP, info, 0, 0))(t)
	}
	check(t, c.th.Connect(s, l.Addr))
	server, _ = must2(l.Accept())(t)
	return s, server
}

// printLine is Perl's print on a socket: a WriteFile without an
// OVERLAPPED, bounded so that a hang is a failure with a name.
func (c *client) printLine(s spi.Socket) error {
	return wild.Within(long, "WriteFile", func() error {
		_, err := c.th.WriteFile(s, []byte("hello\n"), nil)
		return err
	})
}

func TestSyncHangWriteFileHangsUnderSOSynchronousNonalert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := wsspi.NewMachine()
		_, ids := must2(wild.InstallSyncHang(m, catalog.DefaultTCPIPv4))(t)
		c := newClient(t, m)
		c.setOpenType(t, spi.SO_SYNCHRONOUS_NONALERT)
		s, server := c.perlSocket(t, nil)
		if info := c.protocolInfo(t, s); info.CatalogEntryId != ids.Chains[0] {
			t.Fatalf("socket() chose entry %d, want the layer's chain %d", info.CatalogEntryId, ids.Chains[0])
		}
		// A plain send works: the socket is not overlapped, and so is the
		// layer's answer.
		must(c.th.WSASend(s, [][]byte{[]byte("send\n")}, 0, nil, nil))(t)

		err := c.printLine(s)
		var hang *wild.HangError
		if !errors.As(err, &hang) {
			t.Fatalf("WriteFile returned %v; want it to hang", err)
		}
		t.Logf("as in Perl/perl5#6860: %v", hang)
		// The bytes went out: only the completion of the request never came.
		buf := make([]byte, 11)
		n := must(c.srv.WSARecv(server, [][]byte{buf}, nil, nil, nil))(t)
		for n < 11 {
			n += must(c.srv.WSARecv(server, [][]byte{buf[n:]}, nil, nil, nil))(t)
		}
		if string(buf) != "send\nhello\n" {
			t.Errorf("the server read %q", buf)
		}
		// The process's cleanup closes the layer's handle, which ends the
		// request.
		check(t, c.p.WSACleanup())
		if err := <-hang.Result; !errors.Is(err, spi.ERROR_OPERATION_ABORTED) {
			t.Errorf("WriteFile, once the handle closed: %v, want ERROR_OPERATION_ABORTED", err)
		}
	})
}

func TestSyncHangWriteFileWorksOnAnOverlappedSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := wsspi.NewMachine()
		must2(wild.InstallSyncHang(m, catalog.DefaultTCPIPv4))(t)
		c := newClient(t, m)
		s, _ := c.perlSocket(t, nil)
		if err := c.printLine(s); err != nil {
			t.Errorf("WriteFile without SO_OPENTYPE: %v", err)
		}
	})
}

func TestSyncHangIsCuredByAnIFSEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := wsspi.NewMachine()
		must2(wild.InstallSyncHang(m, catalog.DefaultTCPIPv4))(t)
		c := newClient(t, m)
		c.setOpenType(t, spi.SO_SYNCHRONOUS_NONALERT)
		base := baseEntry(t, c, catalog.DefaultTCPIPv4)
		s, _ := c.perlSocket(t, &base)
		if err := c.printLine(s); err != nil {
			t.Errorf("WriteFile on the IFS base entry's socket: %v", err)
		}
	})
}

func TestKitRefusesWriteFileUnderSOSynchronousNonalert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := wsspi.NewMachine()
		must2(wild.InstallKit(m, catalog.DefaultTCPIPv4))(t)
		c := newClient(t, m)
		c.setOpenType(t, spi.SO_SYNCHRONOUS_NONALERT)
		s, _ := c.perlSocket(t, nil)
		// The kit refuses an overlapped call on a socket made without
		// WSA_FLAG_OVERLAPPED with WSAEINVAL, which the file call reports as
		// ERROR_INVALID_PARAMETER: a failure, at least, not a hang.
		if err := c.printLine(s); !errors.Is(err, spi.ERROR_INVALID_PARAMETER) {
			t.Errorf("WriteFile through the kit: %v; want ERROR_INVALID_PARAMETER at once", err)
		}
	})
}

func TestSOOpenTypeIsTheThreadsAndMakesSocketNonOverlapped(t *testing.T) {
	c := newClient(t, wsspi.NewMachine())
	other := c.p.NewThread()
	c.setOpenType(t, spi.SO_SYNCHRONOUS_ALERT)
	var b [4]byte
	if n, err := c.th.Getsockopt(spi.INVALID_SOCKET, spi.SOL_SOCKET, spi.SO_OPENTYPE, b[:]); err != nil || n != 4 || binary.LittleEndian.Uint32(b[:]) != spi.SO_SYNCHRONOUS_ALERT {
		t.Errorf("getsockopt(SO_OPENTYPE) = %d, %v, %x; want 4 bytes of SO_SYNCHRONOUS_ALERT", n, err, b)
	}
	if _, err := other.Getsockopt(spi.INVALID_SOCKET, spi.SOL_SOCKET, spi.SO_OPENTYPE, b[:]); err != nil || binary.LittleEndian.Uint32(b[:]) != 0 {
		t.Errorf("another thread's SO_OPENTYPE: %x, %v; want 0", b, err)
	}
	plain := must(c.th.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	var ov spi.Overlapped
	if _, err := c.th.WSARecv(plain, [][]byte{make([]byte, 1)}, nil, &ov, nil); !errors.Is(err, spi.WSAEINVAL) {
		t.Errorf("overlapped WSARecv on socket() under SO_SYNCHRONOUS_ALERT: %v, want WSAEINVAL (not overlapped)", err)
	}
	overlapped := must(other.Socket(spi.AF_INET, spi.SOCK_STREAM, spi.IPPROTO_TCP))(t)
	if _, err := c.p.CreateIoCompletionPort(overlapped, 0, 1, 0); err != nil {
		t.Errorf("the other thread's socket() is not overlapped: %v", err)
	}
	if err := c.th.Setsockopt(spi.INVALID_SOCKET, spi.SOL_SOCKET, spi.SO_OPENTYPE, b[:2]); !errors.Is(err, spi.WSAEFAULT) {
		t.Errorf("a 2-byte SO_OPENTYPE: %v, want WSAEFAULT", err)
	}
}
