package node

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/edcheck"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/transport/udp"
)

// relayWindow bounds the chunks published beyond those the last viewers
// have received, so the run measures steady relaying rather than queues,
// and the relay is not made to verify chunks nobody downstream takes.
const relayWindow = 128

// relayChunkBytes is the live chunk size, 16 KiB as the origin cuts, or
// SHOAL_RELAY_CHUNK_BYTES (the child process of BenchmarkRelayNode
// inherits it) to see how the per-chunk costs scale.
var relayChunkBytes = func() int {
	if n, err := strconv.Atoi(os.Getenv("SHOAL_RELAY_CHUNK_BYTES")); err == nil && n > 0 {
		return n
	}
	return 16384
}()

// relayDesc is the swarm every benchmark node joins: a nominal rate near
// what flows, so that timestamps and deadlines stay plausible.
func relayDesc(pub ed25519.PublicKey) core.SwarmDescriptor {
	return core.SwarmDescriptor{Kind: core.Live, ID: integrity.SwarmID(pub, "bench"), ChunkBytes: relayChunkBytes, RateBps: 100_000_000, OriginKey: pub}
}

// relayNodes starts engines on their own Drivers and Noise/UDP sockets on
// 127.0.0.1, as `shoal serve` and `shoal play` do, and stops them all.
type relayNodes struct {
	tb    testing.TB
	desc  core.SwarmDescriptor
	start time.Time
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

func newRelayNodes(tb testing.TB, desc core.SwarmDescriptor, start time.Time) *relayNodes {
	ctx, cancel := context.WithCancel(context.Background())
	return &relayNodes{tb: tb, desc: desc, start: start, ctx: ctx, stop: cancel}
}

func (r *relayNodes) close() { r.stop(); r.wg.Wait() }

// add starts one node. A one-second window makes chunk buffers go back and
// be reused as in a real stream rather than hundreds of megabytes being
// touched once.
func (r *relayNodes) add(origin bool, mutate func(*core.Config), onEvent func(time.Duration, *core.Engine, core.Event)) (*Driver, *udp.Conn) {
	tb := r.tb
	ident, err := udp.NewIdentity(nil)
	if err != nil {
		tb.Fatal(err)
	}
	conn, err := udp.Listen("127.0.0.1:0", ident, udp.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := core.DefaultConfig()
	cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), 1))
	cfg.PeerID = ident.PeerID()
	cfg.UnixEpochUs = r.start.UnixMicro()
	cfg.LiveWindow = time.Second
	cfg.AdvertisedUploadBps = 1_000_000_000
	cfg.Integrity = edcheck.Integrity{} // as shoal play
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := core.NewEngine(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	d := r.desc
	d.Origin = origin
	if err := e.AddSwarm(0, d); err != nil {
		tb.Fatal(err)
	}
	drv := NewDriver(DriverConfig{Conn: conn, Engine: e, Start: r.start, OnEvent: onEvent})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		drv.Run(r.ctx)
		conn.Close()
	}()
	return drv, conn
}

// peers is how many neighbours d's engine has in the swarm.
func (r *relayNodes) peers(d *Driver) (n int) {
	_ = d.Call(r.ctx, func(_ time.Duration, e *core.Engine) {
		st, _ := e.SwarmStats(r.desc.ID)
		n = st.Peers
	})
	return n
}

// relayRun publishes signed chunks at the origin and counts those verified
// at the last viewers (the sinks).
type relayRun struct {
	b      *testing.B
	nodes  *relayNodes
	org    *Driver
	signer *integrity.Signer
	data   []byte
	seq    uint64

	sinks int          // last viewers, each fed by the relay
	atB   atomic.Int64 // chunks verified at the last viewers, summed
	gotB  chan struct{}
	stuck func() // logs the engines' state when the run stalls
}

func newRelayRun(b *testing.B, nodes *relayNodes, org *Driver, signer *integrity.Signer) *relayRun {
	data := make([]byte, relayChunkBytes)
	for i := range data {
		data[i] = byte(i * 7)
	}
	return &relayRun{b: b, nodes: nodes, org: org, signer: signer, data: data, sinks: 1, gotB: make(chan struct{}, 1)}
}

// onSink is the last viewers' OnEvent.
func (r *relayRun) onSink(_ time.Duration, _ *core.Engine, ev core.Event) {
	if ev.Kind != core.EventChunk {
		return
	}
	r.atB.Add(1)
	select {
	case r.gotB <- struct{}{}:
	default:
	}
}

func (r *relayRun) publish() {
	b := r.b
	ts := time.Now().UnixMicro()
	flags := uint8(0)
	if r.seq%8 == 0 {
		flags = 1 // a random-access point now and then, as a real stream has
	}
	m := integrity.ChunkMeta{Seq: r.seq, TimestampUs: ts, Flags: flags, Length: uint32(relayChunkBytes)}
	sig, err := r.signer.Sign(m, r.data)
	if err != nil {
		b.Fatal(err)
	}
	s, id := r.seq, r.nodes.desc.ID
	meta := core.ChunkMeta{TimestampUs: ts, Flags: flags, Length: uint32(relayChunkBytes), Signature: sig}
	if err := r.org.Post(r.nodes.ctx, func(now time.Duration, e *core.Engine) { _ = e.Publish(now, id, s, meta, r.data) }); err != nil {
		b.Fatal(err)
	}
	r.seq++
}

// run publishes, as a live stream does, until n chunks in all have been
// verified at the last viewers, keeping at most relayWindow chunks ahead of
// what each has received. (A viewer skips what it joined too late to play,
// so the count is of chunks received, not of a prefix of the stream.)
func (r *relayRun) run(n int64) {
	for r.atB.Load() < n {
		for r.seq < uint64(r.atB.Load()/int64(r.sinks))+relayWindow {
			r.publish()
		}
		select {
		case <-r.gotB:
		case <-time.After(10 * time.Second):
			if r.stuck != nil {
				r.stuck()
			}
			r.b.Fatalf("stalled: %d chunks published, %d at the last viewer", r.seq, r.atB.Load())
		}
	}
}

func relayKeys(b *testing.B) (core.SwarmDescriptor, *integrity.Signer) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	desc := relayDesc(pub)
	signer, err := integrity.NewSigner(priv, desc.ID)
	if err != nil {
		b.Fatal(err)
	}
	return desc, signer
}

func waitConnected(b *testing.B, want func() bool) {
	for deadline := time.Now().Add(10 * time.Second); !want(); {
		if time.Now().After(deadline) {
			b.Fatal("the engines did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkRelay streams live chunks origin → viewer A → viewer B over real
// Noise/UDP sockets on 127.0.0.1, each engine on its own Driver, all in this
// process: the origin pushes every chunk to A, B knows only A and requests
// every chunk from it. An op is one 16 KiB chunk verified at B. MB/s is what
// B receives; cpu-s/GiB is the CPU time of the whole process (signing at the
// origin, two Noise hops, verification at A and at B, the three engines) per
// GiB delivered. BenchmarkRelayNode measures A alone.
func BenchmarkRelay(b *testing.B) {
	desc, signer := relayKeys(b)
	nodes := newRelayNodes(b, desc, time.Now())
	defer nodes.close()
	org, orgConn := nodes.add(true, nil, nil)
	relay, relayConn := nodes.add(false, nil, nil)
	r := newRelayRun(b, nodes, org, signer)
	sink, _ := nodes.add(false, func(c *core.Config) { c.MinPeers, c.MaxPeers = 1, 1 }, r.onSink)
	id := desc.ID
	if err := relay.Post(nodes.ctx, func(now time.Duration, e *core.Engine) { _ = e.AddPeer(now, id, orgConn.LocalAddr()) }); err != nil {
		b.Fatal(err)
	}
	if err := sink.Post(nodes.ctx, func(now time.Duration, e *core.Engine) { _ = e.AddPeer(now, id, relayConn.LocalAddr()) }); err != nil {
		b.Fatal(err)
	}
	// publish once the chain is connected: the origin pushes only to peers
	// it has, and answers others only when they are in trouble
	waitConnected(b, func() bool {
		return nodes.peers(org) >= 1 && nodes.peers(relay) >= 2 && nodes.peers(sink) >= 1
	})
	r.stuck = func() {
		for i, d := range []*Driver{org, relay, sink} {
			_ = d.Call(nodes.ctx, func(_ time.Duration, e *core.Engine) {
				st, _ := e.SwarmStats(id)
				b.Logf("%s: %+v", [...]string{"origin", "A", "B"}[i], st)
			})
		}
	}

	r.run(1024) // warm up: handshakes, slow start, buffers in use
	cpu0, cpuOK := processCPU()
	base := r.atB.Load()
	b.SetBytes(int64(relayChunkBytes))
	b.ResetTimer()
	r.run(base + int64(b.N))
	b.StopTimer()
	if cpu1, ok := processCPU(); ok && cpuOK {
		gib := float64(b.N) * float64(relayChunkBytes) / (1 << 30)
		b.ReportMetric((cpu1-cpu0).Seconds()/gib, "cpu-s/GiB")
	}
}
