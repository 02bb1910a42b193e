package udp

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// memNet is an in-memory network for driving Conns without goroutines:
// writes queue up, and the test delivers, drops, reorders or replays them
// and moves a fake clock. Every call runs on the test's goroutine, which
// stands in for each Conn's reader and timer.
type memNet struct {
	t     testing.TB
	mu    sync.Mutex
	now   time.Time
	conns map[netip.AddrPort]*Conn
	queue []memPacket
}

type memPacket struct {
	from, to netip.AddrPort
	b        []byte
}

func newMemNet(t testing.TB) *memNet {
	return &memNet{t: t, now: time.Unix(1e9, 0), conns: make(map[netip.AddrPort]*Conn)}
}

func (n *memNet) clock() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.now
}

type memConn struct {
	n      *memNet
	addr   netip.AddrPort
	closed chan struct{}
	once   sync.Once
}

func (m *memConn) readBatch() ([][]byte, []netip.AddrPort, error) {
	<-m.closed
	return nil, nil, net.ErrClosed
}

func (m *memConn) writeTo(b []byte, addr netip.AddrPort) error {
	m.n.mu.Lock()
	defer m.n.mu.Unlock()
	m.n.queue = append(m.n.queue, memPacket{from: m.addr, to: addr, b: bytes.Clone(b)})
	return nil
}

func (m *memConn) writeBatch(pkts []outPacket) error {
	for _, p := range pkts {
		if err := m.writeTo(p.b, p.addr); err != nil {
			return err
		}
	}
	return nil
}

func (m *memConn) localAddr() netip.AddrPort { return m.addr }

func (m *memConn) close() error {
	m.once.Do(func() { close(m.closed) })
	return nil
}

// add creates a Conn at addr on the network.
func (n *memNet) add(addr string, id Identity, opts Options) *Conn {
	n.t.Helper()
	if err := opts.Validate(); err != nil {
		n.t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(addr)
	c := newConn(&memConn{n: n, addr: ap, closed: make(chan struct{})}, id, opts.withDefaults(), n.clock)
	n.conns[ap] = c
	n.t.Cleanup(func() { c.Close() })
	return c
}

// move gives c a new address, as a NAT rebinding would.
func (n *memNet) move(c *Conn, addr string) {
	ap := netip.MustParseAddrPort(addr)
	mc := c.pc.(*memConn)
	delete(n.conns, mc.addr)
	mc.addr = ap
	n.conns[ap] = c
}

// take removes and returns the packets written so far.
func (n *memNet) take() []memPacket {
	n.mu.Lock()
	defer n.mu.Unlock()
	q := n.queue
	n.queue = nil
	return q
}

// deliver hands p to the Conn at p.to, if there is one.
func (n *memNet) deliver(p memPacket) {
	if c := n.conns[p.to]; c != nil {
		c.handleDatagram(n.clock(), p.from, p.b)
	}
}

// pump delivers packets until none are left, dropping those keep rejects.
// It returns the number delivered.
func (n *memNet) pump(keep func(memPacket) bool) int {
	delivered := 0
	for i := 0; i < 10000; i++ {
		q := n.take()
		if len(q) == 0 {
			return delivered
		}
		for _, p := range q {
			if keep == nil || keep(p) {
				n.deliver(p)
				delivered++
			}
		}
	}
	n.t.Fatal("pump: packets never stopped flowing")
	return 0
}

// advance moves the clock by d in steps, running every Conn's timer.
func (n *memNet) advance(d, step time.Duration) {
	for elapsed := time.Duration(0); elapsed < d; elapsed += step {
		n.mu.Lock()
		n.now = n.now.Add(step)
		n.mu.Unlock()
		for _, c := range n.conns {
			c.tick(n.clock())
		}
	}
}

// received returns the datagrams waiting in c's receive queue.
func received(c *Conn) []Message {
	c.flushInbound()
	var out []Message
	for {
		select {
		case in := <-c.recvq:
			for _, m := range in.Msgs {
				out = append(out, Message{Addr: m.Addr, Peer: m.Peer, Buf: bytes.Clone(m.Buf), N: m.N})
			}
			c.Release(in)
		default:
			return out
		}
	}
}

func kindOf(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func mustIdentity(t testing.TB) Identity {
	t.Helper()
	id, err := NewIdentity(nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// eventLog collects events for assertions.
type eventLog struct {
	mu  sync.Mutex
	evs []Event
}

func (l *eventLog) add(ev Event) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *eventLog) all() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.evs...)
}

func (l *eventLog) count(k EventKind) int {
	n := 0
	for _, ev := range l.all() {
		if ev.Kind == k {
			n++
		}
	}
	return n
}
