package sim

import (
	"encoding/json"
	"testing"
	"time"
)

func quick(scenario string, peers int, d time.Duration, mutate func(*Options)) Options {
	o := DefaultOptions(scenario)
	o.Peers = peers
	o.Duration = d
	if mutate != nil {
		mutate(&o)
	}
	return o
}

func mustRun(t *testing.T, o Options) *Result {
	t.Helper()
	res, err := Simulate(o)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestSameSeedSameRun(t *testing.T) {
	o := quick("live-churn", 12, 20*time.Second, nil)
	a, b := mustRun(t, o), mustRun(t, o)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("same seed, different reports:\n%s\n%s", ja, jb)
	}
	o.Seed = 2
	c := mustRun(t, o)
	if c.Digest == a.Digest {
		t.Fatal("another seed gave the same digest")
	}
}

// With ample upload every viewer plays every chunk, verified, mostly from peers.
func TestAmpleSwarmPlaysEverything(t *testing.T) {
	res := mustRun(t, quick("live-steady", 10, 40*time.Second, func(o *Options) { o.ViewerUpFactor = 5 }))
	if res.Continuity < 0.99 || res.UnverifiedBytesPlayed != 0 || res.P2PShare < 0.3 {
		t.Fatalf("continuity %.4f, unverified %d, p2p %.3f", res.Continuity, res.UnverifiedBytesPlayed, res.P2PShare)
	}
	if res.ViewersStarted != res.ViewersJoined {
		t.Fatalf("%d of %d viewers started", res.ViewersStarted, res.ViewersJoined)
	}
	if res.DelayP95S > res.PlayDelayS+0.1 {
		t.Fatalf("delay p95 %.2fs with a %.1fs play delay", res.DelayP95S, res.PlayDelayS)
	}
}

func TestLiarsAreBannedAndNeverPlayed(t *testing.T) {
	res := mustRun(t, quick("live-poison", 20, 40*time.Second, func(o *Options) { o.ViewerUpFactor = 5 }))
	if res.UnverifiedBytesPlayed != 0 {
		t.Fatalf("%d unverified bytes played", res.UnverifiedBytesPlayed)
	}
	if res.BadPeers == 0 || res.BadPeersBanned == 0 {
		t.Fatalf("%d liars, %d banned", res.BadPeers, res.BadPeersBanned)
	}
	if res.HonestPeersBanned != 0 {
		t.Fatalf("%d honest peers banned", res.HonestPeersBanned)
	}
}

func TestOnDemandStartsAndSeeks(t *testing.T) {
	res := mustRun(t, quick("vod-seek", 10, 60*time.Second, nil))
	if res.UnverifiedBytesPlayed != 0 {
		t.Fatalf("%d unverified bytes stored", res.UnverifiedBytesPlayed)
	}
	if res.StartP95S <= 0 || res.SeekP95S <= 0 || res.ChunksPlayed == 0 {
		t.Fatalf("start %.2fs seek %.2fs played %d", res.StartP95S, res.SeekP95S, res.ChunksPlayed)
	}
	if res.BytesFromPeers == 0 {
		t.Fatal("no bytes between viewers")
	}
}

func TestBadOptionsNameTheProblem(t *testing.T) {
	o := DefaultOptions("no-such")
	o.Peers = 5
	if _, err := Simulate(o); err == nil {
		t.Fatal("unknown scenario accepted")
	}
	o = DefaultOptions("live-steady")
	o.Peers = 0
	if _, err := Simulate(o); err == nil {
		t.Fatal("zero peers accepted")
	}
}

func TestBounds(t *testing.T) {
	if got := OriginBoundBytes(2e6, 10, 30e6, 8); got != 2e6 {
		t.Fatalf("bound with ample upload = %v, want one copy", got)
	}
	if got := OriginBoundBytes(2e6, 10, 10e6, 8); got != 10e6 {
		t.Fatalf("bound = %v, want (N·r − Σu)·T/8", got)
	}
	if got := DelayBoundSeconds(1000, 0.1); got < 0.999 || got > 1.001 {
		t.Fatalf("delay bound = %v, want 10 chunk times", got)
	}
}

// The run must not depend on how many workers run the windows, nor on how
// the goroutines are scheduled.
func TestWorkersSameRun(t *testing.T) {
	for _, sc := range []string{"live-steady", "live-churn", "live-poison", "vod-seek"} {
		t.Run(sc, func(t *testing.T) {
			var want []byte
			for _, w := range []int{1, 2, 3, 8} {
				o := quick(sc, 40, 12*time.Second, func(o *Options) { o.Workers = w })
				res := mustRun(t, o)
				got, _ := json.Marshal(res)
				if want == nil {
					want = got
					if res.ChunksPlayed == 0 {
						t.Fatalf("nothing played: %s", got)
					}
					continue
				}
				if string(got) != string(want) {
					t.Fatalf("%d workers:\n%s\n1 worker:\n%s", w, got, want)
				}
			}
		})
	}
}
