package tracker

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// testID returns a distinct non-zero 32-byte ID for n, tagged so swarm and
// peer IDs never collide by accident.
func testID(tag byte, n int) [32]byte {
	var id [32]byte
	id[0] = tag
	binary.BigEndian.PutUint64(id[24:], uint64(n)+1)
	return id
}

func swarmID(n int) [32]byte { return testID('S', n) }
func peerID(n int) [32]byte  { return testID('P', n) }

// newTestTracker builds a Tracker with a fake clock and a seeded source;
// cfg's zero fields take their defaults.
func newTestTracker(t testing.TB, cfg Config) (*Tracker, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	cfg.Now = clk.Now
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(1, 2))
	}
	tr, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tr, clk
}

var loopback = netip.MustParseAddr("127.0.0.1")

func mustAddrPort(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// peerAddr is the address test peer n announces via ip= from loopback.
func peerAddr(n int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)}), uint16(9000+n%1000))
}

func announceFor(swarm [32]byte, n int) Announce {
	ap := peerAddr(n)
	return Announce{Swarm: swarm, Peer: peerID(n), Port: ap.Port(), IP: ap.Addr().String(), Event: EventStarted}
}

// nonSeeds returns the peers of r that are not seeds, checking that all
// seeds come first.
func nonSeeds(t testing.TB, r Response) []Peer {
	t.Helper()
	i := 0
	for i < len(r.Peers) && r.Peers[i].Seed {
		i++
	}
	for _, p := range r.Peers[i:] {
		if p.Seed {
			t.Fatalf("seed %v listed after a non-seed peer in %v", p.Addr, r.Peers)
		}
	}
	return r.Peers[i:]
}

func hexID(id [32]byte) string { return hex.EncodeToString(id[:]) }
