package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

// Run is one simulation in progress: the network, the origin, the viewers
// and the checkers' tallies. Scenarios drive it through its methods.
type Run struct {
	opt  Options
	sc   *Scenario
	net  *Network
	rng  *rand.Rand
	desc core.SwarmDescriptor

	origin    *node
	booster   *Service
	viewers   []*node // every viewer ever, by index
	alive     []*node // viewers present now, in join order
	nextID    uint32
	sumUpBps  float64 // upload of viewers present, for the bound
	peakPeers int
	upSeconds float64 // Σ over time of present viewers' upload (bit·s/s)
	boundBits float64 // ∫ max(r, N(t)·r − Σu(t)) dt: the least the origin must send
	lastUpAt  time.Duration

	fast  fastIntegrity
	share chunkShare // one copy of each verified live chunk (see chunkShare)

	live *liveSource
	file *fileSource

	lanes    []tally // by network lane (see tally)
	departed core.SwarmStats
	series   seriesRec
}

// node is one engine on the network, origin or viewer.
type node struct {
	r      *Run
	id     uint32
	addr   netip.AddrPort
	e      *core.Engine
	rng    *rand.Rand // the tracker's picks for this node
	tr     trace      // this node's events, for the run's digest
	cfg    NodeConfig
	joinAt time.Duration
	ready  bool
	bad    bool // corrupts every chunk fragment it sends
	gone   bool
	origin bool

	// on-demand player
	pos      int
	playing  bool
	waitFrom time.Duration
	seekAt   time.Duration
	seeking  bool
	nextSeek time.Duration
	have     bitset1
}

// Endpoint implementation: the engine, plus the checkers watching its events.

func (n *node) HandleDatagram(now time.Duration, from netip.AddrPort, b []byte) {
	n.e.HandleDatagram(now, from, b)
	n.drain(now)
}

func (n *node) HandleTimeout(now time.Duration) {
	n.e.HandleTimeout(now)
	n.drain(now)
}

func (n *node) PollTransmit(buf []byte) (netip.AddrPort, []byte, bool) {
	to, b, ok := n.e.PollTransmit(buf)
	if ok && n.bad {
		corrupt(b)
	}
	return to, b, ok
}

func (n *node) NextDeadline() time.Duration { return n.e.NextDeadline() }

// corrupt flips a byte in every Data frame's payload: a lying peer.
func corrupt(b []byte) {
	_, hn, err := wire.ParseHeader(b)
	if err != nil {
		return
	}
	for off := hn; off < len(b); {
		t, err := wire.PeekType(b[off:])
		if err != nil {
			return
		}
		n, err := wire.SkipFrame(b[off:])
		if err != nil {
			return
		}
		if t == wire.TypeData {
			b[off+n-1] ^= 0x5a // the payload ends the frame
		}
		off += n
	}
}

// call runs fn against a node's engine at now (from a scenario action or a
// fetch's end), then lets the network send what it produced.
func (r *Run) call(now time.Duration, n *node, fn func()) {
	fn()
	n.drain(now)
	r.net.Kick(n.addr)
}

// tally is the checkers' tally for n's events now.
func (r *Run) tally(n *node) *tally { return &r.lanes[r.net.laneID(n.addr)] }

// counts sums the lanes' counters.
func (r *Run) counts() tally {
	var t tally
	for i := range r.lanes {
		t.addCounts(&r.lanes[i])
	}
	return t
}

// total sums the lanes' tallies, all of them.
func (r *Run) total() tally {
	var t tally
	for i := range r.lanes {
		t.add(&r.lanes[i])
	}
	return t
}

// drain handles the engine's events: checkers and driver duties.
func (n *node) drain(now time.Duration) {
	r := n.r
	for {
		ev, ok := n.e.PollEvent()
		if !ok {
			return
		}
		n.tr.record(now, n.id, uint8(ev.Kind), ev.Seq)
		if watch != nil {
			watch(now, n, ev)
		}
		switch ev.Kind {
		case core.EventPlay:
			r.onPlay(now, n, ev)
		case core.EventMissed:
			if !n.bad {
				r.tally(n).missed++ // as for plays, liars' own playback is not measured
			}
		case core.EventReady:
			r.onReady(now, n, ev)
		case core.EventBoost:
			r.boost(now, n, ev.Seq, ev.Due)
		case core.EventFetch:
			r.webFetch(now, n, ev.Seq, ev.End)
		case core.EventWantPeers:
			r.givePeers(now, n, 10)
		case core.EventPeerBanned:
			r.onBan(n, ev.Peer)
		case core.EventRejected:
			r.tally(n).rejected++
		}
	}
}

func (r *Run) onBan(by *node, addr netip.AddrPort) {
	t := r.tally(by)
	for _, v := range r.alive {
		if v.addr == addr {
			if v.bad {
				if t.badBanned == nil {
					t.badBanned = map[uint32]bool{}
				}
				t.badBanned[v.id] = true
			} else {
				t.honestBanned++
			}
			return
		}
	}
}

// givePeers is the tracker: up to k random present viewers, and the origin.
func (r *Run) givePeers(now time.Duration, n *node, k int) {
	id := r.desc.ID
	if !n.origin {
		n.e.AddPeer(now, id, r.origin.addr)
	}
	m := len(r.alive)
	if m == 0 {
		return
	}
	tries := 0
	for added := 0; added < k && tries < 4*k; tries++ {
		v := r.alive[n.rng.IntN(m)]
		if v == n {
			continue
		}
		n.e.AddPeer(now, id, v.addr)
		added++
	}
}

// newRand returns a source of a node's own, drawn from the run's.
func (r *Run) newRand() *rand.Rand {
	return rand.New(rand.NewPCG(r.rng.Uint64(), r.rng.Uint64()))
}

// digest hashes every node's trace, the origin's first, then the viewers'
// in the order they joined.
func (r *Run) digest() string {
	h := sha256.New()
	h.Write(r.origin.tr.sum())
	for _, v := range r.viewers {
		h.Write(v.tr.sum())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// newEngine makes an engine with the run's shared settings.
func (r *Run) newEngine(mutate func(*core.Config)) *core.Engine {
	cfg := core.DefaultConfig()
	cfg.Rand = rand.New(rand.NewPCG(r.rng.Uint64(), r.rng.Uint64()))
	cfg.PlayDelay = r.opt.PlayDelay
	cfg.UnixEpochUs = 1 // every engine reads the same virtual clock
	if !r.opt.RealCrypto {
		cfg.Integrity = r.fast
	}
	cfg.ShareLive = r.share.share
	cfg.MaxDatagramBytes = max(cfg.MaxDatagramBytes, r.desc.FragmentBytes+datagramHeadroom)
	cfg.LiveWindow = r.opt.liveWindow()
	if cfg.BoostMargin > cfg.PlayDelay/2 {
		cfg.BoostMargin = cfg.PlayDelay / 2
	}
	if cfg.UrgentWindow > cfg.PlayDelay/2 {
		cfg.UrgentWindow = cfg.PlayDelay / 2
	}
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := core.NewEngine(cfg)
	if err != nil {
		panic(err) // the run's own settings: a bug, not input
	}
	return e
}

// viewerLink draws a viewer's access link: uploads spread around the mean,
// a fifth of viewers below the stream rate; downloads 5–20× the rate.
func (r *Run) viewerLink() NodeConfig {
	rate := float64(r.opt.StreamRateBps)
	mean := r.opt.ViewerUpFactor
	var f float64
	switch x := r.rng.Float64(); {
	case x < 0.2:
		f = mean / 3
	case x < 0.7:
		f = mean * 0.9
	default:
		f = mean * (1 - 0.2/3 - 0.45) / 0.3 // keeps the mean at ViewerUpFactor
	}
	nat := NATOpen
	switch x := r.rng.Float64(); {
	case x < 0.4:
		nat = NATCone
	case x < 0.55:
		nat = NATSymmetric
	}
	return NodeConfig{
		UpBps:   int64(f * rate),
		DownBps: int64((5 + 15*r.rng.Float64()) * rate),
		NAT:     nat,
	}
}

// join adds a viewer now.
func (r *Run) join(now time.Duration, bad bool) *node {
	link := r.viewerLink()
	e := r.newEngine(func(c *core.Config) {
		c.AdvertisedUploadBps = link.UpBps
		// viewers cap their upload a little below their link, as
		// `shoal play --max-upload` does: the engine then paces its sends
		// and keeps the queue (in deadline order) to itself, instead of
		// in the modem where every chunk waits behind every other
		c.MaxUploadBps = link.UpBps * 95 / 100
		if r.opt.Tune != nil {
			r.opt.Tune(c)
		}
	})
	n := &node{r: r, id: r.nextID, e: e, cfg: link, joinAt: now, bad: bad, tr: newTrace(), rng: r.newRand()}
	r.nextID++
	n.addr = r.net.AddNode(link, wrapEP(n))
	r.accrueUpload(now)
	r.viewers = append(r.viewers, n)
	r.alive = append(r.alive, n)
	r.sumUpBps += float64(link.UpBps)
	r.peakPeers = max(r.peakPeers, len(r.alive))
	desc := r.desc
	if r.file != nil {
		desc.Store = r.file.newStore(n)
		desc.WebSeed = true
	} else {
		desc.Booster = r.opt.BoosterFactor > 0
	}
	r.call(now, n, func() {
		if err := e.AddSwarm(now, desc); err != nil {
			panic(err)
		}
		r.givePeers(now, n, 20)
	})
	if r.file != nil {
		r.file.startPlayer(now, n)
	}
	return n
}

// leave removes a viewer abruptly, as a closed laptop would.
func (r *Run) leave(now time.Duration, n *node) {
	if n.gone {
		return
	}
	r.accrueUpload(now)
	n.gone = true
	if st, ok := n.e.SwarmStats(r.desc.ID); ok && !n.bad {
		addStats(&r.departed, &st)
	}
	for i, v := range r.alive {
		if v == n {
			r.alive = append(r.alive[:i], r.alive[i+1:]...)
			break
		}
	}
	r.sumUpBps -= float64(n.cfg.UpBps)
	r.net.RemoveNode(n.addr)
}

// accrueUpload integrates present viewers' upload over time for the bound.
func (r *Run) accrueUpload(now time.Duration) {
	dt := (now - r.lastUpAt).Seconds()
	r.upSeconds += r.sumUpBps * dt
	rate := float64(r.opt.StreamRateBps)
	r.boundBits += max(rate, float64(len(r.alive))*rate-r.sumUpBps) * dt
	r.lastUpAt = now
}

func addStats(dst, s *core.SwarmStats) {
	dst.BytesFromPeers += s.BytesFromPeers
	dst.BytesFromOrigin += s.BytesFromOrigin
	dst.BytesFromHTTP += s.BytesFromHTTP
	dst.BytesUploaded += s.BytesUploaded
	dst.ChunksVerified += s.ChunksVerified
	dst.ChunksRejected += s.ChunksRejected
	dst.Stalls += s.Stalls
	dst.DuplicateBytes += s.DuplicateBytes
}

// totals sums the stats of every viewer, present and departed.
// Liars are left out: what they receive and how they play is not the
// audience's experience.
func (r *Run) totals() core.SwarmStats {
	t := r.departed
	for _, v := range r.alive {
		if v.bad {
			continue
		}
		if st, ok := v.e.SwarmStats(r.desc.ID); ok {
			addStats(&t, &st)
		}
	}
	return t
}

var _ = integrity.LeafSize

// bitset1 is a small growable bitset for the player model.
type bitset1 []uint64

func (b *bitset1) set(i int) {
	for len(*b) <= i>>6 {
		*b = append(*b, 0)
	}
	(*b)[i>>6] |= 1 << (uint(i) & 63)
}

func (b bitset1) has(i int) bool {
	return i>>6 < len(b) && b[i>>6]&(1<<(uint(i)&63)) != 0
}

// watch lets tests see every engine event.
var watch func(now time.Duration, n *node, ev core.Event)

// wrap lets tests put a checker between the network and every endpoint.
var wrap func(Endpoint) Endpoint

func wrapEP(e Endpoint) Endpoint {
	if wrap != nil {
		return wrap(e)
	}
	return e
}

// addOrigin adds the origin: an engine that seeds the run's swarm (on demand
// from the store that store makes, when it is given) with the run's upload.
func (r *Run) addOrigin(maxPeers int, store func(*node) core.Store) {
	up := int64(r.opt.OriginUpFactor * float64(r.opt.StreamRateBps))
	e := r.newEngine(func(c *core.Config) {
		c.MaxUploadBps = up
		c.AdvertisedUploadBps = up
		c.MaxPeers = maxPeers
		c.MinPeers = 1
	})
	o := &node{r: r, id: 1 << 31, e: e, origin: true, tr: newTrace(), rng: r.newRand()}
	o.cfg = NodeConfig{UpBps: up + up/10, DownBps: 1_000_000_000, NAT: NATOpen}
	o.addr = r.net.AddNode(o.cfg, wrapEP(o))
	r.origin = o
	od := r.desc
	od.Origin = true
	if store != nil {
		od.Seed = true
		od.Store = store(o)
	}
	r.call(0, o, func() {
		if err := e.AddSwarm(0, od); err != nil {
			panic(err)
		}
	})
}

// newHTTPService is the origin's HTTP side (booster or web seed), or nil
// when the run has none.
func (r *Run) newHTTPService(name string) *Service {
	if r.opt.BoosterFactor <= 0 {
		return nil
	}
	return r.net.NewService(name, int64(r.opt.BoosterFactor*float64(r.opt.StreamRateBps)), 20*time.Millisecond)
}
