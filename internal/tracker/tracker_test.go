package tracker

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // "" when valid
	}{
		{"zero", Config{}, ""},
		{"defaults", DefaultConfig(), ""},
		{"interval 1s", Config{Interval: time.Second}, ""},
		{"interval fraction", Config{Interval: 1500 * time.Millisecond}, "Interval"},
		{"interval sub-second", Config{Interval: time.Millisecond}, "Interval"},
		{"interval negative", Config{Interval: -time.Second}, "Interval"},
		{"interval too long", Config{Interval: 2 * time.Hour}, "Interval"},
		{"max peers negative", Config{MaxPeersPerSwarm: -1}, "MaxPeersPerSwarm"},
		{"max peers huge", Config{MaxPeersPerSwarm: 1 << 30}, "MaxPeersPerSwarm"},
		{"max numwant huge", Config{MaxNumWant: 5000}, "MaxNumWant"},
		{"numwant above max", Config{DefaultNumWant: 50, MaxNumWant: 40}, "DefaultNumWant"},
		{"numwant above default max", Config{DefaultNumWant: 101}, "DefaultNumWant"},
		{"small max numwant", Config{MaxNumWant: 5}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := New(tt.cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig naming %s", err, tt.field)
			}
			if _, err := New(tt.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestAnnounceExcludesAskerAndListsSeedsFirst(t *testing.T) {
	tr, _ := newTestTracker(t, Config{})
	sw := swarmID(0)
	tr.AddSwarm(sw)
	seeds := []netip.AddrPort{mustAddrPort("192.0.2.1:8081"), mustAddrPort("[2001:db8::1]:8081")}
	for _, s := range seeds {
		if err := tr.AddSeed(sw, s); err != nil {
			t.Fatal(err)
		}
	}
	const n = 6
	for i := range n {
		if _, err := tr.Announce(loopback, announceFor(sw, i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		a := announceFor(sw, i)
		a.Event = EventUpdate
		r, err := tr.Announce(loopback, a)
		if err != nil {
			t.Fatal(err)
		}
		if r.Interval != DefaultInterval {
			t.Errorf("Interval = %v, want %v", r.Interval, DefaultInterval)
		}
		for j, s := range seeds {
			if r.Peers[j] != (Peer{Addr: s, Seed: true}) {
				t.Fatalf("peer %d = %+v, want seed %v", j, r.Peers[j], s)
			}
		}
		others := nonSeeds(t, r)
		if len(others) != n-1 {
			t.Fatalf("peer %d got %d others, want %d", i, len(others), n-1)
		}
		seen := map[[32]byte]bool{}
		for _, p := range others {
			if p.ID == peerID(i) {
				t.Fatalf("peer %d was handed itself", i)
			}
			if seen[p.ID] {
				t.Fatalf("peer %v listed twice", p.Addr)
			}
			seen[p.ID] = true
			var k int
			for k = range n {
				if peerID(k) == p.ID {
					break
				}
			}
			if p.Addr != peerAddr(k) {
				t.Fatalf("peer %d listed at %v, announced %v", k, p.Addr, peerAddr(k))
			}
		}
	}
	st := tr.Stats()[sw]
	if st.Peers != n || st.Seeds != len(seeds) {
		t.Fatalf("Stats = %+v, want %d peers, %d seeds", st, n, len(seeds))
	}
}

func TestAnnounceIPOverrideOnlyFromLoopback(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		ip     string
		want   string
	}{
		{"loopback v4 with ip", "127.0.0.1", "198.51.100.7", "198.51.100.7:5000"},
		{"loopback v6 with ip", "::1", "2001:db8::7", "[2001:db8::7]:5000"},
		{"loopback without ip", "127.0.0.1", "", "127.0.0.1:5000"},
		{"public caller with ip", "203.0.113.9", "198.51.100.7", "203.0.113.9:5000"},
		{"mapped v4 caller", "::ffff:203.0.113.9", "", "203.0.113.9:5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, _ := newTestTracker(t, Config{})
			sw := swarmID(0)
			tr.AddSwarm(sw)
			a := Announce{Swarm: sw, Peer: peerID(1), Port: 5000, IP: tt.ip}
			if _, err := tr.Announce(netip.MustParseAddr(tt.remote), a); err != nil {
				t.Fatal(err)
			}
			r, err := tr.Announce(loopback, announceFor(sw, 2))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Peers) != 1 || r.Peers[0].Addr.String() != tt.want {
				t.Fatalf("peers = %+v, want one at %s", r.Peers, tt.want)
			}
		})
	}
}

func TestAnnounceWithoutRemoteAddress(t *testing.T) {
	tr, _ := newTestTracker(t, Config{})
	tr.AddSwarm(swarmID(0))
	_, err := tr.Announce(netip.Addr{}, Announce{Swarm: swarmID(0), Peer: peerID(0), Port: 1})
	if !errors.Is(err, ErrBadAnnounce) {
		t.Fatalf("err = %v, want ErrBadAnnounce", err)
	}
}

func TestStoppedRemovesPeer(t *testing.T) {
	tr, _ := newTestTracker(t, Config{})
	sw := swarmID(0)
	tr.AddSwarm(sw)
	for i := range 3 {
		if _, err := tr.Announce(loopback, announceFor(sw, i)); err != nil {
			t.Fatal(err)
		}
	}
	a := announceFor(sw, 1)
	a.Event = EventStopped
	r, err := tr.Announce(loopback, a)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Peers) != 0 {
		t.Fatalf("a leaving peer got %d peers", len(r.Peers))
	}
	if got := tr.Stats()[sw].Peers; got != 2 {
		t.Fatalf("Peers after stop = %d, want 2", got)
	}
	r, err = tr.Announce(loopback, announceFor(sw, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Peers) != 1 || r.Peers[0].ID != peerID(2) {
		t.Fatalf("peers = %+v, want only peer 2", r.Peers)
	}
	// Stopping twice, or a peer never seen, is harmless.
	for _, n := range []int{1, 99} {
		a := announceFor(sw, n)
		a.Event = EventStopped
		if _, err := tr.Announce(loopback, a); err != nil {
			t.Fatalf("stop peer %d: %v", n, err)
		}
	}
}

func TestExpiry(t *testing.T) {
	const interval = 10 * time.Second
	tr, clk := newTestTracker(t, Config{Interval: interval})
	sw, other := swarmID(0), swarmID(1)
	tr.AddSwarm(sw)
	tr.AddSwarm(other)
	for i := range 3 {
		if _, err := tr.Announce(loopback, announceFor(sw, i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tr.Announce(loopback, announceFor(other, 7)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * interval)
	if _, err := tr.Announce(loopback, announceFor(sw, 0)); err != nil { // peer 0 keeps announcing
		t.Fatal(err)
	}
	clk.Advance(ExpiryIntervals*interval - 2*interval - time.Second)
	if got := tr.Sweep(); got != 0 {
		t.Fatalf("Sweep before the deadline dropped %d", got)
	}
	clk.Advance(time.Second) // peers 1, 2 and 7 are now silent for exactly 3 intervals
	r, err := tr.Announce(loopback, announceFor(sw, 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Peers) != 1 || r.Peers[0].ID != peerID(0) {
		t.Fatalf("peers = %+v, want only peer 0: silent peers must expire lazily", r.Peers)
	}
	if got := tr.Sweep(); got != 1 {
		t.Fatalf("Sweep dropped %d, want 1 (the other swarm's peer)", got)
	}
	st := tr.Stats()
	if st[sw].Peers != 2 || st[other].Peers != 0 {
		t.Fatalf("Stats = %+v, want 2 and 0 peers", st)
	}
	clk.Advance(ExpiryIntervals * interval)
	if got := tr.Stats()[sw].Peers; got != 0 {
		t.Fatalf("Stats after everyone went silent = %d peers, want 0", got)
	}
}

func TestNumWant(t *testing.T) {
	tr, _ := newTestTracker(t, Config{DefaultNumWant: 7, MaxNumWant: 20})
	sw := swarmID(0)
	tr.AddSwarm(sw)
	if err := tr.AddSeed(sw, mustAddrPort("192.0.2.1:8081")); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if _, err := tr.Announce(loopback, announceFor(sw, i)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ numWant, want int }{{0, 7}, {1, 1}, {13, 13}, {20, 20}, {21, 20}, {1000, 20}}
	for _, tt := range tests {
		a := announceFor(sw, 0)
		a.NumWant = tt.numWant
		r, err := tr.Announce(loopback, a)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Peers[0].Seed {
			t.Fatalf("numwant %d: seed not first: %+v", tt.numWant, r.Peers[0])
		}
		if got := len(nonSeeds(t, r)); got != tt.want {
			t.Errorf("numwant %d: got %d peers, want %d", tt.numWant, got, tt.want)
		}
	}
}

func TestPickIsRandomAndDeterministic(t *testing.T) {
	run := func(seed uint64) [][]Peer {
		tr, _ := newTestTracker(t, Config{Rand: rand.New(rand.NewPCG(seed, seed))})
		sw := swarmID(0)
		tr.AddSwarm(sw)
		const n = 40
		for i := range n {
			if _, err := tr.Announce(loopback, announceFor(sw, i)); err != nil {
				t.Fatal(err)
			}
		}
		var out [][]Peer
		counts := map[[32]byte]int{}
		for round := range 400 {
			a := announceFor(sw, round%n)
			a.NumWant = 5
			r, err := tr.Announce(loopback, a)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Peers) != 5 {
				t.Fatalf("got %d peers, want 5", len(r.Peers))
			}
			for _, p := range r.Peers {
				if p.ID == a.Peer {
					t.Fatalf("asker %v handed itself", p.Addr)
				}
				counts[p.ID]++
			}
			out = append(out, r.Peers)
		}
		// 2000 picks over 40 peers: 50 each on average; a fair sampler
		// practically never leaves one below 15 or above 100.
		for i := range n {
			if c := counts[peerID(i)]; c < 15 || c > 100 {
				t.Errorf("seed %d: peer %d picked %d times, want about 50", seed, i, c)
			}
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			t.Fatalf("round %d differs with the same seed: %v vs %v", i, a[i], b[i])
		}
	}
	same := 0
	for i := range a {
		if slices.Equal(a[i], c[i]) {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("different seeds gave the same picks")
	}
}

func TestMaxPeersPerSwarm(t *testing.T) {
	tr, _ := newTestTracker(t, Config{MaxPeersPerSwarm: 3})
	sw := swarmID(0)
	tr.AddSwarm(sw)
	for i := range 5 {
		r, err := tr.Announce(loopback, announceFor(sw, i))
		if err != nil {
			t.Fatal(err)
		}
		if want := min(i, 3); len(r.Peers) != want {
			t.Fatalf("peer %d got %d peers, want %d", i, len(r.Peers), want)
		}
	}
	if got := tr.Stats()[sw].Peers; got != 3 {
		t.Fatalf("stored %d peers, want the cap of 3", got)
	}
	// A stored peer re-announcing is not a new peer.
	if _, err := tr.Announce(loopback, announceFor(sw, 2)); err != nil {
		t.Fatal(err)
	}
	stop := announceFor(sw, 0)
	stop.Event = EventStopped
	if _, err := tr.Announce(loopback, stop); err != nil {
		t.Fatal(err)
	}
	r, err := tr.Announce(loopback, announceFor(sw, 4))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Peers) != 2 || tr.Stats()[sw].Peers != 3 {
		t.Fatalf("after a stop: got %d peers and %d stored, want 2 and 3", len(r.Peers), tr.Stats()[sw].Peers)
	}
}

func TestUploadStats(t *testing.T) {
	tr, _ := newTestTracker(t, Config{})
	sw := swarmID(0)
	tr.AddSwarm(sw)
	for i, up := range []int64{1000, 2000, 3000} {
		a := announceFor(sw, i)
		a.UploadBps = up
		if _, err := tr.Announce(loopback, a); err != nil {
			t.Fatal(err)
		}
	}
	a := announceFor(sw, 1)
	a.UploadBps = 500 // peer 1 lowers its offer
	if _, err := tr.Announce(loopback, a); err != nil {
		t.Fatal(err)
	}
	a = announceFor(sw, 2)
	a.Event = EventStopped
	if _, err := tr.Announce(loopback, a); err != nil {
		t.Fatal(err)
	}
	if got := tr.Stats()[sw].UploadBps; got != 1500 {
		t.Fatalf("UploadBps = %d, want 1500", got)
	}
}

func TestSwarmsAndSeeds(t *testing.T) {
	tr, _ := newTestTracker(t, Config{})
	sw := swarmID(0)
	if _, err := tr.Announce(loopback, announceFor(sw, 0)); !errors.Is(err, ErrUnknownSwarm) {
		t.Fatalf("announce before AddSwarm: %v, want ErrUnknownSwarm", err)
	}
	if err := tr.AddSeed(sw, mustAddrPort("192.0.2.1:1")); !errors.Is(err, ErrUnknownSwarm) {
		t.Fatalf("AddSeed before AddSwarm: %v, want ErrUnknownSwarm", err)
	}
	tr.AddSwarm(sw)
	for _, bad := range []netip.AddrPort{{}, mustAddrPort("0.0.0.0:8081"), mustAddrPort("[::]:8081"),
		mustAddrPort("192.0.2.1:0"), mustAddrPort("224.0.0.1:8081")} {
		if err := tr.AddSeed(sw, bad); !errors.Is(err, ErrBadSeed) {
			t.Errorf("AddSeed(%v) = %v, want ErrBadSeed", bad, err)
		}
	}
	for i := range MaxSeedsPerSwarm {
		ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), 8081)
		if err := tr.AddSeed(sw, ap); err != nil {
			t.Fatal(err)
		}
		if err := tr.AddSeed(sw, ap); err != nil { // again: no-op
			t.Fatal(err)
		}
	}
	if err := tr.AddSeed(sw, mustAddrPort("198.51.100.1:1")); !errors.Is(err, ErrTooManySeeds) {
		t.Fatalf("seed beyond the cap: %v, want ErrTooManySeeds", err)
	}
	tr.RemoveSeed(sw, mustAddrPort("[::ffff:192.0.2.1]:8081")) // mapped form names the same seed
	r, err := tr.Announce(loopback, announceFor(sw, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Peers) != MaxSeedsPerSwarm-1 || r.Peers[0].Addr != mustAddrPort("192.0.2.2:8081") {
		t.Fatalf("after RemoveSeed: %d peers starting %v", len(r.Peers), r.Peers[0].Addr)
	}
	tr.AddSwarm(sw) // re-adding keeps the registry
	if st := tr.Stats()[sw]; st.Peers != 1 || st.Seeds != MaxSeedsPerSwarm-1 {
		t.Fatalf("Stats after re-adding = %+v", st)
	}
	tr.RemoveSwarm(sw)
	if _, ok := tr.Stats()[sw]; ok {
		t.Fatal("removed swarm still in Stats")
	}
	if _, err := tr.Announce(loopback, announceFor(sw, 0)); !errors.Is(err, ErrUnknownSwarm) {
		t.Fatalf("announce after RemoveSwarm: %v, want ErrUnknownSwarm", err)
	}
}
