package core_test

import (
	"crypto/ed25519"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

// trustAll accepts every chunk: it takes the crypto out of a benchmark of
// the engine's own work (internal/integrity measures the crypto).
type trustAll struct{}

func (trustAll) VerifyLive(*integrity.Verifier, integrity.ChunkMeta, []byte, [64]byte) error {
	return nil
}
func (trustAll) LeafHash([]byte) integrity.Hash { return integrity.Hash{} }

// BenchmarkHandleDatagramData feeds a viewer's engine the Data datagrams of
// a live stream from a connected origin, one fragment per op, the last of
// each chunk with its Signed frame, and drains what the engine answers
// (acks, announcements, events) as a driver does. Every chunk completes and
// is accepted; the signature check itself is stubbed out, so the figure is
// the engine's own work per datagram.
func BenchmarkHandleDatagramData(b *testing.B) {
	pub, _, _ := ed25519.GenerateKey(nil)
	id := integrity.SwarmID(pub, "bench")
	desc := core.SwarmDescriptor{Kind: core.Live, ID: id, ChunkBytes: 16356, RateBps: 4_000_000, OriginKey: pub}
	cfg := core.DefaultConfig()
	cfg.Rand = rand.New(rand.NewPCG(1, 2))
	cfg.UnixEpochUs = 1
	cfg.Integrity = trustAll{}
	e, err := core.NewEngine(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.AddSwarm(0, desc); err != nil {
		b.Fatal(err)
	}
	from := netip.MustParseAddrPort("198.18.0.1:4000")
	tag := wire.TagOf(id)
	hs := wire.Handshake{Version: wire.Version, Flags: wire.FlagOrigin, SwarmID: id, PeerID: [32]byte{1}, UploadBps: 10_000_000}
	now := time.Millisecond
	e.HandleDatagram(now, from, wire.AppendDatagram(nil, tag, &hs))
	out := make([]byte, 0, 1500)
	drain := func() {
		for {
			if _, _, ok := e.PollTransmit(out[:0]); !ok {
				break
			}
		}
		for {
			if _, ok := e.PollEvent(); !ok {
				break
			}
		}
	}
	drain()

	fb := wire.FragmentSize
	frags := (desc.ChunkBytes + fb - 1) / fb
	payload := make([]byte, fb)
	buf := make([]byte, 0, wire.MaxDatagramSize)
	var seq, pn uint64
	f := 0
	b.SetBytes(int64(fb))
	b.ReportAllocs()
	for b.Loop() {
		off := f * fb
		n := min(fb, desc.ChunkBytes-off)
		d := wire.Data{Chunk: seq, Offset: uint32(off), Total: uint32(desc.ChunkBytes), PacketNum: pn,
			SendTimeUs: uint64(now / time.Microsecond), Payload: payload[:n]}
		dg := wire.AppendHeader(buf[:0], tag)
		if f == frags-1 {
			sg := wire.Signed{Chunk: seq, TimestampUs: int64(now / time.Microsecond), Flags: wire.ChunkRAP, Length: uint32(desc.ChunkBytes)}
			dg = sg.Append(dg)
		}
		dg = d.Append(dg)
		e.HandleDatagram(now, from, dg)
		drain()
		pn++
		now += 10 * time.Microsecond
		if f++; f == frags {
			f = 0
			seq++
		}
	}
	b.StopTimer()
	st, _ := e.SwarmStats(id)
	if st.ChunksVerified+1 < int64(seq) {
		b.Fatalf("%d chunks sent, %d accepted", seq, st.ChunksVerified)
	}
}
