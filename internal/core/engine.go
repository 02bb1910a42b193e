package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

// Engine is one node's protocol state: any number of swarms and their
// neighbours. It is not safe for concurrent use; one goroutine owns it.
type Engine struct {
	cfg Config
	rng *rand.Rand
	id  [32]byte

	swarms map[wire.Tag]*swarm
	order  []*swarm

	events []Event
	evHead int

	nextTick time.Duration
	now      time.Duration

	// upload cap (token bucket in bytes)
	tokens   float64
	tokensAt time.Duration
	wakeAt   time.Duration

	ctlQ    []*peer // peers with control frames waiting, from ctlQ[ctlHead]
	ctlHead int
	rr      int // round robin over data senders

	// reused frame structs: parsing allocates nothing in steady state
	fHandshake  wire.Handshake
	fHave       wire.Have
	fBitfield   wire.Bitfield
	fKeyframe   wire.Keyframe
	outBitfield wire.Bitfield
	fTree       wire.Tree
	outTree     wire.Tree
	fRequest    wire.Request
	fReqFrag    wire.RequestFragments
	fCancel     wire.Cancel
	fData       wire.Data
	fAck        wire.Ack
	fPex        wire.Pex
	fReject     wire.Reject
	fClose      wire.Close
	fSigned     wire.Signed
	fProof      wire.Proof
	fChoke      wire.Choke
	fUnchoke    wire.Unchoke
	fKeep       wire.Keepalive
	scratch     []byte
	readBuf     []byte
	readSwarm   *swarm
	readChunk   int

	stats Stats
}

// Stats are engine-wide counters.
type Stats struct {
	DatagramsIn, DatagramsOut uint64
	BytesIn, BytesOut         uint64
	Malformed                 uint64 // datagrams dropped as unparseable
	UnknownSwarm              uint64
}

// Errors returned by engine calls.
var (
	ErrUnknownSwarm = errors.New("core: unknown swarm")
	ErrNotOrigin    = errors.New("core: swarm is not published by this engine")
	ErrBadChunk     = errors.New("core: chunk failed verification")
)

// NewEngine validates cfg and returns an engine with no swarms.
func NewEngine(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Integrity == nil {
		cfg.Integrity = standardIntegrity{}
	}
	e := &Engine{cfg: cfg, rng: cfg.Rand, id: cfg.PeerID, swarms: make(map[wire.Tag]*swarm)}
	if e.id == ([32]byte{}) {
		for i := 0; i < 32; i += 8 {
			v := e.rng.Uint64()
			for j := 0; j < 8; j++ {
				e.id[i+j] = byte(v >> (8 * j))
			}
		}
	}
	e.tokens = e.bucketBytes()
	return e, nil
}

// ID is the peer ID this engine announces.
func (e *Engine) ID() [32]byte { return e.id }

// Stats returns engine-wide counters.
func (e *Engine) Stats() Stats { return e.stats }

// AddSwarm joins (or, for an origin or seed, starts) a swarm.
func (e *Engine) AddSwarm(now time.Duration, d SwarmDescriptor) error {
	e.advance(now)
	if err := d.validate(); err != nil {
		return err
	}
	tag := wire.TagOf(d.ID)
	if _, ok := e.swarms[tag]; ok {
		return fmt.Errorf("%w: %s already added", ErrSwarm, d.ID)
	}
	s := newSwarm(e, now, d)
	e.swarms[tag] = s
	e.order = append(e.order, s)
	return nil
}

// RemoveSwarm leaves a swarm, saying goodbye to its neighbours.
func (e *Engine) RemoveSwarm(now time.Duration, id integrity.Hash) {
	e.advance(now)
	s := e.swarms[wire.TagOf(id)]
	if s == nil {
		return
	}
	for _, p := range s.list {
		e.sendGoodbye(s, p, wire.CloseNormal)
	}
	delete(e.swarms, s.tag)
	for i, x := range e.order {
		if x == s {
			e.order = append(e.order[:i], e.order[i+1:]...)
			break
		}
	}
}

// Close says goodbye to every neighbour of every swarm; drain PollTransmit
// afterwards to send the goodbyes.
func (e *Engine) Close(now time.Duration) {
	for len(e.order) > 0 {
		e.RemoveSwarm(now, e.order[0].desc.ID)
	}
}

// AddPeer makes the engine connect to addr in a swarm (from the tracker,
// or configured by hand).
func (e *Engine) AddPeer(now time.Duration, id integrity.Hash, addr netip.AddrPort) error {
	e.advance(now)
	s := e.swarms[wire.TagOf(id)]
	if s == nil {
		return ErrUnknownSwarm
	}
	s.addCandidate(addr, true)
	s.connectCandidates(now)
	return nil
}

// HandleDatagram takes one datagram from addr.
func (e *Engine) HandleDatagram(now time.Duration, from netip.AddrPort, b []byte) {
	e.advance(now)
	e.stats.DatagramsIn++
	e.stats.BytesIn += uint64(len(b))
	tag, n, err := wire.ParseHeader(b)
	if err != nil {
		e.stats.Malformed++
		return
	}
	var s *swarm
	if len(e.order) == 1 && e.order[0].tag == tag {
		s = e.order[0] // the common case, without the map
	} else {
		s = e.swarms[tag]
	}
	if s == nil {
		e.stats.UnknownSwarm++
		return
	}
	s.handleFrames(now, from, b[n:])
}

// HandleTimeout runs timers; call it when NextDeadline has passed.
func (e *Engine) HandleTimeout(now time.Duration) {
	e.advance(now)
	if e.wakeAt != 0 && now >= e.wakeAt {
		e.wakeAt = 0
	}
	if now < e.nextTick {
		return
	}
	e.nextTick = now + e.tickInterval()
	for _, s := range e.order {
		s.tick(now)
	}
}

// tickInterval is TickInterval, or half of it for the origin of a live
// swarm: one engine whose pushes and repairs everyone waits for.
func (e *Engine) tickInterval() time.Duration {
	for _, s := range e.order {
		if s.desc.Origin && s.live != nil {
			return e.cfg.TickInterval / 2
		}
	}
	return e.cfg.TickInterval
}

// NextDeadline is when HandleTimeout must next be called.
func (e *Engine) NextDeadline() time.Duration {
	d := e.nextTick
	if e.wakeAt > 0 && e.wakeAt < d {
		d = e.wakeAt
	}
	return d
}

// PollEvent returns the next event, if any.
func (e *Engine) PollEvent() (Event, bool) {
	if e.evHead >= len(e.events) {
		e.events = e.events[:0]
		e.evHead = 0
		return Event{}, false
	}
	ev := e.events[e.evHead]
	e.events[e.evHead] = Event{}
	e.evHead++
	return ev, true
}

func (e *Engine) emit(ev Event) { e.events = append(e.events, ev) }

// advance moves the engine's clock; time never goes backwards.
func (e *Engine) advance(now time.Duration) {
	if now > e.now {
		e.now = now
	}
	if e.nextTick == 0 {
		e.nextTick = now
	}
}

func (e *Engine) bucketBytes() float64 {
	if e.cfg.MaxUploadBps == 0 {
		return 0
	}
	// 20 ms of the cap, at least 4 datagrams
	return max(float64(e.cfg.MaxUploadBps)/8*0.02, float64(4*e.cfg.MaxDatagramBytes))
}

// uploadAllowed refills the bucket and reports whether size bytes may go.
func (e *Engine) uploadAllowed(now time.Duration, size int) bool {
	if e.cfg.MaxUploadBps == 0 {
		return true
	}
	if now > e.tokensAt {
		e.tokens, e.tokensAt = e.tokensNow(now), now
	}
	if e.tokens >= float64(size) {
		return true
	}
	// wake when four datagrams may go, not one: a quarter of the wake-ups,
	// and they leave back to back as any pacer's bursts do (the bucket
	// holds at least four)
	need := min(4*float64(size), e.bucketBytes())
	wait := time.Duration((need - e.tokens) * 8 / float64(e.cfg.MaxUploadBps) * float64(time.Second))
	if w := now + wait + time.Microsecond; e.wakeAt <= now || w < e.wakeAt {
		e.wakeAt = w
	}
	return false
}

// tokensNow is what the bucket holds at now (not before tokensAt), without
// refilling it.
func (e *Engine) tokensNow(now time.Duration) float64 {
	if now <= e.tokensAt {
		return e.tokens
	}
	return min(e.tokens+float64(e.cfg.MaxUploadBps)/8*(now-e.tokensAt).Seconds(), e.bucketBytes())
}

// bucketShort says, without refilling it, that the bucket will not hold
// size bytes at now: exactly when uploadAllowed would refuse them.
func (e *Engine) bucketShort(now time.Duration, size int) bool {
	return e.cfg.MaxUploadBps != 0 && e.tokensNow(now) < float64(size)
}

func (e *Engine) spend(size int) {
	if e.cfg.MaxUploadBps != 0 {
		e.tokens -= float64(size)
	}
}
