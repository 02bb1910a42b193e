package core

import (
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

// liveChunk is one slot of the live window.
type liveChunk struct {
	seq         uint64
	valid       bool
	have        bool
	data        []byte
	total       int
	got         bitset
	nGot        int
	meta        ChunkMeta
	metaOK      bool
	src         *peer // where the data came from first (requested or pushed)
	metaSrc     *peer
	mixed       bool
	fromOrig    int // payload bytes that came from the origin
	inflight    bool
	reqPeer     *peer
	reqAt       time.Duration
	lastAt      time.Duration
	retries     int
	boosted     bool
	heardAt     time.Duration // when we first learnt that it exists
	pushed      bool          // arriving unrequested, down a push tree
	pushedTo    *peer         // origin: the first peer it was pushed to
	askedBy     *peer         // origin: the first other peer that asked for it
	lateCounted bool
	shared      bool  // data is Config.ShareLive's copy: read-only, not ours to reuse
	rapHint     bool  // a peer says it starts a random-access point
	hintTs      int64 // and that its timestamp is this
}

type liveState struct {
	s        *swarm
	ring     int
	mask     uint64
	slots    []liveChunk
	verifier *integrity.Verifier

	edgeKnown bool
	edge      uint64 // highest seq known to exist
	newest    uint64 // highest seq held
	dur       time.Duration
	windowN   uint64 // chunks kept behind the edge

	// time reference: deadlines are origin timestamps mapped to engine time
	refSeq     uint64
	refTs      int64
	refOK      bool
	hintRefSeq uint64 // the newest keyframe hint: deadlines before any chunk is verified
	hintRefTs  int64
	hintRefOK  bool
	firstSeq   uint64
	firstTs    int64
	offsetUs   int64 // engine time µs minus origin time µs
	offsetOK   bool
	epochKnown bool

	joined   bool
	joinSeq  uint64 // where playback is to start: a keyframe once one is known
	joinLo   uint64 // the earliest chunk playback can still start at
	started  bool
	playhead uint64
	stalled  bool

	pushRR int

	free    [][]byte // chunk buffers of chunks that left the window
	freedTo uint64   // chunks below this have given their buffers back

	boostWindowAt  time.Duration
	boostsInWindow int
	tree           treeState
	sched          []uint64 // scratch
}

func newLiveState(s *swarm, now time.Duration) *liveState {
	cfg := &s.e.cfg
	dur := s.desc.chunkDuration()
	if dur <= 0 {
		dur = 50 * time.Millisecond
	}
	// chunks may be cut short at keyframes, so keep room for twice as many
	n := int(2*cfg.LiveWindow/dur) + 64
	ring := 64
	for ring < n {
		ring <<= 1
	}
	verifier, _ := integrity.NewVerifier(s.desc.OriginKey, s.desc.ID) // checked by validate
	l := &liveState{
		s: s, ring: ring, mask: uint64(ring - 1), slots: make([]liveChunk, ring),
		verifier: verifier,
		dur:      dur,
		windowN:  uint64(cfg.LiveWindow / dur),
	}
	l.tree = newTreeState(cfg.Substreams, s.desc.Origin)
	if cfg.UnixEpochUs != 0 {
		l.offsetUs = -cfg.UnixEpochUs
		l.offsetOK = true
		l.epochKnown = true
	}
	return l
}

// slot returns seq's slot, claiming it when it holds an older chunk.
func (l *liveState) slot(seq uint64) *liveChunk {
	c := &l.slots[seq&l.mask]
	if !c.valid || c.seq != seq {
		if c.valid && c.seq > seq {
			return nil // newer chunk there: seq is too old
		}
		l.release(c)
		*c = liveChunk{seq: seq, valid: true, got: c.got, data: c.ownData()}
		if c.got == nil {
			c.got = newBitset(l.s.fragsMax)
		} else {
			c.got.reset()
		}
	}
	return c
}

func (l *liveState) peek(seq uint64) *liveChunk {
	c := &l.slots[seq&l.mask]
	if c.valid && c.seq == seq {
		return c
	}
	return nil
}

func (l *liveState) release(c *liveChunk) {
	if c.inflight && !c.pushed && c.reqPeer != nil && c.reqPeer.outstanding > 0 {
		c.reqPeer.outstanding--
	}
	c.inflight = false
	c.pushed = false
	c.reqPeer = nil
}

// ownData returns c's buffer emptied for reuse, or nil if it is shared.
func (c *liveChunk) ownData() []byte {
	if c.shared {
		return nil
	}
	return c.data[:0]
}

// buffer returns a chunk buffer of n bytes, reusing one given back.
func (l *liveState) buffer(n int) []byte {
	for len(l.free) > 0 {
		b := l.free[len(l.free)-1]
		l.free = l.free[:len(l.free)-1]
		if cap(b) >= n {
			return b[:n]
		}
	}
	return make([]byte, n, max(n, l.s.desc.ChunkBytes))
}

// recycle gives back the buffers of chunks that fell out of the window, so
// a viewer holds about a window of chunks, not a ring's worth.
func (l *liveState) recycle() {
	if !l.edgeKnown || l.s.desc.Origin || l.edge < l.windowN {
		return
	}
	lo := l.edge - l.windowN
	if l.freedTo+uint64(l.ring) < lo {
		l.freedTo = lo - uint64(l.ring)
	}
	for ; l.freedTo < lo; l.freedTo++ {
		c := &l.slots[l.freedTo&l.mask]
		if !c.valid || c.seq != l.freedTo || cap(c.data) == 0 {
			continue
		}
		if l.started && c.seq >= l.playhead {
			break // never take back what is still to be played
		}
		l.release(c)
		if d := c.ownData(); d != nil {
			l.free = append(l.free, d)
		}
		*c = liveChunk{got: c.got}
	}
}

// inWindow says whether seq is worth holding now.
func (l *liveState) inWindow(seq uint64) bool {
	if !l.edgeKnown {
		return true
	}
	if seq > l.edge+uint64(l.ring/4) {
		return false
	}
	return seq+l.windowN >= l.edge
}

func (l *liveState) setEdge(now time.Duration, seq uint64) {
	if !l.edgeKnown || seq > l.edge {
		if l.edgeKnown && seq > l.edge+uint64(l.ring/2) && !l.s.desc.Origin {
			return // an implausible jump: ignore it
		}
		for v := l.edge + 1; l.edgeKnown && v <= seq && v-l.edge < uint64(l.ring); v++ {
			if c := l.slot(v); c != nil && c.heardAt == 0 {
				c.heardAt = now
			}
		}
		l.edge = seq
		l.edgeKnown = true
		if c := l.slot(seq); c != nil && c.heardAt == 0 {
			c.heardAt = now
		}
	}
}

// peerHas says whether p announced seq and still holds it.
func (l *liveState) peerHas(p *peer, seq uint64) bool {
	if !p.hasAny || seq > p.haveHi || seq+uint64(l.ring) <= p.haveHi {
		return false
	}
	return p.have.has(int(seq & l.mask))
}

func (l *liveState) onHave(now time.Duration, p *peer, a, b uint64) {
	for v := a; v < b; v++ {
		if !p.hasAny || v > p.haveHi {
			if p.hasAny {
				for w := p.haveHi + 1; w < v && w-p.haveHi <= uint64(l.ring); w++ {
					p.have.clear(int(w & l.mask))
				}
			}
			if p.hasAny && v-p.haveHi > uint64(l.ring) {
				p.have.reset()
			}
			p.haveHi = v
			p.hasAny = true
		} else if v+uint64(l.ring) <= p.haveHi {
			continue
		}
		p.have.set(int(v & l.mask))
		if l.s.desc.Origin {
			continue
		}
		l.setEdge(now, v)
		if c := l.peek(v); c != nil {
			l.onAnnounceLag(now, p, c)
		}
		l.onAnnounce(now, p, v)
	}
}

// onAnnounce requests a newly announced chunk at once when it is wanted,
// instead of waiting for the next tick: one less delay per hop.
func (l *liveState) onAnnounce(now time.Duration, p *peer, v uint64) {
	if !l.joined || p.chokesUs || p.isOrigin() || p.state != peerConnected {
		return
	}
	lo := l.joinSeq
	if l.started {
		lo = l.playhead
	}
	if v < lo {
		return
	}
	c := l.slot(v)
	if c == nil || c.have || c.inflight || l.awaitPush(now, c) {
		return
	}
	if p.outstanding >= l.requestLimit(p) {
		return
	}
	l.request(now, p, c, l.deadline(now, v))
}

// tick plays what is due, retries what stalled, and requests what is missing.
func (l *liveState) tick(now time.Duration) {
	l.shedChildren(now)
	l.recycle()
	if l.s.desc.Origin {
		return
	}
	l.play(now)
	l.checkParents(now)
	l.schedule(now)
}

// deadline maps seq to the engine time it must be played at.
func (l *liveState) deadline(now time.Duration, seq uint64) time.Duration {
	var ts int64
	if c := l.peek(seq); c != nil && c.metaOK {
		ts = c.meta.TimestampUs
	} else if c != nil && c.rapHint {
		ts = c.hintTs
	} else if l.refOK {
		ts = l.refTs + (int64(seq)-int64(l.refSeq))*l.dur.Microseconds()
	} else if l.hintRefOK {
		ts = l.hintRefTs + (int64(seq)-int64(l.hintRefSeq))*l.dur.Microseconds()
	} else {
		// nothing known yet: the edge was produced about now
		return now + l.s.e.cfg.PlayDelay - time.Duration(int64(l.edge)-int64(seq))*l.dur
	}
	if !l.offsetOK {
		return now + l.s.e.cfg.PlayDelay - time.Duration(int64(l.edge)-int64(seq))*l.dur
	}
	return time.Duration(ts+l.offsetUs)*time.Microsecond + l.s.e.cfg.PlayDelay
}

func (l *liveState) play(now time.Duration) {
	s := l.s
	if !l.edgeKnown {
		return
	}
	if !l.joined {
		// start where a chunk fetched now arrives before its deadline
		// a chunk fetched now should arrive before its deadline; if it does
		// not, playback starts at the next keyframe instead
		lead := min(s.e.cfg.PlayDelay/4, 300*time.Millisecond)
		back := uint64((s.e.cfg.PlayDelay - lead) / l.dur)
		l.joinSeq = 0
		if l.edge > back {
			l.joinSeq = l.edge - back
		}
		l.joinLo = l.joinSeq
		l.joined = true
	}
	if !l.started {
		l.skipToKeyframe(now)
		// the first random-access chunk at or after joinSeq starts playback
		for v := l.joinSeq; v <= l.edge; v++ {
			c := l.peek(v)
			if c == nil || !c.metaOK {
				if dl := l.deadline(now, v); dl < now {
					l.joinSeq, l.joinLo = v+1, v+1 // too late for this one: start later
					continue
				}
				return // unknown yet: wait for it
			}
			if c.meta.Flags&wire.ChunkRAP == 0 {
				l.joinSeq = v + 1
				continue
			}
			if dl := l.deadline(now, v); dl > now {
				return // not yet time to show it
			} else if !c.have {
				l.joinSeq, l.joinLo = v+1, v+1 // it came too late: start at the next keyframe
				continue
			}
			l.started = true
			l.playhead = v
			s.e.emit(Event{Kind: EventReady, Swarm: s.desc.ID, Seq: v})
			break
		}
		if !l.started {
			return
		}
	}
	for l.playhead <= l.edge {
		v := l.playhead
		c := l.peek(v)
		if c != nil && c.have {
			dl := l.deadline(now, v)
			if dl > now {
				break
			}
			s.stats.ChunksPlayed++
			s.stats.DelayUs = int64(dl/time.Microsecond) - (c.meta.TimestampUs + l.offsetUs)
			l.stalled = false
			s.e.emit(Event{Kind: EventPlay, Swarm: s.desc.ID, Seq: v, Meta: c.meta, Data: c.data})
		} else {
			if !l.due(now, v) {
				break
			}
			s.stats.ChunksMissed++
			if !l.stalled {
				s.stats.Stalls++
				l.stalled = true
			}
			s.e.emit(Event{Kind: EventMissed, Swarm: s.desc.ID, Seq: v})
			if c != nil {
				l.release(c)
			}
		}
		l.playhead++
	}
}

// A newcomer starts at a keyframe it has at least joinStartMargin to fetch,
// and asks the booster for its first chunks once they are joinBoostMargin
// from their deadline: until it plays, nothing it lacks can wait.
const (
	joinStartMargin = 600 * time.Millisecond
	joinBoostMargin = 700 * time.Millisecond
)

// skipToKeyframe moves joinSeq to the first random-access chunk, known from
// the chunk itself or from a peer's Keyframe hint, that can still be fetched
// and played on time, so a newcomer neither waits for chunks that cannot
// start playback nor fetches them. A keyframe heard of later but due sooner
// takes over while it can still be fetched in time: the first neighbour's
// list may lack keyframes it has not fetched yet, and starting at a later
// one would make the newcomer wait a whole keyframe interval more. Once
// joinSeq is at one it stays there until play finds it late or an earlier
// one is heard of.
func (l *liveState) skipToKeyframe(now time.Duration) {
	for v := l.joinLo; v <= l.edge && v-l.joinLo < uint64(l.ring/4); v++ {
		c := l.peek(v)
		if c == nil {
			continue
		}
		rap := c.rapHint
		if c.metaOK {
			rap = c.meta.Flags&wire.ChunkRAP != 0
		}
		if rap && (v == l.joinSeq || c.have || l.deadline(now, v) > now+joinStartMargin) {
			l.joinSeq = v
			return
		}
	}
}

// due says whether chunk v's deadline has passed. One whose timestamp is not
// known yet is due once a later one known is (timestamps never go back), and
// not before: an extrapolation from chunk counts misjudges sources that
// deliver in bursts or pause, and until a later chunk is due there is
// nothing to play after it anyway.
func (l *liveState) due(now time.Duration, v uint64) bool {
	if c := l.peek(v); c != nil && c.metaOK {
		return l.deadline(now, v) <= now
	}
	for w := v + 1; w <= l.edge && w-v < uint64(l.ring/2); w++ {
		if c := l.peek(w); c != nil && c.metaOK {
			return l.deadline(now, w) <= now
		}
	}
	return false
}

// schedule issues requests: chunks near their deadline first, in order;
// then the newest chunks first, so this peer soon has something to relay.
func (l *liveState) schedule(now time.Duration) {
	s := l.s
	cfg := &s.e.cfg
	if !l.joined {
		return
	}
	lo := l.joinSeq
	if l.started {
		lo = l.playhead
	}
	if l.edge+1 < lo {
		return
	}
	if l.edge-lo > uint64(l.ring/2) {
		lo = l.edge - uint64(l.ring/2)
	}
	urgentEnd := lo
	for v := lo; v <= l.edge; v++ {
		c := l.slot(v)
		if c == nil || c.have {
			continue
		}
		dl := l.deadline(now, v)
		if c.inflight {
			l.checkStall(now, c, dl)
			// boost a transfer that went quiet, not one still arriving:
			// a chunk that lands anyway makes the booster's bytes waste
			if p := c.reqPeer; dl-now < cfg.BoostMargin && (p == nil || now-max(c.reqAt, c.lastAt) > p.rtt()) {
				l.boost(now, c, dl)
			} else if !l.started && (v == l.joinSeq || v < l.joinSeq+4 && dl-now < joinBoostMargin) {
				l.boost(now, c, dl)
			}
		}
		if dl-now < cfg.UrgentWindow || !l.started {
			urgentEnd = v + 1
			if !c.inflight {
				l.fetch(now, c, dl, dl-now < cfg.UrgentWindow)
			}
		}
	}
	for v := l.edge + 1; v > urgentEnd; v-- {
		c := l.slot(v - 1)
		if c == nil || c.have || c.inflight || l.awaitPush(now, c) {
			continue
		}
		l.fetch(now, c, l.deadline(now, v-1), false)
	}
}

// awaitPush says a chunk should come down its push tree soon, so pulling it
// now would only duplicate it; a chunk that is late counts against the parent.
func (l *liveState) awaitPush(now time.Duration, c *liveChunk) bool {
	if l.tree.k == 0 {
		return false
	}
	j := l.sub(c.seq)
	p := l.tree.parent[j]
	if p == nil || p.tree.theirGrant&(1<<j) == 0 || c.heardAt == 0 {
		return false
	}
	grace := 300*time.Millisecond + p.rtt()/2 + p.tree.lag[j]
	if now-c.heardAt < grace {
		return true
	}
	if !c.lateCounted {
		c.lateCounted = true
		p.tree.late[j]++
	}
	return false
}

// checkStall re-requests chunks whose source went quiet.
func (l *liveState) checkStall(now time.Duration, c *liveChunk, dl time.Duration) {
	p := c.reqPeer
	if p == nil || p.state != peerConnected {
		l.release(c)
		return
	}
	rtt := p.rtt()
	last := c.reqAt
	if c.lastAt > last {
		last = c.lastAt
	}
	limit := 3*rtt + 300*time.Millisecond + time.Duration(p.outstanding)*l.dur
	if c.nGot > 0 {
		limit = 2*rtt + 100*time.Millisecond
	}
	if left := dl - now; left < 2*limit && left > 0 {
		limit = max(left/2, rtt+20*time.Millisecond)
	}
	if now-last < limit {
		return
	}
	p.fails++
	if c.nGot > 0 && c.total > 0 && c.retries < 2 && !p.chokesUs {
		// ask the same source for just the missing fragments
		c.retries++
		c.lastAt = now
		l.requestMissing(p, c)
		return
	}
	p.cancels.add(c.seq)
	p.markDirty(l.s.e)
	l.release(c)
}

func (l *liveState) requestMissing(p *peer, c *liveChunk) {
	fb := l.s.desc.FragmentBytes
	n := (c.total + fb - 1) / fb
	var fr fragReq
	fr.chunk = c.seq
	if !c.metaOK {
		fr.flags = wire.FlagWantIntegrity
	}
	for i := 0; i < n; i++ {
		if !c.got.has(i) {
			fr.frags.add(uint64(i))
		}
	}
	p.fragReqs = append(p.fragReqs, fr)
	p.markDirty(l.s.e)
}

// fetch picks a source for a missing chunk: a neighbour that has it,
// the origin when it is urgent, or the booster when it is about to be late.
func (l *liveState) fetch(now time.Duration, c *liveChunk, dl time.Duration, urgent bool) {
	s := l.s
	cfg := &s.e.cfg
	var best, second *peer
	var bestScore, secondScore time.Duration
	var origin *peer
	for _, p := range s.list {
		if p.state != peerConnected || p.chokesUs || !l.peerHas(p, c.seq) {
			continue
		}
		if p.isOrigin() {
			origin = p
			continue
		}
		limit := l.requestLimit(p)
		if p.outstanding >= limit {
			continue
		}
		score := time.Duration(p.outstanding+1)*(l.sendTime(p)+p.rtt()/4) + p.rtt() + time.Duration(p.fails)*50*time.Millisecond
		score += time.Duration(s.e.rng.IntN(20)) * time.Millisecond
		if best == nil || score < bestScore {
			second, secondScore = best, bestScore
			best, bestScore = p, score
		} else if second == nil || score < secondScore {
			second, secondScore = p, score
		}
	}
	if best == nil && urgent && origin != nil && origin.outstanding < 8 {
		best = origin
	}
	if best == nil {
		if dl-now < cfg.BoostMargin {
			l.boost(now, c, dl)
		}
		return
	}
	if dl-now < cfg.BoostMargin/2 {
		l.boost(now, c, dl) // a request now would very likely be late
	}
	l.request(now, best, c, dl)
	if !l.started && c.seq == l.joinSeq && second != nil {
		// playback starts with this chunk: ask a second neighbour too,
		// and take the fragments from whichever sends them first
		second.reqs.add(c.seq)
		if second.reqDeadline == 0 || uint32(dl-now)/uint32(time.Millisecond) < second.reqDeadline {
			second.reqDeadline = max(1, uint32((dl-now)/time.Millisecond))
		}
		second.markDirty(s.e)
	}
}

// boost asks the driver to fetch a chunk over HTTP. The booster is shared
// by every viewer, so one viewer takes at most its stream's rate from it,
// and never for a chunk that cannot arrive in time anyway.
func (l *liveState) boost(now time.Duration, c *liveChunk, dl time.Duration) {
	s := l.s
	if !s.desc.Booster || c.boosted || dl-now < 30*time.Millisecond {
		return
	}
	window := time.Second
	if now-l.boostWindowAt >= window {
		l.boostWindowAt = now
		l.boostsInWindow = 0
	}
	if l.boostsInWindow >= int(window/l.dur)+1 {
		return
	}
	l.boostsInWindow++
	c.boosted = true
	s.e.emit(Event{Kind: EventBoost, Swarm: s.desc.ID, Seq: c.seq, Due: dl - now})
}

func (l *liveState) request(now time.Duration, p *peer, c *liveChunk, dl time.Duration) {
	c.inflight = true
	c.reqPeer = p
	c.reqAt = now
	c.retries = 0
	p.outstanding++
	p.reqs.add(c.seq)
	ms := (dl - now) / time.Millisecond
	if !l.started {
		// a newcomer has nothing to play yet: its requests are urgent
		ms = min(ms, l.s.e.cfg.UrgentWindow/2/time.Millisecond)
	}
	if ms < 1 {
		ms = 1
	}
	if p.reqDeadline == 0 || uint32(ms) < p.reqDeadline {
		p.reqDeadline = uint32(ms)
	}
	p.markDirty(l.s.e)
}

// sendTime is how long p takes to upload one chunk, from what it told us
// of its capacity (a stream-rate guess when it said nothing).
func (l *liveState) sendTime(p *peer) time.Duration {
	bps := p.uploadHintBps
	if bps <= 0 {
		bps = l.s.desc.RateBps
	}
	return time.Duration(int64(l.s.desc.ChunkBytes) * 8 * int64(time.Second) / bps)
}

// requestLimit is how many chunks may be outstanding at p.
// A share of the capacity p announced, over a round trip and a bit: enough
// to keep a strong peer busy, without queueing much at a weak one.
func (l *liveState) requestLimit(p *peer) int {
	bps := float64(p.uploadHintBps)
	if bps <= 0 {
		bps = float64(l.s.desc.RateBps)
	}
	n := int(bps / 4 * (p.rtt() + 300*time.Millisecond).Seconds() / float64(8*l.s.desc.ChunkBytes))
	return max(2, min(n, 16))
}

func (l *liveState) requestFailed(now time.Duration, p *peer, seq uint64, gone bool) {
	c := l.peek(seq)
	if c == nil || !c.inflight || c.reqPeer != p {
		return
	}
	p.fails++
	l.release(c)
}

func (l *liveState) peerGone(p *peer) {
	l.treeGone(p)
	for i := range l.slots {
		c := &l.slots[i]
		if c.reqPeer == p {
			l.release(c)
		}
		if c.src == p && !c.have {
			// its fragments may be bad: start the chunk over rather than
			// blame whoever completes it
			c.got.reset()
			c.nGot, c.total, c.fromOrig = 0, 0, 0
			c.data = c.data[:0]
			c.src, c.mixed = nil, false
		} else if c.src == p {
			c.src = nil
		}
		if c.metaSrc == p {
			c.metaSrc = nil
		}
	}
}

func (l *liveState) peerChoked(now time.Duration, p *peer) {
	l.peerGone(p)
}
