package core_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
)

// TestLiveSharedChunksStayUntouched gives viewers a ShareLive that keeps
// one copy of the even chunks and declines the odd ones, with a short
// window so slots and buffers are reused many times over. Every chunk
// must still play with its own bytes, and no kept copy may ever be
// written to: the engine must take a shared slice as read-only and never
// hand it back to its own buffers.
func TestLiveSharedChunksStayUntouched(t *testing.T) {
	var mu sync.Mutex
	kept := map[uint64][]byte{}
	offered, shared := 0, 0
	share := func(_ integrity.Hash, seq uint64, data []byte) []byte {
		mu.Lock()
		defer mu.Unlock()
		offered++
		if seq%2 == 1 {
			return nil
		}
		k, ok := kept[seq]
		if !ok {
			k = bytes.Clone(data)
			kept[seq] = k
		}
		shared++
		return k
	}
	f, vs := newLiveFixture(t, 3, 6, func(c *core.Config) {
		c.ShareLive = share
		c.LiveWindow = 4 * time.Second
	})
	f.produce(30 * time.Second)
	f.net.run(32 * time.Second)
	for i, v := range vs {
		played := 0
		for _, ev := range v.events {
			if ev.Kind == core.EventPlay {
				played++
				if !bytes.Equal(ev.Data, f.chunks[ev.Seq]) {
					t.Fatalf("viewer %d played chunk %d with wrong bytes", i, ev.Seq)
				}
			}
		}
		if played < 400 {
			t.Errorf("viewer %d played only %d chunks", i, played)
		}
	}
	for seq, k := range kept {
		if !bytes.Equal(k, f.chunks[seq]) {
			t.Fatalf("kept copy of chunk %d was written to", seq)
		}
	}
	t.Logf("offered %d chunks, shared %d, kept %d copies", offered, shared, len(kept))
	if shared == 0 || shared == offered {
		t.Errorf("shared %d of %d offered chunks: the test does not exercise both paths", shared, offered)
	}
}
