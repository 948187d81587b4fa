package wsspi_test

import (
	"testing"
	"testing/synctest"

	"github.com/wsspi/wsspi/spi"
)

// End-to-end tests of ReadFile and WriteFile on loopback socket handles,
// which are IFS handles: the requests go straight to the base provider.

func TestReadFileAndWriteFileWithoutAnOverlappedMoveBytes(t *testing.T) {
	k := newConn(t, spi.AF_INET, 0)
	if n, err := k.cth.WriteFile(k.c, []byte("hello"), nil); n != 5 || err != nil {
		t.Fatalf("WriteFile = %d, %v", n, err)
	}
	must(k.cth.WSASend(k.c, [][]byte{[]byte(", world")}, 0, nil, nil))(t)
	buf := make([]byte, 3)
	var got []byte
	for len(got) < 12 {
		n := must(k.sth.ReadFile(k.s, buf, nil))(t)
		if n == 0 || n > 3 {
			t.Fatalf("ReadFile into 3 bytes = %d", n)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "hello, world" {
		t.Errorf("ReadFile read %q", got)
	}
}

func TestReadFileWithoutAnOverlappedBlocksUntilDataArrives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newConn(t, spi.AF_INET, 0)
		reader := k.server.NewThread()
		done := blocks(t, "ReadFile", func() string {
			buf := make([]byte, 8)
			n, err := reader.ReadFile(k.s, buf, nil)
			if err != nil {
				return err.Error()
			}
			return string(buf[:n])
		})
		must(k.cth.WriteFile(k.c, []byte("late"), nil))(t)
		if got := <-done; got != "late" {
			t.Errorf("ReadFile = %q, want \"late\"", got)
		}
	})
}

func TestReadFileAtTheEndOfTheStreamReturnsZero(t *testing.T) {
	k := newConn(t, spi.AF_INET, 0)
	check(t, k.cth.Shutdown(k.c, spi.SD_SEND))
	if n, err := k.sth.ReadFile(k.s, make([]byte, 8), nil); n != 0 || err != nil {
		t.Errorf("ReadFile after the peer's shutdown = %d, %v; want 0, nil", n, err)
	}
}

func TestReadFileOnAResetConnectionFailsWithERROR_NETNAME_DELETED(t *testing.T) {
	k := newConn(t, spi.AF_INET, 0)
	setLinger(t, k.cth, k.c, 1, 0)
	check(t, k.cth.Closesocket(k.c))
	_, err := k.sth.ReadFile(k.s, make([]byte, 8), nil)
	wantErr(t, "ReadFile", opErr("ReadFile", k.s, spi.ERROR_NETNAME_DELETED), err)
	_, err = k.sth.WriteFile(k.s, []byte("x"), nil)
	wantErr(t, "WriteFile", opErr("WriteFile", k.s, spi.ERROR_NETNAME_DELETED), err)
}

func TestReadFileOfATruncatedDatagramFailsWithERROR_MORE_DATA(t *testing.T) {
	w, c, s, saddr := udpPair(t, spi.AF_INET)
	must(w.cth.WSASendTo(c, [][]byte{[]byte("0123456789")}, 0, saddr, nil, nil))(t)
	buf := make([]byte, 4)
	n, err := w.sth.ReadFile(s, buf, nil)
	wantErr(t, "ReadFile", opErr("ReadFile", s, spi.ERROR_MORE_DATA), err)
	if string(buf[:n]) != "0123" {
		t.Errorf("ReadFile read %q, want the 4 bytes that fit", buf[:n])
	}
}

func TestOverlappedReadFileAndWriteFileNotify(t *testing.T) {
	for _, st := range styles[:2] { // ReadFile takes no completion routine
		t.Run(st.name, func(t *testing.T) {
			k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
			n := st.new(t, k.cth, k.c)

			readOv, _ := n.prepare()
			buf := make([]byte, 16)
			_, err := k.cth.ReadFile(k.c, buf, readOv)
			wantErr(t, "ReadFile", opErr("ReadFile", k.c, spi.WSA_IO_PENDING), err)
			if !readOv.InProgress() {
				t.Error("pending ReadFile: Internal not WSS_OPERATION_IN_PROGRESS")
			}
			n.none(t)
			must(k.sth.WSASend(k.s, [][]byte{[]byte("request")}, 0, nil, nil))(t)
			diffResults(t, []result{{readOv, 7, 0}}, []result{n.next(t)})
			if string(buf[:7]) != "request" {
				t.Errorf("ReadFile buffer = %q", buf)
			}

			writeOv, _ := n.prepare()
			if got := must(k.cth.WriteFile(k.c, []byte("reply"), writeOv))(t); got != 5 {
				t.Errorf("immediate WriteFile = %d bytes, want 5", got)
			}
			diffResults(t, []result{{writeOv, 5, 0}}, []result{n.next(t)})
			if got := recvAll(t, k.sth, k.s, 5); string(got) != "reply" {
				t.Errorf("peer received %q", got)
			}

			// An immediate read notifies too, and a read at the end gives 0.
			must(k.sth.WSASend(k.s, [][]byte{[]byte("x")}, 0, nil, nil))(t)
			check(t, k.sth.Shutdown(k.s, spi.SD_SEND))
			ov1, _ := n.prepare()
			must(k.cth.ReadFile(k.c, buf, ov1))(t)
			ov2, _ := n.prepare()
			must(k.cth.ReadFile(k.c, buf, ov2))(t)
			diffResults(t, []result{{ov1, 1, 0}, {ov2, 0, 0}}, []result{n.next(t), n.next(t)})
			n.none(t)
		})
	}
}

func TestWriteFilePendsWhenBuffersAreFull(t *testing.T) {
	k := newConn(t, spi.AF_INET, spi.WSA_FLAG_OVERLAPPED)
	n := newPortNotifier(t, k.cth, k.c)
	setInt(t, k.cth, k.c, spi.SO_SNDBUF, 1)
	setInt(t, k.sth, k.s, spi.SO_RCVBUF, 1)
	first, _ := n.prepare()
	must(k.cth.WriteFile(k.c, pattern(0, 4), first))(t)
	second, _ := n.prepare()
	_, err := k.cth.WriteFile(k.c, pattern(4, 4), second)
	wantErr(t, "WriteFile into full buffers", opErr("WriteFile", k.c, spi.WSA_IO_PENDING), err)
	diffResults(t, []result{{first, 4, 0}}, []result{n.next(t)})
	n.none(t)
	if got := recvAll(t, k.sth, k.s, 8); string(got) != string(pattern(0, 8)) {
		t.Errorf("peer received %v", got)
	}
	diffResults(t, []result{{second, 4, 0}}, []result{n.next(t)})
}

func TestReadFileAndWriteFileWithAnOverlappedOnANonOverlappedSocketCompleteSynchronously(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newConn(t, spi.AF_INET, 0)
		ev := must(k.client.WSACreateEvent())(t)
		check(t, k.client.WSASetEvent(ev))
		// On a handle opened without FILE_FLAG_OVERLAPPED, ReadFile with an
		// OVERLAPPED waits for its result, fills the status block and
		// signals the event.
		read := spi.Overlapped{HEvent: ev}
		buf := make([]byte, 8)
		done := blocks(t, "ReadFile", func() result {
			n, err := k.cth.ReadFile(k.c, buf, &read)
			return result{&read, n, spi.ErrnoOf(err)}
		})
		must(k.sth.WSASend(k.s, [][]byte{[]byte("sync")}, 0, nil, nil))(t)
		diffResults(t, []result{{&read, 4, 0}}, []result{<-done})
		if string(buf[:4]) != "sync" || read.LoadInternal() != 0 || read.LoadInternalHigh() != 4 {
			t.Errorf("buffer %q, status block %+v", buf, read)
		}
		if r, err := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != spi.WSA_WAIT_EVENT_0 || err != nil {
			t.Errorf("event after ReadFile: %#x, %v", r, err)
		}

		write := spi.Overlapped{HEvent: ev}
		check(t, k.client.WSAResetEvent(ev))
		if n, err := k.cth.WriteFile(k.c, []byte("back"), &write); n != 4 || err != nil {
			t.Errorf("WriteFile = %d, %v", n, err)
		}
		if write.LoadInternal() != 0 || write.LoadInternalHigh() != 4 {
			t.Errorf("WriteFile status block %+v", write)
		}
		if r, _ := k.cth.WSAWaitForMultipleEvents([]spi.Handle{ev}, false, 0, false); r != spi.WSA_WAIT_EVENT_0 {
			t.Errorf("event after WriteFile: %#x", r)
		}
		if got := recvAll(t, k.sth, k.s, 4); string(got) != "back" {
			t.Errorf("peer received %q", got)
		}
	})
}
