package main

import (
	"github.com/wsspi/wsspi"
	"github.com/wsspi/wsspi/spi"
)

// nonIFS is what libuv's uv_winsock_init learns of a machine: whether the
// provider a TCP socket of each family gets has no XP1_IFS_HANDLES, its
// uv_tcp_non_ifs_lsp_ipv4 and _ipv6. libuv then leaves
// FILE_SKIP_COMPLETION_PORT_ON_SUCCESS off the TCP sockets of that family.
type nonIFS struct{ ipv4, ipv6 bool }

// detect makes a dummy TCP socket of each family, as uv_winsock_init
// does, and reads its provider's flags with getsockopt(SO_PROTOCOL_INFOW).
// Unlike Go's check of every catalog entry, it sees the entry socket()
// would choose, the one libuv's own sockets get.
func detect(th *wsspi.Thread) (nonIFS, error) {
	var d nonIFS
	for _, fam := range []struct {
		af  int32
		non *bool
	}{{spi.AF_INET, &d.ipv4}, {spi.AF_INET6, &d.ipv6}} {
		s, err := th.Socket(fam.af, spi.SOCK_STREAM, spi.IPPROTO_IP)
		if err != nil {
			return d, err
		}
		buf := make([]byte, spi.WSAProtocolInfoSize)
		_, err = th.Getsockopt(s, spi.SOL_SOCKET, spi.SO_PROTOCOL_INFOW, buf)
		var info spi.WSAProtocolInfo
		if err == nil {
			err = info.UnmarshalBinary(buf)
		}
		if cerr := th.Closesocket(s); err == nil {
			err = cerr
		}
		if err != nil {
			return d, err
		}
		*fam.non = !info.IFS()
	}
	return d, nil
}
