package origin

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
)

func TestLiveWindowAndSignatures(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	var got []SignedChunk
	l, err := NewLive(LiveConfig{Name: "cam", Key: priv, Window: time.Second, OnChunk: func(c SignedChunk) { got = append(got, c) }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.RateBps(); !errors.Is(err, ErrNotMeasured) {
		t.Fatalf("rate before any chunk: %v, want ErrNotMeasured", err)
	}
	// 40 chunks of 1250 bytes, 100 ms apart: 100 kbit/s over 4 s
	for i := range 40 {
		l.Sink(Chunk{TimestampUs: int64(i) * 100_000, Flags: uint8(i % 2), Data: make([]byte, 1250)})
	}
	if len(got) != 40 || got[39].Seq != 39 {
		t.Fatalf("OnChunk saw %d chunks", len(got))
	}
	v, _ := integrity.NewVerifier(l.PublicKey(), l.SwarmID())
	tests := []struct {
		seq  uint64
		want error
	}{{0, ErrChunkGone}, {28, ErrChunkGone}, {29, nil}, {39, nil}, {40, ErrChunkNotYet}}
	for _, tc := range tests {
		c, err := l.Chunk(tc.seq)
		if !errors.Is(err, tc.want) {
			t.Errorf("Chunk(%d): %v, want %v", tc.seq, err, tc.want)
			continue
		}
		if err == nil {
			m := integrity.ChunkMeta{Seq: c.Seq, TimestampUs: c.TimestampUs, Flags: c.Flags, Length: uint32(len(c.Data))}
			if err := v.Verify(m, c.Data, c.Signature); err != nil {
				t.Errorf("chunk %d: %v", tc.seq, err)
			}
		}
	}
	rate, err := l.RateBps()
	if err != nil || rate != 100_000 {
		t.Errorf("rate %d, %v; want 100000", rate, err)
	}
}
