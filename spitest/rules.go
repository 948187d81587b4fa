package spitest

// Rule is a Winsock rule the kit checks: a short name, the key of its
// source in the project's fact sheet (docs/facts.md), and the rule
// as the sheet states it. Every [Finding] names the rule it breaks.
type Rule struct {
	// Name names the rule, as in "CompletesOnce".
	Name string
	// Source is the source key of the fact sheet, as in "D:wspsend".
	Source string
	// Quote is the rule as the fact sheet states it.
	Quote string
}

// The rules the cases check.
var (
	ruleCompletesOnce = Rule{"CompletesOnce", "D:wspsend",
		"SOCKET_ERROR + WSA_IO_PENDING (997) = started; completion comes later and *lpNumberOfBytes… is not updated. Each outstanding operation needs its own OVERLAPPED, valid for the operation's whole life."}
	ruleMechanism = Rule{"Mechanism", "D:wspsend, D:wpucomplete, D:wpuapc",
		"lpCompletionRoutine == NULL → the provider signals lpOverlapped->hEvent if it is a valid event. lpCompletionRoutine != NULL → hEvent is ignored. [WPUCompleteOverlappedRequest] signals the hEvent in the WSAOVERLAPPED and/or queues a completion status to the port, if one is associated. The APC runs only when the target thread is in an alertable wait."}
	rulePortKey = Rule{"PortKey", "D:cicp",
		"The key is per handle and comes back in every packet."}
	ruleResult = Rule{"Result", "D:wspgor, D:wpucomplete",
		"it first sets InternalHigh = byte count, then sets Internal. … WSPGetOverlappedResult … returns InternalHigh → bytes, OffsetHigh → error, Offset → flags. It returns TRUE only when OffsetHigh == 0."}
	ruleImmediate = Rule{"Immediate", "D:wspsend",
		"0 = completed at once. *lpNumberOfBytes… is updated, and the completion routine, if any, has already been queued: a notification still happens. … Any other error = nothing was started and no completion will be reported."}
	ruleCloseAborts = Rule{"CloseAborts", "D:wspclose",
		"Pending overlapped operations are cancelled, but their completion action is still performed (event, completion routine or completion port) with status WSA_OPERATION_ABORTED."}
	ruleHandleClose = Rule{"HandleClose", "D:wpuclose, S:overlap CheckForContextCleanup",
		"Returns 0, or SOCKET_ERROR with WSAENOTSOCK if s was not made by WPUCreateSocketHandle. … It removes the socket from ws2_32's internal table. … the non-IFS LSP defers WPUCloseSocketHandle until all outstanding overlapped operations on the socket have finished … and closes the handle from the last completion."}
	ruleCleanup = Rule{"Cleanup", "D:wspcleanup, D:wpuopenthr",
		"Open sockets are reset and freed as if WSPCloseSocket had been called. … WSPCleanup must not return until the DLL can be unloaded. … Every open [of WPUOpenCurrentThread] needs a matching close."}
	ruleContext = Rule{"Context", "D:wpuquery, W:desc",
		"ws2_32 records dwContext against the handle. The provider gets it back with WPUQuerySocketHandleContext."}
	ruleIFSFlag = Rule{"IFSFlag", "D:wpucreate, D:protoinfo",
		"A provider that uses this function [WPUCreateSocketHandle] must not set XP1_IFS_HANDLES. … XP1_IFS_HANDLES (0x00020000): the descriptors are real OS IFS handles."}
	ruleReadFile = Rule{"ReadFileWriteFile", "D:wpucreate, W:handles",
		"ws2_32 redirects ReadFile/WriteFile on them to the owning provider's WSPRecv/WSPSend. … Non-IFS handles also work, but through extra provider and file-system interaction."}
	ruleBaseHandle = Rule{"BaseHandle", "W:ioctls",
		"SIO_BASE_HANDLE (0x48000022): the base service provider's socket. An LSP must never intercept it: the answer must come from the base provider."}
	ruleStream = Rule{"StreamOrder", "D:wspsend, D:protoinfo",
		"Routines may run in any order, but sends go out in submission order. [TCP entries carry] XP1_GUARANTEED_DELIVERY and XP1_GUARANTEED_ORDER."}
	ruleSocketFails = Rule{"SocketFails", "D:wpucreate, D:wspsocket",
		"On failure it returns INVALID_SOCKET, and the only documented error is WSAENOBUFS. … [WSPSocket] returns a descriptor, or INVALID_SOCKET with one of: WSAENETDOWN, …, WSAENOBUFS, …"}
	ruleStartupFails = Rule{"StartupFails", "W:errors, D:wspstartup",
		"Load or startup failure in general surfaces as WSAEPROVIDERFAILEDINIT (10106). … [WSPCleanup] must leave things so WSPStartup can be called again at once."}
	ruleFactory = Rule{"Factory", "spitest",
		"The factory installs the provider under test into a fresh machine and names catalog entries that exist and pass catalog lint."}
)
