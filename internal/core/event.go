package core

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
)

// EventKind says what happened.
type EventKind uint8

const (
	// EventChunk: a chunk was verified and stored. Data is valid until the
	// next call into the engine; copy it to keep it.
	EventChunk EventKind = iota + 1
	// EventPlay: a live chunk reached its playback deadline and is played
	// (Data set), in sequence order.
	EventPlay
	// EventMissed: a live chunk's deadline passed without it; playback skips it.
	EventMissed
	// EventBoost: fetch live chunk Seq from the booster and hand it to
	// HandleBoosted (or HandleFetchFailed).
	EventBoost
	// EventFetch: fetch on-demand chunks [Seq, End) from the web seed and
	// hand each to HandleFetched (or HandleFetchFailed).
	EventFetch
	// EventPeerUp / EventPeerDown: a neighbour joined or left the swarm.
	EventPeerUp
	EventPeerDown
	// EventPeerBanned: a neighbour sent data that failed verification.
	EventPeerBanned
	// EventWantPeers: the swarm has fewer neighbours than it wants; ask the
	// tracker for more and call AddPeer.
	EventWantPeers
	// EventRejected: a chunk failed verification (from Peer, or from HTTP
	// when Peer is invalid).
	EventRejected
	// EventReady: the on-demand bytes a Want asked for first are available.
	EventReady
)

var eventNames = [...]string{"", "chunk", "play", "missed", "boost", "fetch", "peer-up", "peer-down", "peer-banned", "want-peers", "rejected", "ready"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) && k != 0 {
		return eventNames[k]
	}
	return fmt.Sprintf("event(%d)", uint8(k))
}

// Event is one thing the driver may act on.
type Event struct {
	Kind  EventKind
	Swarm integrity.Hash
	Peer  netip.AddrPort
	// Seq is the chunk (live sequence or on-demand chunk index); End bounds
	// a range for EventFetch.
	Seq, End uint64
	// Due is, for EventBoost, how long until the chunk is due to play: a
	// booster response later than that is of no use.
	Due time.Duration
	// Meta is set for live chunks.
	Meta ChunkMeta
	Data []byte
}

// ChunkMeta describes a live chunk as the origin signed it.
type ChunkMeta struct {
	TimestampUs int64
	Flags       uint8
	Length      uint32
	Signature   [64]byte
}
