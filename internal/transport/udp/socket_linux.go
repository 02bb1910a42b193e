package udp

import (
	"encoding/binary"
	"net"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// newBatchRW uses recvmmsg and sendmmsg, which Linux has.
func newBatchRW(conn *net.UDPConn, v6 bool) batchRW {
	if v6 {
		return ipv6.NewPacketConn(conn)
	}
	return ipv4.NewPacketConn(conn)
}

// Control message sizes: UDP_SEGMENT carries a uint16, UDP_GRO an int.
var (
	gsoControlLen = unix.CmsgSpace(2)
	groControlLen = unix.CmsgSpace(4)
)

// enableOffload turns on receive offload (UDP_GRO, Linux 5.0) and reports
// whether the kernel takes send offload (UDP_SEGMENT, Linux 4.18).
func enableOffload(conn *net.UDPConn) (gso, gro bool) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false, false
	}
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		gso = err == nil
		gro = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	})
	return gso, gro
}

// putGSOControl writes a UDP_SEGMENT control message for segments of size
// bytes into b (gsoControlLen bytes) and returns it.
func putGSOControl(b []byte, size int) []byte {
	b = b[:gsoControlLen]
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[unix.CmsgLen(0):], uint16(size))
	return b
}

// groSegmentSize returns the size of the datagrams the kernel coalesced
// into one read, from its control messages, or 0 when it coalesced none.
func groSegmentSize(oob []byte) int {
	hdr := unix.CmsgLen(0)
	for len(oob) >= hdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		n := int(h.Len)
		if n < hdr || n > len(oob) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && n >= hdr+4 {
			return int(binary.NativeEndian.Uint32(oob[hdr:]))
		}
		oob = oob[min(unix.CmsgSpace(n-hdr), len(oob)):]
	}
	return 0
}
