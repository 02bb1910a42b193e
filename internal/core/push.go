package core

import (
	"math/bits"
	"time"

	"github.com/shoalstream/shoal/internal/wire"
)

// Live chunks travel down push trees: the stream is split into substreams
// (seq modulo Substreams); each viewer picks one parent per substream among
// its neighbours, nearer the origin than itself, and the parent pushes every
// chunk of that substream as soon as it has verified it. Pulling from any
// neighbour that announced a chunk repairs what a tree fails to deliver, and
// the booster repairs what the swarm cannot. Trees remove the announce and
// request round trips from every hop, which is what keeps the delay low.

const maxDepth = 24

// treeShare is the part of a viewer's upload its push children may take;
// the rest answers pulls that repair what the trees miss.
const treeShare = 0.8

// treeState is a live swarm's position in the push trees.
type treeState struct {
	k         int
	parent    []*peer
	depth     []uint8
	since     []time.Duration // when the current parent was chosen
	lastCheck time.Duration
}

func newTreeState(k int, origin bool) treeState {
	t := treeState{k: k, parent: make([]*peer, k), depth: make([]uint8, k), since: make([]time.Duration, k)}
	for j := range t.depth {
		if origin {
			t.depth[j] = 0
		} else {
			t.depth[j] = wire.DepthNone
		}
	}
	return t
}

// peerTree is one neighbour's side of the trees.
type peerTree struct {
	want       uint64 // substreams they asked us to push
	grant      uint64 // substreams we push to them
	theirGrant uint64 // substreams they push to us
	ourWant    uint64 // substreams we asked them for
	depth      []uint8
	lag        []time.Duration // how late they announce each substream, smoothed
	refused    uint64
	refusedAt  time.Duration
	late       []int
	need       bool
}

func (l *liveState) initPeerTree(p *peer) {
	k := l.tree.k
	if k == 0 {
		return
	}
	p.tree.depth = make([]uint8, k)
	p.tree.lag = make([]time.Duration, k)
	p.tree.late = make([]int, k)
	for j := 0; j < k; j++ {
		p.tree.depth[j] = wire.DepthNone
		p.tree.lag[j] = time.Second
	}
	p.tree.need = true
}

func (l *liveState) sub(seq uint64) int { return int(seq % uint64(l.tree.k)) }

// parentOf is the parent pushing seq's substream to us, if any.
func (l *liveState) parentOf(seq uint64) *peer {
	if l.tree.k == 0 {
		return nil
	}
	return l.tree.parent[l.sub(seq)]
}

// onTree takes a neighbour's tree state.
func (l *liveState) onTree(now time.Duration, p *peer, m *wire.Tree) {
	t := &l.tree
	if t.k == 0 || len(m.Depths) != t.k {
		return
	}
	if p.tree.depth == nil {
		l.initPeerTree(p)
	}
	copy(p.tree.depth, m.Depths)
	p.tree.want = m.Want
	p.tree.theirGrant = m.Grant
	// what we asked and they did not grant is refused
	if refused := p.tree.ourWant &^ m.Grant; refused != 0 {
		p.tree.refused |= refused
		p.tree.refusedAt = now
		p.tree.ourWant &^= refused
		for j := 0; j < t.k; j++ {
			if refused&(1<<j) != 0 && t.parent[j] == p {
				t.parent[j] = nil
			}
		}
	}
	l.grant(p)
	l.updateDepths()
}

// grant decides which of the substreams p wants we push to it, within the
// upload we can spare for trees.
func (l *liveState) grant(p *peer) {
	s := l.s
	t := &l.tree
	budget := l.treeBudget()
	used := 0
	for _, q := range s.list {
		if q != p {
			used += bits.OnesCount64(q.tree.grant)
		}
	}
	var g uint64
	for j := 0; j < t.k; j++ {
		bit := uint64(1) << j
		if p.tree.want&bit == 0 {
			continue
		}
		if t.depth[j] >= maxDepth || t.parent[j] == p {
			continue // not in that tree, or it is our parent there
		}
		if p.tree.grant&bit == 0 && used >= budget {
			continue
		}
		if s.desc.Origin && p.tree.grant&bit == 0 && p.uploadHintBps < s.desc.RateBps && used*2 >= budget {
			continue // the origin keeps its last slots for peers that can relay a whole stream
		}
		g |= bit
		if p.tree.grant&bit == 0 {
			used++
		}
	}
	if g != p.tree.grant {
		p.tree.grant = g
		p.tree.need = true
		p.markDirty(s.e)
	} else if p.tree.want != 0 {
		p.tree.need = true // answer, so a refusal is known
		p.markDirty(s.e)
	}
}

// treeBudget is how many substreams we can push, all children together.
func (l *liveState) treeBudget() int {
	s := l.s
	capBps := float64(s.e.cfg.AdvertisedUploadBps)
	if s.desc.Origin && s.e.cfg.MaxUploadBps > 0 {
		capBps = float64(s.e.cfg.MaxUploadBps) * 0.7
	} else if capBps == 0 {
		capBps = max(s.uploadRateBps*1.2, float64(s.desc.RateBps))
	} else {
		capBps *= treeShare
	}
	per := float64(s.desc.RateBps) / float64(l.tree.k)
	return int(capBps / per)
}

// updateDepths recomputes our depth in each tree from our parents'.
func (l *liveState) updateDepths() {
	t := &l.tree
	if l.s.desc.Origin {
		return
	}
	changed := false
	for j := 0; j < t.k; j++ {
		d := wire.DepthNone
		if p := t.parent[j]; p != nil && p.tree.theirGrant&(1<<j) != 0 && p.tree.depth[j] < maxDepth {
			d = p.tree.depth[j] + 1
		}
		if d != t.depth[j] {
			t.depth[j] = d
			changed = true
		}
	}
	if changed {
		for _, p := range l.s.list {
			if p.state == peerConnected {
				p.tree.need = true
				p.markDirty(l.s.e)
			}
		}
	}
}

// onAnnounceLag measures how soon p announces chunks, per substream.
func (l *liveState) onAnnounceLag(now time.Duration, p *peer, c *liveChunk) {
	if l.tree.k == 0 || p.tree.lag == nil || c.heardAt == 0 {
		return
	}
	j := l.sub(c.seq)
	lag := now - c.heardAt
	p.tree.lag[j] += (lag - p.tree.lag[j]) / 8
}

// checkParents replaces missing or poor parents, at most every half second.
func (l *liveState) checkParents(now time.Duration) {
	t := &l.tree
	s := l.s
	if t.k == 0 || now-t.lastCheck < 500*time.Millisecond {
		return
	}
	t.lastCheck = now
	for j := 0; j < t.k; j++ {
		cur := t.parent[j]
		if cur != nil && (cur.state != peerConnected) {
			t.parent[j] = nil
			cur = nil
		}
		if cur != nil && now-t.since[j] < 5*time.Second && cur.tree.late[j] < 4 {
			continue
		}
		var best *peer
		for _, p := range s.list {
			if p.state != peerConnected || p.tree.depth == nil || p == cur {
				continue
			}
			bit := uint64(1) << j
			if p.tree.depth[j] >= maxDepth || p.tree.grant&bit != 0 {
				continue // not in the tree, or our child there
			}
			if p.tree.refused&bit != 0 && now-p.tree.refusedAt < 10*time.Second {
				continue
			}
			if cur != nil && p.tree.depth[j] >= t.depth[j] {
				continue
			}
			if best == nil || p.tree.lag[j] < best.tree.lag[j] {
				best = p
			}
		}
		if best == nil {
			if cur != nil {
				cur.tree.late[j] = 0
			}
			continue
		}
		if cur != nil {
			if cur.tree.late[j] < 4 && best.tree.lag[j]+150*time.Millisecond > cur.tree.lag[j] {
				continue // not clearly better
			}
			cur.tree.ourWant &^= 1 << j
			cur.tree.need = true
			cur.markDirty(s.e)
			cur.tree.late[j] = 0
		}
		t.parent[j] = best
		t.since[j] = now
		best.tree.ourWant |= 1 << j
		best.tree.late[j] = 0
		best.tree.need = true
		best.markDirty(s.e)
	}
	l.updateDepths()
}

// pushToChildren queues a newly held chunk for the children of its substream.
func (l *liveState) pushToChildren(now time.Duration, c *liveChunk) int {
	if l.tree.k == 0 {
		return 0
	}
	bit := uint64(1) << l.sub(c.seq)
	n := 0
	for _, p := range l.s.list {
		if p.state != peerConnected || p.tree.grant&bit == 0 || l.peerHas(p, c.seq) {
			continue
		}
		p.enqueue(serveItem{seq: c.seq, deadline: now, push: true, nfrags: (c.total + l.s.desc.FragmentBytes - 1) / l.s.desc.FragmentBytes})
		p.queuedBytes += c.total
		n++
	}
	return n
}

// shedChildren gives up a substream of a child we cannot keep up with, so
// it finds a parent that can.
func (l *liveState) shedChildren(now time.Duration) {
	s := l.s
	limit := int(s.desc.RateBps / 8) // a second of stream queued for one child
	for _, p := range s.list {
		if p.tree.grant == 0 || p.queuedBytes <= limit {
			continue
		}
		j := bits.Len64(p.tree.grant) - 1
		p.tree.grant &^= 1 << j
		p.tree.need = true
		p.markDirty(s.e)
	}
}

// treeGone forgets a neighbour that left.
func (l *liveState) treeGone(p *peer) {
	t := &l.tree
	for j := 0; j < t.k; j++ {
		if t.parent[j] == p {
			t.parent[j] = nil
		}
	}
	p.tree.grant = 0
	l.updateDepths()
}

// appendTree writes our tree state for p.
func (l *liveState) appendTree(b []byte, p *peer) []byte {
	m := &l.s.e.outTree
	m.Want = p.tree.ourWant
	m.Grant = p.tree.grant
	m.Depths = append(m.Depths[:0], l.tree.depth...)
	p.tree.need = false
	return m.Append(b)
}
