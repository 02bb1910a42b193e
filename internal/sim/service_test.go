package sim

import (
	"net/netip"
	"testing"
	"time"
)

func TestServiceFIFO(t *testing.T) {
	cfg := quietConfig()
	n := mustNew(t, cfg, 37)
	svc := n.NewService("booster", 8_000_000, 20*time.Millisecond) // 100 ms per 100 kB
	c1 := n.AddNode(NodeConfig{}, &scriptEP{})
	c2 := n.AddNode(NodeConfig{}, &scriptEP{})
	ow1, ow2 := svc.OneWay(c1), svc.OneWay(c2)
	for _, ow := range []time.Duration{ow1, ow2} {
		if ow < 20*time.Millisecond || ow > 20*time.Millisecond+(cfg.MaxLatency-cfg.MinLatency)/2 {
			t.Fatalf("OneWay %v out of range", ow)
		}
	}
	var done1, done2 time.Duration = -1, -1
	n.At(time.Millisecond, func(now time.Duration) {
		svc.Fetch(now, c1, 100_000, func(now time.Duration) { done1 = now })
		svc.Fetch(now, c2, 100_000, func(now time.Duration) { done2 = now })
	})
	n.Run(5 * time.Second)

	// The request that reaches the service first is served first; the
	// other waits for it (100 ms each at 8 Mb/s).
	const serve = 100 * time.Millisecond
	at1, at2 := time.Millisecond+ow1, time.Millisecond+ow2
	want1, want2 := at1+serve+ow1, at2+serve+ow2
	if at2 < at1 {
		want1 = max(at1, at2+serve) + serve + ow1
	} else {
		want2 = max(at2, at1+serve) + serve + ow2
	}
	if done1 != want1 || done2 != want2 {
		t.Errorf("done at %v, %v; want %v, %v", done1, done2, want1, want2)
	}
	if svc.BytesServed() != 200_000 || svc.Requests() != 2 || svc.Name() != "booster" {
		t.Errorf("service counters: %d bytes, %d requests", svc.BytesServed(), svc.Requests())
	}
	if got := n.Stats(c1).BytesFetched; got != 100_000 {
		t.Errorf("client BytesFetched = %d", got)
	}
}

// TestServiceSharesDownlink: a response crosses the client's downlink in
// segments, and a datagram arriving meanwhile queues among them.
func TestServiceSharesDownlink(t *testing.T) {
	cfg := quietConfig()
	cfg.SegmentBytes = 1000
	cfg.OverheadBytes = 28
	const size = 100_000 // 100 segments of 1000 bytes
	run := func(withDatagram bool) (done, delivered time.Duration) {
		n := mustNew(t, cfg, 41)
		svc := n.NewService("web seed", 80_000_000, 100*time.Millisecond) // 100 µs per segment
		client := &scriptEP{}
		ca := n.AddNode(NodeConfig{DownBps: 8_000_000}, client) // 1.028 ms per segment
		peer := &scriptEP{}
		pa := n.AddNode(NodeConfig{}, peer)
		ow := svc.OneWay(ca)
		lat := n.Latency(pa, ca)
		firstArrival := ow + 100*time.Microsecond + ow
		n.At(0, func(now time.Duration) {
			svc.Fetch(now, ca, size, func(now time.Duration) { done = now })
		})
		if withDatagram {
			// Arrive 50 ms into the response.
			n.At(firstArrival+50*time.Millisecond-lat, func(time.Duration) {
				peer.send(ca, make([]byte, 972)) // 1 ms at 8 Mb/s
				n.Kick(pa)
			})
		}
		n.Run(10 * time.Second)
		if withDatagram && len(client.recv) == 1 {
			delivered = client.recv[0].at
		}
		// The downlink is busy from the first segment's arrival.
		if want := firstArrival + 100*1028*time.Microsecond; done != want {
			t.Errorf("withDatagram=%v: done at %v, want %v", withDatagram, done, want)
		}
		return done, delivered
	}
	run(false)
	_, delivered := run(true)
	// The whole response reached the downlink within 10 ms, so the datagram
	// waits behind all of it.
	if want := firstArrivalOf(t, cfg) + 100*1028*time.Microsecond + time.Millisecond; delivered != want {
		t.Errorf("datagram delivered at %v, want %v", delivered, want)
	}
}

func firstArrivalOf(t *testing.T, cfg Config) time.Duration {
	n := mustNew(t, cfg, 41)
	svc := n.NewService("web seed", 80_000_000, 100*time.Millisecond)
	ca := n.AddNode(NodeConfig{DownBps: 8_000_000}, &scriptEP{})
	return 2*svc.OneWay(ca) + 100*time.Microsecond
}

// TestServiceNeverOverfillsQueue: a response larger than the downlink queue
// waits (as TCP would) instead of being dropped, keeps the link busy, and
// never makes the queue longer than the limit.
func TestServiceNeverOverfillsQueue(t *testing.T) {
	cfg := quietConfig()
	cfg.QueueLimit = 100 * time.Millisecond
	cfg.SegmentBytes = 16 << 10
	cfg.OverheadBytes = 0
	n := mustNew(t, cfg, 43)
	svc := n.NewService("cdn", 0, 10*time.Millisecond) // unlimited rate
	client := &scriptEP{}
	ca := n.AddNode(NodeConfig{DownBps: 8_192_000}, client) // 16 ms per 16 KiB
	const segments = 64
	var done time.Duration = -1
	n.At(0, func(now time.Duration) {
		svc.Fetch(now, ca, segments*16<<10, func(now time.Duration) { done = now })
	})
	var worst time.Duration
	for k := range 2000 {
		n.At(time.Duration(k)*time.Millisecond, func(time.Duration) {
			_, down := n.QueueDelay(ca)
			worst = max(worst, down)
		})
	}
	n.Run(5 * time.Second)
	ow := svc.OneWay(ca)
	if want := 2*ow + segments*16*time.Millisecond; done != want {
		t.Errorf("done at %v, want %v", done, want)
	}
	// A segment is admitted while its own wait is within the limit, so the
	// backlog peaks at the limit plus one segment.
	if worst > cfg.QueueLimit+16*time.Millisecond || worst < cfg.QueueLimit {
		t.Errorf("worst queue delay %v, want in [%v, %v]", worst, cfg.QueueLimit, cfg.QueueLimit+16*time.Millisecond)
	}
}

func TestServiceClientGone(t *testing.T) {
	for _, removeAt := range []time.Duration{time.Millisecond, 300 * time.Millisecond} {
		n := mustNew(t, quietConfig(), 47)
		svc := n.NewService("booster", 8_000_000, 20*time.Millisecond)
		ca := n.AddNode(NodeConfig{}, &scriptEP{})
		called := false
		n.At(0, func(now time.Duration) {
			svc.Fetch(now, ca, 1_000_000, func(time.Duration) { called = true }) // 1 s to serve
		})
		n.At(removeAt, func(time.Duration) { n.RemoveNode(ca) })
		n.Run(5 * time.Second)
		if called {
			t.Errorf("removed at %v: done was called", removeAt)
		}
		// Unknown or removed clients are ignored.
		svc.Fetch(n.Now(), ca, 10, func(time.Duration) { called = true })
		svc.Fetch(n.Now(), netip.MustParseAddrPort("192.0.2.1:80"), 10, func(time.Duration) { called = true })
		n.Run(10 * time.Second)
		if called {
			t.Error("done called for a removed or unknown client")
		}
	}
}

// TestServiceDoneDrains: done may call into the client's endpoint; what it
// queues is sent without a Kick.
func TestServiceDoneDrains(t *testing.T) {
	n := mustNew(t, quietConfig(), 53)
	svc := n.NewService("booster", 0, 0)
	client, peer := &scriptEP{}, &scriptEP{}
	ca := n.AddNode(NodeConfig{}, client)
	pa := n.AddNode(NodeConfig{}, peer)
	n.At(0, func(now time.Duration) {
		svc.Fetch(now, ca, 100, func(time.Duration) { client.send(pa, []byte("have")) })
	})
	n.Run(time.Second)
	if len(peer.recv) != 1 || string(peer.recv[0].payload) != "have" {
		t.Fatalf("peer received %d datagrams", len(peer.recv))
	}
}

// TestServiceRefusesLate: a request whose response, queued behind another,
// could not arrive by its deadline is refused when it reaches the service:
// done never runs and the service spends nothing on it, so a request after
// it is served as if it had not come.
func TestServiceRefusesLate(t *testing.T) {
	cfg := quietConfig()
	n := mustNew(t, cfg, 37)
	svc := n.NewService("booster", 8_000_000, 20*time.Millisecond) // 100 ms per 100 kB
	c := n.AddNode(NodeConfig{}, &scriptEP{})
	ow := svc.OneWay(c)
	var done []time.Duration
	var late bool
	n.At(time.Millisecond, func(now time.Duration) {
		svc.Fetch(now, c, 100_000, func(now time.Duration) { done = append(done, now) })
		// behind the first it would arrive at 1 ms + 2·ow + 200 ms
		svc.FetchBy(now, c, 100_000, now+2*ow+150*time.Millisecond, func(time.Duration) { late = true })
	})
	n.At(2*time.Millisecond, func(now time.Duration) {
		svc.FetchBy(now, c, 100_000, now+2*ow+250*time.Millisecond, func(now time.Duration) { done = append(done, now) })
	})
	n.Run(5 * time.Second)
	const serve = 100 * time.Millisecond
	want := []time.Duration{time.Millisecond + ow + serve + ow, time.Millisecond + ow + 2*serve + ow}
	if late || len(done) != 2 || done[0] != want[0] || done[1] != want[1] {
		t.Errorf("late one served %v; done at %v, want %v", late, done, want)
	}
	if svc.Requests() != 3 || svc.Refused() != 1 || svc.BytesServed() != 200_000 {
		t.Errorf("%d requests, %d refused, %d bytes served", svc.Requests(), svc.Refused(), svc.BytesServed())
	}
}
