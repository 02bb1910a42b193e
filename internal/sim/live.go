package sim

import (
	"bytes"
	"crypto/ed25519"
	"math/rand/v2"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
)

// liveSource is the broadcaster: a signed chunk every chunk time, a
// keyframe about every second, kept for the window the booster serves.
type liveSource struct {
	r      *Run
	signer *integrity.Signer
	dur    time.Duration
	gop    uint64
	next   uint64
	chunks map[uint64]liveChunk
	keep   uint64
	rng    *rand.Rand
}

type liveChunk struct {
	data     []byte
	meta     core.ChunkMeta
	produced time.Duration
}

// liveChunkBytes is 87 whole TS packets, as the origin's chunker cuts.
const liveChunkBytes = 87 * 188

func (r *Run) setupLive() {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(r.rng.Uint32())
	}
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	id := integrity.SwarmID(pub, "sim")
	signer, err := integrity.NewSigner(priv, id)
	if err != nil {
		panic(err)
	}
	r.desc = core.SwarmDescriptor{Kind: core.Live, ID: id, ChunkBytes: liveChunkBytes, RateBps: r.opt.StreamRateBps, OriginKey: pub, FragmentBytes: r.fragmentBytes(liveChunkBytes)}
	dur := time.Duration(int64(liveChunkBytes) * 8 * int64(time.Second) / r.opt.StreamRateBps)
	src := &liveSource{r: r, signer: signer, dur: dur, gop: uint64(time.Second/dur) + 1, chunks: map[uint64]liveChunk{},
		keep: uint64(30*time.Second/dur) + 1, rng: rand.New(rand.NewPCG(r.rng.Uint64(), 7))}
	r.live = src

	r.addOrigin(128, nil)
	r.booster = r.newHTTPService("booster")
	r.net.At(0, src.produce)
}

func (s *liveSource) produce(now time.Duration) {
	r := s.r
	seq := s.next
	s.next++
	data := make([]byte, liveChunkBytes)
	for i := 0; i+8 <= len(data); i += 8 {
		v := s.rng.Uint64()
		for j := 0; j < 8; j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	var flags uint8
	if seq%s.gop == 0 {
		flags = 1 // wire.ChunkRAP
	}
	m := integrity.ChunkMeta{Seq: seq, TimestampUs: int64(now/time.Microsecond) - 1, Flags: flags, Length: uint32(len(data))}
	var sig [64]byte
	if r.opt.RealCrypto {
		var err error
		if sig, err = s.signer.Sign(m, data); err != nil {
			panic(err)
		}
	} else {
		sig = r.fast.sign(r.desc.ID, m, data)
	}
	cm := core.ChunkMeta{TimestampUs: m.TimestampUs, Flags: flags, Length: m.Length, Signature: sig}
	s.chunks[seq] = liveChunk{data: data, meta: cm, produced: now}
	if seq >= s.keep {
		delete(s.chunks, seq-s.keep)
	}
	r.call(now, r.origin, func() {
		if err := r.origin.e.Publish(now, r.desc.ID, seq, cm, data); err != nil {
			panic(err)
		}
	})
	if now+s.dur < r.opt.Duration {
		r.net.At(now+s.dur, s.produce)
	}
}

// onPlay is the checker at the player: delay, continuity, and that every
// byte played is the origin's.
func (r *Run) onPlay(now time.Duration, n *node, ev core.Event) {
	if r.live == nil {
		return
	}
	t := r.tally(n)
	c, ok := r.live.chunks[ev.Seq]
	if !ok || !bytes.Equal(c.data, ev.Data) {
		t.unverified += int64(len(ev.Data))
		return
	}
	if n.bad {
		return // liars' own playback is not measured
	}
	t.played++
	t.addDelay(now - c.produced)
}

func (r *Run) onReady(now time.Duration, n *node, ev core.Event) {
	if r.file != nil {
		r.file.onReady(now, n, ev.Seq)
		return
	}
	if !n.ready && !n.bad {
		n.ready = true
		t := r.tally(n)
		t.joins = append(t.joins, now-n.joinAt)
	}
}

// boost is the driver's booster duty: fetch the chunk over HTTP.
func (r *Run) boost(now time.Duration, n *node, seq uint64, due time.Duration) {
	if r.booster == nil {
		return
	}
	c, ok := r.live.chunks[seq]
	if !ok {
		return
	}
	r.booster.FetchBy(now, n.addr, len(c.data)+300, now+due, func(now time.Duration) {
		if n.gone {
			return
		}
		r.tally(n).boosterBytes += int64(len(c.data))
		r.call(now, n, func() { _ = n.e.HandleBoosted(now, r.desc.ID, seq, c.meta, c.data) })
	})
}

// datagramBytes is the largest datagram the run's engines send: a Data
// fragment and its header (see newEngine), whole chunks when FragmentBytes
// is 0.
func (o Options) datagramBytes() int {
	frag := o.FragmentBytes
	if frag == 0 {
		frag = max(liveChunkBytes, integrity.LeafSize)
	}
	return max(core.DefaultConfig().MaxDatagramBytes, frag+datagramHeadroom)
}

// datagramHeadroom is the room an engine's datagrams keep beside a
// fragment's payload, for its header and the frames that ride along.
const datagramHeadroom = 256

// fragmentBytes is the Data payload the run's engines send.
func (r *Run) fragmentBytes(chunk int) int {
	if r.opt.FragmentBytes == 0 {
		return chunk
	}
	return r.opt.FragmentBytes
}
