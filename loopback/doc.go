// Package loopback is the built-in base transport provider of the
// simulator: in-memory TCP and UDP over the loopback addresses 127.0.0.0/8
// and ::1, with real overlapped behaviour. It is an IFS provider, as MSAFD
// is on Windows: every socket is a file object made with
// [spi.Imports.CreateFileObject] and registered with WPUModifyIFSHandle,
// ReadFile and WriteFile on its handle reach the provider's
// [spi.FileDriver] directly, and every overlapped operation completes
// through [spi.FileObject.Complete], the kernel's completion rule.
//
// The package sees the rest of the system only through package spi: the
// upcall table and imports handed to WSPStartup.
//
// # Wiring
//
// A machine owns one [Network]; each process that loads the provider gets
// its own [Provider] from [Network.NewProvider], whose WSPStartup method is
// the provider's [spi.WSPStartupFunc] in that process. The catalog entries
// it serves are those of catalog.DefaultEntries, installed by
// catalog.NewDefault under catalog.LoopbackPath: they describe MSAFD as a
// real machine lists it, so they advertise a few features (out-of-band
// data, broadcast, multipoint) this provider answers with WSAEOPNOTSUPP.
// The provider reads everything it needs (family, type, protocol, the
// datagram size limit) from the entry WSPStartup and WSPSocket receive:
//
//	net := loopback.NewNetwork()            // once per machine
//	prov := net.NewProvider()               // once per process
//	data, table, err := prov.WSPStartup(spi.WINSOCK_VERSION, &entry, upcalls, imports)
//
// WSPStartup is reference-counted per Provider; the last WSPCleanup closes
// the process's sockets. The package example does this wiring by hand,
// with the least kernel a base provider needs; a wsspi.Machine does it for
// each of its processes, with the catalog, handle tables and completion
// ports behind it.
//
// # Results and notifications
//
// Errors are bare [spi.Errno] values, as a provider reports them through
// lpErrno; the client API adds the context. Overlapped calls follow the
// WSPSend rules:
//   - an operation that finishes at once calls Complete(req, 0, n, flags,
//     true) before returning nil, so its notification is still delivered
//     unless the kernel applies FILE_SKIP_COMPLETION_PORT_ON_SUCCESS;
//   - an operation that must wait sets Internal to
//     WSS_OPERATION_IN_PROGRESS, returns WSA_IO_PENDING and later calls
//     Complete(req, status, n, flags, false);
//   - any other error means nothing started and nothing is notified.
//
// Before each Complete call the provider writes the result flags to Offset
// and the Winsock error to OffsetHigh (the provider convention of
// WSPGetOverlappedResult); the status passed to Complete is the same
// Winsock code, and the kernel writes it to Internal. The Complete calls
// of one socket are made one at a time, in the order the results were
// decided, never under a lock: sends complete in submission order.
// FileObject.Complete must not call back into the provider on the same
// socket synchronously.
//
// # Simulator decisions
//
// Where Windows documents nothing, or where the simulator simplifies, the
// provider behaves as follows.
//
// Addresses and ports:
//   - Sockets bind to 127.0.0.0/8, 0.0.0.0, ::1 or ::; any other address is
//     WSAEADDRNOTAVAIL, an address of the other family WSAEFAULT (the
//     sockaddr does not match the socket). Sockets are IPV6_V6ONLY:
//     IPv4-mapped addresses are not loopback.
//   - A destination (connect, sendto) of the wrong family is
//     WSAEAFNOSUPPORT; the unspecified address or port 0 is
//     WSAEADDRNOTAVAIL; any other non-loopback address is WSAENETUNREACH,
//     for the machine has no other network.
//   - Port 0 and implicit binds (connect, sendto) take the next free port
//     of 49152–65535, in turn, deterministically; with none left bind fails
//     with WSAENOBUFS. A port bound by another socket on an overlapping
//     address (the same one, or either a wildcard) is WSAEADDRINUSE unless
//     the binding socket set SO_REUSEADDR. Binding twice is WSAEINVAL.
//   - A socket bound to the wildcard sends from 127.0.0.1 or ::1, and
//     getsockname reports that address once it is connected.
//   - Ports are released when the socket is closed: there is no TIME_WAIT.
//   - The machine's local address list ([Network.AddAddress],
//     [Network.RemoveAddress], [Network.Addresses]) starts as 127.0.0.1
//     and ::1. SIO_ADDRESS_LIST_QUERY reports part of it and
//     SIO_ADDRESS_LIST_CHANGE watches all of it; nothing else reads it:
//     binding and connecting follow the rules above whatever it holds, so
//     an added address cannot be bound or reached, and a removed one keeps
//     working. As Windows does (docs/facts.md §11.3), the query leaves out
//     loopback and link-local addresses (127.0.0.0/8, ::1, 169.254.0.0/16,
//     fe80::/10), so a new machine lists no address, like a Windows
//     machine with no network; a test that wants addresses listed adds
//     others (192.0.2.7, 2001:db8::1). Every other address counts as
//     Preferred, the duplicate-address-detection state Windows lists.
//     Adding or removing any address, listed or not, completes the
//     SIO_ADDRESS_LIST_CHANGE operations of its family (docs/facts.md
//     §11.2 records no exception). Adding an address present is
//     ERROR_OBJECT_ALREADY_EXISTS, removing one absent ERROR_NOT_FOUND
//     (what CreateUnicastIpAddressEntry and DeleteUnicastIpAddressEntry
//     return), and an address that is not unicast, or has a zone,
//     ERROR_INVALID_PARAMETER.
//
// Streams (TCP):
//   - connect finds a listener on the exact address, else on the wildcard;
//     none, or a full backlog, is WSAECONNREFUSED. The connection is
//     established at once and waits in the backlog for accept. A
//     nonblocking connect returns WSAEWOULDBLOCK as Windows always does,
//     even though it has already succeeded (a second connect gives
//     WSAEISCONN); a refused one also returns WSAEWOULDBLOCK and leaves
//     WSAECONNREFUSED in SO_ERROR, which the next connect call returns and
//     WSPSelect reports as exceptional.
//   - listen clamps the backlog to 1–200 ([MaxBacklog]). accept inherits
//     the listener's options, nonblocking mode and overlapped flag. An
//     accept condition function answering CF_REJECT resets the client and
//     fails with WSAECONNREFUSED; CF_DEFER leaves the connection first in
//     the backlog and fails with WSATRY_AGAIN. Closing a listener resets
//     the connections of its backlog.
//   - Buffers: SO_SNDBUF and SO_RCVBUF start at 64 KiB
//     ([DefaultSendBuffer], [DefaultReceiveBuffer]). A send is accepted
//     whole while the bytes buffered toward the peer are fewer than the
//     sender's SO_SNDBUF plus the receiver's SO_RCVBUF (or there are none),
//     as AFD accepts a send while its buffer is not full; otherwise it
//     waits (WSA_IO_PENDING overlapped, blocks, or WSAEWOULDBLOCK
//     nonblocking). Sends never complete partially.
//   - A receive returns what is buffered, up to its buffers, as soon as
//     anything is; MSG_WAITALL waits for all (WSAEOPNOTSUPP on nonblocking
//     non-overlapped calls, with MSG_PEEK or MSG_PARTIAL, and on UDP);
//     MSG_PEEK is honoured on overlapped calls too (the docs limit it to
//     non-overlapped ones; libuv relies on it). A zero-length receive
//     completes, with 0 bytes and nothing consumed, once data or the FIN is
//     there, as on Windows. A zero-length send succeeds at once after the
//     sends queued before it.
//   - shutdown(SD_SEND): the peer reads everything sent, the queued sends
//     included, then 0 bytes; later sends fail with WSAESHUTDOWN.
//     shutdown(SD_RECEIVE): later receives fail with WSAESHUTDOWN, and, as
//     the shutdown docs say for TCP, unread data or data arriving later
//     resets the connection.
//   - closesocket is graceful (the peer reads the data, then 0 bytes)
//     unless SO_LINGER is {1, 0} or unread data is left, which reset the
//     connection: the peer loses its unread data and its pending and later
//     calls fail with WSAECONNRESET. A nonzero linger time does not block:
//     loopback data is handed over at once. Data sent to a peer that closed
//     (or shut down receiving) is accepted, dropped, and answered with a
//     reset. The side that resets a connection it keeps open (SD_RECEIVE
//     with unread data) gets WSAECONNABORTED. SO_ERROR reports the reset.
//   - Send and receive on an unconnected stream socket are WSAENOTCONN.
//   - No out-of-band data (MSG_OOB is WSAEOPNOTSUPP, SIOCATMARK is always
//     TRUE), no connect or disconnect data, no QOS (AcceptEx and ConnectEx:
//     see "Control").
//
// Datagrams (UDP):
//   - A datagram of up to [MaxDatagramSize] bytes (larger is WSAEMSGSIZE)
//     goes to the socket bound to its destination (exact address first,
//     then wildcard); a connected socket only takes datagrams from its
//     peer. Zero-length datagrams are delivered. A datagram that finds no
//     socket, or a receive queue already holding SO_RCVBUF bytes with no
//     receive pending, is dropped silently: there is no ICMP, so Windows'
//     WSAECONNRESET after an unreachable port (SIO_UDP_CONNRESET) is not
//     modelled. Sends never pend.
//   - A datagram larger than the receive buffers is truncated, the rest is
//     lost, and the receive reports WSAEMSGSIZE with the bytes that fit and
//     MSG_PARTIAL in the result flags. On Windows the underlying status
//     (STATUS_BUFFER_OVERFLOW) is a success-class warning, so an overlapped
//     receive that truncates at once returns WSAEMSGSIZE and still calls
//     Complete (with immediate set, so the skip-on-success mode applies as
//     it does to successes); one that pends completes with WSAEMSGSIZE.
//   - WSPRecvFrom writes the source address at completion, also for an
//     operation that pends. On a stream socket the address is ignored.
//   - connect sets the default peer; connect to the unspecified address
//     clears it. send without a peer is WSAENOTCONN, sendto without an
//     address WSAEDESTADDRREQ; receiving on an unbound socket is WSAEINVAL.
//     FIONREAD reports every queued byte, as the Windows docs say.
//
// Overlapped operations and their end:
//   - An overlapped call on a socket created without WSA_FLAG_OVERLAPPED
//     fails with WSAEINVAL (WSAEFAULT first for SIO_BSP_HANDLE_POLL with an
//     overlapped), except ReadFile and WriteFile: as on any handle opened
//     without FILE_FLAG_OVERLAPPED, they run synchronously, and a result
//     that is not an error is written to the status block and signals the
//     event before they return. A call with a completion routine but no
//     overlapped is not overlapped. The nonblocking mode does not affect
//     overlapped calls: they pend.
//   - When an overlapped operation starts, the provider resets its event
//     (hEvent, low bit masked, without a completion routine) through
//     WPUResetEvent, as the I/O manager does; a failing reset fails the
//     call with WSA_INVALID_HANDLE.
//   - WSPGetOverlappedResult reads Internal: WSS_OPERATION_IN_PROGRESS
//     means pending (WSA_IO_INCOMPLETE without wait; with wait it blocks,
//     whatever the notification style, until the operation is delivered,
//     and fails with WSAEINVAL if the socket has no such operation).
//     Otherwise it returns InternalHigh bytes, Offset flags and the error
//     in OffsetHigh (or in Internal when OffsetHigh is 0); bytes and flags
//     come back with an error too. A nil overlapped is WSAEFAULT.
//   - closesocket completes every pending overlapped operation once with
//     WSA_OPERATION_ABORTED, then closes the file object; blocked calls on
//     the socket return WSAEINTR. The last WSPCleanup cancels pending
//     operations with no Complete call (Internal and OffsetHigh get
//     WSA_OPERATION_ABORTED), resets every connection and closes every
//     socket.
//   - FileDriver.CancelIo cancels matching overlapped operations (threads
//     matched by ThreadHandle), each completing once with
//     ERROR_OPERATION_ABORTED; blocking calls are not cancelled.
//     ReadFile and WriteFile behave as WSPRecv and WSPSend with no flags
//     and report Winsock codes.
//
// Control:
//   - WSPIoctl serves FIONBIO, FIONREAD, SIOCATMARK, SIO_ADDRESS_LIST_QUERY
//     and SIO_ADDRESS_LIST_CHANGE (below), SIO_BASE_HANDLE (the
//     socket's own handle: this is the base provider) and SIO_BSP_HANDLE,
//     SIO_BSP_HANDLE_SELECT and SIO_BSP_HANDLE_POLL (the same handle), and
//     SIO_GET_EXTENSION_FUNCTION_POINTER for WSAID_ACCEPTEX and
//     WSAID_CONNECTEX (registered once per process with
//     RegisterExtension; another GUID is WSAEINVAL). A short buffer is
//     WSAEFAULT. A code with no valid direction bits is WSAEINVAL ("not a
//     valid command", as the WSAIoctl docs say); any other code is
//     WSAEOPNOTSUPP. A failure returns 0 bytes, but for
//     SIO_ADDRESS_LIST_QUERY (next item).
//   - SIO_ADDRESS_LIST_QUERY (docs/facts.md §11.3, §11.4) writes a
//     SOCKET_ADDRESS_LIST of the local addresses of the socket's family
//     that are neither loopback nor link-local (Windows leaves those out;
//     a new machine has no other, so its list is the 8-byte header with
//     iAddressCount 0), in the order they were added, in the x64 layout:
//     iAddressCount (int32) at 0, Address[] at 8, each SOCKET_ADDRESS 16
//     bytes (an 8-byte lpSockaddr, an int32 iSockaddrLength, 4 bytes of
//     padding), then the sockaddrs (sockaddr_in, 16 bytes, or
//     sockaddr_in6, 28 bytes, port 0, laid out as Windows does) right
//     after the array. Go has no pointer into the caller's buffer to give,
//     so lpSockaddr holds the sockaddr's offset in the output buffer
//     instead. A non-empty input buffer is WSAEINVAL; an output buffer of
//     1 to 7 bytes (shorter than the header) is WSAEINVAL with 0 bytes
//     returned; any other output buffer too small, an empty one included,
//     is WSAEFAULT and returns, beside the error, the size needed (Windows
//     writes it to lpcbBytesReturned); one of that size or more succeeds
//     and returns it. It completes at once.
//   - SIO_ADDRESS_LIST_CHANGE (docs/facts.md §11.2) has no output and
//     ignores its buffers. Overlapped, it returns WSA_IO_PENDING and
//     completes, with success and 0 bytes, at the first change of the
//     local address list of the socket's family after it was issued (of
//     any address, one SIO_ADDRESS_LIST_QUERY leaves out included);
//     not overlapped, it is WSAEWOULDBLOCK at once on a nonblocking socket
//     and otherwise blocks until that change (WSAEINTR when the socket
//     closes). closesocket completes a pending one with
//     WSA_OPERATION_ABORTED on every kind of socket, CancelIo with
//     ERROR_OPERATION_ABORTED. Every call arms FD_ADDRESS_LIST_CHANGE
//     (see "Network events").
//   - AcceptEx ([spi.AcceptExFunc]) needs an overlapped listening socket
//     and an accept socket of the same family that is neither bound nor
//     connected nor the target of another pending AcceptEx (WSAEINVAL
//     otherwise); its completion comes on the listener. It completes at
//     once when a connection waits in the backlog and buf is empty;
//     otherwise it pends until a connection arrives (pending AcceptEx
//     operations take connections before the backlog does, in order) and,
//     with buf not empty, until the first data or the peer's FIN. Closing
//     the listener, or the accept socket, aborts it once with
//     WSA_OPERATION_ABORTED; CancelIo on the listener cancels it.
//   - ConnectEx ([spi.ConnectExFunc]) needs a bound, unconnected stream
//     socket (WSAEINVAL; WSAEISCONN when connected). On loopback the
//     connection is made at once: the call succeeds, its completion
//     delivered before it returns, or fails at once with WSAECONNREFUSED,
//     notifying nothing (Windows would report the refusal through the
//     completion, after its SYN retries).
//   - SO_UPDATE_ACCEPT_CONTEXT and SO_UPDATE_CONNECT_CONTEXT are accepted
//     on a connected TCP socket (WSAENOTCONN otherwise) and change
//     nothing: the socket is fully usable as soon as the operation
//     completes.
//   - Options at SOL_SOCKET: SO_PROTOCOL_INFOW (the socket's catalog
//     entry, 628 bytes), SO_TYPE, SO_RCVBUF, SO_SNDBUF, SO_REUSEADDR,
//     SO_ERROR (read and cleared), and on TCP SO_LINGER, SO_DONTLINGER,
//     SO_ACCEPTCONN, on UDP SO_MAX_MSG_SIZE; at IPPROTO_TCP, TCP_NODELAY
//     (stored only). Values are 4-byte little-endian ints (struct linger
//     for SO_LINGER); a short buffer is WSAEFAULT; other options and
//     read-only ones set are WSAENOPROTOOPT; IPPROTO_IP, IPPROTO_IPV6 and
//     IPPROTO_UDP know no option (WSAENOPROTOOPT), other levels are
//     WSAEINVAL.
//   - WSPSelect is implemented (see the WSPSelect entry), and so are
//     WSPEventSelect, WSPEnumNetworkEvents and WSPAsyncSelect (see
//     "Network events"); WSPGetQOSByName and WSPJoinLeaf fail with
//     WSAEOPNOTSUPP. The socket's file driver serves IOCTL_AFD_POLL
//     (see "AFD poll").
//   - WSPDuplicateSocket duplicates the socket's handle into the target
//     process ([spi.Imports.DuplicateHandle]) and names the new handle in
//     the ProviderReserved of the socket's catalog entry; WSPSocket with
//     that info takes the handle up, once (WSAEINVAL after). A handle that
//     DuplicateHandle made is taken up by the first call that names it.
//     Every descriptor shares the socket; WSPCloseSocket of one that is not
//     the last closes only its handle ([spi.Imports.ReleaseFileHandle]) and
//     cancels nothing; the last closes the socket. CloseHandle on the last
//     handle ends the socket as a close does ([spi.FileDriver.Cleanup]),
//     leaving the provider's table entry to its WSPCleanup.
//   - WSPSocket takes the protocol from its info (or, with a nil info,
//     from the entries WSPStartup was called for); groups and multipoint
//     flags are WSAEINVAL.
//
// # Network events
//
// WSPEventSelect and WSPAsyncSelect select FD_* events on a socket, TCP or
// UDP, IPv4 or IPv6, following the WSAEventSelect and WSAAsyncSelect
// remarks (D-ES, D-AS; docs/facts.md §12.3, §12.4, §12.6):
//   - Each event is recorded once, with its error, and notified: the
//     selected event is set through WPUSetEvent (once per change that
//     records anything), or a message is posted through WPUPostMessage
//     (wParam the socket's handle, lParam WSAMAKESELECTREPLY(event,
//     error)), one per event. Notifications are made after the network
//     lock is released, after the completions the same change decided;
//     a scheduler does not delay them (they are not I/O completions).
//   - A recorded event is not recorded again until its re-enabling call:
//     any WSPRecv, WSPRecvFrom or ReadFile, whatever its result, for
//     FD_READ (and FD_OOB); a send that fails with WSAEWOULDBLOCK for
//     FD_WRITE, which is then recorded when buffer space returns; WSPAccept
//     or AcceptEx for FD_ACCEPT, except a WSPAccept whose condition
//     function answered CF_DEFER; SIO_ADDRESS_LIST_CHANGE (any call) for
//     FD_ADDRESS_LIST_CHANGE. FD_READ and FD_ACCEPT are level-triggered:
//     when the condition still holds after the re-enabling call, they are
//     recorded again at once. FD_CONNECT and FD_CLOSE happen once per
//     socket.
//   - FD_READ: data to receive (stream bytes, a datagram). FD_WRITE: the
//     socket can send (a connected TCP socket with buffer space; a UDP
//     socket always, bound or not, as AFD makes a datagram socket
//     writable from its creation, R:afd). FD_ACCEPT: a connection waits in
//     the backlog. FD_CONNECT: the outcome of WSPConnect or ConnectEx (0,
//     or WSAECONNREFUSED), also for a UDP socket's connect to a peer;
//     a ConnectEx that fails at once records nothing. FD_CLOSE: the peer
//     ended a TCP connection: a reset records it at once with
//     WSAECONNRESET (WSAECONNABORTED for a reset of the socket's own
//     doing, such as SD_RECEIVE with unread data); a graceful close
//     (FIN) records it with 0 only once the data before the FIN has been
//     read, as the WSAAsyncSelect remarks describe and ReactOS's AFD does
//     (docs/facts.md §12.6): a client that reads to WSAEWOULDBLOCK on
//     FD_READ then sees FD_CLOSE. The socket's own closesocket records
//     nothing; CloseHandle on it posts FD_CLOSE with no error to a
//     WSPAsyncSelect window (docs/facts.md §10.1). FD_OOB, FD_QOS,
//     FD_GROUP_QOS and FD_ROUTING_INTERFACE_CHANGE are never recorded:
//     loopback has no out-of-band data, no QOS and one route.
//     FD_ADDRESS_LIST_CHANGE is recorded at the first change of the local
//     address list of the socket's family after an SIO_ADDRESS_LIST_CHANGE
//     call armed it.
//   - At selection, the events whose condition holds are recorded at
//     once: FD_READ, FD_ACCEPT, FD_WRITE when the socket is writable,
//     FD_CONNECT when a connect's outcome is known and was not recorded,
//     FD_CLOSE when the connection has ended. FD_CONNECT is recorded
//     before FD_WRITE, FD_READ before FD_CLOSE. A connection accepted by
//     WSPAccept takes its listener's selection (D-AS) and so records
//     FD_WRITE at once; an AcceptEx socket keeps its own.
//   - A selection replaces the previous one, WSPEventSelect and
//     WSPAsyncSelect alike; 0 events cancels it. Events outside
//     FD_ALL_EVENTS, an event handle 0 or a window 0 with events, are
//     WSAEINVAL. A selection makes the socket non-blocking, and FIONBIO 0
//     fails with WSAEINVAL until it is cancelled (D-IOCTL). Events
//     recorded for WSPEventSelect and not enumerated survive a new
//     selection that still selects them: WSPEventSelect sets its new event
//     for them, WSPAsyncSelect posts a message for each (the docs say the
//     first; the second is the simulator's choice, so that no event is
//     lost); they are not reported a second time by the level rule.
//   - WSPEnumNetworkEvents resets its event argument first (when not 0,
//     through WPUResetEvent), then returns the recorded events with their
//     errors by FD_*_BIT and clears the record. A socket selected with
//     WSPAsyncSelect has no record.
//   - A closed socket fails all three with WSAENOTSOCK.
//
// # AFD poll
//
// A socket's file driver is an [spi.DeviceController] serving
// IOCTL_AFD_POLL, as AFD serves it on a socket handle (docs/facts.md
// §13, §13.5); any other control code is STATUS_NOT_SUPPORTED, what
// ReactOS's AFD returns for an unknown control code (R:afd, main.c).
//   - The input is an AFD_POLL_INFO in the x64 layout
//     ([spi.ParseAFDPollInfo]); a short input, NumberOfHandles 0 or more
//     than the buffer holds, or an output buffer shorter than the
//     AFD_POLL_INFO the input announces, is STATUS_INVALID_PARAMETER.
//     Every listed handle must be an open socket of this provider in the
//     process that made the handle the poll is issued on
//     (STATUS_INVALID_HANDLE otherwise, what wepoll takes for a closed
//     socket). Either way nothing starts.
//   - Events, evaluated at submission and at every change of a listed
//     socket: AFD_POLL_RECEIVE (stream bytes or a datagram to read),
//     AFD_POLL_SEND (a connected TCP socket with room; a UDP socket
//     always), AFD_POLL_DISCONNECT (the peer's FIN, once the data before
//     it is read, as FD_CLOSE: R:afd, read.c), AFD_POLL_ABORT (the
//     connection was reset), AFD_POLL_ACCEPT (a connection waits in the
//     backlog), AFD_POLL_CONNECT (connected and not reset, on every poll:
//     docs/facts.md §13.2), AFD_POLL_CONNECT_FAIL (a nonblocking
//     connect's failure waits in SO_ERROR), AFD_POLL_LOCAL_CLOSE (the
//     listed socket was closed while polled). AFD_POLL_RECEIVE_EXPEDITED
//     never holds. Only the requested events are reported.
//   - If any holds at submission, the poll completes at once with
//     STATUS_SUCCESS: DeviceIoControl returns nil and the byte count, and
//     the completion is still delivered ([spi.FileObject.CompleteStatus],
//     immediate). Otherwise it returns STATUS_PENDING and completes at the
//     first event with STATUS_SUCCESS. The output, written at completion
//     into the caller's buffer, keeps the input's Timeout and Exclusive,
//     lists the handles with events in input order (Events the events,
//     Status 0), and NumberOfHandles counts them; the byte count is
//     [spi.AFDPollInfoSize] of that count.
//   - Timeout is an NT timeout: negative is relative (100 ns units),
//     positive an absolute FILETIME, INT64_MAX (and any wait longer than
//     a time.Duration holds) for ever. At expiry the poll completes with
//     STATUS_TIMEOUT and NumberOfHandles 0. Timeout 0, or a deadline
//     passed, completes at once with STATUS_TIMEOUT (DeviceIoControl
//     returns nil, as for an immediate success; STATUS_TIMEOUT is a
//     success status). Timers are Go timers, so they follow the fake
//     clock of testing/synctest.
//   - An exclusive poll first cancels (STATUS_CANCELLED) the pending
//     exclusive polls that list any of its sockets, as ReactOS's AFD
//     does (R:afd, select.c); non-exclusive polls coexist.
//   - A poll is an operation of the socket it was issued on: it completes
//     through that socket's completion queue, in order with the socket's
//     other completions; CancelIo on that socket cancels it
//     (STATUS_CANCELLED, NumberOfHandles 0), once; closing a listed socket
//     completes the polls listing it that asked for AFD_POLL_LOCAL_CLOSE
//     (STATUS_SUCCESS, LOCAL_CLOSE on its entry) and cancels the others,
//     as ReactOS's AFD kills the polls of a closing socket; closing the
//     socket it was issued on cancels it; the last WSPCleanup cancels it
//     without notification (STATUS_CANCELLED in Internal). A poll that
//     ends with no handle reports 16 bytes, the header. A poll that has
//     ended holds no reference to any socket.
//
// # Scheduling and faults
//
// With [Options.Scheduler] set, the provider hands its work to the
// scheduler instead of doing it inline: every delivery of a socket's queued
// completions (keyed by the socket, so they keep their order), the
// completion of an overlapped call that finishes at once when the
// scheduler turns it into WSA_IO_PENDING or earlier completions of the
// socket are still queued (otherwise it is delivered before the call
// returns, as the I/O manager does), and the end of a close (the aborted operations'
// completions and the closing of the file object), which may then come
// after closesocket returns. Results are decided as before; only their
// delivery moves. With [Options.Faults] set, the provider asks it at each
// WSPStartup and at the start of each stream transfer (see [Faults]).
//
// # Concurrency
//
// Every exported type is safe for concurrent use. One lock per [Network]
// guards all socket state; no call blocks while holding it: blocking
// calls wait on a condition variable, and Complete calls run outside it.
// Nothing in the package starts a goroutine.
package loopback
