package sim

import (
	"bytes"
	"testing"

	"github.com/shoalstream/shoal/internal/integrity"
)

func TestChunkShareKeepsOneCopyOfEqualBytes(t *testing.T) {
	var cs chunkShare
	var id integrity.Hash
	a := []byte("chunk seven")
	k := cs.share(id, 7, a)
	if !bytes.Equal(k, a) || &k[0] == &a[0] {
		t.Fatalf("first offer: got %q (same buffer %v), want a copy of %q", k, &k[0] == &a[0], a)
	}
	if k2 := cs.share(id, 7, bytes.Clone(a)); &k2[0] != &k[0] {
		t.Error("equal bytes: want the kept copy")
	}
	if k3 := cs.share(id, 7, []byte("chunk sevem")); k3 != nil {
		t.Errorf("different bytes: got %q, want nil", k3)
	}
	if k4 := cs.share(id, 7, a[:5]); k4 != nil {
		t.Errorf("shorter bytes: got %q, want nil", k4)
	}
	n := uint64(len(cs.slots))
	if k5 := cs.share(id, 7+n, []byte("newer")); string(k5) != "newer" {
		t.Errorf("newer chunk in the same slot: got %q", k5)
	}
	if k6 := cs.share(id, 7, a); k6 != nil {
		t.Errorf("chunk older than its slot's: got %q, want nil", k6)
	}
}
