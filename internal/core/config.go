package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("core: invalid configuration")

// Config tunes one engine. Build it from DefaultConfig and change what you need.
type Config struct {
	// PeerID identifies this engine in handshakes (the transport's static key
	// hash for native peers). Zero makes the engine draw one from Rand.
	PeerID [32]byte
	// Rand is the only source of randomness. Required.
	Rand *rand.Rand

	// MaxDatagramBytes bounds every datagram the engine emits, 600..65000.
	MaxDatagramBytes int
	// MaxUploadBps caps all media the engine sends (bits per second, 0 = no
	// cap beyond congestion control).
	MaxUploadBps int64
	// AdvertisedUploadBps is told to peers in the handshake as a hint of this
	// peer's capacity (0 = unknown). The origin prefers strong peers for pushes.
	AdvertisedUploadBps int64

	// MinPeers and MaxPeers bound the neighbour set of each swarm.
	MinPeers, MaxPeers int
	// Substreams splits a live stream into push trees (1..64); 0 turns the
	// trees off, and chunks then spread by announce and request only.
	// The trees are experimental: see docs/RESULTS.md for how they compare.
	Substreams int
	// UploadSlots is the number of peers served at once (unchoked), besides
	// one optimistic slot; 0 = adapt to measured upload.
	UploadSlots int

	// PlayDelay is how far behind the live edge a viewer plays, 200ms..60s.
	PlayDelay time.Duration
	// LiveWindow is how much recent live stream a viewer keeps for relaying
	// and for players that join late, 1s..10m.
	LiveWindow time.Duration
	// BoostMargin: a live chunk still missing this long before its deadline
	// is fetched from the booster (when the swarm has one), 0..PlayDelay.
	BoostMargin time.Duration
	// OriginFanout is how many peers an origin pushes each new chunk to, 1..64.
	OriginFanout int
	// UrgentWindow: a request whose deadline is nearer than this is urgent;
	// an origin serves only urgent requests (and its pushes).
	UrgentWindow time.Duration

	// CacheBytes bounds the on-demand chunks kept by a viewer (0 = unbounded).
	CacheBytes int64

	// TickInterval is the period of the engine's housekeeping (scheduling,
	// HAVE batching, acks left over, timeouts), 5ms..1s; the origin of a
	// live swarm ticks twice as often. At 40 ms a viewer schedules about
	// 1.6 times per 16 KiB chunk of a 2 Mb/s stream; an ack left over from
	// a burst waits up to a tick, which congestion control tolerates
	// because it measures delay when the data arrives, not when the ack
	// does.
	TickInterval time.Duration
	// LEDBATTarget is the queuing delay congestion control aims for.
	LEDBATTarget time.Duration

	// Integrity checks chunks. Nil means the protocol's own: SHA-256 leaves
	// and Ed25519 signatures. The simulator may swap in a cheaper suite of
	// the same shape to run thousands of engines; real peers never do.
	Integrity Integrity

	// ShareLive, when set, is offered each live chunk the engine verifies
	// (not an origin's own). It may return a slice with the same bytes,
	// which the engine then holds read-only in place of its copy, reusing
	// its own buffer. A simulator running many engines keeps one copy of
	// each chunk this way; real peers leave it nil.
	ShareLive func(swarm integrity.Hash, seq uint64, data []byte) []byte

	// UnixEpochUs is the Unix time in µs at engine time zero, when the
	// driver knows it (a synchronised wall clock). Live deadlines then follow
	// the origin's timestamps exactly; with 0 the engine estimates the offset
	// from when chunks first appear.
	UnixEpochUs int64
}

// DefaultConfig returns the defaults; the caller must still set Rand.
func DefaultConfig() Config {
	return Config{
		MaxDatagramBytes: wire.MaxDatagramSize - 40,
		MinPeers:         16,
		MaxPeers:         40,
		PlayDelay:        2900 * time.Millisecond,
		LiveWindow:       30 * time.Second,
		BoostMargin:      400 * time.Millisecond,
		OriginFanout:     8,
		UrgentWindow:     900 * time.Millisecond,
		TickInterval:     40 * time.Millisecond,
		LEDBATTarget:     40 * time.Millisecond,
	}
}

// Validate names the first bad field and its allowed range.
func (c *Config) Validate() error {
	bad := func(field, rng string, v any) error {
		return fmt.Errorf("%w: %s = %v, want %s", ErrConfig, field, v, rng)
	}
	switch {
	case c.Rand == nil:
		return fmt.Errorf("%w: Rand is nil, want a seeded *rand.Rand", ErrConfig)
	case c.MaxDatagramBytes < 600 || c.MaxDatagramBytes > 65000:
		return bad("MaxDatagramBytes", "600..65000", c.MaxDatagramBytes)
	case c.MaxUploadBps < 0:
		return bad("MaxUploadBps", ">= 0", c.MaxUploadBps)
	case c.MinPeers < 1 || c.MinPeers > c.MaxPeers:
		return bad("MinPeers", "1..MaxPeers", c.MinPeers)
	case c.MaxPeers > 1000:
		return bad("MaxPeers", "MinPeers..1000", c.MaxPeers)
	case c.Substreams < 0 || c.Substreams > 64:
		return bad("Substreams", "0..64", c.Substreams)
	case c.UploadSlots < 0 || c.UploadSlots > 1000:
		return bad("UploadSlots", "0..1000", c.UploadSlots)
	case c.PlayDelay < 200*time.Millisecond || c.PlayDelay > time.Minute:
		return bad("PlayDelay", "200ms..60s", c.PlayDelay)
	case c.LiveWindow < time.Second || c.LiveWindow > 10*time.Minute:
		return bad("LiveWindow", "1s..10m", c.LiveWindow)
	case c.BoostMargin < 0 || c.BoostMargin > c.PlayDelay:
		return bad("BoostMargin", "0..PlayDelay", c.BoostMargin)
	case c.OriginFanout < 1 || c.OriginFanout > 64:
		return bad("OriginFanout", "1..64", c.OriginFanout)
	case c.UrgentWindow < 0 || c.UrgentWindow > time.Minute:
		return bad("UrgentWindow", "0..60s", c.UrgentWindow)
	case c.CacheBytes < 0:
		return bad("CacheBytes", ">= 0", c.CacheBytes)
	case c.TickInterval < 5*time.Millisecond || c.TickInterval > time.Second:
		return bad("TickInterval", "5ms..1s", c.TickInterval)
	case c.LEDBATTarget < 5*time.Millisecond || c.LEDBATTarget > time.Second:
		return bad("LEDBATTarget", "5ms..1s", c.LEDBATTarget)
	}
	return nil
}

// Integrity is how an engine checks chunks before it uses them.
type Integrity interface {
	// VerifyLive checks a live chunk's signature by the origin.
	VerifyLive(v *integrity.Verifier, m integrity.ChunkMeta, data []byte, sig [64]byte) error
	// LeafHash hashes an on-demand chunk for comparison with its leaf.
	LeafHash(data []byte) integrity.Hash
}

// standardIntegrity is SHA-256 and Ed25519, as the protocol specifies.
type standardIntegrity struct{}

func (standardIntegrity) VerifyLive(v *integrity.Verifier, m integrity.ChunkMeta, data []byte, sig [64]byte) error {
	return v.Verify(m, data, sig)
}

func (standardIntegrity) LeafHash(data []byte) integrity.Hash { return integrity.LeafHash(data) }
