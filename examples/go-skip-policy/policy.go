package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/catalog"
	"github.com/wsspi/wsspi/spi"
)

// A policy decides, for a socket a client has just made, whether to set
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS on it.
type policy struct {
	name string
	// skip reports whether to set the mode on s. tcp is what
	// WSAEnumProtocols(IPPROTO_TCP) listed when the process started.
	skip func(th *wsspi.Thread, s spi.Socket, tcp []spi.WSAProtocolInfo) (bool, error)
}

var policies = []policy{
	{"always", func(*wsspi.Thread, spi.Socket, []spi.WSAProtocolInfo) (bool, error) { return true, nil }},
	{"process-wide", processWide},
	{"per-socket", perSocket},
}

// processWide is Go's check today (internal/poll, checkSetFileCompletionNotificationModes):
// the mode is set on every socket if every IPPROTO_TCP entry of the
// catalog has XP1_IFS_HANDLES, and on none otherwise.
func processWide(_ *wsspi.Thread, _ spi.Socket, tcp []spi.WSAProtocolInfo) (bool, error) {
	for _, p := range tcp {
		if !p.IFS() {
			return false, nil
		}
	}
	return true, nil
}

// perSocket is the decision golang/go#77448 proposes: ask the socket's own
// provider, through getsockopt(SO_PROTOCOL_INFOW), whether its handles are
// IFS handles.
func perSocket(th *wsspi.Thread, s spi.Socket, _ []spi.WSAProtocolInfo) (bool, error) {
	buf := make([]byte, spi.WSAProtocolInfoSize)
	if _, err := th.Getsockopt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf); err != nil {
		return false, fmt.Errorf("getsockopt(SO_PROTOCOL_INFOW): %w", err)
	}
	var info spi.WSAProtocolInfo
	if err := info.UnmarshalBinary(buf); err != nil {
		return false, err
	}
	return info.IFS(), nil
}

// A reason is a way the client goes wrong on one socket: short names it
// in a cell of the -matrix table, long says what happened.
type reason struct{ short, long string }

func (r *reason) Error() string { return r.long }

var (
	// errStrayPacket is what a client that trusted the mode meets: a
	// packet for a send it already handled inline.
	errStrayPacket = &reason{"stray packet", "a packet came for a send that succeeded at once with FILE_SKIP_COMPLETION_PORT_ON_SUCCESS set: the client handles it twice (KB 2568167)"}
	// errNoPacket is what a client meets if the packet of a send it waits
	// for never comes: a send left pending, or one that succeeded at once
	// without the mode.
	errNoPacket = &reason{"lost packet", "no packet came for a send whose packet the client waits for: its completion is lost"}
	// errDoubled is a second packet for one send.
	errDoubled = &reason{"doubled packet", "two packets came for one send: the client handles it twice"}
)

// waits are how long the client waits for a packet.
type waits struct {
	packet time.Duration // one that must come
	stray  time.Duration // one that must not: a stray or a second packet
}

// demoWaits are the default run's: no scheduler delays a packet there, so
// the only long wait is for one that is lost.
var demoWaits = waits{packet: 5 * time.Second, stray: 50 * time.Millisecond}

// outcome is what the client did with one socket.
type outcome struct {
	family   family
	shortcut bool  // the mode was set
	err      error // what went wrong, nil if nothing
}

// A family is a kind of TCP socket the client makes.
type family struct {
	name string // "TCP/IPv4"
	tag  string // "tcp4", as clienttest's layouts name it
	af   int32
	base spi.CatalogEntryId // where the server listens, below every layer
}

var families = []family{
	{"TCP/IPv4", "tcp4", spi.AF_INET, catalog.DefaultTCPIPv4},
	{"TCP/IPv6", "tcp6", spi.AF_INET6, catalog.DefaultTCPIPv6},
}

// exchange runs the client of policy pol on m: for TCP over IPv4 and over
// IPv6, a socket the catalog chooses, connected to a server on the base
// entry, the policy's decision, and one overlapped send, handled as the
// mode promises. It returns the outcome per family, or an error if the
// machine itself failed.
func exchange(m *wsspi.Machine, pol policy, w waits) ([]outcome, error) {
	client, server := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()
	th, sth := client.NewThread(), server.NewThread()
	tcp, err := client.WSAEnumProtocols([]int32{spi.IPPROTO_TCP})
	if err != nil {
		return nil, err
	}
	var outs []outcome
	for _, fam := range families {
		pair, err := th.SocketPair(wsspi.PairOptions{Server: sth, Family: fam.af, ServerEntry: fam.base, CompletionPort: true, ClientKey: 7})
		if err != nil {
			return nil, &familyError{fam, err}
		}
		skip, err := pol.skip(th, pair.Client, tcp)
		if err != nil {
			return nil, &familyError{fam, err}
		}
		outs = append(outs, outcome{family: fam, shortcut: skip, err: sendOnce(th, client, pair, skip, w)})
	}
	return outs, nil
}

// familyError is a failure of the machine on the sockets of one family,
// before the client could send.
type familyError struct {
	family family
	err    error
}

func (e *familyError) Error() string { return e.family.name + ": " + e.err.Error() }
func (e *familyError) Unwrap() error { return e.err }

// tries bounds the sends of sendOnce. A send may pend although the layer
// below succeeded at once: the seeded scheduler pends some, and a kit over
// another non-IFS layer pends one whenever its worker forwards the
// completion before the issuing call can (package layered). A client sends
// often, so it meets an immediate success soon enough; so does sendOnce.
const tries = 10

// sendOnce sets the modes the policy chose on the pair's client socket
// and sends until a send succeeds at once, waiting as the modes say it
// must: for the packet of a send left pending or made without the
// shortcut; then for a stray or second packet, which must not come.
func sendOnce(th *wsspi.Thread, p *wsspi.Process, pair *wsspi.Pair, skip bool, w waits) error {
	modes := uint8(spi.FILE_SKIP_SET_EVENT_ON_HANDLE) // always safe (golang/go#77448)
	if skip {
		modes |= spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
	}
	if err := p.SetFileCompletionNotificationModes(pair.Client, modes); err != nil {
		return err
	}
	// Each send has an overlapped of its own, so that a late packet names
	// the send it is for.
	ovs := make([]spi.Overlapped, tries)
	last, inline := 0, false
	for i := range ovs {
		_, err := th.WSASend(pair.Client, [][]byte{[]byte("hello")}, 0, &ovs[i], nil)
		// A pending send posts its packet whatever the modes, as on Windows.
		pending := errors.Is(err, spi.WSA_IO_PENDING)
		if err != nil && !pending {
			return fmt.Errorf("WSASend: %w", err)
		}
		last, inline = i, skip && !pending
		if !inline {
			switch ov, err := next(th, pair.Port, w.packet); {
			case err != nil:
				return err
			case ov == nil:
				return errNoPacket
			case ov != &ovs[i]:
				return errDoubled
			}
		}
		if !pending {
			break
		}
	}
	switch ov, err := next(th, pair.Port, w.stray); {
	case err != nil:
		return err
	case ov == nil:
		return nil
	case ov == &ovs[last] && inline:
		return errStrayPacket
	}
	return errDoubled
}

// next waits up to d for a packet on port and returns its overlapped, or
// nil if none came.
func next(th *wsspi.Thread, port spi.Handle, d time.Duration) (*spi.Overlapped, error) {
	e, err := th.GetQueuedCompletionStatus(port, d)
	if errors.Is(err, spi.WAIT_TIMEOUT) {
		return nil, nil
	}
	return e.Overlapped, err
}
