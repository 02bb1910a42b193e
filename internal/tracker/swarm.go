package tracker

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// entry is one stored peer. It sits in its swarm's dense slice (for random
// picks) and in a list ordered by last announce (for expiry from the front).
type entry struct {
	id        [32]byte
	addr      netip.AddrPort
	uploadBps int64
	lastSeen  time.Time
	index     int // in swarm.peers
	prev      *entry
	next      *entry
}

// swarm is the registry of one swarm. Its methods run under the Tracker lock.
type swarm struct {
	seeds     []netip.AddrPort
	peers     []*entry
	byID      map[[32]byte]*entry
	oldest    *entry // front of the expiry list
	newest    *entry // back
	uploadBps int64  // sum over peers
}

func newSwarm() *swarm { return &swarm{byID: make(map[[32]byte]*entry)} }

// expire drops the peers last seen at or before cutoff and returns how many.
func (s *swarm) expire(cutoff time.Time) int {
	n := 0
	for s.oldest != nil && !s.oldest.lastSeen.After(cutoff) {
		s.remove(s.oldest)
		n++
	}
	return n
}

// upsert records an announce. It returns the entry, or nil when the peer is
// new and the swarm is full.
func (s *swarm) upsert(id [32]byte, addr netip.AddrPort, uploadBps int64, now time.Time, maxPeers int) *entry {
	e := s.byID[id]
	if e == nil {
		if len(s.peers) >= maxPeers {
			return nil
		}
		e = &entry{id: id, index: len(s.peers)}
		s.peers = append(s.peers, e)
		s.byID[id] = e
	} else {
		s.unlink(e)
	}
	s.uploadBps += uploadBps - e.uploadBps
	e.addr, e.uploadBps, e.lastSeen = addr, uploadBps, now
	s.pushBack(e)
	return e
}

func (s *swarm) remove(e *entry) {
	s.unlink(e)
	last := s.peers[len(s.peers)-1]
	s.peers[e.index] = last
	last.index = e.index
	s.peers[len(s.peers)-1] = nil
	s.peers = s.peers[:len(s.peers)-1]
	delete(s.byID, e.id)
	s.uploadBps -= e.uploadBps
}

func (s *swarm) unlink(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.oldest = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.newest = e.prev
	}
	e.prev, e.next = nil, nil
}

func (s *swarm) pushBack(e *entry) {
	e.prev = s.newest
	if s.newest != nil {
		s.newest.next = e
	} else {
		s.oldest = e
	}
	s.newest = e
}

// pick appends up to k peers chosen uniformly at random, in random order,
// leaving out the one at index skip (-1 for none). It costs O(k), not
// O(peers): Floyd's sampling over the indices with skip folded out.
func (s *swarm) pick(dst []Peer, r *rand.Rand, k, skip int) []Peer {
	n := len(s.peers)
	if skip >= 0 {
		n--
	}
	k = min(k, n)
	if k <= 0 {
		return dst
	}
	start := len(dst)
	chosen := make(map[int]struct{}, k)
	for j := n - k; j < n; j++ {
		t := r.IntN(j + 1)
		if _, dup := chosen[t]; dup {
			t = j
		}
		chosen[t] = struct{}{}
		i := t
		if skip >= 0 && i >= skip {
			i++
		}
		e := s.peers[i]
		dst = append(dst, Peer{Addr: e.addr, ID: e.id})
	}
	// Floyd's picks a uniform set, not a uniform order; shuffle the order.
	out := dst[start:]
	r.Shuffle(len(out), func(a, b int) { out[a], out[b] = out[b], out[a] })
	return dst
}
