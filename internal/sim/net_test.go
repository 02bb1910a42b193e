package sim

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// quietConfig is DefaultConfig without loss or jitter, so timings are exact.
func quietConfig() Config {
	c := DefaultConfig()
	c.LossRate = 0
	c.Jitter = 0
	return c
}

func mustNew(t testing.TB, cfg Config, seed uint64) *Network {
	t.Helper()
	n, err := New(cfg, seed)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"MinLatency", func(c *Config) { c.MinLatency = -1 }},
		{"MaxLatency", func(c *Config) { c.MaxLatency = c.MinLatency - 1 }},
		{"MaxLatency", func(c *Config) { c.MaxLatency = time.Minute }},
		{"Jitter", func(c *Config) { c.Jitter = -time.Millisecond }},
		{"LossRate", func(c *Config) { c.LossRate = 1 }},
		{"LossRate", func(c *Config) { c.LossRate = -0.1 }},
		{"LossRate", func(c *Config) { c.LossRate = math.NaN() }},
		{"QueueLimit", func(c *Config) { c.QueueLimit = 0 }},
		{"OverheadBytes", func(c *Config) { c.OverheadBytes = -1 }},
		{"SegmentBytes", func(c *Config) { c.SegmentBytes = 10 }},
		{"SlotBytes", func(c *Config) { c.SlotBytes = 1000 }},
		{"SlotBytes", func(c *Config) { c.SlotBytes = 1 << 20 }},
	}
	for _, tt := range tests {
		c := DefaultConfig()
		tt.edit(&c)
		err := c.Validate()
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", tt.field, err)
			continue
		}
		if want := "Config." + tt.field; !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %q does not name %s", tt.field, err, want)
		}
		if _, err := New(c, 1); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New accepted a bad config", tt.field)
		}
	}
	for _, nc := range []NodeConfig{{UpBps: -1}, {DownBps: -1}, {NAT: 7}} {
		if err := nc.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NodeConfig %+v: Validate() = %v", nc, err)
		}
	}
}

func TestAddresses(t *testing.T) {
	n := mustNew(t, quietConfig(), 1)
	var eps []*scriptEP
	for i := range 300 {
		ep := &scriptEP{}
		eps = append(eps, ep)
		a := n.AddNode(NodeConfig{}, ep)
		want := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte((i + 1) >> 8), byte(i + 1)}), NodePort)
		if a != want {
			t.Fatalf("node %d: address %v, want %v", i, a, want)
		}
		if !netip.MustParsePrefix("198.18.0.0/15").Contains(a.Addr()) {
			t.Fatalf("%v outside 198.18.0.0/15", a)
		}
	}
	addrs := n.Addrs()
	for i, a := range addrs {
		if n.Endpoint(a) != eps[i] || !n.Alive(a) {
			t.Fatalf("Endpoint/Alive(%v) wrong", a)
		}
	}
	for _, a := range []string{"198.18.1.45:4000", "198.18.0.0:4000", "198.18.0.1:4001", "10.0.0.1:4000", "[::1]:4000"} {
		ap := netip.MustParseAddrPort(a)
		if n.Endpoint(ap) != nil || n.Alive(ap) {
			t.Errorf("%v: unknown address reported as a node", a)
		}
	}
}

func TestLatencyModel(t *testing.T) {
	cfg := quietConfig()
	n := mustNew(t, cfg, 7)
	for range 60 {
		n.AddNode(NodeConfig{}, &scriptEP{})
	}
	addrs := n.Addrs()
	var lo, hi time.Duration = math.MaxInt64, 0
	for _, a := range addrs {
		for _, b := range addrs {
			l := n.Latency(a, b)
			if l != n.Latency(b, a) {
				t.Fatalf("latency not symmetric for %v %v", a, b)
			}
			if l < cfg.MinLatency || l > cfg.MaxLatency {
				t.Fatalf("Latency(%v,%v) = %v outside [%v, %v]", a, b, l, cfg.MinLatency, cfg.MaxLatency)
			}
			if a != b {
				lo, hi = min(lo, l), max(hi, l)
			}
			for _, c := range addrs[:10] {
				// Integer rounding may cost a few nanoseconds.
				if n.Latency(a, c) > n.Latency(a, b)+n.Latency(b, c)+3 {
					t.Fatalf("triangle inequality broken: %v %v %v", a, b, c)
				}
			}
		}
		if n.Latency(a, a) != cfg.MinLatency {
			t.Fatalf("self latency %v, want %v", n.Latency(a, a), cfg.MinLatency)
		}
	}
	// Random positions should use a good part of the range.
	if hi-lo < (cfg.MaxLatency-cfg.MinLatency)/2 {
		t.Errorf("latencies span only [%v, %v]", lo, hi)
	}
}

func TestIsqrt(t *testing.T) {
	for v := int64(0); v < 100000; v++ {
		s := isqrt(v)
		if s*s > v || (s+1)*(s+1) <= v {
			t.Fatalf("isqrt(%d) = %d", v, s)
		}
	}
	for _, v := range []int64{1<<34 - 1, 1 << 34, 2 * (planeSide - 1) * (planeSide - 1), 1<<52 - 1} {
		s := isqrt(v)
		if s*s > v || (s+1)*(s+1) <= v {
			t.Fatalf("isqrt(%d) = %d", v, s)
		}
	}
	if d := distance(position{0, 0}, position{planeSide - 1, planeSide - 1}); d >= planeDiagonal {
		t.Fatalf("largest distance %d, planeDiagonal %d", d, planeDiagonal)
	}
}

// TestSingleDatagramTiming checks the arithmetic of one datagram: uplink
// serialisation, path latency and downlink serialisation, to the nanosecond.
func TestSingleDatagramTiming(t *testing.T) {
	cfg := quietConfig()
	cfg.OverheadBytes = 28
	tests := []struct {
		name             string
		upBps, downBps   int64
		payload          int
		wantUp, wantDown time.Duration
	}{
		{"8M up 4M down", 8_000_000, 4_000_000, 972, time.Millisecond, 2 * time.Millisecond},
		{"unlimited up", 0, 1_000_000, 97, 0, time.Millisecond},
		{"unlimited down", 1_000_000, 0, 97, time.Millisecond, 0},
		{"rounds up", 3, 0, 0, 0, 0}, // wantUp computed below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := mustNew(t, cfg, 3)
			a, b := &scriptEP{}, &scriptEP{}
			aa := n.AddNode(NodeConfig{UpBps: tt.upBps, DownBps: 1e9}, a)
			ba := n.AddNode(NodeConfig{UpBps: 1e9, DownBps: tt.downBps}, b)
			wantUp := tt.wantUp
			if tt.name == "rounds up" {
				// 28 bytes at 3 bit/s: 74.666…s, rounded up to the ns.
				wantUp = 74*time.Second + 666_666_667*time.Nanosecond
			}
			const sendAt = 5 * time.Millisecond
			n.At(sendAt, func(now time.Duration) {
				a.send(ba, make([]byte, tt.payload))
				n.Kick(aa)
			})
			n.Run(2 * time.Minute)
			if len(b.recv) != 1 {
				t.Fatalf("received %d datagrams, want 1", len(b.recv))
			}
			want := sendAt + wantUp + n.Latency(aa, ba) + tt.wantDown
			if got := b.recv[0].at; got != want {
				t.Errorf("delivered at %v, want %v", got, want)
			}
			if b.recv[0].peer != aa || len(b.recv[0].payload) != tt.payload {
				t.Errorf("got from %v %d bytes", b.recv[0].peer, len(b.recv[0].payload))
			}
			st := n.Stats(aa)
			if st.DatagramsSent != 1 || st.BytesSent != int64(tt.payload) {
				t.Errorf("sender stats %+v", st)
			}
			if rs := n.Stats(ba); rs.DatagramsReceived != 1 || rs.BytesReceived != int64(tt.payload) {
				t.Errorf("receiver stats %+v", rs)
			}
		})
	}
}

// TestUplinkQueueing: a burst larger than the uplink can carry at once
// leaves one serialisation time apart, and the queue delay seen by the
// next datagram is the backlog.
func TestUplinkQueueing(t *testing.T) {
	n := mustNew(t, quietConfig(), 5)
	a, b := &scriptEP{}, &scriptEP{}
	aa := n.AddNode(NodeConfig{UpBps: 8_000_000}, a) // 1 ms per 1000 wire bytes
	ba := n.AddNode(NodeConfig{}, b)
	const burst = 20
	for range burst {
		a.send(ba, make([]byte, 972))
	}
	n.Kick(aa)
	if up, down := n.QueueDelay(aa); up != burst*time.Millisecond || down != 0 {
		t.Fatalf("QueueDelay = %v, %v; want %v, 0", up, down, burst*time.Millisecond)
	}
	n.Run(time.Second)
	if len(b.recv) != burst {
		t.Fatalf("received %d, want %d", len(b.recv), burst)
	}
	lat := n.Latency(aa, ba)
	for k, d := range b.recv {
		if want := time.Duration(k+1)*time.Millisecond + lat; d.at != want {
			t.Errorf("datagram %d delivered at %v, want %v", k, d.at, want)
		}
	}
	if up, _ := n.QueueDelay(aa); up != 0 {
		t.Errorf("queue not drained: %v", up)
	}
}

// TestDownlinkQueueing: datagrams arriving together at a slow downlink leave
// it one serialisation time apart.
func TestDownlinkQueueing(t *testing.T) {
	n := mustNew(t, quietConfig(), 5)
	a, b := &scriptEP{}, &scriptEP{}
	aa := n.AddNode(NodeConfig{}, a)
	ba := n.AddNode(NodeConfig{DownBps: 8_000_000}, b)
	for range 10 {
		a.send(ba, make([]byte, 972))
	}
	n.Kick(aa)
	n.Run(time.Second)
	lat := n.Latency(aa, ba)
	if len(b.recv) != 10 {
		t.Fatalf("received %d", len(b.recv))
	}
	for k, d := range b.recv {
		if want := lat + time.Duration(k+1)*time.Millisecond; d.at != want {
			t.Errorf("datagram %d at %v, want %v", k, d.at, want)
		}
	}
}

func TestDropTail(t *testing.T) {
	cfg := quietConfig()
	cfg.QueueLimit = 50 * time.Millisecond
	for _, tt := range []struct {
		name     string
		up, down NodeConfig
	}{
		{"uplink", NodeConfig{UpBps: 8_000_000}, NodeConfig{}},
		{"downlink", NodeConfig{}, NodeConfig{DownBps: 8_000_000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := mustNew(t, cfg, 9)
			a, b := &scriptEP{}, &scriptEP{}
			aa := n.AddNode(tt.up, a)
			ba := n.AddNode(tt.down, b)
			// Datagram k waits k ms; those waiting more than 50 ms drop.
			for range 100 {
				a.send(ba, make([]byte, 972))
			}
			n.Kick(aa)
			n.Run(time.Second)
			if len(b.recv) != 51 {
				t.Errorf("delivered %d, want 51", len(b.recv))
			}
			st := n.Stats(aa)
			if st.DropQueue != 49 || st.DatagramsSent != 100 {
				t.Errorf("sender stats %+v, want 49 queue drops of 100", st)
			}
			// After the queue drains, there is room again.
			a.send(ba, []byte("late"))
			n.Kick(aa)
			n.Run(2 * time.Second)
			if got := b.recv[len(b.recv)-1].payload; string(got) != "late" {
				t.Errorf("last delivery %q, want \"late\"", got)
			}
		})
	}
}

func TestLossRate(t *testing.T) {
	for _, p := range []float64{0, 0.005, 0.05, 0.3} {
		t.Run(fmt.Sprint(p), func(t *testing.T) {
			cfg := quietConfig()
			cfg.LossRate = p
			n := mustNew(t, cfg, 11)
			a, b := &scriptEP{}, &scriptEP{}
			aa := n.AddNode(NodeConfig{}, a)
			ba := n.AddNode(NodeConfig{}, b)
			// Waves further apart than the largest latency keep few
			// datagrams in flight.
			const waves, perWave = 100, 1000
			const total = waves * perWave
			payload := []byte{1}
			for w := range waves {
				n.At(time.Duration(w)*200*time.Millisecond, func(time.Duration) {
					for range perWave {
						a.send(ba, payload)
					}
					n.Kick(aa)
				})
			}
			n.Run(waves * 200 * time.Millisecond)
			got := float64(n.Stats(aa).DropLoss) / total
			sigma := math.Sqrt(p * (1 - p) / total)
			if math.Abs(got-p) > 5*sigma+1e-9 {
				t.Errorf("loss %.5f, want %.5f ± %.5f", got, p, 5*sigma)
			}
			if int64(len(b.recv))+n.Stats(aa).DropLoss != total {
				t.Errorf("delivered %d + lost %d != %d", len(b.recv), n.Stats(aa).DropLoss, total)
			}
		})
	}
}

func TestNATMatrix(t *testing.T) {
	classes := []NATClass{NATOpen, NATCone, NATSymmetric}
	want := map[[2]NATClass]bool{
		{NATOpen, NATOpen}: true, {NATOpen, NATCone}: true, {NATOpen, NATSymmetric}: true,
		{NATCone, NATOpen}: true, {NATCone, NATCone}: true, {NATCone, NATSymmetric}: false,
		{NATSymmetric, NATOpen}: true, {NATSymmetric, NATCone}: false, {NATSymmetric, NATSymmetric}: false,
	}
	for _, ca := range classes {
		for _, cb := range classes {
			t.Run(ca.String()+"-"+cb.String(), func(t *testing.T) {
				n := mustNew(t, quietConfig(), 13)
				a, b := &scriptEP{}, &scriptEP{}
				aa := n.AddNode(NodeConfig{NAT: ca}, a)
				ba := n.AddNode(NodeConfig{NAT: cb}, b)
				ok := want[[2]NATClass{ca, cb}]
				if n.CanConnect(aa, ba) != ok || n.CanConnect(ba, aa) != ok {
					t.Fatalf("CanConnect = %v, want %v", n.CanConnect(aa, ba), ok)
				}
				a.send(ba, []byte("ab"))
				b.send(aa, []byte("ba"))
				n.Kick(aa)
				n.Kick(ba)
				n.Run(time.Second)
				delivered := len(a.recv) + len(b.recv)
				nat := n.Stats(aa).DropNAT + n.Stats(ba).DropNAT
				if ok && (delivered != 2 || nat != 0) || !ok && (delivered != 0 || nat != 2) {
					t.Errorf("delivered %d, NAT drops %d (connectable %v)", delivered, nat, ok)
				}
			})
		}
	}
}

func TestRemoveNodeDropsInFlight(t *testing.T) {
	n := mustNew(t, quietConfig(), 17)
	a, b, c := &scriptEP{}, &scriptEP{}, &scriptEP{}
	aa := n.AddNode(NodeConfig{UpBps: 8_000_000}, a) // 1 ms per datagram
	ba := n.AddNode(NodeConfig{}, b)
	ca := n.AddNode(NodeConfig{UpBps: 8_000_000}, c)
	lat := n.Latency(aa, ba)
	for range 40 {
		a.send(ba, make([]byte, 972))
		c.send(ba, make([]byte, 972))
	}
	n.Kick(aa)
	n.Kick(ca)
	b.deadlines = []time.Duration{time.Hour}
	n.Kick(ba)
	// Datagram k from a is delivered at (k+1) ms + lat. Remove b between
	// the 10th and 11th; remove c (a sender) just after its 5th departure.
	removeB := lat + 10*time.Millisecond + time.Microsecond
	n.At(5*time.Millisecond+time.Microsecond, func(time.Duration) { n.RemoveNode(ca) })
	n.At(removeB, func(time.Duration) { n.RemoveNode(ba) })
	n.Run(time.Second)

	fromA, fromC := 0, 0
	for _, d := range b.recv {
		if d.at > removeB {
			t.Fatalf("delivery at %v after removal at %v", d.at, removeB)
		}
		switch d.peer {
		case aa:
			fromA++
		case ca:
			fromC++
		}
	}
	if fromA != 10 {
		t.Errorf("delivered %d from a, want 10", fromA)
	}
	if fromC != 0 {
		t.Errorf("delivered %d from c, which left before any of its datagrams arrived", fromC)
	}
	if got := n.Stats(aa).DropGone; got != 30 {
		t.Errorf("a DropGone = %d, want 30", got)
	}
	if got := n.Stats(ca).DropGone; got != int64(40-fromC) {
		t.Errorf("c DropGone = %d, want %d", got, 40-fromC)
	}
	if len(b.fired) != 0 {
		t.Errorf("removed node's timer fired at %v", b.fired)
	}
	// Later datagrams to a removed node vanish.
	a.send(ba, []byte("x"))
	n.Kick(aa)
	n.Run(2 * time.Second)
	if got := n.Stats(aa).DropGone; got != 31 {
		t.Errorf("a DropGone = %d after sending to a removed node, want 31", got)
	}
	if n.Alive(ba) || n.Endpoint(ba) != b {
		t.Errorf("Alive/Endpoint wrong after removal")
	}
	if got := n.Totals(); got.DatagramsSent != 81 || got.DatagramsReceived+got.DropGone != 81 {
		t.Errorf("totals %+v do not add up", got)
	}
}

func TestTimersFireAtNextDeadline(t *testing.T) {
	n := mustNew(t, quietConfig(), 19)
	e := &scriptEP{deadlines: []time.Duration{5 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond, 250 * time.Millisecond}}
	addr := n.AddNode(NodeConfig{}, e)
	n.Run(time.Second)
	want := []time.Duration{5 * time.Millisecond, 7 * time.Millisecond, 250 * time.Millisecond}
	if !slices.Equal(e.fired, want) {
		t.Fatalf("fired at %v, want %v", e.fired, want)
	}

	// A deadline moved later on each call fires once, at the last value;
	// one moved earlier fires at the earlier value.
	e.fired = nil
	e.deadlines = []time.Duration{1100 * time.Millisecond}
	n.Kick(addr)
	for k := 1; k <= 5; k++ {
		n.At(time.Second+time.Duration(k)*10*time.Millisecond, func(now time.Duration) {
			e.deadlines[0] = now + 200*time.Millisecond
			n.Kick(addr)
		})
	}
	n.At(1300*time.Millisecond, func(now time.Duration) {
		e.deadlines = []time.Duration{1900 * time.Millisecond}
		n.Kick(addr)
	})
	n.At(1400*time.Millisecond, func(now time.Duration) {
		e.deadlines = []time.Duration{1450 * time.Millisecond}
		n.Kick(addr)
	})
	n.Run(3 * time.Second)
	want = []time.Duration{1250 * time.Millisecond, 1450 * time.Millisecond}
	if !slices.Equal(e.fired, want) {
		t.Fatalf("fired at %v, want %v", e.fired, want)
	}
}

func TestActionsInInsertionOrder(t *testing.T) {
	n := mustNew(t, quietConfig(), 23)
	var order []int
	for i := range 50 {
		at := time.Duration(i%5) * time.Millisecond
		n.At(at, func(now time.Duration) {
			if now != at {
				t.Errorf("action %d at %v, want %v", i, now, at)
			}
			order = append(order, i)
		})
	}
	n.Run(time.Second)
	var want []int
	for ms := range 5 {
		for i := ms; i < 50; i += 5 {
			want = append(want, i)
		}
	}
	if !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if n.Now() != time.Second {
		t.Errorf("Now() = %v after Run(1s)", n.Now())
	}
}

func TestProgressAndStep(t *testing.T) {
	n := mustNew(t, quietConfig(), 29)
	n.AddNode(NodeConfig{}, &scriptEP{deadlines: []time.Duration{30 * time.Millisecond, 420 * time.Millisecond}})
	var calls []time.Duration
	n.SetProgress(100*time.Millisecond, func(now time.Duration) { calls = append(calls, now) })
	n.Run(time.Second)
	if len(calls) != 10 || calls[len(calls)-1] != time.Second || !slices.IsSorted(calls) {
		t.Errorf("progress calls %v", calls)
	}
	n.At(1500*time.Millisecond, func(time.Duration) {})
	if !n.Step() || n.Now() != 1500*time.Millisecond {
		t.Errorf("Step: now %v", n.Now())
	}
	if n.Step() {
		t.Error("Step with no events returned true")
	}
}

func TestReentrantRunPanics(t *testing.T) {
	n := mustNew(t, quietConfig(), 30)
	var got any
	n.At(time.Millisecond, func(now time.Duration) {
		defer func() { got = recover() }()
		n.Run(now + time.Second)
	})
	n.Run(time.Second)
	if got != ErrRunning {
		t.Fatalf("Run inside an action: recovered %v, want ErrRunning", got)
	}
}

// TestPayloadOwnership: the network keeps its own copy of what an endpoint
// returns, whether or not it used the buffer it was given.
func TestPayloadOwnership(t *testing.T) {
	n := mustNew(t, quietConfig(), 31)
	own := make([]byte, 2000)
	for i := range own {
		own[i] = byte(i)
	}
	b := &scriptEP{}
	var ba netip.AddrPort
	sent := 0
	src := &funcEP{poll: func(buf []byte) (netip.AddrPort, []byte, bool) {
		sent++
		switch sent {
		case 1:
			return ba, own[:100], true // the endpoint's own memory
		case 2:
			return ba, append(buf[:0], own...), true // larger than the pool buffer
		}
		return netip.AddrPort{}, nil, false
	}}
	ba = n.AddNode(NodeConfig{}, b)
	n.AddNode(NodeConfig{}, src)
	clear(own) // after PollTransmit: must not change what is delivered
	n.Run(time.Second)
	if len(b.recv) != 2 || len(b.recv[0].payload) != 100 || len(b.recv[1].payload) != 2000 {
		t.Fatalf("received %d datagrams", len(b.recv))
	}
	for i, c := range b.recv[0].payload {
		if c != byte(i) {
			t.Fatalf("payload byte %d changed to %d", i, c)
		}
	}
	for i, c := range b.recv[1].payload {
		if c != byte(i) {
			t.Fatalf("large payload byte %d = %d", i, c)
		}
	}
}

type funcEP struct {
	poll func(buf []byte) (netip.AddrPort, []byte, bool)
}

func (e *funcEP) HandleDatagram(time.Duration, netip.AddrPort, []byte) {}
func (e *funcEP) HandleTimeout(time.Duration)                          {}
func (e *funcEP) NextDeadline() time.Duration                          { return -1 }
func (e *funcEP) PollTransmit(buf []byte) (netip.AddrPort, []byte, bool) {
	return e.poll(buf)
}

// runTrace runs a small swarm of stub endpoints with loss, jitter, NAT and
// churn and returns a hash of every delivery each node saw.
func runTrace(t testing.TB, seed uint64) (uint64, NodeStats, uint64) {
	cfg := DefaultConfig()
	cfg.Jitter = 5 * time.Millisecond
	cfg.LossRate = 0.02
	n := mustNew(t, cfg, seed)
	var peers []netip.AddrPort
	var eps []*stubEP
	for i := range 40 {
		ep := newStubEP(&peers, seed*1000+uint64(i), 20*time.Millisecond, 3, 1100, true)
		ep.hashPayload = true
		eps = append(eps, ep)
		nc := NodeConfig{UpBps: 2_000_000 + int64(i)*100_000, DownBps: 8_000_000, NAT: NATClass(i % 3)}
		peers = append(peers, n.AddNode(nc, ep))
	}
	n.At(700*time.Millisecond, func(time.Duration) { n.RemoveNode(peers[3]) })
	n.Run(2 * time.Second)
	h := uint64(14695981039346656037)
	for _, ep := range eps {
		h = (h ^ ep.trace) * 1099511628211
	}
	return h, n.Totals(), n.Events()
}

// TestSlotBytes checks that an endpoint is handed slots of Config.SlotBytes
// (rounded up to cache lines), so a datagram that size is written in place,
// and that datagrams of every size arrive intact.
func TestSlotBytes(t *testing.T) {
	for _, slot := range []int{1500, 4800} {
		cfg := quietConfig()
		cfg.SlotBytes = slot
		n := mustNew(t, cfg, 7)
		sizes := []int{100, 1400, 4736, 9000}
		b := &scriptEP{}
		var ba netip.AddrPort
		var caps []int
		src := &funcEP{poll: func(buf []byte) (netip.AddrPort, []byte, bool) {
			if len(caps) == len(sizes) {
				return netip.AddrPort{}, nil, false
			}
			k := len(caps)
			caps = append(caps, cap(buf))
			d := buf[:0]
			for i := range sizes[k] {
				d = append(d, byte(i*(k+1)))
			}
			return ba, d, true
		}}
		ba = n.AddNode(NodeConfig{}, b)
		n.AddNode(NodeConfig{}, src)
		n.Run(time.Second)
		want := (slot + 63) &^ 63
		for k, c := range caps {
			if c != want {
				t.Errorf("SlotBytes %d: datagram %d was given a buffer of %d bytes, want %d", slot, k, c, want)
			}
		}
		if len(b.recv) != len(sizes) {
			t.Fatalf("SlotBytes %d: received %d of %d datagrams", slot, len(b.recv), len(sizes))
		}
		for k, r := range b.recv {
			if len(r.payload) != sizes[k] {
				t.Fatalf("SlotBytes %d: datagram %d is %d bytes, want %d", slot, k, len(r.payload), sizes[k])
			}
			for i, c := range r.payload {
				if c != byte(i*(k+1)) {
					t.Fatalf("SlotBytes %d: datagram %d byte %d = %d", slot, k, i, c)
				}
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	h1, s1, e1 := runTrace(t, 42)
	h2, s2, e2 := runTrace(t, 42)
	if h1 != h2 || s1 != s2 || e1 != e2 {
		t.Fatalf("same seed, different runs: %x %x, %+v %+v, %d %d", h1, h2, s1, s2, e1, e2)
	}
	h3, s3, _ := runTrace(t, 43)
	if h3 == h1 {
		t.Fatalf("different seeds gave the same trace %x", h1)
	}
	// The run must have exercised every path.
	for _, s := range []NodeStats{s1, s3} {
		if s.DatagramsReceived == 0 || s.DropLoss == 0 || s.DropNAT == 0 || s.DropGone == 0 {
			t.Errorf("trace run did not exercise all paths: %+v", s)
		}
	}
}

func TestSteadyStateAllocations(t *testing.T) {
	cfg := DefaultConfig()
	n := mustNew(t, cfg, 1)
	var peers []netip.AddrPort
	for i := range 50 {
		ep := newStubEP(&peers, uint64(i), 5*time.Millisecond, 5, 1100, true)
		peers = append(peers, n.AddNode(NodeConfig{UpBps: 20_000_000, DownBps: 50_000_000}, ep))
	}
	n.Run(time.Second) // warm the pools
	before := n.Totals().DatagramsReceived
	allocs := testing.AllocsPerRun(3, func() { n.Run(n.Now() + 100*time.Millisecond) })
	delivered := n.Totals().DatagramsReceived - before
	if delivered < 20_000 {
		t.Fatalf("only %d datagrams delivered", delivered)
	}
	// A few allocations per run may come from pools growing by a slot;
	// none may come per datagram.
	if perDatagram := allocs * 4 / float64(delivered); perDatagram > 0.001 {
		t.Errorf("%.1f allocations per 100 ms run, %.4f per datagram", allocs, perDatagram)
	}
}
