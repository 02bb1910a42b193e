package tracker

import (
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// ErrBadSeed is wrapped when AddSeed is given an address peers cannot dial.
var ErrBadSeed = errors.New("bad seed address")

// Tracker keeps, per registered swarm, the peers that announced lately and
// the origin's seeds. It is safe for concurrent use.
type Tracker struct {
	cfg Config

	mu     sync.Mutex
	rand   *rand.Rand
	swarms map[[32]byte]*swarm
}

// SwarmStats is a snapshot of one swarm's registry.
type SwarmStats struct {
	Peers     int   // live announced peers (viewers)
	Seeds     int   // the origin's seeds
	UploadBps int64 // upload the live peers offer, summed, in bits per second
}

// New validates cfg and returns an empty Tracker: it answers only for
// swarms added with AddSwarm.
func New(cfg Config) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := cfg.Rand
	if r == nil {
		var seed [16]byte
		_, _ = crand.Read(seed[:]) // never fails (crypto/rand panics instead)
		r = rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:])))
	}
	return &Tracker{cfg: cfg, rand: r, swarms: make(map[[32]byte]*swarm)}, nil
}

// Interval is how often viewers are told to announce.
func (t *Tracker) Interval() time.Duration { return t.cfg.Interval }

// AddSwarm makes the tracker answer for a swarm. Adding a known swarm keeps
// its peers and seeds.
func (t *Tracker) AddSwarm(id [32]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.swarms[id] == nil {
		t.swarms[id] = newSwarm()
	}
}

// RemoveSwarm forgets a swarm with its peers and seeds; announces for it get
// ErrUnknownSwarm from then on.
func (t *Tracker) RemoveSwarm(id [32]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.swarms, id)
}

// AddSeed registers one of the origin's UDP addresses for a swarm; every
// answer for that swarm lists its seeds first, in the order added. Adding a
// seed twice is a no-op.
func (t *Tracker) AddSeed(swarmID [32]byte, addr netip.AddrPort) error {
	a := addr.Addr()
	if !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || addr.Port() == 0 {
		return fmt.Errorf("tracker: seed %v: want the IP:port viewers dial, not a wildcard or port 0: %w", addr, ErrBadSeed)
	}
	addr = netip.AddrPortFrom(a.Unmap(), addr.Port())
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.swarms[swarmID]
	if s == nil {
		return fmt.Errorf("tracker: seed for swarm %s: %w (add the swarm first)", short(swarmID), ErrUnknownSwarm)
	}
	if slices.Contains(s.seeds, addr) {
		return nil
	}
	if len(s.seeds) >= MaxSeedsPerSwarm {
		return fmt.Errorf("tracker: seed %v for swarm %s: already %d seeds: %w", addr, short(swarmID), MaxSeedsPerSwarm, ErrTooManySeeds)
	}
	s.seeds = append(s.seeds, addr)
	return nil
}

// RemoveSeed unregisters a seed; an unknown swarm or seed is a no-op.
func (t *Tracker) RemoveSeed(swarmID [32]byte, addr netip.AddrPort) {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.swarms[swarmID]; s != nil {
		s.seeds = slices.DeleteFunc(s.seeds, func(x netip.AddrPort) bool { return x == addr })
	}
}

// Announce records a (or removes the peer, for EventStopped) and answers it.
// remote is the caller's address as the network shows it; a.IP replaces it
// only when remote is a loopback address. Errors wrap ErrBadAnnounce or
// ErrUnknownSwarm.
func (t *Tracker) Announce(remote netip.Addr, a Announce) (Response, error) {
	if err := a.Validate(); err != nil {
		return Response{}, err
	}
	ip := remote.Unmap()
	if a.IP != "" && ip.IsLoopback() {
		ip, _ = parseIP(a.IP) // Validate checked it
	}
	if !ip.IsValid() || ip.IsUnspecified() {
		return Response{}, fmt.Errorf("%w: %w", ErrBadAnnounce, errNoRemoteAddr)
	}
	addr := netip.AddrPortFrom(ip, a.Port)
	now := t.cfg.Now()

	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.swarms[a.Swarm]
	if s == nil {
		return Response{}, fmt.Errorf("%w %s: this tracker does not serve it; check the stream's URL", ErrUnknownSwarm, short(a.Swarm))
	}
	s.expire(t.cutoff(now))
	resp := Response{Interval: t.cfg.Interval, Peers: []Peer{}}
	if a.Event == EventStopped {
		if e := s.byID[a.Peer]; e != nil {
			s.remove(e)
		}
		return resp, nil
	}
	skip := -1
	if e := s.upsert(a.Peer, addr, a.UploadBps, now, t.cfg.MaxPeersPerSwarm); e != nil {
		skip = e.index
	}
	want := a.NumWant
	if want == 0 {
		want = t.cfg.DefaultNumWant
	}
	want = min(want, t.cfg.MaxNumWant)
	resp.Peers = make([]Peer, 0, len(s.seeds)+min(want, len(s.peers)))
	for _, sd := range s.seeds {
		resp.Peers = append(resp.Peers, Peer{Addr: sd, Seed: true})
	}
	resp.Peers = s.pick(resp.Peers, t.rand, want, skip)
	return resp, nil
}

// Sweep expires the peers that have been silent too long, in every swarm,
// and returns how many it dropped. Announce and Stats expire lazily too;
// Sweep bounds the memory of swarms nobody announces to.
func (t *Tracker) Sweep() int {
	cutoff := t.cutoff(t.cfg.Now())
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range t.swarms {
		n += s.expire(cutoff)
	}
	return n
}

// Stats returns a snapshot per registered swarm, after expiring silent peers.
func (t *Tracker) Stats() map[[32]byte]SwarmStats {
	cutoff := t.cutoff(t.cfg.Now())
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[[32]byte]SwarmStats, len(t.swarms))
	for id, s := range t.swarms {
		s.expire(cutoff)
		out[id] = SwarmStats{Peers: len(s.peers), Seeds: len(s.seeds), UploadBps: s.uploadBps}
	}
	return out
}

func (t *Tracker) cutoff(now time.Time) time.Time {
	return now.Add(-ExpiryIntervals * t.cfg.Interval)
}

// short names a swarm in messages: enough hex to recognise it.
func short(id [32]byte) string { return hex.EncodeToString(id[:8]) + "…" }
