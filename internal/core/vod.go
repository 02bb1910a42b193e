package core

import (
	"fmt"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

// vodState is an on-demand swarm: a file of n chunks fetched in the order
// the player needs them.
type vodState struct {
	s     *swarm
	n     int
	store Store
	have  bitset
	nHave int
	avail []uint16 // neighbours holding each chunk (rarest first)

	asm    []*vodAsm // chunks being received, by index
	active []int     // indices with an assembly, in a deterministic order

	// demand
	wanting   bool
	wantFirst int           // chunk the player is blocked on
	wantLast  int           // last chunk of the range it asked for
	wantAt    time.Duration // when playback from wantFirst began
	readyDue  bool

	// web seed
	webBad      bool
	webInflight int
	webReq      bitset // chunks asked of the web seed

	cached   int64
	lastSeen []uint32 // for eviction: tick count when the chunk was last near the playhead
}

type vodAsm struct {
	data     []byte
	got      bitset
	nGot     int
	src      *peer
	mixed    bool
	reqAt    time.Duration
	lastAt   time.Duration
	req      *peer
	retries  int
	fromOrig int
}

// memStore keeps chunks in memory.
type memStore struct{ m map[int][]byte }

func (m *memStore) ReadChunk(dst []byte, i int) ([]byte, error) {
	d, ok := m.m[i]
	if !ok {
		return dst, fmt.Errorf("core: chunk %d not stored", i)
	}
	return append(dst, d...), nil
}
func (m *memStore) WriteChunk(i int, data []byte) error {
	m.m[i] = append([]byte(nil), data...)
	return nil
}
func (m *memStore) DeleteChunk(i int) { delete(m.m, i) }

func newVodState(s *swarm, now time.Duration) *vodState {
	n := integrity.NumLeaves(s.desc.Size)
	v := &vodState{s: s, n: n, have: newBitset(n), avail: make([]uint16, n), asm: make([]*vodAsm, n), webReq: newBitset(n)}
	v.store = s.desc.Store
	if v.store == nil {
		v.store = &memStore{m: make(map[int][]byte)}
	}
	if s.desc.Seed {
		for i := 0; i < n; i++ {
			v.have.set(i)
		}
		v.nHave = n
	}
	return v
}

func (v *vodState) assembly(i int) *vodAsm {
	a := v.asm[i]
	if a == nil {
		a = &vodAsm{}
		v.asm[i] = a
		v.active = append(v.active, i)
	}
	return a
}

func (v *vodState) dropAssembly(i int) {
	if v.asm[i] == nil {
		return
	}
	v.asm[i] = nil
	for k, j := range v.active {
		if j == i {
			v.active = append(v.active[:k], v.active[k+1:]...)
			break
		}
	}
}

func (v *vodState) chunkLen(i int) int {
	if i < 0 || i >= v.n {
		return 0
	}
	if i == v.n-1 {
		return int(v.s.desc.Size - int64(i)*integrity.LeafSize)
	}
	return integrity.LeafSize
}

func (v *vodState) has(i uint64) bool { return i < uint64(v.n) && v.have.has(int(i)) }

func (v *vodState) read(i int) ([]byte, bool) {
	if !v.has(uint64(i)) {
		return nil, false
	}
	e := v.s.e
	if e.readSwarm == v.s && e.readChunk == i && len(e.readBuf) > 0 {
		return e.readBuf, true
	}
	b, err := v.store.ReadChunk(e.readBuf[:0], i)
	if err != nil || len(b) != v.chunkLen(i) {
		// the store lost it: forget we had it
		v.have.clear(i)
		v.nHave--
		return nil, false
	}
	e.readBuf, e.readSwarm, e.readChunk = b, v.s, i
	return b, true
}

func (v *vodState) onHave(p *peer, a, b uint64) {
	for i := a; i < b && i < uint64(v.n); i++ {
		if !p.have.has(int(i)) {
			p.have.set(int(i))
			v.avail[i]++
		}
	}
}

func (v *vodState) peerGone(p *peer) {
	for _, i := range v.active {
		a := v.asm[i]
		if a.req == p {
			a.req = nil
			p.outstanding--
		}
		if a.src == p && a.got != nil {
			// its fragments may be bad: start over rather than blame the next source
			a.got.reset()
			a.nGot, a.fromOrig = 0, 0
			a.src, a.mixed = nil, false
		}
	}
	if p.state == peerGone {
		for i := 0; i < v.n; i++ {
			if p.have.has(i) && v.avail[i] > 0 {
				v.avail[i]--
			}
		}
	}
}

func (v *vodState) requestFailed(now time.Duration, p *peer, i uint64) {
	if a := v.asm[int(i)]; a != nil && a.req == p {
		a.req = nil
		p.outstanding--
		p.fails++
	}
}

// Want tells the engine the player needs bytes [off, off+n) of an
// on-demand swarm now; a jump away from the current position is a seek.
func (e *Engine) Want(now time.Duration, id integrity.Hash, off, n int64) error {
	e.advance(now)
	s := e.swarms[wire.TagOf(id)]
	if s == nil || s.vod == nil {
		return ErrUnknownSwarm
	}
	v := s.vod
	if off < 0 || n <= 0 || off >= s.desc.Size {
		return fmt.Errorf("%w: want [%d, %d) outside a file of %d bytes", ErrSwarm, off, off+n, s.desc.Size)
	}
	end := min(off+n, s.desc.Size)
	first := int(off / integrity.LeafSize)
	last := int((end - 1) / integrity.LeafSize)
	seek := !v.wanting || first < v.wantFirst || first > v.wantFirst+v.horizon(8*time.Second)
	v.wanting = true
	v.wantFirst, v.wantLast = first, last
	if seek {
		v.wantAt = now
		v.cancelOutside(now, first, first+v.horizon(30*time.Second))
	}
	if v.have.has(first) {
		e.emit(Event{Kind: EventReady, Swarm: id, Seq: uint64(first)})
		v.readyDue = false
	} else {
		v.readyDue = true
	}
	v.schedule(now)
	return nil
}

// horizon is how many chunks of media d covers.
func (v *vodState) horizon(d time.Duration) int {
	return int(d/v.s.desc.chunkDuration()) + 1
}

func (v *vodState) cancelOutside(now time.Duration, lo, hi int) {
	for _, i := range v.active {
		a := v.asm[i]
		if (i < lo || i >= hi) && a.req != nil {
			a.req.cancels.add(uint64(i))
			a.req.markDirty(v.s.e)
			a.req.outstanding--
			a.req = nil
		}
	}
}

func (v *vodState) tick(now time.Duration) {
	if v.s.desc.Seed || v.nHave == v.n {
		return
	}
	v.schedule(now)
}

// deadline is when chunk i plays if playback runs from wantFirst at wantAt.
func (v *vodState) deadline(i int) time.Duration {
	d := v.s.desc.chunkDuration()
	return v.wantAt + time.Duration(i-v.wantFirst)*d
}

func (v *vodState) schedule(now time.Duration) {
	s := v.s
	if s.desc.Seed || v.nHave == v.n {
		return
	}
	v.checkStalls(now)
	if !v.wanting {
		return
	}
	nowBand := v.wantFirst + 2
	nextBand := v.wantFirst + v.horizon(4*time.Second)
	ahead := v.wantFirst + v.horizon(30*time.Second)
	for i := v.wantFirst; i < v.n && i < ahead; i++ {
		if v.have.has(i) || v.busy(i) {
			continue
		}
		// the web seed is shared by every viewer: it gets the bytes the
		// player is blocked on, and what no neighbour has and is due soon
		blocked := i < nowBand
		if !v.fetchFromPeer(now, i, i < nextBand) && v.avail[i] == 0 && v.deadline(i)-now < time.Second {
			v.fetchFromWeb(now, i, false)
		}
		if blocked && !v.have.has(i) && !v.webReq.has(i) {
			v.fetchFromWeb(now, i, true)
		}
	}
	// the rest, rarest first, from peers only
	v.fetchRarest(now)
}

func (v *vodState) busy(i int) bool {
	a := v.asm[i]
	return (a != nil && a.req != nil) || v.webReq.has(i)
}

func (v *vodState) checkStalls(now time.Duration) {
	for _, i := range v.active {
		a := v.asm[i]
		p := a.req
		if p == nil {
			continue
		}
		last := max(a.reqAt, a.lastAt)
		limit := 3*p.rtt() + 300*time.Millisecond + time.Duration(p.outstanding)*20*time.Millisecond
		if a.nGot > 0 {
			limit = 2*p.rtt() + 100*time.Millisecond
		}
		if now-last < limit {
			continue
		}
		p.fails++
		if a.nGot > 0 && a.retries < 2 {
			a.retries++
			a.lastAt = now
			var fr fragReq
			fr.chunk = uint64(i)
			nf := (v.chunkLen(i) + s_fb(v) - 1) / s_fb(v)
			for f := 0; f < nf; f++ {
				if !a.got.has(f) {
					fr.frags.add(uint64(f))
				}
			}
			p.fragReqs = append(p.fragReqs, fr)
			p.markDirty(v.s.e)
			continue
		}
		p.cancels.add(uint64(i))
		p.markDirty(v.s.e)
		p.outstanding--
		a.req = nil
	}
}

func s_fb(v *vodState) int { return v.s.desc.FragmentBytes }

// fetchFromPeer asks the best neighbour holding chunk i; the origin's seed
// only when soon is set.
func (v *vodState) fetchFromPeer(now time.Duration, i int, soon bool) bool {
	s := v.s
	var best *peer
	var bestScore time.Duration
	for _, p := range s.list {
		if p.state != peerConnected || p.chokesUs || !p.have.has(i) {
			continue
		}
		if p.isOrigin() && !soon {
			continue
		}
		if p.outstanding >= v.requestLimit(p) {
			continue
		}
		score := time.Duration(p.outstanding+1)*(p.rtt()/4+5*time.Millisecond) + p.rtt() + time.Duration(p.fails)*50*time.Millisecond
		if p.isOrigin() {
			score += 200 * time.Millisecond
		}
		score += time.Duration(s.e.rng.IntN(10)) * time.Millisecond
		if best == nil || score < bestScore {
			best, bestScore = p, score
		}
	}
	if best == nil {
		return false
	}
	a := v.assembly(i)
	a.req = best
	a.reqAt = now
	a.retries = 0
	best.outstanding++
	best.reqs.add(uint64(i))
	ms := uint32(max(1, (v.deadline(i)-now)/time.Millisecond))
	if soon && (best.reqDeadline == 0 || ms < best.reqDeadline) {
		best.reqDeadline = ms
	}
	best.markDirty(s.e)
	return true
}

func (v *vodState) requestLimit(p *peer) int {
	r := p.cc.rateBps()
	n := int(r * (p.rtt() + 100*time.Millisecond).Seconds() / float64(8*integrity.LeafSize))
	return max(2, min(n, 32))
}

// fetchFromWeb asks the driver for a run of missing chunks from i.
func (v *vodState) fetchFromWeb(now time.Duration, i int, first bool) {
	s := v.s
	if !s.desc.WebSeed || v.webBad || v.webInflight >= 1 {
		return
	}
	n := 4
	if first {
		n = 2 // the first bytes come back fastest in a short range
	}
	j := i
	// the bytes the player is blocked on go to both the best peer and the
	// web seed: whichever answers first wins (a seek's first bytes)
	for j < v.n && j-i < n && !v.have.has(j) && !v.webReq.has(j) && (first || !v.busy(j)) {
		v.webReq.set(j)
		j++
	}
	if j == i {
		return
	}
	v.webInflight++
	s.e.emit(Event{Kind: EventFetch, Swarm: s.desc.ID, Seq: uint64(i), End: uint64(j)})
}

// fetchRarest fills spare request capacity with the rarest chunks.
func (v *vodState) fetchRarest(now time.Duration) {
	s := v.s
	for _, p := range s.list {
		if p.state != peerConnected || p.chokesUs || p.isOrigin() {
			continue
		}
		for p.outstanding < v.requestLimit(p) {
			best := -1
			start := v.wantFirst
			for k := 0; k < v.n; k++ {
				i := (start + k) % v.n
				if !p.have.has(i) || v.have.has(i) || v.busy(i) {
					continue
				}
				if best < 0 || v.avail[i] < v.avail[best] {
					best = i
					if v.avail[i] <= 1 {
						break
					}
				}
			}
			if best < 0 {
				break
			}
			a := v.assembly(best)
			a.req, a.reqAt, a.retries = p, now, 0
			p.outstanding++
			p.reqs.add(uint64(best))
			p.markDirty(s.e)
		}
	}
}

func (v *vodState) onData(now time.Duration, p *peer, d *wire.Data) {
	s := v.s
	i := int(d.Chunk)
	if d.Chunk >= uint64(v.n) || int(d.Total) != v.chunkLen(i) {
		s.e.stats.Malformed++
		return
	}
	fb := s.desc.FragmentBytes
	if int(d.Offset)%fb != 0 || len(d.Payload) != min(fb, int(d.Total)-int(d.Offset)) {
		s.e.stats.Malformed++
		return
	}
	if v.have.has(i) {
		s.stats.DuplicateBytes += int64(len(d.Payload))
		return
	}
	a := v.assembly(i)
	if a.data == nil {
		a.data = make([]byte, d.Total)
		a.got = newBitset(s.fragsMax)
	}
	f := int(d.Offset) / fb
	if a.got.has(f) {
		s.stats.DuplicateBytes += int64(len(d.Payload))
		return
	}
	copy(a.data[d.Offset:], d.Payload)
	a.got.set(f)
	a.nGot++
	a.lastAt = now
	if p.isOrigin() {
		a.fromOrig += len(d.Payload)
	}
	if a.src == nil {
		a.src = p
	} else if a.src != p {
		a.mixed = true
	}
	if a.nGot == (int(d.Total)+fb-1)/fb {
		v.complete(now, i, a)
	}
}

func (v *vodState) complete(now time.Duration, i int, a *vodAsm) {
	s := v.s
	if a.req != nil {
		a.req.outstanding--
		a.req.delivered++
		a.req = nil
	}
	v.dropAssembly(i)
	if s.e.cfg.Integrity.LeafHash(a.data) != s.desc.Leaves[i] {
		s.stats.ChunksRejected++
		s.e.emit(Event{Kind: EventRejected, Swarm: s.desc.ID, Seq: uint64(i), Peer: addrOf(a.src)})
		if a.src != nil && !a.mixed && a.src.state == peerConnected {
			s.ban(now, a.src)
		}
		return
	}
	n := int64(len(a.data))
	s.stats.BytesFromOrigin += int64(a.fromOrig)
	s.stats.BytesFromPeers += n - int64(a.fromOrig)
	if a.src != nil {
		a.src.bytesFrom += n
		a.src.periodFrom += n
	}
	v.store1(now, i, a.data)
}

// store1 keeps a verified chunk, announces it and wakes a waiting player.
func (v *vodState) store1(now time.Duration, i int, data []byte) {
	s := v.s
	if err := v.store.WriteChunk(i, data); err != nil {
		return // a full disk loses the chunk, not the swarm
	}
	v.have.set(i)
	v.nHave++
	v.cached += int64(len(data))
	s.stats.ChunksVerified++
	for _, p := range s.list {
		if p.state == peerConnected && !p.have.has(i) {
			p.haves.add(uint64(i))
			p.announce(now)
		}
	}
	s.e.emit(Event{Kind: EventChunk, Swarm: s.desc.ID, Seq: uint64(i), Data: data})
	if v.readyDue && i == v.wantFirst {
		v.readyDue = false
		s.e.emit(Event{Kind: EventReady, Swarm: s.desc.ID, Seq: uint64(i)})
	}
	v.evict()
}

// evict drops the cached chunks least likely to be wanted: farthest behind
// the playhead first, then farthest ahead.
func (v *vodState) evict() {
	limit := v.s.e.cfg.CacheBytes
	if limit == 0 || v.s.desc.Seed {
		return
	}
	for v.cached > limit {
		victim := -1
		for i := 0; i < v.wantFirst && victim < 0; i++ {
			if v.have.has(i) {
				victim = i
			}
		}
		for i := v.n - 1; i > v.wantFirst+2 && victim < 0; i-- {
			if v.have.has(i) {
				victim = i
			}
		}
		if victim < 0 {
			return
		}
		v.have.clear(victim)
		v.nHave--
		v.cached -= int64(v.chunkLen(victim))
		v.store.DeleteChunk(victim)
		if e := v.s.e; e.readSwarm == v.s && e.readChunk == victim {
			e.readSwarm = nil
		}
	}
}

// HandleFetched accepts an on-demand chunk from the web seed; it is checked
// against its leaf hash before anything uses it.
func (e *Engine) HandleFetched(now time.Duration, id integrity.Hash, chunk uint64, data []byte) error {
	e.advance(now)
	s := e.swarms[wire.TagOf(id)]
	if s == nil || s.vod == nil {
		return ErrUnknownSwarm
	}
	v := s.vod
	i := int(chunk)
	if chunk >= uint64(v.n) {
		return fmt.Errorf("%w: chunk %d beyond %d", ErrSwarm, chunk, v.n)
	}
	v.webReq.clear(i)
	if v.have.has(i) {
		return nil
	}
	if len(data) != v.chunkLen(i) || e.cfg.Integrity.LeafHash(data) != s.desc.Leaves[i] {
		s.stats.ChunksRejected++
		v.webBad = true
		e.emit(Event{Kind: EventRejected, Swarm: id, Seq: chunk})
		return fmt.Errorf("%w: web seed chunk %d does not match its hash; web seed disabled", ErrBadChunk, chunk)
	}
	if a := v.asm[i]; a != nil {
		if a.req != nil {
			a.req.outstanding--
			a.req.cancels.add(chunk)
			a.req.markDirty(e)
		}
		v.dropAssembly(i)
	}
	s.stats.BytesFromHTTP += int64(len(data))
	v.store1(now, i, data)
	return nil
}

// HandleFetchDone tells the engine a web seed fetch of [start, end) ended
// (after its chunks were handed over, or on failure); chunks not received
// are scheduled again.
func (e *Engine) HandleFetchDone(now time.Duration, id integrity.Hash, start, end uint64, failed bool) {
	e.advance(now)
	s := e.swarms[wire.TagOf(id)]
	if s == nil || s.vod == nil {
		return
	}
	v := s.vod
	if v.webInflight > 0 {
		v.webInflight--
	}
	for i := start; i < end && i < uint64(v.n); i++ {
		v.webReq.clear(int(i))
	}
}

// HaveChunk says whether the engine holds verified chunk i of a swarm.
func (e *Engine) HaveChunk(id integrity.Hash, i uint64) bool {
	s := e.swarms[wire.TagOf(id)]
	return s != nil && s.has(i)
}
