package node

import (
	"bytes"
	"testing"

	"github.com/shoalstream/shoal/internal/wire"
)

func TestCorruptDataTouchesOnlyPayloads(t *testing.T) {
	payload := bytes.Repeat([]byte{7}, 100)
	ka := wire.Keepalive{}
	d := wire.Data{Chunk: 3, Offset: 0, Total: 100, Payload: payload}
	b := wire.AppendDatagram(nil, wire.Tag{1}, &ka, &d)
	orig := append([]byte(nil), b...)
	CorruptData(b)
	_, msgs, err := wire.ParseDatagram(b)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("corrupted datagram no longer parses: %v", err)
	}
	got := msgs[1].(*wire.Data)
	if bytes.Equal(got.Payload, payload) || got.Chunk != 3 || got.Total != 100 {
		t.Fatalf("payload unchanged or header altered: %+v", got)
	}
	diff := 0
	for i := range b {
		if b[i] != orig[i] {
			diff++
		}
	}
	if diff != 1 {
		t.Errorf("%d bytes changed, want 1", diff)
	}
	CorruptData([]byte{1, 2}) // too short: no panic
}
