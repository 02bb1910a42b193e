package core_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
)

func TestLiveViewersPlayVerifiedChunks(t *testing.T) {
	f, vs := newLiveFixture(t, 1, 6, nil)
	f.produce(20 * time.Second)
	f.net.run(22 * time.Second)
	for i, v := range vs {
		st, _ := v.e.SwarmStats(f.desc.ID)
		played, missed := 0, 0
		for _, ev := range v.events {
			switch ev.Kind {
			case core.EventPlay:
				played++
				if !bytes.Equal(ev.Data, f.chunks[ev.Seq]) {
					t.Fatalf("viewer %d played chunk %d with wrong bytes", i, ev.Seq)
				}
			case core.EventMissed:
				missed++
			}
		}
		t.Logf("viewer %d: played %d missed %d stats %+v", i, played, missed, st)
		if played < 250 {
			t.Errorf("viewer %d played only %d chunks", i, played)
		}
		if missed > 0 {
			t.Errorf("viewer %d missed %d chunks", i, missed)
		}
		want := core.DefaultConfig().PlayDelay.Microseconds()
		if st.DelayUs > want+100_000 || st.DelayUs < want-100_000 {
			t.Errorf("viewer %d delay %dµs, want about the %dµs play delay", i, st.DelayUs, want)
		}
	}
	ost, _ := f.origin.e.SwarmStats(f.desc.ID)
	var fromPeers int64
	for _, v := range vs {
		st, _ := v.e.SwarmStats(f.desc.ID)
		fromPeers += st.BytesFromPeers
	}
	t.Logf("origin uploaded %d, viewers got %d from peers", ost.BytesUploaded, fromPeers)
	if fromPeers == 0 {
		t.Error("no bytes relayed between viewers")
	}
}
