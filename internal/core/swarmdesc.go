package core

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

// Kind tells live swarms from on-demand ones.
type Kind uint8

const (
	Live Kind = iota + 1
	OnDemand
)

func (k Kind) String() string {
	switch k {
	case Live:
		return "live"
	case OnDemand:
		return "on-demand"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// ErrSwarm is wrapped by errors about swarm descriptors and swarm calls.
var ErrSwarm = errors.New("core: swarm")

// SwarmDescriptor is everything an engine needs to join a swarm.
type SwarmDescriptor struct {
	Kind Kind
	// ID is the swarm ID: integrity.SwarmID(origin key, stream) for live,
	// the Merkle root (content ID) on demand.
	ID integrity.Hash
	// ChunkBytes is the largest chunk (live) or the leaf size (on demand,
	// which must be integrity.LeafSize).
	ChunkBytes int
	// FragmentBytes is the payload of one Data frame (default wire.FragmentSize).
	FragmentBytes int
	// RateBps is the media rate, used to size read-ahead and deadlines.
	RateBps int64
	// ChunkDuration is the mean media time per live chunk as the origin cuts
	// them (chunks end early at keyframes); 0 takes a full chunk at RateBps.
	ChunkDuration time.Duration

	// Live: the origin's key, and this engine's role.
	OriginKey ed25519.PublicKey
	// Origin makes this engine the swarm's seed: chunks come from Publish.
	Origin bool
	// Booster says the driver can fetch live chunks over HTTP (EventBoost).
	Booster bool

	// On demand: the file's size and its leaf hashes (checked against ID).
	Size   int64
	Leaves []integrity.Hash
	// Seed says this engine holds the whole file in Store from the start.
	Seed bool
	// WebSeed says the driver can fetch ranges over HTTP (EventFetch).
	WebSeed bool
	// Store holds on-demand chunk bytes; nil means an in-memory store.
	Store Store
}

// Store keeps on-demand chunk bytes outside the engine's own memory (a file
// for a seed, a bounded cache for a viewer). It must be synchronous and
// fast; the engine calls it from its own goroutine only.
type Store interface {
	// ReadChunk appends chunk i's bytes to dst.
	ReadChunk(dst []byte, i int) ([]byte, error)
	// WriteChunk stores a verified chunk.
	WriteChunk(i int, data []byte) error
	// DeleteChunk forgets chunk i (cache eviction).
	DeleteChunk(i int)
}

func (d *SwarmDescriptor) validate() error {
	bad := func(f string, args ...any) error {
		return fmt.Errorf("%w: descriptor: "+f, append([]any{ErrSwarm}, args...)...)
	}
	if d.FragmentBytes == 0 {
		d.FragmentBytes = wire.FragmentSize
	}
	if d.FragmentBytes < 256 || d.FragmentBytes > 60000 {
		return bad("FragmentBytes %d, want 256..60000", d.FragmentBytes)
	}
	switch d.Kind {
	case Live:
		if d.ChunkBytes < d.FragmentBytes || d.ChunkBytes > 1<<20 {
			return bad("ChunkBytes %d, want FragmentBytes..1MiB", d.ChunkBytes)
		}
		if len(d.OriginKey) != ed25519.PublicKeySize {
			return bad("OriginKey has %d bytes, want %d", len(d.OriginKey), ed25519.PublicKeySize)
		}
		if _, err := integrity.NewVerifier(d.OriginKey, d.ID); err != nil {
			return bad("OriginKey: %v", err)
		}
		if d.RateBps <= 0 {
			return bad("RateBps %d, want > 0", d.RateBps)
		}
		if d.ChunkDuration < 0 || d.ChunkDuration > time.Minute {
			return bad("ChunkDuration %v, want 0..1m", d.ChunkDuration)
		}
	case OnDemand:
		if d.ChunkBytes == 0 {
			d.ChunkBytes = integrity.LeafSize
		}
		if d.ChunkBytes != integrity.LeafSize {
			return bad("ChunkBytes %d, want %d on demand", d.ChunkBytes, integrity.LeafSize)
		}
		if d.Size <= 0 {
			return bad("Size %d, want > 0", d.Size)
		}
		if err := integrity.VerifyLeaves(d.ID, d.Size, d.Leaves); err != nil {
			return bad("leaf hashes: %v", err)
		}
		if d.RateBps <= 0 {
			d.RateBps = 2_000_000
		}
	default:
		return bad("Kind %d, want Live or OnDemand", d.Kind)
	}
	return nil
}

// chunkDuration is the media time one chunk lasts: as measured by the
// origin, or a full chunk at the nominal rate.
func (d *SwarmDescriptor) chunkDuration() time.Duration {
	if d.ChunkDuration > 0 {
		return d.ChunkDuration
	}
	return time.Duration(int64(d.ChunkBytes) * 8 * int64(time.Second) / d.RateBps)
}
