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

// errStrayPacket is what a client that trusted the mode meets: a packet
// for a send it already handled inline.
var errStrayPacket = errors.New("a packet came for a send that succeeded at once with FILE_SKIP_COMPLETION_PORT_ON_SUCCESS set: the client handles it twice (KB 2568167)")

// errNoPacket is what a client that did not set the mode meets if the
// packet of a send that succeeded at once never comes.
var errNoPacket = errors.New("no packet came for a send that succeeded at once, without FILE_SKIP_COMPLETION_PORT_ON_SUCCESS")

// stray is how long the client waits for a packet that should not come.
const stray = 50 * time.Millisecond

// outcome is what the client did with one socket.
type outcome struct {
	family   string
	shortcut bool  // the mode was set
	err      error // what went wrong, nil if nothing
}

// exchange runs the client of policy pol on m: for TCP over IPv4 and over
// IPv6, a socket the catalog chooses, connected to a server on the base
// entry, the policy's decision, and one overlapped send that succeeds at
// once, handled as the mode promises. It returns the outcome per family,
// or an error if the machine itself failed.
func exchange(m *wsspi.Machine, pol policy) ([]outcome, error) {
	client, server := m.NewProcess(), m.NewProcess()
	defer server.Close()
	defer client.Close()
	th, sth := client.NewThread(), server.NewThread()
	tcp, err := client.WSAEnumProtocols([]int32{spi.IPPROTO_TCP})
	if err != nil {
		return nil, err
	}
	var outs []outcome
	for _, fam := range []struct {
		name string
		af   int32
		base spi.CatalogEntryId
	}{{"TCP/IPv4", spi.AF_INET, catalog.DefaultTCPIPv4}, {"TCP/IPv6", spi.AF_INET6, catalog.DefaultTCPIPv6}} {
		pair, err := th.SocketPair(wsspi.PairOptions{Server: sth, Family: fam.af, ServerEntry: fam.base, CompletionPort: true, ClientKey: 7})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fam.name, err)
		}
		skip, err := pol.skip(th, pair.Client, tcp)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fam.name, err)
		}
		outs = append(outs, outcome{family: fam.name, shortcut: skip, err: sendOnce(th, client, pair, skip)})
	}
	return outs, nil
}

// sendOnce sets the modes the policy chose on the pair's client socket,
// sends once and waits as the modes say it must: for the packet without
// the shortcut, for a stray packet (which must not come) with it.
func sendOnce(th *wsspi.Thread, p *wsspi.Process, pair *wsspi.Pair, skip bool) error {
	modes := uint8(spi.FILE_SKIP_SET_EVENT_ON_HANDLE) // always safe (golang/go#77448)
	if skip {
		modes |= spi.FILE_SKIP_COMPLETION_PORT_ON_SUCCESS
	}
	if err := p.SetFileCompletionNotificationModes(pair.Client, modes); err != nil {
		return err
	}
	var ov spi.Overlapped
	if _, err := th.WSASend(pair.Client, [][]byte{[]byte("hello")}, 0, &ov, nil); err != nil {
		return fmt.Errorf("WSASend: %w (want an immediate success)", err)
	}
	wait := stray
	if !skip {
		wait = 5 * time.Second
	}
	e, err := th.GetQueuedCompletionStatus(pair.Port, wait)
	switch {
	case errors.Is(err, spi.WAIT_TIMEOUT) && skip:
		return nil
	case errors.Is(err, spi.WAIT_TIMEOUT):
		return errNoPacket
	case err != nil:
		return err
	case e.Overlapped != &ov:
		return fmt.Errorf("the port gave a packet of another operation: %+v", e)
	case skip:
		return errStrayPacket
	}
	return nil
}
