package origin

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"
)

// Chunks end early at keyframes, so the mean time per chunk is less than a
// full chunk at the stream's rate; viewers count chunks with it.
func TestLiveChunkDuration(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	l, err := NewLive(LiveConfig{Name: "cam", Key: priv, Window: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ChunkDuration(); !errors.Is(err, ErrNotMeasured) {
		t.Fatalf("before any chunk: %v, want ErrNotMeasured", err)
	}
	// a full chunk and a short one every 200 ms
	for i := range 40 {
		n := 16000
		if i%2 == 1 {
			n = 4000
		}
		l.Sink(Chunk{TimestampUs: int64(i) * 100_000, Data: make([]byte, n)})
	}
	d, err := l.ChunkDuration()
	if err != nil || d != 100*time.Millisecond {
		t.Fatalf("ChunkDuration = %v, %v; want 100ms", d, err)
	}
}
