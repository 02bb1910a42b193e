package udp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/net/ipv4"
)

// readBatchLen is how many datagrams one read may return without
// receive offload.
const readBatchLen = 64

// readBufLen exceeds MaxPacketSize so an oversized datagram shows as such
// instead of being silently truncated to a valid-looking length.
const readBufLen = 2048

// With receive offload (GRO) the kernel hands over runs of datagrams from
// one sender as one buffer of up to 64 KiB, so fewer, larger buffers.
const (
	groReadMsgs   = 32
	groReadBufLen = 1 << 16
)

// A send with segmentation offload (GSO) carries a run of datagrams of one
// size (the last may be shorter) to one address in one buffer; the kernel
// or the NIC cuts it up. The limits are the kernel's (UDP_MAX_SEGMENTS) and
// a UDP payload's.
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 65000
)

// outPacket is one datagram to write.
type outPacket struct {
	b    []byte
	addr netip.AddrPort
	ua   *net.UDPAddr // addr in the form batch writes need; built when nil
}

// packetConn is what a Conn needs from its socket. Reads come from one
// goroutine; writes from any.
type packetConn interface {
	// readBatch waits for datagrams and returns them, segs[i] from
	// addrs[i]. Both slices and the bytes belong to the packetConn and are
	// valid until the next call.
	readBatch() (segs [][]byte, addrs []netip.AddrPort, err error)
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
// sendmmsg where the platform has them, and segmentation offload where
// the kernel has it (Linux: UDP_SEGMENT, UDP_GRO).
type udpSocket struct {
	conn  *net.UDPConn
	local netip.AddrPort
	v6    bool    // an AF_INET6 socket (possibly dual-stack)
	batch batchRW // nil: one system call per datagram
	gso   atomic.Bool
	gro   bool

	// owned by the reading goroutine
	rmsgs  []ipv4.Message
	rbufs  [][]byte
	segs   [][]byte
	saddrs []netip.AddrPort

	wpool sync.Pool // *writeScratch
}

// writeScratch is what one writeBatch call builds its system call from.
type writeScratch struct {
	ms  []ipv4.Message
	oob []byte // gsoControlLen bytes per message
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
	if s.batch != nil && !opts.noOffload {
		gso, gro := enableOffload(conn)
		s.gso.Store(gso)
		s.gro = gro
	}
	msgs, bufLen := readBatchLen, readBufLen
	switch {
	case s.batch == nil:
		msgs = 1
	case s.gro:
		msgs, bufLen = groReadMsgs, groReadBufLen
	}
	s.rbufs = make([][]byte, msgs)
	for i := range s.rbufs {
		s.rbufs[i] = make([]byte, bufLen)
	}
	if s.batch != nil {
		s.rmsgs = make([]ipv4.Message, msgs)
		for i := range s.rmsgs {
			s.rmsgs[i].Buffers = [][]byte{s.rbufs[i]}
			if s.gro {
				s.rmsgs[i].OOB = make([]byte, groControlLen)
			}
		}
	}
	return s, nil
}

func (s *udpSocket) localAddr() netip.AddrPort { return s.local }

func (s *udpSocket) close() error { return s.conn.Close() }

func unmapAddr(a net.Addr) netip.AddrPort {
	if ua, ok := a.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

func (s *udpSocket) readBatch() ([][]byte, []netip.AddrPort, error) {
	s.segs, s.saddrs = s.segs[:0], s.saddrs[:0]
	if s.batch == nil {
		n, ap, err := s.conn.ReadFromUDPAddrPort(s.rbufs[0])
		if err != nil {
			return nil, nil, err
		}
		s.segs = append(s.segs, s.rbufs[0][:n])
		s.saddrs = append(s.saddrs, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		return s.segs, s.saddrs, nil
	}
	for i := range s.rmsgs {
		s.rmsgs[i].Addr = nil
	}
	n, err := s.batch.ReadBatch(s.rmsgs, 0)
	if err != nil {
		return nil, nil, err
	}
	for i := range n {
		m := &s.rmsgs[i]
		b := s.rbufs[i][:m.N]
		from := unmapAddr(m.Addr)
		seg := 0
		if s.gro {
			seg = groSegmentSize(m.OOB[:m.NN])
		}
		if seg <= 0 || seg >= len(b) {
			s.segs = append(s.segs, b)
			s.saddrs = append(s.saddrs, from)
			continue
		}
		for len(b) > 0 {
			k := min(seg, len(b))
			s.segs = append(s.segs, b[:k])
			s.saddrs = append(s.saddrs, from)
			b = b[k:]
		}
	}
	return s.segs, s.saddrs, nil
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
	ws, _ := s.wpool.Get().(*writeScratch)
	if ws == nil {
		ws = &writeScratch{ms: make([]ipv4.Message, readBatchLen), oob: make([]byte, readBatchLen*gsoControlLen)}
	}
	defer func() {
		for i := range ws.ms {
			ws.ms[i] = ipv4.Message{Buffers: ws.ms[i].Buffers[:0]}
		}
		s.wpool.Put(ws)
	}()
	for len(pkts) > 0 {
		gso := s.gso.Load()
		k, used := s.pack(ws, pkts, gso)
		ms := ws.ms[:k]
		for sent := 0; sent < k; {
			n, err := s.batch.WriteBatch(ms[sent:k], 0)
			if err != nil {
				if gso && errors.Is(err, syscall.EIO) {
					// the device cannot take offloaded runs: send them
					// one datagram at a time from now on
					s.gso.Store(false)
					used = 0
					for _, m := range ms[:sent] {
						used += len(m.Buffers)
					}
					break
				}
				return err
			}
			sent += n
		}
		pkts = pkts[used:]
	}
	return nil
}

// pack fills ws.ms from the head of pkts and returns how many messages it
// built and how many packets they carry. With gso, a run of packets to one
// address, all of one size but the last, which may be shorter, goes in one
// message.
func (s *udpSocket) pack(ws *writeScratch, pkts []outPacket, gso bool) (msgs, used int) {
	for msgs < len(ws.ms) && used < len(pkts) {
		p := &pkts[used]
		ua := p.ua
		if ua == nil {
			ua = net.UDPAddrFromAddrPort(p.addr)
		}
		m := &ws.ms[msgs]
		m.Addr = ua
		m.Buffers = append(m.Buffers[:0], p.b)
		used++
		if gso {
			size, total := len(p.b), len(p.b)
			for used < len(pkts) && len(m.Buffers) < gsoMaxSegments {
				q := &pkts[used]
				if q.addr != p.addr || len(q.b) > size || total+len(q.b) > gsoMaxBytes {
					break
				}
				m.Buffers = append(m.Buffers, q.b)
				total += len(q.b)
				used++
				if len(q.b) < size {
					break // a shorter one ends the run
				}
			}
			if len(m.Buffers) > 1 {
				oob := ws.oob[msgs*gsoControlLen : (msgs+1)*gsoControlLen]
				m.OOB = putGSOControl(oob, size)
			}
		}
		msgs++
	}
	return msgs, used
}
