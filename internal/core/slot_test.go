package core

import "testing"

// TestSlotClaimKeepsSharedBuffers: a slot claimed for a newer chunk reuses
// the buffer of the chunk it held only when that buffer is the engine's
// own; a Config.ShareLive copy is read-only and must not be written into.
// (The whole-engine test, TestLiveSharedChunksStayUntouched, frees chunks
// through recycle before their slots come round again, so it does not get
// here.)
func TestSlotClaimKeepsSharedBuffers(t *testing.T) {
	l := &liveState{ring: 4, mask: 3, slots: make([]liveChunk, 4)}
	for i := range l.slots {
		l.slots[i].got = newBitset(4)
	}
	shared := []byte{1, 2, 3}
	own := make([]byte, 3, 16)
	l.slots[1] = liveChunk{seq: 1, valid: true, have: true, data: shared, shared: true, got: newBitset(4)}
	l.slots[2] = liveChunk{seq: 2, valid: true, have: true, data: own, got: newBitset(4)}

	c := l.slot(5) // slot 1 again
	if c == nil || c.seq != 5 || c.have || c.shared {
		t.Fatalf("claimed slot = %+v, want an empty slot for chunk 5", c)
	}
	if cap(c.data) != 0 {
		t.Fatalf("the claimed slot kept a shared buffer (cap %d) to write into", cap(c.data))
	}
	c = l.slot(6) // slot 2 again
	if c == nil || len(c.data) != 0 || cap(c.data) != cap(own) || &c.data[:1][0] != &own[0] {
		t.Fatalf("the claimed slot did not reuse the engine's own buffer")
	}
	if shared[0] != 1 || shared[1] != 2 || shared[2] != 3 {
		t.Fatalf("shared buffer changed to %v", shared)
	}
	if l.slot(4) == nil {
		t.Fatal("slot(4) did not claim an empty slot")
	}
	if l.slot(0) != nil {
		t.Fatal("slot(0) after chunk 4 took its slot: want nil, chunk 0 is too old")
	}
}
