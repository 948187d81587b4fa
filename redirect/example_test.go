package redirect_test

import (
	"fmt"

	"github.com/wsspi/wsspi/handles"
	"github.com/wsspi/wsspi/iocp"
	"github.com/wsspi/wsspi/redirect"
	"github.com/wsspi/wsspi/spi"
)

// The cost WPUCreateSocketHandle's documentation warns about, as numbers:
// ReadFile on an IFS handle enters the kernel and returns; on a non-IFS
// handle the redirector also hands the request up to the owning provider
// and its result back down.
func Example() {
	table := handles.New(handles.Options{})
	kernel := iocp.NewKernel(table, iocp.Options{})
	lsp := newFakeLSP()
	layer := redirect.New(table, kernel, func(string, spi.Socket) (*spi.WSPProcTable, error) {
		return &lsp.procs, nil
	}, redirect.Options{})
	th, _ := kernel.NewThread()

	fo, _ := layer.CreateFileObject(&fakeDriver{}, true) // a base provider's IFS socket
	ifs, _ := table.ModifyIFSHandle(1001, fo.Handle())
	nonIFS, _ := layer.CreateSocketHandle(1005, "layer context") // an LSP's own handle

	buf := make([]byte, 64)
	for _, s := range []spi.Socket{ifs, nonIFS} {
		_, _ = layer.ReadFile(th.ID(), s, buf, nil)
		t, _ := layer.HandleTransitions(s)
		fmt.Printf("ReadFile on %v: %d user->kernel, %d kernel->user\n", s, t.UserToKernel, t.KernelToUser)
	}
	fmt.Println("WSPRecv calls the LSP saw:", len(lsp.recvs))
	// Output:
	// ReadFile on 0x8: 1 user->kernel, 1 kernel->user
	// ReadFile on 0xc: 3 user->kernel, 3 kernel->user
	// WSPRecv calls the LSP saw: 1
}
