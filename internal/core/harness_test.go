package core_test

import (
	"container/heap"
	"crypto/ed25519"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
)

// pipeNet is a minimal deterministic network for engine tests: fixed
// latency, optional loss, no capacity limits. The simulator models more.
type pipeNet struct {
	t       *testing.T
	now     time.Duration
	latency time.Duration
	loss    float64
	rng     *rand.Rand
	nodes   map[netip.AddrPort]*pipeNode
	order   []*pipeNode
	q       pipeQueue
	seq     uint64
	filter  func(from, to netip.AddrPort, b []byte) []byte
}

type pipeNode struct {
	addr    netip.AddrPort
	e       *core.Engine
	events  []core.Event
	onEvent func(now time.Duration, ev core.Event)
	dead    bool
}

type pipeItem struct {
	at       time.Duration
	seq      uint64
	to, from netip.AddrPort
	b        []byte
	fn       func()
}

type pipeQueue []pipeItem

func (q pipeQueue) Len() int { return len(q) }
func (q pipeQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q pipeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pipeQueue) Push(x any)   { *q = append(*q, x.(pipeItem)) }
func (q *pipeQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func newPipeNet(t *testing.T, seed uint64) *pipeNet {
	return &pipeNet{t: t, latency: 20 * time.Millisecond, rng: rand.New(rand.NewPCG(seed, 1)), nodes: map[netip.AddrPort]*pipeNode{}}
}

func (n *pipeNet) add(cfg core.Config) *pipeNode {
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(n.rng.Uint64(), 2))
	}
	e, err := core.NewEngine(cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, 0, byte(len(n.order) + 1)}), 4000)
	nd := &pipeNode{addr: addr, e: e}
	n.nodes[addr] = nd
	n.order = append(n.order, nd)
	n.schedule(0, func() { n.kick(nd) })
	return nd
}

func (n *pipeNet) schedule(at time.Duration, fn func()) {
	n.seq++
	heap.Push(&n.q, pipeItem{at: at, seq: n.seq, fn: fn})
}

// kick drains a node after any call into its engine.
func (n *pipeNet) kick(nd *pipeNode) {
	if nd.dead {
		return
	}
	buf := make([]byte, 0, 1500)
	for {
		to, b, ok := nd.e.PollTransmit(buf)
		if !ok {
			break
		}
		if n.filter != nil {
			b = n.filter(nd.addr, to, b)
			if b == nil {
				continue
			}
		}
		if n.loss > 0 && n.rng.Float64() < n.loss {
			continue
		}
		n.seq++
		heap.Push(&n.q, pipeItem{at: n.now + n.latency, seq: n.seq, to: to, from: nd.addr, b: append([]byte(nil), b...)})
	}
	for {
		ev, ok := nd.e.PollEvent()
		if !ok {
			break
		}
		if ev.Data != nil {
			ev.Data = append([]byte(nil), ev.Data...)
		}
		nd.events = append(nd.events, ev)
		if nd.onEvent != nil {
			nd.onEvent(n.now, ev)
		}
	}
	dl := nd.e.NextDeadline()
	if dl >= 0 {
		at := max(dl, n.now)
		n.schedule(at, func() {
			if nd.e.NextDeadline() <= n.now {
				nd.e.HandleTimeout(n.now)
				n.kick(nd)
			}
		})
	}
}

func (n *pipeNet) run(until time.Duration) {
	for n.q.Len() > 0 {
		it := heap.Pop(&n.q).(pipeItem)
		if it.at > until {
			heap.Push(&n.q, it)
			n.now = until
			return
		}
		n.now = it.at
		if it.fn != nil {
			it.fn()
			continue
		}
		nd := n.nodes[it.to]
		if nd == nil || nd.dead {
			continue
		}
		nd.e.HandleDatagram(n.now, it.from, it.b)
		n.kick(nd)
	}
	n.now = until
}

// liveFixture is an origin publishing a synthetic stream and some viewers.
type liveFixture struct {
	net    *pipeNet
	origin *pipeNode
	desc   core.SwarmDescriptor
	signer *integrity.Signer
	chunks map[uint64][]byte
	meta   map[uint64]core.ChunkMeta
}

const testRateBps = 2_000_000

func newLiveFixture(t *testing.T, seed uint64, viewers int, mutate func(*core.Config)) (*liveFixture, []*pipeNode) {
	n := newPipeNet(t, seed)
	var keySeed [32]byte
	keySeed[0] = byte(seed)
	priv := ed25519.NewKeyFromSeed(keySeed[:])
	pub := priv.Public().(ed25519.PublicKey)
	id := integrity.SwarmID(pub, "test")
	signer, err := integrity.NewSigner(priv, id)
	if err != nil {
		t.Fatal(err)
	}
	desc := core.SwarmDescriptor{Kind: core.Live, ID: id, ChunkBytes: 16356, RateBps: testRateBps, OriginKey: pub}
	f := &liveFixture{net: n, desc: desc, signer: signer, chunks: map[uint64][]byte{}, meta: map[uint64]core.ChunkMeta{}}
	ocfg := core.DefaultConfig()
	ocfg.OriginFanout = 2
	ocfg.UnixEpochUs = 1 // origin timestamps are engine time + 1µs: a shared clock
	f.origin = n.add(ocfg)
	od := desc
	od.Origin = true
	if err := f.origin.e.AddSwarm(0, od); err != nil {
		t.Fatal(err)
	}
	var vs []*pipeNode
	for i := 0; i < viewers; i++ {
		cfg := core.DefaultConfig()
		cfg.UnixEpochUs = 1
		if mutate != nil {
			mutate(&cfg)
		}
		v := n.add(cfg)
		if err := v.e.AddSwarm(0, desc); err != nil {
			t.Fatal(err)
		}
		if err := v.e.AddPeer(0, id, f.origin.addr); err != nil {
			t.Fatal(err)
		}
		for _, w := range vs {
			v.e.AddPeer(0, id, w.addr)
		}
		vs = append(vs, v)
	}
	return f, vs
}

// produce publishes one chunk per chunk time until `until`, a keyframe
// every 15 chunks.
func (f *liveFixture) produce(until time.Duration) {
	dur := time.Duration(int64(f.desc.ChunkBytes) * 8 * int64(time.Second) / f.desc.RateBps)
	var seq uint64
	var tick func()
	rng := rand.New(rand.NewPCG(9, 9))
	tick = func() {
		now := f.net.now
		data := make([]byte, f.desc.ChunkBytes)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		var flags uint8
		if seq%15 == 0 {
			flags = 1
		}
		m := integrity.ChunkMeta{Seq: seq, TimestampUs: int64(now/time.Microsecond) - 1, Flags: flags, Length: uint32(len(data))}
		sig, err := f.signer.Sign(m, data)
		if err != nil {
			f.net.t.Fatal(err)
		}
		f.chunks[seq] = data
		f.meta[seq] = core.ChunkMeta{TimestampUs: m.TimestampUs, Flags: flags, Length: m.Length, Signature: sig}
		if err := f.origin.e.Publish(now, f.desc.ID, seq, f.meta[seq], data); err != nil {
			f.net.t.Fatal(err)
		}
		f.net.kick(f.origin)
		seq++
		if now+dur < until {
			f.net.schedule(now+dur, tick)
		}
	}
	f.net.schedule(100*time.Millisecond, tick)
}
