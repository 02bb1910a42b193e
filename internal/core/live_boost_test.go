package core_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/wire"
)

// A viewer whose peers stop delivering asks the booster for the chunks it
// lacks, saying how long each has until it is due, so that a booster that
// cannot answer by then can refuse at once; answered, they play.
func TestLiveBoostSaysWhenDue(t *testing.T) {
	f, _ := newLiveFixture(t, 7, 0, nil)
	cfg := core.DefaultConfig()
	cfg.UnixEpochUs = 1
	v := f.net.add(cfg)
	desc := f.desc
	desc.Booster = true
	if err := v.e.AddSwarm(0, desc); err != nil {
		t.Fatal(err)
	}
	if err := v.e.AddPeer(0, desc.ID, f.origin.addr); err != nil {
		t.Fatal(err)
	}
	var boosts []core.Event
	v.onEvent = func(now time.Duration, ev core.Event) {
		if ev.Kind != core.EventBoost {
			return
		}
		boosts = append(boosts, ev)
		data := f.chunks[ev.Seq]
		meta, ok := f.meta[ev.Seq]
		if !ok {
			t.Fatalf("boost for chunk %d, not produced", ev.Seq)
		}
		f.net.schedule(now+50*time.Millisecond, func() {
			_ = v.e.HandleBoosted(f.net.now, desc.ID, ev.Seq, meta, data)
			f.net.kick(v)
		})
	}
	// from 8 s on the origin's data no longer reaches the viewer
	f.net.filter = func(from, to netip.AddrPort, b []byte) []byte {
		if to == v.addr && f.net.now > 8*time.Second {
			if _, msgs, err := wire.ParseDatagram(b); err == nil {
				for _, m := range msgs {
					if _, ok := m.(*wire.Data); ok {
						return nil
					}
				}
			}
		}
		return b
	}
	f.produce(20 * time.Second)
	f.net.run(20 * time.Second)
	if len(boosts) < 20 {
		t.Fatalf("%d boosts; the viewer had to boost every chunk after 8 s", len(boosts))
	}
	for _, ev := range boosts {
		if ev.Due <= 0 || ev.Due > cfg.PlayDelay {
			t.Fatalf("boost of chunk %d due in %v, want in (0, %v]", ev.Seq, ev.Due, cfg.PlayDelay)
		}
	}
	st, _ := v.e.SwarmStats(desc.ID)
	if st.BytesFromHTTP == 0 || st.ChunksMissed > 2 {
		t.Errorf("stats %+v: boosted chunks should play", st)
	}
}
