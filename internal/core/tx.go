package core

import (
	"net/netip"
	"time"

	"github.com/shoalstream/shoal/internal/wire"
)

func (e *Engine) sendGoodbye(s *swarm, p *peer, reason uint8) {
	p.closeReason = int(reason)
	p.markDirty(e)
}

// PollTransmit appends the next datagram to send to buf[:0] and returns it
// with its destination; ok is false when nothing may be sent now.
func (e *Engine) PollTransmit(buf []byte) (to netip.AddrPort, datagram []byte, ok bool) {
	now := e.now
	for e.ctlHead < len(e.ctlQ) {
		p := e.ctlQ[e.ctlHead]
		e.ctlQ[e.ctlHead] = nil
		e.ctlHead++
		p.dirty = false
		if p.state == peerGone && p.closeReason < 0 {
			continue
		}
		b, more := e.buildControl(now, p, buf[:0])
		if more {
			p.markDirty(e)
		}
		if b != nil {
			e.sent(p, len(b), now)
			// control goes at once, but its bytes count against the cap so
			// that data leaves it room: on a slow uplink acks, haves and
			// requests are a fifth of the traffic, and queued behind data
			// they would make this peer late for everything it asks for
			e.uploadAllowed(now, 0)
			e.spend(len(b))
			return p.addr, b, true
		}
	}
	// the queue is empty: reuse its memory from the start
	e.ctlQ = e.ctlQ[:0]
	e.ctlHead = 0
	if e.wakeAt > now && e.bucketShort(now, e.cfg.MaxDatagramBytes) {
		// the bucket is short and a wake-up is already set for when it
		// holds enough: choosing what to send would be wasted
		return netip.AddrPort{}, nil, false
	}
	for {
		s, p := e.pickData()
		if p == nil {
			return netip.AddrPort{}, nil, false
		}
		if !e.uploadAllowed(now, e.cfg.MaxDatagramBytes) {
			return netip.AddrPort{}, nil, false
		}
		b, sent := e.buildData(now, s, p, buf[:0])
		if b == nil {
			continue // the item at the head was dropped; look again
		}
		e.sent(p, len(b), now)
		if sent {
			e.spend(len(b))
		}
		return p.addr, b, true
	}
}

func (e *Engine) sent(p *peer, n int, now time.Duration) {
	p.lastSend = now
	e.stats.DatagramsOut++
	e.stats.BytesOut += uint64(n)
}

// pickData chooses the neighbour whose owed chunk comes first (see
// sendsBefore) and whose congestion window has room.
func (e *Engine) pickData() (*swarm, *peer) {
	var best *peer
	var bestS *swarm
	for _, s := range e.order {
		k := 0
		for _, p := range s.serving {
			if len(p.serveQ) == 0 || p.state == peerGone {
				p.serving = false
				continue
			}
			s.serving[k] = p
			k++
			if p.state != peerConnected || !p.cc.canSend(e.cfg.MaxDatagramBytes) {
				continue
			}
			e.bestFirst(s, p)
			if best == nil || e.peerBefore(s, p, best) {
				best, bestS = p, s
			}
		}
		clear(s.serving[k:])
		s.serving = s.serving[:k]
	}
	return bestS, best
}

// peerBefore says whether p's next item goes before q's. An origin serves
// urgent requests (repairs) least-served peer first: its upload is the
// swarm's reserve, and a peer that needs it all the time, such as one its
// neighbours banned for lying, must not take it from those that need it
// now and then.
func (e *Engine) peerBefore(s *swarm, p, q *peer) bool {
	a, b := &p.serveQ[0], &q.serveQ[0]
	if s.desc.Origin && s.live != nil && p.recentTo != q.recentTo && e.sendClass(a) == 1 && e.sendClass(b) == 1 {
		return p.recentTo < q.recentTo
	}
	return e.sendsBefore(s, a, b)
}

// sendsBefore orders what a live relay sends: pushes first, then requests
// due within the urgent window, earliest deadline first, then the rest
// newest first: a fresh chunk is one its receiver will pass on, and every
// hop it waits here delays everyone downstream. On demand is by deadline.
func (e *Engine) sendsBefore(s *swarm, a, b *serveItem) bool {
	if s.live == nil {
		return a.deadline < b.deadline
	}
	ca, cb := e.sendClass(a), e.sendClass(b)
	switch {
	case ca != cb:
		return ca < cb
	case ca == 2:
		return a.deadline > b.deadline
	}
	return a.deadline < b.deadline
}

func (e *Engine) sendClass(it *serveItem) int {
	switch {
	case it.push:
		return 0
	case it.deadline-e.now < e.cfg.UrgentWindow:
		return 1
	}
	return 2
}

// bestFirst moves p's first item to send to the head of its queue, unless
// the head is already under way.
func (e *Engine) bestFirst(s *swarm, p *peer) {
	q := p.serveQ
	if len(q) < 2 || q[0].next > 0 {
		return
	}
	bi := 0
	for i := 1; i < len(q); i++ {
		if e.sendsBefore(s, &q[i], &q[bi]) {
			bi = i
		}
	}
	q[0], q[bi] = q[bi], q[0]
}

// space is what is left for frames in a datagram holding n bytes.
func (e *Engine) space(b []byte) int { return e.cfg.MaxDatagramBytes - len(b) }

// buildControl writes p's waiting control frames; more reports leftovers.
func (e *Engine) buildControl(now time.Duration, p *peer, b []byte) (out []byte, more bool) {
	s := p.s
	b = wire.AppendHeader(b, s.tag)
	hdr := len(b)
	if p.closeReason >= 0 {
		c := wire.Close{Reason: uint8(p.closeReason)}
		p.closeReason = -1
		return c.Append(b), false
	}
	if p.needHS {
		var flags uint8
		if s.desc.Origin {
			flags |= wire.FlagOrigin
		}
		if s.desc.Seed {
			flags |= wire.FlagSeed
		}
		h := wire.Handshake{Version: wire.Version, Flags: flags, SwarmID: s.desc.ID, PeerID: e.id, UploadBps: uint64(e.cfg.AdvertisedUploadBps)}
		b = h.Append(b)
		p.needHS = false
		if p.state == peerConnecting {
			p.hsSent++
			p.hsNext = now + time.Duration(1<<min(p.hsSent-1, 4))*500*time.Millisecond
		}
	}
	if p.state != peerConnected {
		if len(b) == hdr {
			return nil, false
		}
		return b, false
	}
	if p.needBF {
		var done bool
		b, done = s.appendBitfield(b, p, e.space(b))
		if done {
			p.needBF = false
		} else {
			more = true
		}
	}
	if p.needChoke && e.space(b) > 4 {
		b = (&e.fChoke).Append(b)
		p.needChoke = false
	}
	if p.needUnchoke && e.space(b) > 4 {
		b = (&e.fUnchoke).Append(b)
		p.needUnchoke = false
	}
	if p.tree.need && s.live != nil && e.space(b) > 100 {
		b = s.live.appendTree(b, p)
	}
	if p.ackPending > 0 && e.space(b) > 60 {
		b = e.appendAck(now, p, b)
	}
	if len(p.keyframes) > 0 {
		m := &e.fKeyframe
		m.Entries = append(m.Entries[:0], p.keyframes...)
		if len(b)+m.Len() <= e.cfg.MaxDatagramBytes {
			b = m.Append(b)
			p.keyframes = p.keyframes[:0]
		} else {
			more = true
		}
	}
	b, more = e.appendRanges(b, &p.haves, wire.TypeHave, 0, more)
	b, more = e.appendRanges(b, &p.rejects, wire.TypeReject, 0, more)
	b, more = e.appendRanges(b, &p.cancels, wire.TypeCancel, 0, more)
	if len(p.reqs) > 0 {
		b, more = e.appendRanges(b, &p.reqs, wire.TypeRequest, p.reqDeadline, more)
		if len(p.reqs) == 0 {
			p.reqDeadline = 0
		}
	}
	for len(p.fragReqs) > 0 {
		fr := &p.fragReqs[0]
		m := wire.RequestFragments{Chunk: fr.chunk, Flags: fr.flags, Fragments: fr.frags}
		if len(m.Fragments) > 64 {
			m.Fragments = m.Fragments[:64]
		}
		if m.Len() > e.space(b) {
			more = true
			break
		}
		b = m.Append(b)
		p.fragReqs = p.fragReqs[1:]
	}
	if p.needPex && e.space(b) > 200 {
		b = s.appendPex(b, p, e.space(b))
		p.needPex = false
	}
	if len(b) == hdr && p.needKeep {
		b = (&e.fKeep).Append(b)
	}
	p.needKeep = false
	if len(b) == hdr {
		return nil, more
	}
	return b, more
}

// appendRanges moves as many ranges from l as fit into one frame of type t.
func (e *Engine) appendRanges(b []byte, l *rangeList, t wire.Type, deadlineMs uint32, more bool) ([]byte, bool) {
	if len(*l) == 0 {
		return b, more
	}
	room := e.space(b) - 12
	n := min(len(*l), room/20, 128)
	if n <= 0 {
		return b, true
	}
	switch t {
	case wire.TypeHave:
		e.fHave.Ranges = l.take(e.fHave.Ranges[:0], n)
		b = e.fHave.Append(b)

	case wire.TypeReject:
		e.fReject.Ranges = l.take(e.fReject.Ranges[:0], n)
		b = e.fReject.Append(b)
	case wire.TypeCancel:
		e.fCancel.Ranges = l.take(e.fCancel.Ranges[:0], n)
		b = e.fCancel.Append(b)
	case wire.TypeRequest:
		e.fRequest.DeadlineMs = deadlineMs
		e.fRequest.Ranges = l.take(e.fRequest.Ranges[:0], n)
		b = e.fRequest.Append(b)
	}
	return b, more || len(*l) > 0
}

func (e *Engine) appendAck(now time.Duration, p *peer, b []byte) []byte {
	a := &e.fAck
	a.DelayUs = int64(p.ackRecvAt/time.Microsecond) - int64(p.ackSendUs)
	n := min(len(p.ackRanges), 8)
	a.Ranges = append(a.Ranges[:0], p.ackRanges[len(p.ackRanges)-n:]...)
	p.ackPending = 0
	return a.Append(b)
}

// buildData writes the next fragment p is owed. sent is false when the
// datagram carries only the chunk's signature.
func (e *Engine) buildData(now time.Duration, s *swarm, p *peer, b []byte) (out []byte, sent bool) {
	it := &p.serveQ[0]
	if s.live != nil && (now-it.deadline > s.e.cfg.PlayDelay/2 || (it.push && it.next == 0 && s.live.peerHas(p, it.seq))) {
		p.popServe(s) // stale, or they got it elsewhere: sending it now is waste
		return nil, false
	}
	data, meta, ok := s.chunkForServe(it.seq)
	f := it.next
	if it.frags != nil {
		f = it.frags.nextSetFrom(it.next, it.nfrags)
	}
	if !ok || f >= it.nfrags || len(data) == 0 {
		if !ok {
			p.rejects.add(it.seq)
			p.markDirty(e)
		}
		p.popServe(s)
		return nil, false
	}
	fb := s.desc.FragmentBytes
	off := f * fb
	end := min(off+fb, len(data))
	if off >= len(data) {
		p.popServe(s)
		return nil, false
	}
	b = wire.AppendHeader(b, s.tag)
	d := &e.fData
	d.Chunk, d.Offset, d.Total = it.seq, uint32(off), uint32(len(data))
	d.SendTimeUs = uint64(now / time.Microsecond)
	d.PacketNum = p.cc.nextPN
	d.Payload = data[off:end]
	last := f+1 >= it.nfrags
	if it.frags != nil {
		last = it.frags.nextSetFrom(f+1, it.nfrags) >= it.nfrags
	}
	if s.live != nil && !it.metaSent && last {
		sg := &e.fSigned
		sg.Chunk, sg.TimestampUs, sg.Flags, sg.Length, sg.Signature = it.seq, meta.TimestampUs, meta.Flags, meta.Length, meta.Signature
		if len(b)+sg.Len()+d.Len() <= e.cfg.MaxDatagramBytes {
			b = sg.Append(b)
		} else {
			// it does not fit beside the fragment: send it alone first
			it.metaSent = true
			return sg.Append(b), false
		}
		it.metaSent = true
	}
	if p.ackPending > 0 && len(b)+d.Len()+40 <= e.cfg.MaxDatagramBytes {
		b = e.appendAck(now, p, b)
	}
	size := len(b) + d.Len()
	p.cc.onSend(now, size)
	b = d.Append(b)
	it.next = f + 1
	if it.frags != nil {
		it.frags.clear(f)
	}
	n := int64(end - off)
	s.stats.BytesUploaded += n
	p.bytesTo += n
	if !it.push {
		p.recentTo += n
	}
	s.sentWindow += int64(size)
	if last {
		if now-p.servedAt > time.Second || p.servedAt == 0 {
			// at most one a second: a peer asking all the time must
			// still have one it has had the time to verify
			p.servedSeq, p.servedAt = it.seq, now
		}
		p.popServe(s)
	}
	return b, true
}

func (p *peer) popServe(s *swarm) {
	p.queuedBytes -= s.desc.ChunkBytes
	if p.queuedBytes < 0 {
		p.queuedBytes = 0
	}
	copy(p.serveQ, p.serveQ[1:])
	p.serveQ[len(p.serveQ)-1] = serveItem{}
	p.serveQ = p.serveQ[:len(p.serveQ)-1]
}

// chunkForServe returns a held chunk's bytes and, live, its signature.
func (s *swarm) chunkForServe(v uint64) ([]byte, ChunkMeta, bool) {
	if s.live != nil {
		c := s.live.peek(v)
		if c == nil || !c.have {
			return nil, ChunkMeta{}, false
		}
		return c.data, c.meta, true
	}
	d, ok := s.vod.read(int(v))
	return d, ChunkMeta{}, ok
}

func (s *swarm) appendBitfield(b []byte, p *peer, room int) ([]byte, bool) {
	start := len(b)
	var lo, hi uint64 // [lo, hi) to describe
	if s.live != nil {
		l := s.live
		if !l.edgeKnown {
			return b, true
		}
		hi = l.edge + 1
		lo = 0
		if hi > l.windowN {
			lo = hi - l.windowN
		}
	} else {
		lo, hi = uint64(p.bfNext), uint64(s.vod.n)
	}
	count := min(hi-lo, uint64((room-24)*8), 8192)
	if count == 0 {
		return b, true
	}
	// a frame of our own: a parsed Bitfield's Bits alias a received datagram
	bf := &s.e.outBitfield
	bf.Start = lo
	bf.Count = uint32(count)
	bf.Bits = append(bf.Bits[:0], make([]byte, (count+7)/8)...)
	any := false
	for i := uint64(0); i < count; i++ {
		if s.has(lo + i) {
			bf.Bits[i>>3] |= 0x80 >> (i & 7)
			any = true
		}
	}
	if any {
		b = bf.Append(b)
	}
	if s.live != nil {
		b = s.live.appendKeyframes(b, lo, lo+count, room-(len(b)-start))
	}
	if s.vod != nil {
		p.bfNext = int(lo + count)
		return b, uint64(p.bfNext) >= hi
	}
	return b, true
}

func (s *swarm) appendPex(b []byte, p *peer, room int) []byte {
	m := &s.e.fPex
	m.Peers = m.Peers[:0]
	max := min(16, (room-8)/24)
	// a random sample of the other connected neighbours
	n := len(s.list)
	if n < 2 {
		return b
	}
	start := s.e.rng.IntN(n)
	for i := 0; i < n && len(m.Peers) < max; i++ {
		q := s.list[(start+i)%n]
		if q == p || q.state != peerConnected || !q.addr.IsValid() {
			continue
		}
		m.Peers = append(m.Peers, wire.PexPeer{Addr: q.addr})
	}
	if len(m.Peers) == 0 {
		return b
	}
	return m.Append(b)
}
