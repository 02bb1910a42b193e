package udp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is a UDP socket whose datagrams are Noise-encrypted per peer. Its
// methods are safe for concurrent use.
type Conn struct {
	id    Identity
	opts  Options
	log   *slog.Logger
	pc    packetConn
	clock func() time.Time
	epoch time.Time
	rnd   io.Reader

	mu           sync.RWMutex
	closed       bool
	peers        map[netip.AddrPort]*peer
	byIndex      map[uint32]indexEntry
	handshaking  map[*peer]struct{}
	queuedBytes  int
	nextIdleScan time.Time

	// Owned by the goroutine that reads packets.
	resetTokens float64
	resetAt     time.Time

	rx     *Inbound // the run being collected (the reader's)
	recvq  chan *Inbound
	queued atomic.Int64 // datagrams in recvq and rx, not yet released
	runs   atomic.Int64 // Inbounds in recvq or with the consumer

	rmu    sync.Mutex // Recv and RecvBatch: the run being read
	cur    *Inbound
	curOff int

	done      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error

	ctr counters
}

// indexEntry is what a local index names: a session or a handshake.
type indexEntry struct {
	p    *peer
	sess *session
	hs   *handshake
}

var packetPool = sync.Pool{New: func() any { return new([MaxPacketSize]byte) }}

// sendArena holds sealed packets for one batched write.
type sendArena struct {
	buf  []byte
	pkts []outPacket
}

var arenaPool = sync.Pool{New: func() any {
	return &sendArena{
		buf:  make([]byte, 0, readBatchLen*MaxPacketSize),
		pkts: make([]outPacket, 0, readBatchLen),
	}
}}

// Message is one datagram for SendBatch or RecvBatch.
type Message struct {
	Addr      netip.AddrPort // SendBatch: destination. RecvBatch: sender.
	Peer      PeerID         // RecvBatch: the sender's authenticated ID.
	Buf       []byte         // SendBatch: payload. RecvBatch: buffer to fill; MaxPayload bytes always suffice.
	N         int            // RecvBatch: bytes written to Buf.
	Truncated bool           // RecvBatch: the datagram was longer than Buf.
}

// Listen opens a UDP socket on addr ("127.0.0.1:0", ":8081", "[::]:0") and
// starts the goroutines that read it and run handshake timers; Close stops
// them. Zero fields of opts take their defaults.
func Listen(addr string, id Identity, opts Options) (*Conn, error) {
	if id.IsZero() {
		return nil, fmt.Errorf("udp: listen %q: zero Identity: %w", addr, ErrBadIdentity)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	sock, err := listenUDP(addr, opts)
	if err != nil {
		return nil, err
	}
	c := newConn(sock, id, opts, time.Now)
	c.start()
	return c, nil
}

// newConn builds a Conn over pc without starting its goroutines; opts must
// hold no zero fields.
func newConn(pc packetConn, id Identity, opts Options, clock func() time.Time) *Conn {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := clock()
	return &Conn{
		id:           id,
		opts:         opts,
		log:          log.With("local", pc.localAddr()),
		pc:           pc,
		clock:        clock,
		epoch:        now,
		rnd:          randomReader,
		peers:        make(map[netip.AddrPort]*peer),
		byIndex:      make(map[uint32]indexEntry),
		handshaking:  make(map[*peer]struct{}),
		nextIdleScan: now,
		resetAt:      now,
		resetTokens:  resetBurst,
		recvq:        make(chan *Inbound, opts.RecvQueueLen),
		done:         make(chan struct{}),
	}
}

func (c *Conn) start() {
	c.wg.Add(2)
	go c.readLoop()
	go c.timerLoop()
}

func (c *Conn) readLoop() {
	defer c.wg.Done()
	for {
		segs, addrs, err := c.pc.readBatch()
		if err != nil {
			select {
			case <-c.done:
				return
			default:
			}
			c.log.Warn("udp read failed", "err", err)
			select {
			case <-c.done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		now := c.clock()
		for i, b := range segs {
			c.handleDatagram(now, addrs[i], b)
		}
		c.flushInbound()
	}
}

func (c *Conn) timerLoop() {
	defer c.wg.Done()
	interval := min(max(c.opts.HandshakeRetransmit/5, time.Millisecond), 50*time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.tick(c.clock())
		}
	}
}

// normalize checks that addr can be sent to and unmaps IPv4-in-IPv6, so one
// peer has one key in the maps however its address was written.
func normalize(addr netip.AddrPort) (netip.AddrPort, error) {
	a := addr.Addr().Unmap()
	if !addr.IsValid() || addr.Port() == 0 || a.IsUnspecified() || a.IsMulticast() {
		return addr, fmt.Errorf("udp: %v: %w", addr, ErrBadAddress)
	}
	return netip.AddrPortFrom(a, addr.Port()), nil
}

// Send encrypts b and sends it to the peer at to. Without a session it
// starts a handshake and holds b until the handshake completes (at most
// Options.QueueLen datagrams per peer, oldest dropped). It never waits for
// the peer.
func (c *Conn) Send(to netip.AddrPort, b []byte) error {
	if len(b) > MaxPayload {
		return fmt.Errorf("udp: send %d bytes to %v: %w", len(b), to, ErrTooLarge)
	}
	to, err := normalize(to)
	if err != nil {
		return err
	}
	now := c.clock()
	s, _, err := c.sessionFor(now, to, b)
	if err != nil || s == nil {
		return err
	}
	bp := packetPool.Get().(*[MaxPacketSize]byte)
	defer packetPool.Put(bp)
	pkt, err := s.seal(bp[:0], b)
	if err != nil {
		return c.retire(now, to, s, b)
	}
	if err := c.pc.writeTo(pkt, to); err != nil {
		c.ctr.dropWrite.Add(1)
		return fmt.Errorf("udp: send to %v: %w", to, err)
	}
	c.countSent(1, len(b), len(pkt))
	return nil
}

// SendBatch sends msgs[i].Buf to msgs[i].Addr like Send, writing many
// datagrams per system call where the platform allows. It returns how many
// messages were handled before the first error.
func (c *Conn) SendBatch(msgs []Message) (int, error) {
	a := arenaPool.Get().(*sendArena)
	defer arenaPool.Put(a)
	now := c.clock()
	done := 0
	for done < len(msgs) {
		a.buf, a.pkts = a.buf[:0], a.pkts[:0]
		payload := 0
		var failed error
		i := done
		for ; i < len(msgs) && len(a.pkts) < readBatchLen; i++ {
			m := &msgs[i]
			if len(m.Buf) > MaxPayload {
				failed = fmt.Errorf("udp: send %d bytes to %v: %w", len(m.Buf), m.Addr, ErrTooLarge)
				break
			}
			to, err := normalize(m.Addr)
			if err != nil {
				failed = err
				break
			}
			s, ua, err := c.sessionFor(now, to, m.Buf)
			if err != nil {
				failed = err
				break
			}
			if s == nil {
				continue
			}
			start := len(a.buf)
			a.buf, err = s.seal(a.buf, m.Buf)
			if err != nil {
				a.buf = a.buf[:start]
				if err := c.retire(now, to, s, m.Buf); err != nil {
					failed = err
					break
				}
				continue
			}
			a.pkts = append(a.pkts, outPacket{b: a.buf[start:], addr: to, ua: ua})
			payload += len(m.Buf)
		}
		// Packets to one address go out together, in their order, so that
		// the socket can send them as one offloaded run; order across
		// addresses does not matter.
		slices.SortStableFunc(a.pkts, func(x, y outPacket) int { return x.addr.Compare(y.addr) })
		if err := c.writeSealed(a.pkts, payload); err != nil {
			return done, err
		}
		done = i
		if failed != nil {
			return done, failed
		}
	}
	return done, nil
}

func (c *Conn) writeSealed(pkts []outPacket, payloadBytes int) error {
	if len(pkts) == 0 {
		return nil
	}
	if err := c.pc.writeBatch(pkts); err != nil {
		c.ctr.dropWrite.Add(1)
		return fmt.Errorf("udp: send: %w", err)
	}
	wire := 0
	for i := range pkts {
		wire += len(pkts[i].b)
	}
	c.countSent(len(pkts), payloadBytes, wire)
	return nil
}

func (c *Conn) countSent(datagrams, payloadBytes, wireBytes int) {
	c.ctr.datagramsOut.Add(uint64(datagrams))
	c.ctr.bytesOut.Add(uint64(payloadBytes))
	c.ctr.packetsOut.Add(uint64(datagrams))
	c.ctr.wireBytesOut.Add(uint64(wireBytes))
}

// sessionFor returns the session to seal b with, or nil after holding b
// for a handshake.
func (c *Conn) sessionFor(now time.Time, to netip.AddrPort, b []byte) (*session, *net.UDPAddr, error) {
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return nil, nil, net.ErrClosed
	}
	if p := c.peers[to]; p != nil && p.cur != nil && !p.cur.stale {
		s, ua := p.cur, p.ua
		c.mu.RUnlock()
		s.lastSendNs.Store(c.nanos(now))
		return s, ua, nil
	}
	c.mu.RUnlock()
	var hs *handshake
	for {
		s, ua, need, err := c.hold(now, to, b, hs)
		if !need {
			return s, ua, err
		}
		// Key generation is the slow part; do it without the lock.
		if hs, err = newInitiator(c.id, c.rnd); err != nil {
			return nil, nil, err
		}
	}
}

// hold queues b for to's handshake, starting one with hs if none runs. It
// asks for an hs (need) when it has to start one and was given none.
func (c *Conn) hold(now time.Time, to netip.AddrPort, b []byte, hs *handshake) (s *session, ua *net.UDPAddr, need bool, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, nil, false, net.ErrClosed
	}
	p := c.peers[to]
	if p != nil && p.cur != nil && !p.cur.stale {
		s, ua = p.cur, p.ua
		c.mu.Unlock()
		s.lastSendNs.Store(c.nanos(now))
		return s, ua, false, nil
	}
	if p == nil || p.hs == nil {
		if hs == nil {
			c.mu.Unlock()
			return nil, nil, true, nil
		}
		if p == nil {
			if len(c.peers) >= c.opts.MaxPeers {
				c.mu.Unlock()
				return nil, nil, false, fmt.Errorf("udp: send to %v: %w", to, ErrPeerLimit)
			}
			p = c.newPeer(to)
		}
		c.startInitiator(now, p, hs)
	} else {
		hs = nil // one is already running
	}
	c.enqueue(p, b)
	c.mu.Unlock()
	if hs != nil {
		if err := c.pc.writeTo(hs.pkt, to); err != nil {
			// Likely unroutable: undo rather than retry for HandshakeTimeout.
			c.ctr.dropWrite.Add(1)
			c.mu.Lock()
			if p.hs == hs {
				if p.cur == nil {
					c.removePeer(p)
				} else {
					c.dropHandshake(p)
				}
			}
			c.mu.Unlock()
			return nil, nil, false, fmt.Errorf("udp: handshake with %v: %w", to, err)
		}
		c.countWire(len(hs.pkt))
	}
	return nil, nil, false, nil
}

// retire handles a session whose counter ran out: hold b and start over.
func (c *Conn) retire(now time.Time, to netip.AddrPort, s *session, b []byte) error {
	c.mu.Lock()
	s.stale = true
	c.mu.Unlock()
	_, _, err := c.sessionFor(now, to, b)
	return err
}

// newIndex picks an unused, non-zero local index. Caller holds c.mu.
func (c *Conn) newIndex() uint32 {
	var b [4]byte
	for {
		if _, err := io.ReadFull(c.rnd, b[:]); err != nil {
			panic(fmt.Sprintf("udp: random source failed: %v", err))
		}
		i := binary.LittleEndian.Uint32(b[:])
		if _, used := c.byIndex[i]; i != 0 && !used {
			return i
		}
	}
}

// PeerID returns the authenticated identity of the session with addr.
func (c *Conn) PeerID(addr netip.AddrPort) (PeerID, bool) {
	addr, err := normalize(addr)
	if err != nil {
		return PeerID{}, false
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	p := c.peers[addr]
	if p == nil || p.cur == nil {
		return PeerID{}, false
	}
	return p.cur.peerID, true
}

// LocalAddr returns the address the socket is bound to.
func (c *Conn) LocalAddr() netip.AddrPort { return c.pc.localAddr() }

// Identity returns the Conn's static identity.
func (c *Conn) Identity() Identity { return c.id }

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() Stats {
	st := c.ctr.snapshot()
	c.mu.RLock()
	st.Peers = len(c.peers)
	for _, p := range c.peers {
		if p.cur != nil {
			st.Sessions++
		}
	}
	c.mu.RUnlock()
	return st
}

// Close closes the socket, stops the Conn's goroutines and waits for them.
// Recv and Send then return net.ErrClosed. Close must not be called from
// Options.OnEvent.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.done)
		if err := c.pc.close(); err != nil && !errors.Is(err, net.ErrClosed) {
			c.closeErr = fmt.Errorf("udp: close: %w", err)
		}
		c.wg.Wait()
	})
	return c.closeErr
}

func (c *Conn) nanos(now time.Time) int64 { return int64(now.Sub(c.epoch)) }

func (c *Conn) countWire(wireBytes int) {
	c.ctr.packetsOut.Add(1)
	c.ctr.wireBytesOut.Add(uint64(wireBytes))
}

// write sends one transport packet (handshake, reset), counting failures.
func (c *Conn) write(b []byte, to netip.AddrPort) {
	if err := c.pc.writeTo(b, to); err != nil {
		c.ctr.dropWrite.Add(1)
		c.log.Debug("udp write failed", "to", to, "err", err)
		return
	}
	c.countWire(len(b))
}

func (c *Conn) emit(evs []Event) {
	for _, ev := range evs {
		c.log.Debug("udp session", "event", ev.Kind, "addr", ev.Addr, "peer", ev.Peer, "reason", ev.Reason)
		if c.opts.OnEvent != nil {
			c.opts.OnEvent(ev)
		}
	}
}

// enqueue holds a copy of b for p's handshake. Caller holds c.mu.
func (c *Conn) enqueue(p *peer, b []byte) {
	for len(p.queue) > 0 && (len(p.queue) >= c.opts.QueueLen || c.queuedBytes+len(b) > c.opts.MaxQueuedBytes) {
		c.queuedBytes -= len(p.queue[0])
		p.queue[0] = nil
		p.queue = p.queue[1:]
		c.ctr.dropQueue.Add(1)
	}
	if c.queuedBytes+len(b) > c.opts.MaxQueuedBytes {
		c.ctr.dropQueue.Add(1)
		return
	}
	p.queue = append(p.queue, bytes.Clone(b))
	c.queuedBytes += len(b)
}
