package udp

import (
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// newBatchRW uses recvmmsg and sendmmsg, which Linux has.
func newBatchRW(conn *net.UDPConn, v6 bool) batchRW {
	if v6 {
		return ipv6.NewPacketConn(conn)
	}
	return ipv4.NewPacketConn(conn)
}
