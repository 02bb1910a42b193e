package core_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/wire"
)

// produceRuns publishes like produce, but in runs of [start, end) engine
// time with nothing in between: a source that stops and comes back.
func (f *liveFixture) produceRuns(runs ...[2]time.Duration) {
	dur := time.Duration(int64(f.desc.ChunkBytes) * 8 * int64(time.Second) / f.desc.RateBps)
	rng := rand.New(rand.NewPCG(9, 9))
	var seq uint64
	for _, r := range runs {
		for at, first := r[0], true; at < r[1]; at, first = at+dur, false {
			f.net.schedule(at, func() {
				now := f.net.now
				data := make([]byte, f.desc.ChunkBytes)
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				var flags uint8
				if seq%15 == 0 || first {
					flags = wire.ChunkRAP
				}
				m := integrity.ChunkMeta{Seq: seq, TimestampUs: int64(now/time.Microsecond) - 1, Flags: flags, Length: uint32(len(data))}
				sig, err := f.signer.Sign(m, data)
				if err != nil {
					f.net.t.Fatal(err)
				}
				f.chunks[seq] = data
				meta := core.ChunkMeta{TimestampUs: m.TimestampUs, Flags: flags, Length: m.Length, Signature: sig}
				if err := f.origin.e.Publish(now, f.desc.ID, seq, meta, data); err != nil {
					f.net.t.Fatal(err)
				}
				f.net.kick(f.origin)
				seq++
			})
		}
	}
}

// playedAfter counts the chunks from firstSeq on that a viewer played and
// missed.
func playedAfter(n *pipeNode, f *liveFixture, firstSeq uint64) (played, missed int) {
	for _, ev := range n.events {
		if ev.Seq < firstSeq {
			continue
		}
		switch ev.Kind {
		case core.EventPlay:
			played++
		case core.EventMissed:
			missed++
		}
	}
	return played, missed
}

// A source that stops for longer than the play delay and comes back: every
// viewer plays the new run, including those the origin never pushes to.
func TestLiveSourceOutageLongerThanPlayDelay(t *testing.T) {
	f, vs := newLiveFixture(t, 3, 6, func(c *core.Config) { c.MaxUploadBps = testRateBps * 3 / 2 })
	f.produceRuns([2]time.Duration{100 * time.Millisecond, 8 * time.Second},
		[2]time.Duration{13 * time.Second, 25 * time.Second})
	f.net.run(10 * time.Second)
	resumed := uint64(len(f.chunks))
	f.net.run(27 * time.Second)
	for i, v := range vs {
		played, missed := playedAfter(v, f, resumed)
		t.Logf("viewer %d after the outage: played %d, missed %d", i, played, missed)
		if played < 160 {
			t.Errorf("viewer %d played %d chunks of the run after the outage, want ≥ 160 of %d",
				i, played, uint64(len(f.chunks))-resumed)
		}
	}
}

// A viewer that dies without a goodbye gets no more pushes once it has left
// the origin's data unanswered for a while; until it times out, pushes to it
// would be lost for the whole swarm.
func TestLiveOriginStopsPushingToSilentViewer(t *testing.T) {
	f, vs := newLiveFixture(t, 4, 3, nil)
	f.produce(20 * time.Second)
	f.net.run(6 * time.Second)
	dead := vs[0]
	dead.dead = true
	var dataToDead int
	counting := false
	f.net.filter = func(from, to netip.AddrPort, b []byte) []byte {
		if counting && from == f.origin.addr && to == dead.addr {
			if _, msgs, err := wire.ParseDatagram(b); err == nil {
				for _, m := range msgs {
					if _, ok := m.(*wire.Data); ok {
						dataToDead++
					}
				}
			}
		}
		return b
	}
	f.net.run(9 * time.Second)
	counting = true
	f.net.run(20 * time.Second)
	// a few probes per retransmission timeout at most, not a third of the stream
	if dataToDead > 60 {
		t.Errorf("origin sent %d data datagrams to a dead viewer in 11 s", dataToDead)
	}
	for i, v := range vs[1:] {
		_, missed := playedAfter(v, f, 0)
		if missed > 0 {
			t.Errorf("viewer %d missed %d chunks", i+1, missed)
		}
	}
}

// capOrigin gives the fixture's origin an upload cap (before the run starts).
func (f *liveFixture) capOrigin(t *testing.T, bps int64) {
	cfg := core.DefaultConfig()
	cfg.OriginFanout = 2
	cfg.UnixEpochUs = 1
	cfg.MaxUploadBps = bps
	cfg.Rand = rand.New(rand.NewPCG(7, 7))
	e, err := core.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	od := f.desc
	od.Origin = true
	if err := e.AddSwarm(0, od); err != nil {
		t.Fatal(err)
	}
	f.origin.e = e
}

// corruptFrom makes node n a liar: every Data payload it sends is altered.
func (f *liveFixture) corruptFrom(n *pipeNode) {
	f.net.filter = func(from, to netip.AddrPort, b []byte) []byte {
		if from != n.addr {
			return b
		}
		if _, msgs, err := wire.ParseDatagram(b); err == nil {
			for _, m := range msgs {
				if d, ok := m.(*wire.Data); ok && len(d.Payload) > 0 {
					d.Payload[0] ^= 0x5a // aliases b
				}
			}
		}
		return b
	}
}

// A viewer that advertises a large upload and corrupts what it relays draws
// the origin's pushes; once its neighbours have banned it, whatever the
// origin still pushed to it would reach the others only through the origin's
// scarce repairs. The origin stops pushing to it, and the others play on.
func TestLiveOriginStopsPushingToLiar(t *testing.T) {
	first := true
	f, vs := newLiveFixture(t, 5, 5, func(c *core.Config) {
		c.AdvertisedUploadBps = testRateBps * 3
		if first {
			c.AdvertisedUploadBps = testRateBps * 20
			first = false
		}
	})
	f.capOrigin(t, testRateBps*3/2)
	f.corruptFrom(vs[0])
	f.produce(25 * time.Second)
	f.net.run(8 * time.Second)
	from := uint64(len(f.chunks))
	f.net.run(26 * time.Second)
	for i, v := range vs[1:] {
		st, _ := v.e.SwarmStats(f.desc.ID)
		played, missed := playedAfter(v, f, from)
		t.Logf("viewer %d: played %d, missed %d after the liar was caught; %d bans", i+1, played, missed, st.PeersBanned)
		if st.PeersBanned != 1 {
			t.Errorf("viewer %d banned %d peers, want the liar only", i+1, st.PeersBanned)
		}
		if missed > 10 {
			t.Errorf("viewer %d missed %d chunks after the liar was caught", i+1, missed)
		}
	}
}
