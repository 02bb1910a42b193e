package core_test

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/wire"
)

// A liar that is always behind its only neighbour has nothing that
// neighbour needs, so ordinary verification never meets its bytes: the
// neighbour would serve it for as long as it stays. The neighbour asks it
// back for a fragment of a chunk it sent it, finds the answer differs from
// its own verified copy, and bans it; it goes on playing.
func TestLiveProbeCatchesLiarBehindUs(t *testing.T) {
	f, vs := newLiveFixture(t, 11, 1, nil)
	v := vs[0]
	cfg := core.DefaultConfig()
	cfg.UnixEpochUs = 1
	cfg.Rand = rand.New(rand.NewPCG(12, 12))
	liar := f.net.add(cfg)
	if err := liar.e.AddSwarm(0, f.desc); err != nil {
		t.Fatal(err)
	}
	if err := liar.e.AddPeer(0, f.desc.ID, v.addr); err != nil {
		t.Fatal(err)
	}
	var toLiar, fromLiar int
	f.net.filter = func(from, to netip.AddrPort, b []byte) []byte {
		if (from == liar.addr && to == f.origin.addr) || (to == liar.addr && from == f.origin.addr) {
			return nil // the liar reaches the stream only through v
		}
		if from != liar.addr && to != liar.addr {
			return b
		}
		if _, msgs, err := wire.ParseDatagram(b); err == nil {
			for _, m := range msgs {
				if d, ok := m.(*wire.Data); ok && len(d.Payload) > 0 {
					if from == liar.addr {
						fromLiar++
						d.Payload[0] ^= 0x5a // aliases b
					} else {
						toLiar += len(d.Payload)
					}
				}
			}
		}
		return b
	}
	f.produce(20 * time.Second)
	f.net.run(21 * time.Second)

	banned := false
	for _, ev := range v.events {
		if ev.Kind == core.EventPeerBanned && ev.Peer == liar.addr {
			banned = true
		}
	}
	st, _ := v.e.SwarmStats(f.desc.ID)
	played, missed := playedAfter(v, f, 0)
	t.Logf("v: played %d missed %d, banned %d; sent the liar %d bytes; the liar sent %d Data frames", played, missed, st.PeersBanned, toLiar, fromLiar)
	if !banned {
		t.Fatalf("the liar was not banned")
	}
	if fromLiar == 0 {
		t.Fatalf("the liar was never asked for anything: it was banned on no evidence")
	}
	// the liar is caught within a few chunks of stream, not after the
	// 300 it would draw over 20 s
	if max := 40 * f.desc.ChunkBytes; toLiar > max {
		t.Errorf("v sent the liar %d bytes before banning it, want under %d", toLiar, max)
	}
	if missed > 0 {
		t.Errorf("v missed %d chunks", missed)
	}
}
