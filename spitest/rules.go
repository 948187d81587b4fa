package spitest

// Rule is a rule the kit checks: a short name, where it comes from, and
// the rule as its source states it. Every [Finding] names the rule it
// breaks.
//
// A Winsock rule comes from the project's fact sheet, docs/facts.md: its
// Source lists the sheet's source keys (rows of its Source keys table) and
// its Facts the numbered sections that state it, and its Quote is the
// sheet's words (with … where words are left out, and [brackets] around
// words added). The kit's own rules, which Windows does not state but a
// conformance run needs (a factory that works, a provider that does not
// panic, a layer that declares how it changes data), have the Source
// "spitest" and are stated in this package's documentation, in the words
// of their Quote; a rule with both kinds of source lists both.
type Rule struct {
	// Name names the rule, as in "CompletesOnce".
	Name string
	// Source lists the source keys of the fact sheet, as in "D:wspsend,
	// D:protoinfo", and "spitest" for the kit's own rules.
	Source string
	// Facts names the sections of the fact sheet that state the rule, as
	// in "docs/facts.md §2.5, §3.2"; empty for a rule of the kit alone.
	Facts string
	// Quote is the rule as its sources state it.
	Quote string
}

// The rules the cases check.
var (
	ruleCompletesOnce = Rule{Name: "CompletesOnce", Source: "D:wspsend", Facts: "docs/facts.md §2.5",
		Quote: "SOCKET_ERROR + WSA_IO_PENDING (997) = started; completion comes later and *lpNumberOfBytes… is not updated. … Each outstanding operation needs its own OVERLAPPED, valid for the operation's whole life."}
	ruleMechanism = Rule{Name: "Mechanism", Source: "D:wspsend, D:wpucomplete, D:wpuapc", Facts: "docs/facts.md §2.5, §1.5, §1.6",
		Quote: "lpCompletionRoutine == NULL → the provider signals lpOverlapped->hEvent if it is a valid event. lpCompletionRoutine != NULL → hEvent is ignored … [WPUCompleteOverlappedRequest] signals the hEvent in the WSAOVERLAPPED and/or queues a completion status to the port, if one is associated. … The APC runs only when the target thread is in an alertable wait."}
	rulePortKey = Rule{Name: "PortKey", Source: "D:cicp", Facts: "docs/facts.md §5.1",
		Quote: "The key is per handle and comes back in every packet."}
	ruleResult = Rule{Name: "Result", Source: "D:wspgor, D:wpucomplete", Facts: "docs/facts.md §1.5, §2.4",
		Quote: "it first sets InternalHigh = byte count, then sets Internal. … WSPGetOverlappedResult … returns InternalHigh → bytes, OffsetHigh → error, Offset → flags. It returns TRUE only when OffsetHigh == 0."}
	ruleImmediate = Rule{Name: "Immediate", Source: "D:wspsend", Facts: "docs/facts.md §2.5",
		Quote: "0 = completed at once. *lpNumberOfBytes… is updated, and the completion routine, if any, has already been queued: a notification still happens. … Any other error = nothing was started and no completion will be reported."}
	ruleCloseAborts = Rule{Name: "CloseAborts", Source: "D:wspclose", Facts: "docs/facts.md §2.5",
		Quote: "Pending overlapped operations are cancelled, but their completion action is still performed (event, completion routine or completion port) with status WSA_OPERATION_ABORTED."}
	ruleHandleClose = Rule{Name: "HandleClose", Source: "D:wpuclose, S:overlap CheckForContextCleanup", Facts: "docs/facts.md §1.2",
		Quote: "Returns 0, or SOCKET_ERROR with WSAENOTSOCK if s was not made by WPUCreateSocketHandle. … It removes the socket from ws2_32's internal table. … the non-IFS LSP defers WPUCloseSocketHandle until all outstanding overlapped operations on the socket have finished … and closes the handle from the last completion."}
	ruleCleanup = Rule{Name: "Cleanup", Source: "D:wspcleanup, D:wpuopenthr", Facts: "docs/facts.md §2.3, §1.10",
		Quote: "Open sockets are reset and freed as if WSPCloseSocket had been called. … WSPCleanup must not return until the DLL can be unloaded. … Every open [of WPUOpenCurrentThread] needs a matching close."}
	ruleContext = Rule{Name: "Context", Source: "D:wpuquery, W:desc", Facts: "docs/facts.md §1.1",
		Quote: "ws2_32 records dwContext against the handle. The provider gets it back with WPUQuerySocketHandleContext."}
	ruleIFSFlag = Rule{Name: "IFSFlag", Source: "D:wpucreate, D:protoinfo", Facts: "docs/facts.md §1.1, §3.2",
		Quote: "A provider that uses this function [WPUCreateSocketHandle] must not set XP1_IFS_HANDLES. … XP1_IFS_HANDLES (0x00020000): the descriptors are real OS IFS handles."}
	ruleReadFile = Rule{Name: "ReadFileWriteFile", Source: "D:wpucreate, W:handles", Facts: "docs/facts.md §1.1, §6.1",
		Quote: "ws2_32 redirects ReadFile/WriteFile on them to the owning provider's WSPRecv/WSPSend. … Non-IFS handles also work, but through extra provider and file-system interaction."}
	ruleBaseHandle = Rule{Name: "BaseHandle", Source: "W:ioctls", Facts: "docs/facts.md §6.3",
		Quote: "SIO_BASE_HANDLE (0x48000022): the base service provider's socket. An LSP must never intercept it: the answer must come from the base provider."}
	ruleStream = Rule{Name: "StreamOrder", Source: "D:wspsend, D:protoinfo", Facts: "docs/facts.md §2.5, §3.2",
		Quote: "Routines may run in any order, but sends go out in submission order. … [TCP entries carry] XP1_GUARANTEED_DELIVERY and XP1_GUARANTEED_ORDER."}
	ruleStreamData = Rule{Name: "StreamData", Source: "D:protoinfo, spitest", Facts: "docs/facts.md §3.2",
		Quote: "A stream entry such as TCP carries XP1_GUARANTEED_DELIVERY and XP1_GUARANTEED_ORDER. … [The kit:] The bytes one end of a connection receives are the bytes the other end sent, through the Transform the target declares: a layer that changes the data it carries declares how."}
	ruleSocketFails = Rule{Name: "SocketFails", Source: "D:wpucreate, D:wspsocket", Facts: "docs/facts.md §1.1, §2.5",
		Quote: "On failure it returns INVALID_SOCKET, and the only documented error is WSAENOBUFS. … [WSPSocket] returns a descriptor, or INVALID_SOCKET with one of: WSAENETDOWN, …, WSAENOBUFS, …"}
	ruleStartupFails = Rule{Name: "StartupFails", Source: "W:errors, D:wspstartup", Facts: "docs/facts.md §2.3",
		Quote: "Load or startup failure in general surfaces as WSAEPROVIDERFAILEDINIT (10106). … [WSPCleanup] must leave things so WSPStartup can be called again at once."}
	ruleNetworkEventOnce = Rule{Name: "NetworkEventOnce", Source: "D-ES, D-AS", Facts: "docs/facts.md §12.3, §12.6",
		Quote: "Once an event has been recorded and signalled, it is not recorded again until one of these calls is made … FD_READ, FD_OOB and FD_ACCEPT are level-triggered: if the condition still holds after the re-enabling call, the event is recorded and signalled again … FD_READ: at the WSAAsyncSelect call if data is available; when data arrives, if FD_READ is not already recorded … FD_WRITE: at the call if a send is possible"}
	ruleCloseEventOnce = Rule{Name: "CloseEventOnce", Source: "D-ES, D-AS, W-T", Facts: "docs/facts.md §12.3, §12.4, §12.6",
		Quote: "[FD_CLOSE is] recorded once, when the connection closes … after the remote side's graceful close, when no data is left to receive … when the remote side resets the connection, with WSAECONNRESET. FD_CLOSE is not posted after closesocket … closesocket on the socket posts no message"}
	ruleAsyncSelectHandle = Rule{Name: "AsyncSelectHandle", Source: "S:asyncselect, W-T", Facts: "docs/facts.md §12.5, §12.4",
		Quote: "every LSP that returns handles from WPUCreateSocketHandle must intercept WSAAsyncSelect this way, since wParam is the socket the event occurred on and would otherwise name the lower provider's socket … calls WPUPostMessage(the context's hWnd, its message, the LSP's socket, lParam) with lParam unchanged … The message's lParam: the low word is the event (WSAGETSELECTEVENT), the high word the error (WSAGETSELECTERROR)"}
	ruleSelectNonBlocking = Rule{Name: "SelectNonBlocking", Source: "D-IOCTL", Facts: "docs/facts.md §12.3",
		Quote: "WSAAsyncSelect and WSAEventSelect put the socket in non-blocking mode. Setting it back to blocking fails with WSAEINVAL until the application cancels the selection with WSAAsyncSelect(lEvent = 0) or WSAEventSelect(lNetworkEvents = 0)"}
	ruleSelectReady = Rule{Name: "SelectReady", Source: "D-SEL, D-IOCTL", Facts: "docs/facts.md §12.1",
		Quote: "on return each set keeps only the sockets in the state it asks about, and select returns how many handles remain in the three sets together … when queued data can be received without blocking; or, for a connection-oriented socket, when the peer has closed the connection: after a graceful close, once all data is read, a receive returns zero bytes at once, and after a reset it fails at once with WSAECONNRESET. A socket stays in writefds when a nonblocking connect has succeeded or when data can be sent … [SIO_BSP_HANDLE_SELECT] returns the base provider's socket that select() will use; an LSP handles it in order to see select()"}
	rulePollReady = Rule{Name: "PollReady", Source: "D-POLL, D-IOCTL", Facts: "docs/facts.md §12.2",
		Quote: "POLLRDNORM, normal data can be read without blocking; POLLWRNORM, normal data can be written without blocking; POLLHUP, a stream-oriented connection was disconnected or aborted … Error conditions are always reported, asked for or not; an entry that is neither in a state it asked about nor in error gets revents 0 … [SIO_BSP_HANDLE_POLL] returns the base provider's socket that WSAPoll uses"}
	ruleAFDPoll = Rule{Name: "AFDPoll", Source: "UV-WS, WEP, W:ioctls", Facts: "docs/facts.md §13.1, §13.3, §6.3",
		Quote: "It issues IOCTL_AFD_POLL on the socket handle itself … The same structure is passed as input and output buffer. On completion AFD rewrites NumberOfHandles and each entry's Events and Status … SIO_BASE_HANDLE (0x48000022): the base service provider's socket"}
	ruleConnect = Rule{Name: "Connect", Source: "spitest",
		Quote: "A connect through the target entry that succeeds reaches the address the client named: the peer's listener has the connection to accept."}
	ruleServes = Rule{Name: "Serves", Source: "spitest",
		Quote: "Each target entry serves sockets: on a fresh machine, with no fault armed, a WSASocket through it succeeds."}
	ruleNoPanic = Rule{Name: "NoPanic", Source: "spitest",
		Quote: "A provider reports errors; it does not panic."}
	ruleFactory = Rule{Name: "Factory", Source: "spitest",
		Quote: "The factory installs the provider under test into a fresh machine and names catalog entries that exist and pass catalog lint, with a Transform, if it declares one, whose Unwire undoes its Wire."}
)
