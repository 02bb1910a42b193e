package udp

import (
	"bytes"
	"net"
	"net/netip"
	"time"
)

// Resets are answered at most resetRate per second (burst resetBurst) over
// all addresses: they are only hints, and a flood of unknown indices must
// not turn into a flood of replies.
const (
	resetRate  = 20.0
	resetBurst = 20.0
)

// handleDatagram processes one UDP payload read from the socket. It runs on
// one goroutine only (the reader), which owns the replay filters and the
// handshakes' Noise states.
func (c *Conn) handleDatagram(now time.Time, from netip.AddrPort, b []byte) {
	c.ctr.packetsIn.Add(1)
	c.ctr.wireBytesIn.Add(uint64(len(b)))
	if len(b) == 0 || !from.IsValid() {
		c.ctr.dropMalformed.Add(1)
		return
	}
	switch b[0] {
	case typeData:
		c.handleData(now, from, b)
	case typeInit:
		c.handleInit(now, from, b)
	case typeResponse:
		c.handleResponse(now, from, b)
	case typeFinish:
		c.handleFinish(now, from, b)
	case typeReset:
		c.handleReset(now, from, b)
	default:
		c.ctr.dropMalformed.Add(1)
	}
}

func (c *Conn) lookup(index uint32) (indexEntry, netip.AddrPort, bool) {
	c.mu.RLock()
	e, ok := c.byIndex[index]
	var addr netip.AddrPort
	if ok {
		addr = e.p.addr
	}
	c.mu.RUnlock()
	return e, addr, ok
}

func (c *Conn) handleData(now time.Time, from netip.AddrPort, b []byte) {
	var m dataMsg
	if _, err := m.Parse(b); err != nil {
		c.ctr.dropMalformed.Add(1)
		return
	}
	e, addr, ok := c.lookup(m.receiverIndex)
	if !ok {
		c.ctr.dropUnknownIndex.Add(1)
		c.maybeReset(now, from, m.receiverIndex)
		return
	}
	if e.hs != nil {
		// The initiator has finished but its finish was lost or overtaken.
		// Sending the response again makes it send the finish again.
		c.ctr.dropUnknownIndex.Add(1)
		if !e.hs.initiator && from == addr && now.Sub(e.hs.resentAt) >= c.opts.HandshakeRetransmit {
			e.hs.resentAt = now
			c.write(e.hs.pkt, from)
		}
		return
	}
	s := e.sess
	if !s.replay.fresh(m.counter) {
		c.ctr.dropReplay.Add(1)
		return
	}
	out, err := s.open(c.rxSlot(), b, &m)
	if err != nil {
		c.ctr.dropAuth.Add(1)
		return
	}
	newest := s.replay.accept(m.counter)
	s.lastRecvNs.Store(c.nanos(now))
	s.finishPkt = nil // the responder has the session, so it had the finish
	if from != addr && newest {
		addr = c.roam(e.p, s, from)
	}
	if !c.push(addr, s.peerID, out) {
		c.ctr.dropRecvQueue.Add(1)
		return
	}
	c.ctr.datagramsIn.Add(1)
	c.ctr.bytesIn.Add(uint64(len(out)))
	c.flushIfFull()
}

// maybeReset tells from that index is unknown here, within the rate limit.
func (c *Conn) maybeReset(now time.Time, from netip.AddrPort, index uint32) {
	c.resetTokens = min(resetBurst, c.resetTokens+now.Sub(c.resetAt).Seconds()*resetRate)
	c.resetAt = now
	if c.resetTokens < 1 {
		return
	}
	c.resetTokens--
	m := resetMsg{receiverIndex: index}
	var buf [resetPacketLen]byte
	c.write(m.Append(buf[:0]), from)
	c.ctr.resetsSent.Add(1)
}

// initAction says what to do with an init from an address whose state is p.
type initAction int

const (
	initRespond initAction = iota
	initResend             // a repeat of the init being answered: repeat the response
	initIgnore
)

// decideInit is called with c.mu held (read or write).
func decideInit(p *peer, m *initMsg, eph *[keyLen]byte) initAction {
	if p == nil {
		return initRespond
	}
	if hs := p.hs; hs != nil {
		if !hs.initiator {
			if hs.remoteIndex == m.senderIndex && bytes.Equal(hs.initNoise, m.noise) {
				return initResend
			}
			return initRespond // the initiator started over
		}
		// Both sides started: the smaller ephemeral key stays initiator.
		if bytes.Compare(hs.ephPub[:], eph[:]) <= 0 {
			return initIgnore // equal means our own init came back to us
		}
		return initRespond
	}
	if p.cur != nil && !p.cur.initiator && p.cur.initEph == *eph {
		return initIgnore // a late repeat of the init that built this session
	}
	return initRespond
}

func (c *Conn) handleInit(now time.Time, from netip.AddrPort, b []byte) {
	var m initMsg
	if _, err := m.Parse(b); err != nil {
		c.ctr.dropMalformed.Add(1)
		return
	}
	eph := m.ephemeral()
	c.mu.RLock()
	p := c.peers[from]
	act := decideInit(p, &m, &eph)
	var resend []byte
	if act == initResend {
		resend = p.hs.pkt
	}
	full := p == nil && len(c.peers) >= c.opts.MaxPeers
	c.mu.RUnlock()
	switch {
	case act == initResend:
		c.write(resend, from)
		return
	case act == initIgnore:
		return
	case full:
		c.ctr.dropPeerLimit.Add(1)
		return
	}
	hs, err := newResponder(c.id, c.rnd, m.senderIndex, m.noise)
	if err != nil {
		c.ctr.dropHandshake.Add(1)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	p = c.peers[from]
	if decideInit(p, &m, &eph) != initRespond {
		c.mu.Unlock()
		return
	}
	if p == nil {
		if len(c.peers) >= c.opts.MaxPeers {
			c.mu.Unlock()
			c.ctr.dropPeerLimit.Add(1)
			return
		}
		p = c.newPeer(from)
	}
	hs.localIndex = c.newIndex()
	r := responseMsg{senderIndex: hs.localIndex, receiverIndex: m.senderIndex, noise: hs.respNoise}
	hs.pkt = r.Append(make([]byte, 0, responsePacketLen))
	hs.deadline = now.Add(c.opts.HandshakeTimeout)
	c.installHandshake(p, hs)
	c.ctr.hsStarted.Add(1)
	c.mu.Unlock()
	c.write(hs.pkt, from)
}

func (c *Conn) handleResponse(now time.Time, from netip.AddrPort, b []byte) {
	var m responseMsg
	if _, err := m.Parse(b); err != nil {
		c.ctr.dropMalformed.Add(1)
		return
	}
	e, addr, ok := c.lookup(m.receiverIndex)
	if !ok || from != addr {
		c.ctr.dropUnknownIndex.Add(1)
		return
	}
	if s := e.sess; s != nil {
		// Our finish was lost: send it again.
		if s.initiator && s.finishPkt != nil && s.remoteIndex == m.senderIndex {
			c.write(s.finishPkt, from)
		} else {
			c.ctr.dropHandshake.Add(1)
		}
		return
	}
	hs := e.hs
	if !hs.initiator {
		c.ctr.dropHandshake.Add(1)
		return
	}
	finishNoise, k, err := hs.readResponse(c.id, m.noise)
	if err != nil {
		c.ctr.dropHandshake.Add(1)
		return
	}
	s := c.newSession(now, hs, m.senderIndex, k)
	f := finishMsg{receiverIndex: m.senderIndex, noise: finishNoise}
	s.finishPkt = f.Append(make([]byte, 0, finishPacketLen))
	c.complete(e.p, hs, s, s.finishPkt)
}

func (c *Conn) handleFinish(now time.Time, from netip.AddrPort, b []byte) {
	var m finishMsg
	if _, err := m.Parse(b); err != nil {
		c.ctr.dropMalformed.Add(1)
		return
	}
	e, addr, ok := c.lookup(m.receiverIndex)
	if !ok || from != addr {
		c.ctr.dropUnknownIndex.Add(1)
		return
	}
	hs := e.hs
	if hs == nil || hs.initiator {
		c.ctr.dropHandshake.Add(1) // a repeat, or out of turn
		return
	}
	k, err := hs.readFinish(c.id, m.noise)
	if err != nil {
		c.ctr.dropHandshake.Add(1)
		return
	}
	c.complete(e.p, hs, c.newSession(now, hs, hs.remoteIndex, k), nil)
}

func (c *Conn) handleReset(now time.Time, from netip.AddrPort, b []byte) {
	var m resetMsg
	if _, err := m.Parse(b); err != nil {
		c.ctr.dropMalformed.Add(1)
		return
	}
	c.ctr.resetsReceived.Add(1)
	applies := func(p *peer) bool {
		return p != nil && p.cur != nil && p.cur.remoteIndex == m.receiverIndex && !p.cur.stale && p.hs == nil
	}
	c.mu.RLock()
	ok := applies(c.peers[from])
	c.mu.RUnlock()
	if !ok {
		c.ctr.dropUnknownIndex.Add(1)
		return
	}
	hs, err := newInitiator(c.id, c.rnd)
	if err != nil {
		c.log.Warn("udp handshake", "err", err)
		return
	}
	c.mu.Lock()
	p := c.peers[from]
	if c.closed || !applies(p) {
		c.mu.Unlock()
		return
	}
	// The peer lost its session (it restarted): hold new datagrams for a
	// new one, but keep receiving on the old one in case the reset lied.
	p.cur.stale = true
	c.startInitiator(now, p, hs)
	c.mu.Unlock()
	c.write(hs.pkt, from)
	c.log.Debug("udp peer reset, handshaking again", "peer", from)
}

// complete installs s, built by hs, then sends pkt (if any) and the
// datagrams held for the handshake.
func (c *Conn) complete(p *peer, hs *handshake, s *session, pkt []byte) {
	c.mu.Lock()
	if c.closed || p.hs != hs || c.peers[p.addr] != p {
		c.mu.Unlock()
		c.ctr.dropHandshake.Add(1) // timed out or replaced meanwhile
		return
	}
	held, evs := c.establish(p, s)
	addr, ua := p.addr, p.ua
	if pkt != nil {
		// The finish goes out before anyone can send on the session: a
		// datagram that overtook it would reach a responder still without
		// the session, which drops it.
		c.write(pkt, addr)
	}
	c.mu.Unlock()
	c.flushHeld(s, held, addr, ua)
	c.emit(evs)
}

// flushHeld seals and sends datagrams held during a handshake.
func (c *Conn) flushHeld(s *session, held [][]byte, addr netip.AddrPort, ua *net.UDPAddr) {
	if len(held) == 0 {
		return
	}
	a := arenaPool.Get().(*sendArena)
	defer arenaPool.Put(a)
	for len(held) > 0 {
		a.buf, a.pkts = a.buf[:0], a.pkts[:0]
		payload := 0
		for len(held) > 0 && len(a.pkts) < readBatchLen {
			start := len(a.buf)
			var err error
			a.buf, err = s.seal(a.buf, held[0])
			if err != nil {
				a.buf = a.buf[:start]
				c.ctr.dropQueue.Add(1)
			} else {
				a.pkts = append(a.pkts, outPacket{b: a.buf[start:], addr: addr, ua: ua})
				payload += len(held[0])
			}
			held = held[1:]
		}
		if err := c.writeSealed(a.pkts, payload); err != nil {
			c.log.Debug("udp write failed", "to", addr, "err", err)
		}
	}
}
