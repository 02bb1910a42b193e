package core

import (
	"net/netip"
	"time"

	"github.com/shoalstream/shoal/internal/wire"
)

type peerState uint8

const (
	peerConnecting peerState = iota + 1
	peerConnected
	peerGone
)

// peer is one neighbour in one swarm.
type peer struct {
	// What every datagram, tick and send decision reads comes first, so
	// that it shares a few cache lines: with thousands of engines in one
	// process, a peer is rarely still in the cache when it is next visited.
	s          *swarm
	addr       netip.AddrPort
	state      peerState
	dirty      bool // control frames waiting
	lastRecv   time.Duration
	lastSend   time.Duration
	serveQ     []serveItem
	ackPending int
	haves      rangeList
	haveAt     time.Duration        // when waiting Haves may go on their own
	keyframes  []wire.KeyframeEntry // live: Haves of random-access chunks, sent as Keyframe
	cc         ledbat               // our sending side

	id    [32]byte
	flags uint8 // the remote's handshake flags

	uploadHintBps int64
	since         time.Duration
	hsSent        int
	hsNext        time.Duration
	outbound      bool

	// what the remote has: live uses a ring keyed by seq, on demand a plain set
	have   bitset
	haveHi uint64 // live: highest seq the remote has announced
	hasAny bool
	bfNext int // on demand: next chunk index of the bitfield still to send

	tree peerTree

	// our sending side
	chokedByUs  bool
	chokesUs    bool
	queuedBytes int
	joinSeq     uint64 // the swarm's join counter when p joined: s.list order
	serving     bool   // p is in s.serving

	// our requests to them
	outstanding int

	// control frames waiting
	needHS      bool
	needBF      bool
	needChoke   bool
	needUnchoke bool
	needPex     bool
	needKeep    bool
	closeReason int // -1 none
	rejects     rangeList
	cancels     rangeList
	reqs        rangeList
	reqDeadline uint32
	fragReqs    []fragReq
	integrity   []uint64 // chunks whose Signed/Proof must go alone before data

	// acknowledgement state for data they send us
	ackRanges  rangeList
	ackLargest uint64
	ackSendUs  uint64
	ackRecvAt  time.Duration

	// accounting
	bytesFrom       int64 // verified payload bytes received from them
	bytesTo         int64
	recentTo        int64         // payload bytes sent them on request, halved every 5 s
	probedAt        time.Duration // when we last asked them for a chunk we hold, to check them
	proven          bool          // they sent us data that checked out
	servedSeq       uint64        // live: the last chunk we finished sending them
	servedAt        time.Duration
	periodFrom      int64 // this choke period
	periodRequested int
	fails           int // requests that timed out or were rejected lately
	delivered       int // chunks completed from them lately
	unrequested     int64
	// origin: chunks pushed to them, and how many of those others then
	// had to ask the origin for
	pushed, pushLost int
	pushLostAt       time.Duration
}

type fragReq struct {
	chunk uint64
	flags uint8
	frags rangeList
}

// serveItem is a chunk (or part of one) we owe a neighbour.
type serveItem struct {
	seq      uint64
	deadline time.Duration
	frags    bitset // fragments still to send; nil = all from next
	next     int    // next fragment index
	nfrags   int
	metaSent bool
	wantMeta bool
	push     bool
}

// enqueue adds an item to p's send queue and makes sure pickData looks at p.
func (p *peer) enqueue(it serveItem) {
	p.serveQ = append(p.serveQ, it)
	if p.serving {
		return
	}
	p.serving = true
	s := p.s
	// keep s.serving in join order, the order pickData breaks ties in
	i := len(s.serving)
	for i > 0 && s.serving[i-1].joinSeq > p.joinSeq {
		i--
	}
	s.serving = append(s.serving, nil)
	copy(s.serving[i+1:], s.serving[i:])
	s.serving[i] = p
}

func (p *peer) isOrigin() bool { return p.flags&wire.FlagOrigin != 0 }

func (p *peer) markDirty(e *Engine) {
	if !p.dirty {
		p.dirty = true
		if h := e.ctlHead; h >= 64 && 2*h >= len(e.ctlQ) {
			// a driver that stops polling early must not grow the queue
			n := copy(e.ctlQ, e.ctlQ[h:])
			clear(e.ctlQ[n:])
			e.ctlQ, e.ctlHead = e.ctlQ[:n], 0
		}
		e.ctlQ = append(e.ctlQ, p)
	}
}

// rtt is the smoothed round trip, or a guess before the first sample.
func (p *peer) rtt() time.Duration {
	if p.cc.srtt != 0 {
		return p.cc.srtt
	}
	return 200 * time.Millisecond
}

// unresponsive says p left our data unanswered for a while and sent nothing
// since: most likely it is gone without a goodbye (killed, or off the
// network), and what we push to it reaches no one.
func (p *peer) unresponsive(now time.Duration) bool {
	c := &p.cc
	return c.waiting && p.lastRecv < c.waitingSince && now-c.waitingSince > max(time.Second, 2*c.rto())
}

// wastesPushes says others had to ask the origin for much of what it pushed
// to p lately: p does not pass chunks on (it lies, or cannot relay), so a
// chunk pushed to it reaches the swarm only through the origin's repairs.
// It is forgiven after a while, in case that has changed.
func (p *peer) wastesPushes(now time.Duration) bool {
	if p.pushLost > 0 && now-p.pushLostAt > 30*time.Second {
		p.pushed, p.pushLost = 0, 0
	}
	return p.pushLost >= 4 && 3*p.pushLost > p.pushed
}

// rangeList is an ascending list of disjoint half-open ranges.
type rangeList []wire.Range

// add inserts v, merging with neighbours. Appends at the end are O(1).
func (r *rangeList) add(v uint64) {
	l := *r
	n := len(l)
	if n > 0 {
		last := &l[n-1]
		if v == last.End {
			last.End++
			return
		}
		if v >= last.Start && v < last.End {
			return
		}
		if v > last.End {
			*r = append(l, wire.Range{Start: v, End: v + 1})
			return
		}
	} else {
		*r = append(l, wire.Range{Start: v, End: v + 1})
		return
	}
	// out of order: find position
	for i := range l {
		if v >= l[i].Start && v < l[i].End {
			return
		}
		if v+1 == l[i].Start {
			l[i].Start = v
			if i > 0 && l[i-1].End == v {
				l[i-1].End = l[i].End
				*r = append(l[:i], l[i+1:]...)
			}
			return
		}
		if v == l[i].End {
			l[i].End++
			if i+1 < len(l) && l[i+1].Start == l[i].End {
				l[i].End = l[i+1].End
				*r = append(l[:i+1], l[i+2:]...)
			}
			return
		}
		if v < l[i].Start {
			l = append(l, wire.Range{})
			copy(l[i+1:], l[i:])
			l[i] = wire.Range{Start: v, End: v + 1}
			*r = l
			return
		}
	}
}

// addRange inserts [a, b).
func (r *rangeList) addRange(a, b uint64) {
	for v := a; v < b; v++ {
		r.add(v)
	}
}

// take moves up to max ranges (the oldest) out of r into dst.
func (r *rangeList) take(dst []wire.Range, max int) []wire.Range {
	l := *r
	n := min(max, len(l))
	dst = append(dst, l[:n]...)
	k := copy(l, l[n:])
	*r = l[:k]
	return dst
}

// haveInterval batches announcements: a datagram per neighbour per chunk
// would cost more datagrams than the chunks themselves. Haves also ride
// along with any other frame sent sooner. At 600 ms a batch holds about
// nine chunks of a 2 Mb/s stream; the newest chunk still goes at once, so
// what a batch delays is news of older chunks, which a neighbour has
// usually asked their first announcer for already (it asks on the first
// Have). Half as many batches as at 300 ms left continuity, P2P share and
// join times equal or better in the simulator (docs/ARCHITECTURE.md, 17).
const haveInterval = 600 * time.Millisecond

// addHave queues a live chunk's announcement: a random-access chunk goes
// out as Keyframe, any other as Have.
func (p *peer) addHave(seq uint64, m *ChunkMeta) {
	if m.Flags&wire.ChunkRAP != 0 && len(p.keyframes) < wire.MaxKeyframes {
		p.keyframes = append(p.keyframes, wire.KeyframeEntry{Chunk: seq, TimestampUs: m.TimestampUs})
	} else {
		p.haves.add(seq)
	}
}

// announce schedules the waiting Haves for p.
func (p *peer) announce(now time.Duration) {
	if now >= p.haveAt {
		p.haveAt = now + haveInterval
		p.markDirty(p.s.e)
	}
}
