package core_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/wire"
)

// A viewer that joins a running stream hears where the keyframes are, with
// their timestamps, before any chunk reaches it, starts at one of them and
// does not fetch the chunks before it.
func TestLiveNewcomerStartsAtHintedKeyframe(t *testing.T) {
	f, vs := newLiveFixture(t, 5, 2, nil)
	f.produce(20 * time.Second)
	f.net.run(6 * time.Second)

	late := f.newcomer()
	var hints []wire.KeyframeEntry
	dataBeforeHints := 0
	var firstData = ^uint64(0)
	f.net.filter = func(from, to netip.AddrPort, b []byte) []byte {
		if to != late.addr {
			return b
		}
		if _, msgs, err := wire.ParseDatagram(b); err == nil {
			for _, m := range msgs {
				switch m := m.(type) {
				case *wire.Keyframe:
					hints = append(hints, m.Entries...)
				case *wire.Data:
					if len(hints) == 0 {
						dataBeforeHints++
					}
					firstData = min(firstData, m.Chunk)
				}
			}
		}
		return b
	}
	joinAt := f.net.now
	f.join(t, late, f.desc, vs)
	var ready *core.Event
	var readyAt time.Duration
	late.onEvent = func(now time.Duration, ev core.Event) {
		if ev.Kind == core.EventReady && ready == nil {
			ready, readyAt = &ev, now
		}
	}
	f.net.kick(late)
	f.net.run(12 * time.Second)

	if len(hints) == 0 || dataBeforeHints > 0 {
		t.Fatalf("newcomer heard %d keyframe hints, %d data datagrams before the first", len(hints), dataBeforeHints)
	}
	dur := time.Duration(int64(f.desc.ChunkBytes) * 8 * int64(time.Second) / f.desc.RateBps)
	for _, h := range hints {
		if h.Chunk%15 != 0 {
			t.Errorf("hint names chunk %d, which is not a keyframe", h.Chunk)
		}
		if want := int64(h.Chunk)*int64(dur/time.Microsecond) + 100_000 - 1; h.TimestampUs < want-2 || h.TimestampUs > want+2 {
			t.Errorf("hint for chunk %d has timestamp %d µs, want about %d", h.Chunk, h.TimestampUs, want)
		}
	}
	if ready == nil {
		t.Fatal("newcomer never started")
	}
	if ready.Seq%15 != 0 {
		t.Errorf("started at chunk %d, not a keyframe", ready.Seq)
	}
	if firstData < ready.Seq {
		t.Errorf("fetched chunk %d, before its start at %d", firstData, ready.Seq)
	}
	// a keyframe every 15 chunks (~1 s) and a 2.9 s play delay: the start
	// is the first keyframe at least the start margin ahead of its deadline
	if d := readyAt - joinAt; d > 1500*time.Millisecond {
		t.Errorf("started %v after joining, want ≤ 1.5 s", d)
	}
	_, missed := playedAfter(late, f, ready.Seq)
	if missed > 0 {
		t.Errorf("newcomer missed %d chunks after starting", missed)
	}
}

// A newcomer's first chunk decides when it starts: miss it and playback
// waits a whole keyframe interval more. It asks two neighbours and the
// booster for that chunk at once, and starts with it.
func TestLiveNewcomerAsksTwiceForItsStart(t *testing.T) {
	f, vs := newLiveFixture(t, 6, 3, nil)
	f.produce(20 * time.Second)
	f.net.run(6 * time.Second)

	late := f.newcomer()
	askedOf := map[uint64]map[netip.AddrPort]time.Duration{} // when first asked
	f.net.filter = func(from, to netip.AddrPort, b []byte) []byte {
		if from != late.addr {
			return b
		}
		if _, msgs, err := wire.ParseDatagram(b); err == nil {
			for _, m := range msgs {
				if r, ok := m.(*wire.Request); ok {
					for _, rg := range r.Ranges {
						for v := rg.Start; v < rg.End; v++ {
							if askedOf[v] == nil {
								askedOf[v] = map[netip.AddrPort]time.Duration{}
							}
							if _, ok := askedOf[v][to]; !ok {
								askedOf[v][to] = f.net.now
							}
						}
					}
				}
			}
		}
		return b
	}
	desc := f.desc
	desc.Booster = true
	f.join(t, late, desc, vs)
	var ready *core.Event
	boosted := map[uint64]bool{}
	late.onEvent = func(now time.Duration, ev core.Event) {
		switch {
		case ev.Kind == core.EventReady && ready == nil:
			ready = &ev
		case ev.Kind == core.EventBoost:
			boosted[ev.Seq] = true // the fixture has no booster: it goes unanswered
		}
	}
	f.net.kick(late)
	f.net.run(12 * time.Second)

	if ready == nil {
		t.Fatal("newcomer never started")
	}
	// at once, not one after the other as a stalled request is repaired
	first := map[time.Duration]int{}
	for _, at := range askedOf[ready.Seq] {
		first[at]++
	}
	most := 0
	for _, n := range first {
		most = max(most, n)
	}
	if most < 2 {
		t.Errorf("newcomer asked for its first chunk %d at %v, want two neighbours at once", ready.Seq, askedOf[ready.Seq])
	}
	if !boosted[ready.Seq] {
		t.Errorf("newcomer did not ask the booster for its first chunk %d", ready.Seq)
	}
	if _, missed := playedAfter(late, f, ready.Seq); missed > 0 {
		t.Errorf("newcomer missed %d chunks after starting", missed)
	}
}

// A newcomer's first neighbour may name only its newest keyframe, about
// 2.8 s from its deadline. When a neighbour heard of a little later names
// an earlier one that can still be fetched in time, the newcomer starts
// there instead of waiting a keyframe interval more.
func TestLiveNewcomerTakesAnEarlierKeyframe(t *testing.T) {
	f, vs := newLiveFixture(t, 7, 2, nil)
	f.produce(20 * time.Second)
	f.net.run(6 * time.Second)

	late := f.newcomer()
	const newest = 90 // the newest keyframe at 6 s: chunks are 65.4 ms, one in 15 a keyframe
	f.net.filter = func(from, to netip.AddrPort, b []byte) []byte {
		if from != vs[0].addr || to != late.addr {
			return b
		}
		tag, msgs, err := wire.ParseDatagram(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if k, ok := m.(*wire.Keyframe); ok {
				k.Entries = slices.DeleteFunc(k.Entries, func(e wire.KeyframeEntry) bool { return e.Chunk < newest })
			}
		}
		return wire.AppendDatagram(nil, tag, msgs...)
	}
	joinAt := f.net.now
	if err := late.e.AddSwarm(joinAt, f.desc); err != nil {
		t.Fatal(err)
	}
	if err := late.e.AddPeer(joinAt, f.desc.ID, vs[0].addr); err != nil {
		t.Fatal(err)
	}
	f.net.kick(late)
	f.net.run(joinAt + 100*time.Millisecond)
	if err := late.e.AddPeer(f.net.now, f.desc.ID, f.origin.addr); err != nil {
		t.Fatal(err)
	}
	var ready *core.Event
	var readyAt time.Duration
	late.onEvent = func(now time.Duration, ev core.Event) {
		if ev.Kind == core.EventReady && ready == nil {
			ready, readyAt = &ev, now
		}
	}
	f.net.kick(late)
	f.net.run(12 * time.Second)

	if ready == nil {
		t.Fatal("newcomer never started")
	}
	if ready.Seq%15 != 0 || ready.Seq >= newest {
		t.Errorf("started at chunk %d, want a keyframe before %d", ready.Seq, newest)
	}
	if d := readyAt - joinAt; d > 2*time.Second {
		t.Errorf("started %v after joining, want ≤ 2 s", d)
	}
	if _, missed := playedAfter(late, f, ready.Seq); missed > 0 {
		t.Errorf("newcomer missed %d chunks after starting", missed)
	}
}

// newcomer adds a viewer that has not joined the swarm yet.
func (f *liveFixture) newcomer() *pipeNode {
	cfg := core.DefaultConfig()
	cfg.UnixEpochUs = 1
	return f.net.add(cfg)
}

// join makes n join the swarm now, knowing the origin and viewers vs.
func (f *liveFixture) join(t *testing.T, n *pipeNode, desc core.SwarmDescriptor, vs []*pipeNode) {
	t.Helper()
	now := f.net.now
	if err := n.e.AddSwarm(now, desc); err != nil {
		t.Fatal(err)
	}
	for _, p := range append([]*pipeNode{f.origin}, vs...) {
		if err := n.e.AddPeer(now, f.desc.ID, p.addr); err != nil {
			t.Fatal(err)
		}
	}
}
