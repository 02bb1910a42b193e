package sim

import (
	"net/netip"
	"testing"
	"time"
)

// stubTraces runs 40 stub endpoints for 2 s, with windows of w, and returns
// each node's delivery trace and the network's totals.
func stubTraces(t *testing.T, cfg Config, w time.Duration, churn bool) ([]uint64, NodeStats) {
	n := mustNew(t, cfg, 7)
	n.SetWindow(w)
	var peers []netip.AddrPort
	var eps []*stubEP
	for i := range 40 {
		ep := newStubEP(&peers, 7000+uint64(i), 20*time.Millisecond, 3, 1100, true)
		ep.hashPayload = true
		eps = append(eps, ep)
		nc := NodeConfig{UpBps: 2_000_000 + int64(i)*100_000, DownBps: 8_000_000, NAT: NATClass(i % 3)}
		peers = append(peers, n.AddNode(nc, ep))
	}
	if churn {
		n.At(700*time.Millisecond, func(time.Duration) { n.RemoveNode(peers[3]) })
	}
	n.Run(2 * time.Second)
	var tr []uint64
	for _, ep := range eps {
		tr = append(tr, ep.trace)
	}
	return tr, n.Totals()
}

// Without shared randomness, running node by node in windows must give
// every node exactly what strict time order gives it.
func TestWindowsMatchTimeOrder(t *testing.T) {
	cfg := quietConfig()
	want, wantTot := stubTraces(t, cfg, 0, true)
	got, gotTot := stubTraces(t, cfg, cfg.MinLatency, true)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("node %d: trace %x with windows, %x without", i, got[i], want[i])
		}
	}
	if gotTot != wantTot {
		t.Errorf("totals %+v with windows, %+v without", gotTot, wantTot)
	}
	if wantTot.DatagramsReceived < 5000 || wantTot.DropGone == 0 || wantTot.DropNAT == 0 {
		t.Errorf("the run did not exercise enough: %+v", wantTot)
	}
}

func TestWindowsDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Jitter = 5 * time.Millisecond
	cfg.LossRate = 0.02
	a, sa := stubTraces(t, cfg, cfg.MinLatency, true)
	b, sb := stubTraces(t, cfg, cfg.MinLatency, true)
	if sa != sb {
		t.Fatalf("same seed, different totals: %+v %+v", sa, sb)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, node %d traced %x and %x", i, a[i], b[i])
		}
	}
	if sa.DropLoss == 0 {
		t.Errorf("no loss: %+v", sa)
	}
}

func TestSetWindowRange(t *testing.T) {
	n := mustNew(t, quietConfig(), 1)
	for _, w := range []time.Duration{-1, quietConfig().MinLatency + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("SetWindow(%v) did not panic", w)
				}
			}()
			n.SetWindow(w)
		}()
	}
}
