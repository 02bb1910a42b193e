package core

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

func (l *liveState) onData(now time.Duration, p *peer, d *wire.Data) {
	s := l.s
	if int(d.Total) > s.desc.ChunkBytes || d.Total == 0 || !l.inWindow(d.Chunk) {
		return
	}
	fb := s.desc.FragmentBytes
	if int(d.Offset)%fb != 0 {
		s.e.stats.Malformed++
		return
	}
	idx := int(d.Offset) / fb
	if want := min(fb, int(d.Total)-int(d.Offset)); len(d.Payload) != want {
		s.e.stats.Malformed++
		return
	}
	if !l.edgeKnown || d.Chunk > l.edge {
		l.setEdge(now, d.Chunk)
	}
	c := l.slot(d.Chunk)
	if c == nil {
		return
	}
	if c.have {
		s.stats.DuplicateBytes += int64(len(d.Payload))
		// we hold the verified chunk: any other bytes for it are a lie
		if int(d.Total) != len(c.data) || !bytes.Equal(d.Payload, c.data[d.Offset:int(d.Offset)+len(d.Payload)]) {
			s.stats.ChunksRejected++
			s.e.emit(Event{Kind: EventRejected, Swarm: s.desc.ID, Seq: d.Chunk, Peer: p.addr})
			s.ban(now, p)
			return
		}
		p.proven = true
		return
	}
	if c.total == 0 || len(c.data) == 0 {
		c.total = int(d.Total)
		if cap(c.data) < c.total {
			c.data = l.buffer(c.total)
		}
		c.data = c.data[:c.total]
	} else if c.total != int(d.Total) {
		// sources disagree about the length: start over with this one
		c.got.reset()
		c.nGot = 0
		c.fromOrig = 0
		c.total = int(d.Total)
		if cap(c.data) < c.total {
			c.data = l.buffer(c.total)
		}
		c.data = c.data[:c.total]
		c.mixed = true
	}
	if c.got.has(idx) {
		s.stats.DuplicateBytes += int64(len(d.Payload))
		return
	}
	copy(c.data[d.Offset:], d.Payload)
	c.got.set(idx)
	c.nGot++
	c.lastAt = now
	if p.isOrigin() {
		c.fromOrig += len(d.Payload)
	}
	if c.src == nil {
		c.src = p
	} else if c.src != p {
		c.mixed = true
	}
	if !c.inflight {
		// pushed: watch it like a request so a stalled push is repaired
		p.unrequested += int64(len(d.Payload))
		c.inflight, c.pushed, c.reqPeer, c.reqAt = true, true, p, now
	} else if c.reqPeer != p && c.nGot == 1 && l.parentOf(d.Chunk) == p {
		// the push overtook our request: withdraw the request
		q := c.reqPeer
		q.cancels.add(d.Chunk)
		q.markDirty(s.e)
		l.release(c)
		c.inflight, c.pushed, c.reqPeer, c.reqAt = true, true, p, now
	}
	if c.nGot == (c.total+fb-1)/fb && c.metaOK {
		l.verify(now, c)
	}
}

func (l *liveState) onSigned(now time.Duration, p *peer, m *wire.Signed) {
	if int(m.Length) > l.s.desc.ChunkBytes || !l.inWindow(m.Chunk) {
		return
	}
	if !l.edgeKnown || m.Chunk > l.edge {
		l.setEdge(now, m.Chunk)
	}
	c := l.slot(m.Chunk)
	if c == nil || c.have || c.metaOK {
		return
	}
	c.meta = ChunkMeta{TimestampUs: m.TimestampUs, Flags: m.Flags, Length: m.Length, Signature: m.Signature}
	c.metaOK = true
	c.metaSrc = p
	fb := l.s.desc.FragmentBytes
	if c.total > 0 && c.nGot == (c.total+fb-1)/fb {
		l.verify(now, c)
	}
}

// verify checks a complete chunk against the origin's signature; only then
// is it kept, announced, relayed or played.
func (l *liveState) verify(now time.Duration, c *liveChunk) {
	s := l.s
	m := integrity.ChunkMeta{Seq: c.seq, TimestampUs: c.meta.TimestampUs, Flags: c.meta.Flags, Length: c.meta.Length}
	err := s.e.cfg.Integrity.VerifyLive(l.verifier, m, c.data, c.meta.Signature)
	if err != nil {
		s.stats.ChunksRejected++
		src := c.src
		s.e.emit(Event{Kind: EventRejected, Swarm: s.desc.ID, Seq: c.seq, Peer: addrOf(src)})
		// blame only a peer that provided everything: the data and the signature
		if src != nil && !c.mixed && (c.metaSrc == src || c.metaSrc == nil) && src.state == peerConnected {
			s.ban(now, src)
		} else if c.metaSrc != nil && c.metaSrc != src && c.metaSrc.state == peerConnected && !c.mixed {
			// data from one, signature from another: drop the signature and retry
		}
		l.release(c)
		c.got.reset()
		c.nGot = 0
		c.total = 0
		c.data = c.data[:0]
		c.metaOK = false
		c.src, c.metaSrc, c.mixed, c.fromOrig = nil, nil, false, 0
		return
	}
	l.accept(now, c)
}

func addrOf(p *peer) (a netip.AddrPort) {
	if p != nil {
		return p.addr
	}
	return a
}

// accept stores a verified chunk and announces it.
func (l *liveState) accept(now time.Duration, c *liveChunk) {
	s := l.s
	if c.inflight && c.reqPeer != nil {
		c.reqPeer.delivered++
	}
	// whoever is still sending it to us can stop
	if par := l.parentOf(c.seq); par != nil && par != c.src && par.state == peerConnected {
		par.cancels.add(c.seq)
		par.markDirty(s.e)
	}
	if q := c.reqPeer; q != nil && q != c.src && q.state == peerConnected {
		q.cancels.add(c.seq)
		q.markDirty(s.e)
	}
	l.release(c)
	c.have = true
	c.got.reset()
	if share := s.e.cfg.ShareLive; share != nil && !c.shared {
		if d := share(s.desc.ID, c.seq, c.data); d != nil {
			l.free = append(l.free, c.data[:0])
			c.data, c.shared = d, true
		}
	}
	s.stats.ChunksVerified++
	n := int64(len(c.data))
	switch {
	case c.src == nil: // booster
		s.stats.BytesFromHTTP += n
	default:
		s.stats.BytesFromOrigin += int64(c.fromOrig)
		s.stats.BytesFromPeers += n - int64(c.fromOrig)
		c.src.bytesFrom += n
		c.src.proven = true
		c.src.periodFrom += n
	}
	if c.seq > l.newest || s.stats.ChunksVerified == 1 {
		l.newest = c.seq
	}
	// the freshest chunks calibrate the clock when no wall clock is shared
	if !l.epochKnown {
		heard := c.heardAt
		if heard == 0 {
			heard = now
		}
		off := int64(heard/time.Microsecond) - c.meta.TimestampUs
		if !l.offsetOK || (!l.started && off < l.offsetUs) {
			l.offsetUs = off
			l.offsetOK = true
		} else if off < l.offsetUs {
			l.offsetUs -= min(l.offsetUs-off, 2000) // drift slowly once playing
		}
	}
	if !l.refOK {
		l.firstSeq, l.firstTs = c.seq, c.meta.TimestampUs
		l.refSeq, l.refTs, l.refOK = c.seq, c.meta.TimestampUs, true
	} else if c.seq > l.refSeq {
		l.refSeq, l.refTs = c.seq, c.meta.TimestampUs
		if span := int64(c.seq - l.firstSeq); span >= 16 {
			if d := (c.meta.TimestampUs - l.firstTs) / span; d > 0 {
				l.dur = time.Duration(d) * time.Microsecond
			}
		}
	}
	// the newest chunk is announced at once: batching it would add its
	// wait to every hop of its way across the swarm
	fresh := c.seq >= l.edge
	for _, p := range s.list {
		if p.state == peerConnected && !l.peerHas(p, c.seq) {
			p.addHave(c.seq, &c.meta)
			if fresh {
				p.haveAt = now + haveInterval
				p.markDirty(s.e)
			} else {
				p.announce(now)
			}
		}
	}
	l.pushToChildren(now, c)
	s.e.emit(Event{Kind: EventChunk, Swarm: s.desc.ID, Seq: c.seq, Meta: c.meta, Data: c.data})
}

// Publish hands the origin engine a new signed live chunk. The engine keeps
// a reference to data until the chunk leaves the window.
func (e *Engine) Publish(now time.Duration, id integrity.Hash, seq uint64, meta ChunkMeta, data []byte) error {
	e.advance(now)
	s := e.swarms[wire.TagOf(id)]
	if s == nil {
		return ErrUnknownSwarm
	}
	if s.live == nil || !s.desc.Origin {
		return ErrNotOrigin
	}
	if len(data) > s.desc.ChunkBytes || int(meta.Length) != len(data) || len(data) == 0 {
		return fmt.Errorf("%w: chunk %d has %d bytes (meta says %d, max %d)", ErrSwarm, seq, len(data), meta.Length, s.desc.ChunkBytes)
	}
	l := s.live
	if l.edgeKnown && seq <= l.edge {
		return fmt.Errorf("%w: chunk %d is not after %d", ErrSwarm, seq, l.edge)
	}
	l.setEdge(now, seq)
	c := l.slot(seq)
	c.data = data
	c.total = len(data)
	c.meta = meta
	c.metaOK = true
	c.have = true
	l.newest = seq
	s.stats.ChunksVerified++
	for _, p := range s.list {
		if p.state == peerConnected {
			p.addHave(seq, &meta)
			p.announce(now)
		}
	}
	if l.pushToChildren(now, c) == 0 {
		l.push(now, c) // no tree yet: seed a few strong peers directly
	}
	return nil
}

// push sends a new chunk to a few strong peers, rotating so each chunk
// starts in a different part of the swarm.
func (l *liveState) push(now time.Duration, c *liveChunk) {
	s := l.s
	var cands, wasters []*peer
	// a peer that keeps asking the origin for repairs is cut off from the
	// swarm (or banned by it): a poor place to start a chunk's spread
	repairHeavy := int64(2 * s.desc.ChunkBytes)
	for _, p := range s.list {
		if p.state != peerConnected || p.isOrigin() || p.chokesUs || p.unresponsive(now) {
			continue
		}
		if p.wastesPushes(now) || p.recentTo > repairHeavy {
			wasters = append(wasters, p)
		} else {
			cands = append(cands, p)
		}
	}
	if len(cands) == 0 {
		cands = wasters // better than no push at all
	}
	if len(cands) == 0 {
		return
	}
	// strongest first by advertised then measured contribution; stable
	for i := 1; i < len(cands); i++ {
		for j := i; j > 0 && pushScore(cands[j]) > pushScore(cands[j-1]); j-- {
			cands[j], cands[j-1] = cands[j-1], cands[j]
		}
	}
	// a few copies seed a small swarm; more only as it grows
	fanout := max(1, min(s.e.cfg.OriginFanout, len(cands)/8+1))
	pool := min(len(cands), 3*fanout)
	k := min(fanout, pool)
	for i := 0; i < k; i++ {
		p := cands[(l.pushRR+i)%pool]
		p.enqueue(serveItem{seq: c.seq, deadline: now, push: true, nfrags: (c.total + s.desc.FragmentBytes - 1) / s.desc.FragmentBytes})
		p.queuedBytes += c.total
		if p.pushed++; p.pushed >= 64 {
			p.pushed, p.pushLost = p.pushed/2, p.pushLost/2 // a moving window
		}
		if k == 1 {
			c.pushedTo = p // its only carrier: whether it passes it on shows
		}
	}
	l.pushRR = (l.pushRR + k) % pool
}

// probe asks p, which we serve but which has sent us nothing we could
// verify, for one fragment of a chunk we both hold. An honest peer's answer
// costs it one datagram; a liar's differs from our verified copy and gets
// it banned (onData), instead of drawing on our upload unchecked for as
// long as it has nothing we need.
func (l *liveState) probe(now time.Duration, p *peer) {
	s := l.s
	if p.proven || p.isOrigin() || (p.probedAt > 0 && now-p.probedAt < probeAgain) {
		return
	}
	ask := func(v uint64) {
		// one fragment, chosen at random, is proof enough either way
		p.probedAt = now
		fb := s.desc.FragmentBytes
		fr := fragReq{chunk: v}
		fr.frags.add(uint64(s.e.rng.IntN((len(l.peek(v).data) + fb - 1) / fb)))
		p.fragReqs = append(p.fragReqs, fr)
		p.markDirty(s.e)
	}
	for v := l.newest; v+l.windowN > l.newest && v > 0; v-- {
		if c := l.peek(v); c != nil && c.have && l.peerHas(p, v) {
			ask(v)
			return
		}
	}
	// a peer behind us announces nothing we lack, but it holds what we
	// sent it, once it has had the time to verify it
	if p.servedAt > 0 && now-p.servedAt > 2*p.rtt() {
		if c := l.peek(p.servedSeq); c != nil && c.have {
			ask(p.servedSeq)
		}
	}
}

// probeAgain is how long a probe may go unanswered (a busy peer rejects
// it) before the next.
const probeAgain = 5 * time.Second

// pushMissed notes that p asks the origin for a chunk it pushed to another
// peer. Once a second peer does, the one it was pushed to did not pass it
// on. (One asker proves little: it may be cut off from the rest itself, a
// banned liar for one.)
func (l *liveState) pushMissed(now time.Duration, p *peer, seq uint64) {
	c := l.peek(seq)
	if c == nil || c.pushedTo == nil || c.pushedTo == p {
		return
	}
	q := c.pushedTo
	for i := range q.serveQ {
		if q.serveQ[i].seq == seq {
			return // not sent yet: our lateness, not theirs
		}
	}
	if c.askedBy == nil || c.askedBy == p {
		c.askedBy = p
		return
	}
	c.pushedTo = nil // one count per chunk
	q.pushLost++
	q.pushLostAt = now
}

func pushScore(p *peer) int64 { return p.uploadHintBps + p.bytesTo/1000 }

// HandleBoosted accepts a live chunk the driver fetched from the booster;
// it is verified like any other before it is used.
func (e *Engine) HandleBoosted(now time.Duration, id integrity.Hash, seq uint64, meta ChunkMeta, data []byte) error {
	e.advance(now)
	s := e.swarms[wire.TagOf(id)]
	if s == nil || s.live == nil {
		return ErrUnknownSwarm
	}
	l := s.live
	if len(data) > s.desc.ChunkBytes || int(meta.Length) != len(data) {
		s.stats.ChunksRejected++
		return fmt.Errorf("%w: boosted chunk %d: length %d", ErrBadChunk, seq, len(data))
	}
	c := l.slot(seq)
	if c == nil || c.have {
		return nil
	}
	m := integrity.ChunkMeta{Seq: seq, TimestampUs: meta.TimestampUs, Flags: meta.Flags, Length: meta.Length}
	if err := e.cfg.Integrity.VerifyLive(l.verifier, m, data, meta.Signature); err != nil {
		s.stats.ChunksRejected++
		e.emit(Event{Kind: EventRejected, Swarm: id, Seq: seq})
		return fmt.Errorf("%w: boosted chunk %d: %v", ErrBadChunk, seq, err)
	}
	l.release(c)
	if cap(c.data) < len(data) {
		c.data = l.buffer(len(data))
	}
	c.data = c.data[:len(data)]
	copy(c.data, data)
	c.total = len(data)
	c.meta = meta
	c.metaOK = true
	c.src, c.mixed, c.fromOrig = nil, false, 0
	if !l.edgeKnown || seq > l.edge {
		l.setEdge(now, seq)
	}
	l.accept(now, c)
	return nil
}

// onKeyframe takes one entry of a Keyframe frame: a Have, and a hint of
// where playback can start and when that start is due.
func (l *liveState) onKeyframe(now time.Duration, p *peer, k wire.KeyframeEntry) {
	if k.Chunk == math.MaxUint64 {
		return
	}
	l.s.onHave(now, p, k.Chunk, k.Chunk+1)
	if !l.inWindow(k.Chunk) {
		return
	}
	c := l.slot(k.Chunk)
	if c == nil || c.metaOK {
		return
	}
	c.rapHint, c.hintTs = true, k.TimestampUs
	if !l.hintRefOK || k.Chunk > l.hintRefSeq {
		l.hintRefSeq, l.hintRefTs, l.hintRefOK = k.Chunk, k.TimestampUs, true
	}
}

// appendKeyframes appends a Keyframe frame naming the random-access chunks
// held in [lo, hi), the newest that fit in room bytes, so that a newcomer
// knows at once where it can start to play.
func (l *liveState) appendKeyframes(b []byte, lo, hi uint64, room int) []byte {
	m := &l.s.e.fKeyframe
	m.Entries = m.Entries[:0]
	for v := hi; v > lo && len(m.Entries) < 8; v-- {
		if c := l.peek(v - 1); c != nil && c.have && c.metaOK && c.meta.Flags&wire.ChunkRAP != 0 {
			m.Entries = append(m.Entries, wire.KeyframeEntry{Chunk: v - 1, TimestampUs: c.meta.TimestampUs})
		}
	}
	for len(m.Entries) > 0 && m.Len() > room {
		m.Entries = m.Entries[:len(m.Entries)-1] // keep the newest
	}
	if len(m.Entries) == 0 {
		return b
	}
	return m.Append(b)
}
