package core

import (
	"math/bits"
	"net/netip"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

// swarm is one live stream or one file, with its neighbours.
type swarm struct {
	e    *Engine
	desc SwarmDescriptor
	tag  wire.Tag

	peers map[netip.AddrPort]*peer
	list  []*peer // in join order; iteration uses this, never the map
	// index finds a neighbour by address without the map: open addressing
	// on addrKey, added to as neighbours join, rebuilt when one leaves.
	index []indexSlot
	joins uint64 // peers ever added, for peer.joinSeq
	// serving holds, in join order, every peer with a non-empty send queue
	// (and some whose queue has emptied since; pickData drops those), so
	// that picking what to send next does not visit every neighbour.
	serving []*peer

	candidates  []netip.AddrPort
	candSet     map[netip.AddrPort]bool
	failed      map[netip.AddrPort]time.Duration // when a connect attempt failed
	bannedIDs   map[[32]byte]bool
	bannedAddrs map[netip.AddrPort]bool

	live *liveState
	vod  *vodState

	fragsMax int // fragments in a full chunk

	lastWantPeers  time.Duration
	lastChoke      time.Duration
	lastOptimistic time.Duration
	optimistic     netip.AddrPort
	lastPex        time.Duration
	lastMonitor    time.Duration
	slots          int

	// upload measurement
	sentWindow    int64
	sentWindowAt  time.Duration
	uploadRateBps float64

	stats SwarmStats
}

// SwarmStats are one swarm's counters as the driver's /stats reports them.
type SwarmStats struct {
	BytesFromPeers  int64 // verified chunk bytes from other viewers
	BytesFromOrigin int64 // verified chunk bytes from the origin's swarm seed
	BytesFromHTTP   int64 // verified chunk bytes from the booster or web seed
	BytesUploaded   int64 // chunk payload bytes sent to peers
	DuplicateBytes  int64 // payload received for chunks already held
	ChunksVerified  int64
	ChunksRejected  int64
	ChunksPlayed    int64
	ChunksMissed    int64
	Stalls          int64 // runs of consecutive missed chunks
	PeersBanned     int64
	Peers           int
	DelayUs         int64 // live: deadline of the last played chunk minus its origin timestamp
	TreeParents     int   // live: substreams pushed to us by a parent
	TreeChildren    int   // live: substreams we push, summed over children
	TreeDepthMax    int   // live: our deepest position in the push trees (255: not in one)
}

func newSwarm(e *Engine, now time.Duration, d SwarmDescriptor) *swarm {
	s := &swarm{
		e: e, desc: d, tag: wire.TagOf(d.ID),
		peers:       make(map[netip.AddrPort]*peer),
		candSet:     make(map[netip.AddrPort]bool),
		failed:      make(map[netip.AddrPort]time.Duration),
		bannedIDs:   make(map[[32]byte]bool),
		bannedAddrs: make(map[netip.AddrPort]bool),
		fragsMax:    (d.ChunkBytes + d.FragmentBytes - 1) / d.FragmentBytes,
		lastChoke:   now,
		slots:       e.cfg.UploadSlots,
	}
	if s.slots == 0 {
		s.slots = 8
	}
	switch d.Kind {
	case Live:
		s.live = newLiveState(s, now)
	case OnDemand:
		s.vod = newVodState(s, now)
	}
	return s
}

// Stats returns the swarm's counters.
func (e *Engine) SwarmStats(id integrity.Hash) (SwarmStats, bool) {
	s := e.swarms[wire.TagOf(id)]
	if s == nil {
		return SwarmStats{}, false
	}
	st := s.stats
	st.Peers = 0
	for _, p := range s.list {
		if p.state == peerConnected {
			st.Peers++
			st.TreeChildren += bits.OnesCount64(p.tree.grant)
		}
	}
	if l := s.live; l != nil {
		for j, p := range l.tree.parent {
			if p != nil && p.tree.theirGrant&(1<<j) != 0 {
				st.TreeParents++
			}
			st.TreeDepthMax = max(st.TreeDepthMax, int(l.tree.depth[j]))
		}
	}
	return st, true
}

func (s *swarm) addCandidate(addr netip.AddrPort, front bool) {
	if !addr.IsValid() || s.candSet[addr] || s.peers[addr] != nil || s.bannedAddrs[addr] {
		return
	}
	if len(s.candidates) >= 256 {
		return
	}
	s.candSet[addr] = true
	if front {
		s.candidates = append([]netip.AddrPort{addr}, s.candidates...)
	} else {
		s.candidates = append(s.candidates, addr)
	}
}

// connectCandidates dials candidates until the swarm has MinPeers neighbours.
func (s *swarm) connectCandidates(now time.Duration) {
	want := s.e.cfg.MinPeers - len(s.list)
	for want > 0 && len(s.candidates) > 0 {
		addr := s.candidates[0]
		s.candidates = s.candidates[1:]
		delete(s.candSet, addr)
		if t, ok := s.failed[addr]; ok && now-t < time.Minute {
			continue
		}
		if s.peers[addr] != nil || s.bannedAddrs[addr] {
			continue
		}
		p := s.newPeer(now, addr)
		p.outbound = true
		p.state = peerConnecting
		p.needHS = true
		p.markDirty(s.e)
		want--
	}
}

func (s *swarm) newPeer(now time.Duration, addr netip.AddrPort) *peer {
	p := &peer{
		s: s, addr: addr, since: now, lastRecv: now, closeReason: -1,
		cc:         newLEDBAT(s.e.cfg.LEDBATTarget, s.desc.FragmentBytes+64, 2*s.desc.ChunkBytes),
		chokedByUs: false,
	}
	if s.live != nil {
		p.have = newBitset(s.live.ring)
	} else {
		p.have = newBitset(s.vod.n)
	}
	p.joinSeq = s.joins
	s.joins++
	s.peers[addr] = p
	s.list = append(s.list, p)
	s.indexAdd(len(s.list) - 1)
	return p
}

// dropPeer forgets a neighbour; its outstanding requests are rescheduled.
func (s *swarm) dropPeer(now time.Duration, p *peer) {
	if p.state == peerGone {
		return
	}
	wasUp := p.state == peerConnected
	p.state = peerGone
	delete(s.peers, p.addr)
	for i, x := range s.list {
		if x == p {
			s.list = append(s.list[:i], s.list[i+1:]...)
			s.reindex()
			break
		}
	}
	if s.live != nil {
		s.live.peerGone(p)
	} else {
		s.vod.peerGone(p)
	}
	p.serveQ = nil
	if wasUp {
		s.e.emit(Event{Kind: EventPeerDown, Swarm: s.desc.ID, Peer: p.addr})
	}
}

func (s *swarm) ban(now time.Duration, p *peer) {
	if p.id != ([32]byte{}) {
		s.bannedIDs[p.id] = true
	}
	s.bannedAddrs[p.addr] = true
	s.stats.PeersBanned++
	s.e.emit(Event{Kind: EventPeerBanned, Swarm: s.desc.ID, Peer: p.addr})
	s.e.sendGoodbye(s, p, wire.CloseBanned)
	s.dropPeer(now, p)
}

// indexSlot is one slot of swarm.index; p is nil when the slot is empty.
type indexSlot struct {
	key uint64 // addrKey(p.addr)
	p   *peer
}

// addrKey hashes an address for the index.
func addrKey(a netip.AddrPort) uint64 {
	b := a.Addr().As16()
	var hi, lo uint64
	for i := 0; i < 8; i++ {
		hi = hi<<8 | uint64(b[i])
		lo = lo<<8 | uint64(b[8+i])
	}
	h := (hi*0x9e3779b97f4a7c15 ^ lo ^ uint64(a.Port())) * 0xbf58476d1ce4e5b9
	return h ^ h>>31
}

// indexAdd puts list[i] into the index, growing it to keep it at most half full.
func (s *swarm) indexAdd(i int) {
	if 2*len(s.list) > len(s.index) {
		s.reindex()
		return
	}
	s.indexPut(s.list[i])
}

func (s *swarm) indexPut(p *peer) {
	mask := uint64(len(s.index) - 1)
	k := addrKey(p.addr)
	for h := k & mask; ; h = (h + 1) & mask {
		if s.index[h].p == nil {
			s.index[h] = indexSlot{key: k, p: p}
			return
		}
	}
}

func (s *swarm) reindex() {
	n := 64
	for n < 2*len(s.list) {
		n <<= 1
	}
	if len(s.index) != n {
		s.index = make([]indexSlot, n)
	} else {
		clear(s.index)
	}
	for _, p := range s.list {
		s.indexPut(p)
	}
}

// lookup returns the neighbour at addr, or nil: s.peers[addr], found with
// fewer cache misses than the map on every datagram: a slot holds the
// address's hash beside the neighbour, so a probe reads one line and the
// neighbour itself, which handling the datagram reads anyway.
func (s *swarm) lookup(addr netip.AddrPort) *peer {
	if len(s.index) == 0 {
		return nil
	}
	mask := uint64(len(s.index) - 1)
	k := addrKey(addr)
	for h := k & mask; ; h = (h + 1) & mask {
		e := &s.index[h]
		if e.p == nil {
			return nil
		}
		if e.key == k && e.p.addr == addr {
			return e.p
		}
	}
}

// handleFrames parses the frames of one datagram from addr.
func (s *swarm) handleFrames(now time.Duration, from netip.AddrPort, b []byte) {
	e := s.e
	p := s.lookup(from)
	if p != nil {
		p.lastRecv = now
	}
	for len(b) > 0 {
		t, err := wire.PeekType(b)
		if err != nil {
			e.stats.Malformed++
			return
		}
		var n int
		if p == nil && t != wire.TypeHandshake {
			if s.bannedAddrs[from] {
				return
			}
			// a stranger that skipped the handshake: ignore the datagram
			return
		}
		switch t {
		case wire.TypeHandshake:
			if n, err = e.fHandshake.Parse(b); err == nil {
				p = s.onHandshake(now, from, p, &e.fHandshake)
				if p == nil {
					return
				}
			}
		case wire.TypeData:
			if n, err = e.fData.Parse(b); err == nil {
				s.onData(now, p, &e.fData)
			}
		case wire.TypeAck:
			if n, err = e.fAck.Parse(b); err == nil {
				p.cc.onAck(now, &e.fAck)
			}
		case wire.TypeHave:
			if n, err = e.fHave.Parse(b); err == nil {
				for _, r := range e.fHave.Ranges {
					s.onHave(now, p, r.Start, r.End)
				}
			}
		case wire.TypeKeyframe:
			if n, err = e.fKeyframe.Parse(b); err == nil && s.live != nil {
				for _, k := range e.fKeyframe.Entries {
					s.live.onKeyframe(now, p, k)
				}
			}
		case wire.TypeBitfield:
			if n, err = e.fBitfield.Parse(b); err == nil {
				s.onBitfield(now, p, &e.fBitfield)
			}
		case wire.TypeRequest:
			if n, err = e.fRequest.Parse(b); err == nil {
				s.onRequest(now, p, &e.fRequest)
			}
		case wire.TypeRequestFragments:
			if n, err = e.fReqFrag.Parse(b); err == nil {
				s.onRequestFragments(now, p, &e.fReqFrag)
			}
		case wire.TypeCancel:
			if n, err = e.fCancel.Parse(b); err == nil {
				s.onCancel(p, &e.fCancel)
			}
		case wire.TypeReject:
			if n, err = e.fReject.Parse(b); err == nil {
				s.onReject(now, p, &e.fReject)
			}
		case wire.TypeSigned:
			if n, err = e.fSigned.Parse(b); err == nil && s.live != nil {
				s.live.onSigned(now, p, &e.fSigned)
			}
		case wire.TypeTree:
			if n, err = e.fTree.Parse(b); err == nil && s.live != nil && p.state == peerConnected {
				s.live.onTree(now, p, &e.fTree)
			}
		case wire.TypeProof:
			n, err = e.fProof.Parse(b) // leaves come with the descriptor; proofs are not needed
		case wire.TypePex:
			if n, err = e.fPex.Parse(b); err == nil {
				for _, pp := range e.fPex.Peers {
					s.addCandidate(pp.Addr, false)
				}
			}
		case wire.TypeChoke:
			if n, err = e.fChoke.Parse(b); err == nil {
				p.chokesUs = true
				s.onChoked(now, p)
			}
		case wire.TypeUnchoke:
			if n, err = e.fUnchoke.Parse(b); err == nil {
				p.chokesUs = false
			}
		case wire.TypeKeepalive:
			n, err = e.fKeep.Parse(b)
		case wire.TypeClose:
			if n, err = e.fClose.Parse(b); err == nil {
				s.dropPeer(now, p)
				return
			}
		default:
			n, err = wire.SkipFrame(b)
		}
		if err != nil {
			e.stats.Malformed++
			return
		}
		if p != nil && p.state == peerGone {
			return
		}
		b = b[n:]
	}
}

func (s *swarm) onHandshake(now time.Duration, from netip.AddrPort, p *peer, h *wire.Handshake) *peer {
	if h.SwarmID != s.desc.ID || h.PeerID == s.e.id || s.bannedIDs[h.PeerID] || s.bannedAddrs[from] {
		return nil
	}
	if p == nil {
		if len(s.list) >= s.e.cfg.MaxPeers {
			// tell it we are full so it tries others at once
			tmp := &peer{s: s, addr: from, closeReason: -1}
			s.e.sendGoodbye(s, tmp, wire.CloseTooMany)
			return nil
		}
		p = s.newPeer(now, from)
		p.needHS = true
	}
	if p.state == peerConnected {
		// a retransmitted handshake: answer it again in case ours was lost
		if !p.outbound {
			p.needHS = true
			p.markDirty(s.e)
		}
		return p
	}
	p.id = h.PeerID
	p.flags = h.Flags
	p.uploadHintBps = int64(h.UploadBps)
	p.state = peerConnected
	p.needBF = true
	if s.live != nil {
		s.live.initPeerTree(p)
	}
	delete(s.failed, from)
	p.markDirty(s.e)
	s.e.emit(Event{Kind: EventPeerUp, Swarm: s.desc.ID, Peer: from})
	return p
}

func (s *swarm) onHave(now time.Duration, p *peer, a, b uint64) {
	if b <= a || b-a > 1<<20 {
		return
	}
	if s.live != nil {
		s.live.onHave(now, p, a, b)
	} else {
		s.vod.onHave(p, a, b)
	}
}

func (s *swarm) onBitfield(now time.Duration, p *peer, bf *wire.Bitfield) {
	for i := uint32(0); i < bf.Count; i++ {
		if bf.Bits[i>>3]&(0x80>>(i&7)) != 0 {
			s.onHave(now, p, bf.Start+uint64(i), bf.Start+uint64(i)+1)
		}
	}
}

func (s *swarm) onCancel(p *peer, c *wire.Cancel) {
	q := p.serveQ[:0]
	for _, it := range p.serveQ {
		if !inRanges(c.Ranges, it.seq) {
			q = append(q, it)
		} else {
			p.queuedBytes -= s.desc.ChunkBytes
		}
	}
	p.serveQ = q
}

func inRanges(rs []wire.Range, v uint64) bool {
	for _, r := range rs {
		if v >= r.Start && v < r.End {
			return true
		}
	}
	return false
}

func (s *swarm) onReject(now time.Duration, p *peer, r *wire.Reject) {
	for _, rg := range r.Ranges {
		for v := rg.Start; v < rg.End && v-rg.Start < 4096; v++ {
			if s.live != nil {
				s.live.requestFailed(now, p, v, false)
			} else {
				s.vod.requestFailed(now, p, v)
			}
		}
	}
}

func (s *swarm) onChoked(now time.Duration, p *peer) {
	if s.live != nil {
		s.live.peerChoked(now, p)
	} else {
		s.vod.peerGone(p)
	}
}

func (s *swarm) onData(now time.Duration, p *peer, d *wire.Data) {
	// acknowledge every congestion-controlled datagram, verified or not
	p.ackRanges.add(d.PacketNum)
	if len(p.ackRanges) > 16 {
		p.ackRanges = p.ackRanges[len(p.ackRanges)-16:]
	}
	if d.PacketNum >= p.ackLargest {
		p.ackLargest = d.PacketNum
		p.ackSendUs = d.SendTimeUs
		p.ackRecvAt = now
	}
	// acknowledge every eighth datagram at once, the rest at the next tick:
	// the Ack says when the newest arrived, so the wait does not read as
	// path delay, and each Ack saved is upload a slow viewer keeps for data
	p.ackPending++
	if p.ackPending >= ackEvery {
		p.markDirty(s.e)
	}
	if s.live != nil {
		s.live.onData(now, p, d)
	} else {
		s.vod.onData(now, p, d)
	}
}

// ackEvery is how many Data datagrams wait for one Ack at most; the
// engine's tick sends what is left.
const ackEvery = 8

// tick is the swarm's housekeeping: timeouts, scheduling, choking, PEX.
func (s *swarm) tick(now time.Duration) {
	e := s.e
	for i := 0; i < len(s.list); i++ {
		p := s.list[i]
		switch {
		case p.state == peerConnecting:
			if p.hsSent >= 4 && now >= p.hsNext {
				s.failed[p.addr] = now
				s.dropPeer(now, p)
				i--
				continue
			}
			if now >= p.hsNext {
				p.needHS = true
				p.markDirty(e)
			}
		case now-p.lastRecv > 30*time.Second:
			s.dropPeer(now, p)
			i--
			continue
		default:
			p.cc.onTimer(now)
			if now-p.lastSend > 10*time.Second {
				p.needKeep = true
				p.markDirty(e)
			}
			if p.ackPending > 0 || (len(p.haves)+len(p.keyframes) > 0 && now >= p.haveAt) {
				p.markDirty(e)
			}
		}
	}
	if s.live != nil {
		s.live.tick(now)
	} else {
		s.vod.tick(now)
	}
	if now-s.lastChoke >= 10*time.Second {
		s.chokeRound(now)
	}
	if now-s.lastPex >= 20*time.Second {
		s.lastPex = now
		for _, p := range s.list {
			if p.state == peerConnected {
				p.needPex = true
				p.markDirty(e)
			}
		}
	}
	if now-s.lastMonitor >= 5*time.Second {
		s.lastMonitor = now
		s.monitor(now)
	}
	s.connectCandidates(now)
	if len(s.list) < e.cfg.MinPeers && len(s.candidates) == 0 && now-s.lastWantPeers >= 5*time.Second {
		s.lastWantPeers = now
		e.emit(Event{Kind: EventWantPeers, Swarm: s.desc.ID})
	}
	s.measureUpload(now)
}

func (s *swarm) measureUpload(now time.Duration) {
	if now-s.sentWindowAt >= time.Second {
		dt := (now - s.sentWindowAt).Seconds()
		rate := float64(s.sentWindow) * 8 / dt
		s.uploadRateBps = 0.7*s.uploadRateBps + 0.3*rate
		s.sentWindow = 0
		s.sentWindowAt = now
	}
}

// monitor replaces the neighbour that serves worst, keeping playback fed
// from the buffer meanwhile.
func (s *swarm) monitor(now time.Duration) {
	for _, p := range s.list {
		p.recentTo /= 2
	}
	if s.desc.Origin || s.desc.Seed {
		return
	}
	var worst *peer
	for _, p := range s.list {
		if p.state != peerConnected || p.isOrigin() || now-p.since < 10*time.Second {
			continue
		}
		if p.fails >= 3 && p.fails > 2*p.delivered {
			if worst == nil || p.fails-p.delivered > worst.fails-worst.delivered {
				worst = p
			}
		}
		p.fails /= 2
		p.delivered /= 2
	}
	if worst != nil && len(s.list) > s.e.cfg.MinPeers/2 && (len(s.candidates) > 0 || len(s.list) > s.e.cfg.MinPeers) {
		s.e.sendGoodbye(s, worst, wire.CloseNormal)
		s.dropPeer(now, worst)
	}
}

// chokeRound unchokes the peers that gave us most, plus one optimistic slot.
func (s *swarm) chokeRound(now time.Duration) {
	s.lastChoke = now
	type cand struct {
		p     *peer
		score int64
	}
	var cs []cand
	for _, p := range s.list {
		if p.state == peerConnected && p.periodRequested > 0 {
			cs = append(cs, cand{p, p.periodFrom})
		}
	}
	// adapt the number of slots to how much of the upload we use
	if s.e.cfg.UploadSlots == 0 {
		need := 0
		for _, c := range cs {
			if c.p.periodRequested > 0 {
				need++
			}
		}
		s.slots = max(8, min(need, s.e.cfg.MaxPeers))
	}
	// insertion sort by score, stable in join order (deterministic)
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].score > cs[j-1].score; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
	unchoke := make(map[*peer]bool, s.slots+1)
	for i := 0; i < len(cs) && i < s.slots; i++ {
		unchoke[cs[i].p] = true
	}
	if now-s.lastOptimistic >= 30*time.Second || s.peers[s.optimistic] == nil {
		s.lastOptimistic = now
		var choked []*peer
		for _, c := range cs {
			if !unchoke[c.p] {
				choked = append(choked, c.p)
			}
		}
		if len(choked) > 0 {
			s.optimistic = choked[s.e.rng.IntN(len(choked))].addr
		}
	}
	if p := s.peers[s.optimistic]; p != nil {
		unchoke[p] = true
	}
	for _, p := range s.list {
		p.periodFrom = 0
		p.periodRequested = 0
		if p.state != peerConnected || p.isOrigin() {
			continue
		}
		ch := !unchoke[p] && len(cs) > s.slots
		if ch != p.chokedByUs {
			p.chokedByUs = ch
			if ch {
				p.needChoke = true
			} else {
				p.needUnchoke = true
			}
			p.markDirty(s.e)
		}
	}
}
