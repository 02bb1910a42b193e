package origin

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
)

// Errors of the live buffer.
var (
	ErrChunkNotYet = errors.New("chunk not produced yet")
	ErrChunkGone   = errors.New("chunk left the live window")
	ErrNotMeasured = errors.New("stream rate not measured yet")
)

// Live buffer defaults and bounds.
const (
	DefaultWindow = 30 * time.Second
	// minRateSpan is the stream time needed before the rate is trusted.
	minRateSpan = 2 * time.Second
)

// SignedChunk is a chunk with its sequence number and the origin's signature:
// what the swarm seed publishes and the booster serves.
type SignedChunk struct {
	Seq         uint64
	TimestampUs int64
	Flags       uint8
	Data        []byte // never modified once produced
	Signature   [integrity.SignatureSize]byte
}

// LiveConfig configures one stream's live buffer.
type LiveConfig struct {
	// Name is the stream name, as in /live/NAME.
	Name string
	// Key signs every chunk; its public half and Name make the swarm ID.
	Key ed25519.PrivateKey
	// Window is how much recent stream is kept for the booster, 1 s to 10 min;
	// default 30 s.
	Window time.Duration
	// OnChunk, when set, gets every new chunk after it is in the window, on
	// the ingest's goroutine; it must not block for long.
	OnChunk func(SignedChunk)
}

// Validate reports the first field out of range.
func (c LiveConfig) Validate() error {
	if err := checkName(c.Name); err != nil {
		return err
	}
	if len(c.Key) != ed25519.PrivateKeySize {
		return fmt.Errorf("origin: live %q: Key has %d bytes, want %d: %w", c.Name, len(c.Key), ed25519.PrivateKeySize, ErrInvalidConfig)
	}
	if c.Window != 0 && (c.Window < time.Second || c.Window > 10*time.Minute) {
		return fmt.Errorf("origin: live %q: Window %v, want 1s..10m: %w", c.Name, c.Window, ErrInvalidConfig)
	}
	return nil
}

// LiveStats counts what a live buffer produced.
type LiveStats struct {
	Chunks      uint64 // chunks produced since start
	Bytes       int64  // their bytes
	NextSeq     uint64 // the sequence number the next chunk gets
	WindowFirst uint64 // oldest sequence number still kept
	WindowLen   int    // chunks kept
	RateBps     int64  // measured over the window; 0 until measured
}

// Live numbers, signs and keeps one stream's chunks: the sink of its Ingest,
// the source of its swarm seed and of its booster. It is safe for concurrent
// use.
type Live struct {
	name    string
	signer  *integrity.Signer
	window  time.Duration
	onChunk func(SignedChunk)

	mu         sync.Mutex
	next       uint64
	chunks     []SignedChunk // consecutive sequence numbers, oldest first
	chunkCount uint64
	bytes      int64
	winBytes   int64 // bytes of chunks[1:], for the rate
}

// NewLive validates cfg and returns an empty live buffer.
func NewLive(cfg LiveConfig) (*Live, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	pub := cfg.Key.Public().(ed25519.PublicKey)
	signer, err := integrity.NewSigner(cfg.Key, integrity.SwarmID(pub, cfg.Name))
	if err != nil {
		return nil, fmt.Errorf("origin: live %q: %w", cfg.Name, err)
	}
	return &Live{name: cfg.Name, signer: signer, window: cfg.Window, onChunk: cfg.OnChunk}, nil
}

// Name returns the stream name.
func (l *Live) Name() string { return l.name }

// SwarmID returns the swarm ID chunks are signed for.
func (l *Live) SwarmID() integrity.Hash { return l.signer.SwarmID() }

// PublicKey returns the key chunks verify under.
func (l *Live) PublicKey() ed25519.PublicKey { return l.signer.Public() }

// Window returns how much stream is kept.
func (l *Live) Window() time.Duration { return l.window }

// Sink takes a chunk from the chunker: it numbers, signs and keeps it and
// hands it on. It is the sink to give NewIngest.
func (l *Live) Sink(c Chunk) {
	l.mu.Lock()
	seq := l.next
	m := integrity.ChunkMeta{Seq: seq, TimestampUs: c.TimestampUs, Flags: c.Flags, Length: uint32(len(c.Data))}
	sig, err := l.signer.Sign(m, c.Data)
	if err != nil {
		l.mu.Unlock()
		return // only a length mismatch, which cannot happen here
	}
	sc := SignedChunk{Seq: seq, TimestampUs: c.TimestampUs, Flags: c.Flags, Data: c.Data, Signature: sig}
	l.next++
	l.chunkCount++
	l.bytes += int64(len(c.Data))
	if len(l.chunks) > 0 {
		l.winBytes += int64(len(c.Data))
	}
	l.chunks = append(l.chunks, sc)
	l.evict(c.TimestampUs)
	l.mu.Unlock()
	if l.onChunk != nil {
		l.onChunk(sc)
	}
}

// evict drops chunks older than the window behind the newest timestamp.
func (l *Live) evict(newestUs int64) {
	limit := newestUs - l.window.Microseconds()
	i := 0
	for i < len(l.chunks)-1 && l.chunks[i].TimestampUs < limit {
		i++
		l.winBytes -= int64(len(l.chunks[i].Data))
	}
	if i > 0 {
		clear(l.chunks[:i])
		l.chunks = l.chunks[i:]
	}
}

// Chunk returns chunk seq: ErrChunkNotYet when it is not produced yet,
// ErrChunkGone when it left the window.
func (l *Live) Chunk(seq uint64) (SignedChunk, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq >= l.next {
		return SignedChunk{}, ErrChunkNotYet
	}
	if len(l.chunks) == 0 || seq < l.chunks[0].Seq {
		return SignedChunk{}, ErrChunkGone
	}
	return l.chunks[seq-l.chunks[0].Seq], nil
}

// Recent returns the chunks kept from seq on, oldest first.
func (l *Live) Recent(from uint64) []SignedChunk {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.chunks) == 0 {
		return nil
	}
	first := l.chunks[0].Seq
	if from < first {
		from = first
	}
	if from >= l.next {
		return nil
	}
	return append([]SignedChunk(nil), l.chunks[from-first:]...)
}

// RateBps returns the stream rate measured over the window, or
// ErrNotMeasured before enough stream arrived.
func (l *Live) RateBps() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rateLocked()
}

func (l *Live) rateLocked() (int64, error) {
	if len(l.chunks) < 2 {
		return 0, ErrNotMeasured
	}
	spanUs := l.chunks[len(l.chunks)-1].TimestampUs - l.chunks[0].TimestampUs
	if spanUs < min(minRateSpan, l.window/2).Microseconds() {
		return 0, ErrNotMeasured
	}
	return l.winBytes * 8 * 1_000_000 / spanUs, nil
}

// ChunkDuration returns the mean time between chunks over the window (they
// end early at keyframes, so it is less than a full chunk at the rate), or
// ErrNotMeasured before enough stream arrived.
func (l *Live) ChunkDuration() (time.Duration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.rateLocked(); err != nil {
		return 0, err
	}
	spanUs := l.chunks[len(l.chunks)-1].TimestampUs - l.chunks[0].TimestampUs
	return time.Duration(spanUs/int64(len(l.chunks)-1)) * time.Microsecond, nil
}

// Stats returns a snapshot of the counters.
func (l *Live) Stats() LiveStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := LiveStats{Chunks: l.chunkCount, Bytes: l.bytes, NextSeq: l.next, WindowLen: len(l.chunks)}
	if len(l.chunks) > 0 {
		st.WindowFirst = l.chunks[0].Seq
	}
	st.RateBps, _ = l.rateLocked()
	return st
}

// checkName applies the ingest's rule for stream names.
func checkName(name string) error {
	if name == "" || len(name) > maxStreamNameBytes || strings.ContainsAny(name, "/?#") {
		return fmt.Errorf("origin: stream name %q: want 1..%d bytes without '/', '?' or '#': %w",
			name, maxStreamNameBytes, ErrInvalidConfig)
	}
	return nil
}
