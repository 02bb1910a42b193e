package udp

import (
	"net"
	"net/netip"
	"time"
)

// State changes of peers, handshakes and sessions. Every function here is
// called with c.mu held for writing.

func (c *Conn) newPeer(addr netip.AddrPort) *peer {
	p := &peer{addr: addr, ua: net.UDPAddrFromAddrPort(addr)}
	c.peers[addr] = p
	return p
}

// startInitiator gives hs an index and a schedule and makes it p's handshake.
func (c *Conn) startInitiator(now time.Time, p *peer, hs *handshake) {
	hs.localIndex = c.newIndex()
	m := initMsg{senderIndex: hs.localIndex, noise: hs.initNoise}
	hs.pkt = m.Append(make([]byte, 0, initPacketLen))
	hs.deadline = now.Add(c.opts.HandshakeTimeout)
	hs.backoff = c.opts.HandshakeRetransmit
	hs.nextSend = now.Add(hs.backoff)
	c.installHandshake(p, hs)
	c.ctr.hsStarted.Add(1)
}

// installHandshake makes hs p's handshake, replacing any other.
func (c *Conn) installHandshake(p *peer, hs *handshake) {
	if p.hs != nil {
		delete(c.byIndex, p.hs.localIndex)
	}
	p.hs = hs
	c.byIndex[hs.localIndex] = indexEntry{p: p, hs: hs}
	c.handshaking[p] = struct{}{}
}

func (c *Conn) dropHandshake(p *peer) {
	if p.hs == nil {
		return
	}
	delete(c.byIndex, p.hs.localIndex)
	delete(c.handshaking, p)
	p.hs = nil
}

// newSession needs no lock: the session is not yet reachable.
func (c *Conn) newSession(now time.Time, hs *handshake, remoteIndex uint32, k keys) *session {
	s := &session{
		localIndex:  hs.localIndex,
		remoteIndex: remoteIndex,
		peerID:      PeerIDFromPublicKey(k.remoteStatic),
		initiator:   hs.initiator,
		send:        k.send,
		recv:        k.recv,
	}
	if hs.initiator {
		s.initEph = hs.ephPub
	} else {
		copy(s.initEph[:], hs.initNoise)
	}
	ns := c.nanos(now)
	s.lastSendNs.Store(ns)
	s.lastRecvNs.Store(ns)
	return s
}

// establish makes s, completed by p's handshake, p's current session. It
// returns the datagrams held for the handshake and the events to emit.
func (c *Conn) establish(p *peer, s *session) ([][]byte, []Event) {
	delete(c.handshaking, p)
	p.hs = nil
	c.byIndex[s.localIndex] = indexEntry{p: p, sess: s} // the handshake's index lives on
	c.ctr.hsCompleted.Add(1)

	var evs []Event
	if p.prev != nil {
		delete(c.byIndex, p.prev.localIndex)
		p.prev = nil
	}
	if old := p.cur; old != nil {
		if old.peerID == s.peerID {
			p.prev = old // packets sealed before the switch may still arrive
		} else {
			delete(c.byIndex, old.localIndex)
			evs = append(evs, Event{Kind: SessionDown, Addr: p.addr, Peer: old.peerID, Reason: "replaced"})
		}
	}
	p.cur = s
	evs = append(evs, Event{Kind: SessionUp, Addr: p.addr, Peer: s.peerID})

	held := p.queue
	p.queue = nil
	for _, b := range held {
		c.queuedBytes -= len(b)
	}
	return held, evs
}

// removePeer forgets p: sessions, handshake and held datagrams.
func (c *Conn) removePeer(p *peer) {
	if c.peers[p.addr] == p {
		delete(c.peers, p.addr)
	}
	c.dropHandshake(p)
	for _, s := range []*session{p.cur, p.prev} {
		if s != nil {
			delete(c.byIndex, s.localIndex)
		}
	}
	for _, b := range p.queue {
		c.queuedBytes -= len(b)
	}
	c.ctr.dropQueue.Add(uint64(len(p.queue)))
	p.queue = nil
}

// roam moves p to from after s, p's current session, authenticated the
// newest packet from there. It returns p's address afterwards. The caller
// holds no lock.
func (c *Conn) roam(p *peer, s *session, from netip.AddrPort) netip.AddrPort {
	c.mu.Lock()
	if c.closed || c.peers[p.addr] != p || p.cur != s {
		addr := p.addr
		c.mu.Unlock()
		return addr
	}
	var evs []Event
	if q := c.peers[from]; q != nil {
		if q.cur != nil {
			evs = append(evs, Event{Kind: SessionDown, Addr: from, Peer: q.cur.peerID, Reason: "address taken"})
		}
		c.removePeer(q)
	}
	old := p.addr
	delete(c.peers, old)
	p.addr, p.ua = from, net.UDPAddrFromAddrPort(from)
	c.peers[from] = p
	evs = append(evs, Event{Kind: SessionMoved, Addr: from, From: old, Peer: s.peerID})
	c.mu.Unlock()
	c.log.Debug("udp peer moved", "from", old, "to", from)
	c.emit(evs)
	return from
}

// tick retransmits handshakes, gives up late ones and forgets idle
// sessions. The timer goroutine calls it a few times per retransmission
// interval.
func (c *Conn) tick(now time.Time) {
	var out []outPacket
	var evs []Event
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	for p := range c.handshaking {
		hs := p.hs
		if !now.Before(hs.deadline) {
			c.ctr.hsTimedOut.Add(1)
			c.dropHandshake(p)
			if p.cur == nil || p.cur.stale {
				if p.cur != nil {
					evs = append(evs, Event{Kind: SessionDown, Addr: p.addr, Peer: p.cur.peerID, Reason: "handshake timeout"})
				}
				c.removePeer(p)
			}
			continue
		}
		if hs.initiator && !now.Before(hs.nextSend) {
			out = append(out, outPacket{b: hs.pkt, addr: p.addr, ua: p.ua})
			hs.backoff *= 2
			hs.nextSend = now.Add(hs.backoff)
		}
	}
	if !now.Before(c.nextIdleScan) {
		c.nextIdleScan = now.Add(min(c.opts.IdleTimeout/8, time.Second))
		limit := c.nanos(now) - int64(c.opts.IdleTimeout)
		for _, p := range c.peers {
			if p.hs != nil || p.cur == nil {
				continue
			}
			if max(p.cur.lastSendNs.Load(), p.cur.lastRecvNs.Load()) <= limit {
				evs = append(evs, Event{Kind: SessionDown, Addr: p.addr, Peer: p.cur.peerID, Reason: "idle"})
				c.removePeer(p)
			}
		}
	}
	c.mu.Unlock()
	for _, o := range out {
		c.write(o.b, o.addr)
	}
	c.emit(evs)
}
