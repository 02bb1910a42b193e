package udp

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
)

// readBatchLen is how many datagrams one read may return.
const readBatchLen = 64

// readBufLen exceeds MaxPacketSize so an oversized datagram shows as such
// instead of being silently truncated to a valid-looking length.
const readBufLen = 2048

// outPacket is one datagram to write.
type outPacket struct {
	b    []byte
	addr netip.AddrPort
	ua   *net.UDPAddr // addr in the form batch writes need; built when nil
}

// packetConn is what a Conn needs from its socket. Reads come from one
// goroutine; writes from any.
type packetConn interface {
	// readBatch fills bufs[i][:sizes[i]] from addrs[i] for i < n.
	readBatch(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (n int, err error)
	writeTo(b []byte, addr netip.AddrPort) error
	writeBatch(pkts []outPacket) error
	localAddr() netip.AddrPort
	close() error
}

// batchRW is satisfied by ipv4.PacketConn and ipv6.PacketConn, whose
// Message types are the same type.
type batchRW interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// udpSocket is a packetConn over a real UDP socket, using recvmmsg and
// sendmmsg where the platform has them.
type udpSocket struct {
	conn  *net.UDPConn
	local netip.AddrPort
	v6    bool    // an AF_INET6 socket (possibly dual-stack)
	batch batchRW // nil: one system call per datagram

	rmsgs []ipv4.Message // owned by the reading goroutine
	wpool sync.Pool      // *[]ipv4.Message of readBatchLen, one buffer each
}

func listenUDP(addr string, opts Options) (*udpSocket, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("udp: listen %q: %w", addr, err)
	}
	conn, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("udp: listen %q: %w", addr, err)
	}
	if opts.SocketBufferBytes > 0 {
		// The kernel may grant less; that only costs loss under bursts.
		_ = conn.SetReadBuffer(opts.SocketBufferBytes)
		_ = conn.SetWriteBuffer(opts.SocketBufferBytes)
	}
	s := &udpSocket{conn: conn}
	la := conn.LocalAddr().(*net.UDPAddr)
	s.local = la.AddrPort()
	s.v6 = la.IP.To4() == nil
	s.local = netip.AddrPortFrom(s.local.Addr().Unmap(), s.local.Port())
	if !opts.noBatch {
		s.batch = newBatchRW(conn, s.v6)
	}
	return s, nil
}

func (s *udpSocket) localAddr() netip.AddrPort { return s.local }

func (s *udpSocket) close() error { return s.conn.Close() }

func (s *udpSocket) readBatch(bufs [][]byte, sizes []int, addrs []netip.AddrPort) (int, error) {
	if s.batch == nil {
		n, ap, err := s.conn.ReadFromUDPAddrPort(bufs[0])
		if err != nil {
			return 0, err
		}
		sizes[0], addrs[0] = n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		return 1, nil
	}
	if len(s.rmsgs) != len(bufs) {
		s.rmsgs = make([]ipv4.Message, len(bufs))
		for i := range s.rmsgs {
			s.rmsgs[i].Buffers = [][]byte{nil}
		}
	}
	for i := range s.rmsgs {
		s.rmsgs[i].Buffers[0] = bufs[i]
		s.rmsgs[i].Addr = nil
	}
	n, err := s.batch.ReadBatch(s.rmsgs, 0)
	if err != nil {
		return 0, err
	}
	for i := 0; i < n; i++ {
		sizes[i] = s.rmsgs[i].N
		if ua, ok := s.rmsgs[i].Addr.(*net.UDPAddr); ok {
			ap := ua.AddrPort()
			addrs[i] = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		} else {
			addrs[i] = netip.AddrPort{}
		}
	}
	return n, nil
}

func (s *udpSocket) writeTo(b []byte, addr netip.AddrPort) error {
	_, err := s.conn.WriteToUDPAddrPort(b, addr)
	return err
}

// writeBatch writes every packet, in order, stopping at the first error.
func (s *udpSocket) writeBatch(pkts []outPacket) error {
	if s.batch == nil || len(pkts) == 1 {
		for i := range pkts {
			if err := s.writeTo(pkts[i].b, pkts[i].addr); err != nil {
				return err
			}
		}
		return nil
	}
	mp, _ := s.wpool.Get().(*[]ipv4.Message)
	if mp == nil {
		ms := make([]ipv4.Message, readBatchLen)
		for i := range ms {
			ms[i].Buffers = make([][]byte, 1)
		}
		mp = &ms
	}
	ms := *mp
	defer func() {
		for i := range ms {
			ms[i].Buffers[0], ms[i].Addr = nil, nil
		}
		s.wpool.Put(mp)
	}()
	for len(pkts) > 0 {
		k := min(len(pkts), len(ms))
		for i := range k {
			ua := pkts[i].ua
			if ua == nil {
				ua = net.UDPAddrFromAddrPort(pkts[i].addr)
			}
			ms[i].Buffers[0], ms[i].Addr = pkts[i].b, ua
		}
		for sent := 0; sent < k; {
			n, err := s.batch.WriteBatch(ms[sent:k], 0)
			if err != nil {
				return err
			}
			sent += n
		}
		pkts = pkts[k:]
	}
	return nil
}
