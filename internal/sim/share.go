package sim

import (
	"bytes"
	"sync"

	"github.com/shoalstream/shoal/internal/integrity"
)

// chunkShare keeps one copy of each verified live chunk for every engine
// of a run (core.Config.ShareLive). A thousand viewers otherwise hold a
// thousand copies of the same few seconds of stream, and every relay reads
// its own cold copy to send a fragment; with one copy the chunks being
// relayed stay in cache. It changes nothing an engine does: a copy is
// shared only when its bytes equal the one kept, byte for byte. A run has
// one live swarm, so chunks are told apart by sequence number alone.
type chunkShare struct {
	mu    sync.Mutex
	slots [1 << 10]sharedChunk // by sequence number, newest wins
}

type sharedChunk struct {
	seq  uint64
	data []byte
}

// share returns the kept copy of chunk seq if data equals it, keeping a
// copy of data first if none is kept; nil if data differs from the kept
// copy (the engine then keeps its own).
func (cs *chunkShare) share(_ integrity.Hash, seq uint64, data []byte) []byte {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	s := &cs.slots[seq%uint64(len(cs.slots))]
	if s.data == nil || s.seq != seq {
		if s.data != nil && s.seq > seq {
			return nil // older than what the slot holds
		}
		s.seq, s.data = seq, bytes.Clone(data)
		return s.data
	}
	if !bytes.Equal(s.data, data) {
		return nil
	}
	return s.data
}
