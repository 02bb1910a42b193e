package node

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/transport/udp"
)

// relayWindow bounds the chunks published but not yet at the last viewer,
// so the run measures steady relaying rather than queues.
const relayWindow = 128

// BenchmarkRelay streams live chunks origin → viewer A → viewer B over real
// Noise/UDP sockets on 127.0.0.1, each engine on its own Driver as in
// `shoal serve` and `shoal play`: the origin pushes every chunk to A, B
// knows only A and requests every chunk from it. An op is one 16 KiB chunk
// verified at B. MB/s is what B receives; cpu-s/GiB is the CPU time of the
// whole process (signing at the origin, two Noise hops, verification at A
// and at B, the three engines) per GiB delivered.
func BenchmarkRelay(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	id := integrity.SwarmID(pub, "bench")
	signer, err := integrity.NewSigner(priv, id)
	if err != nil {
		b.Fatal(err)
	}
	// A nominal rate near what flows, and a one-second window, so that chunk
	// buffers are given back and reused as in a real stream rather than
	// hundreds of megabytes being touched once.
	const chunkBytes = 16384
	desc := core.SwarmDescriptor{Kind: core.Live, ID: id, ChunkBytes: chunkBytes, RateBps: 100_000_000, OriginKey: pub}
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	var atB atomic.Int64
	gotB := make(chan struct{}, 1)
	newNode := func(origin bool, mutate func(*core.Config), onEvent func(time.Duration, *core.Engine, core.Event)) (*Driver, *udp.Conn) {
		ident, err := udp.NewIdentity(nil)
		if err != nil {
			b.Fatal(err)
		}
		conn, err := udp.Listen("127.0.0.1:0", ident, udp.Options{})
		if err != nil {
			b.Fatal(err)
		}
		cfg := core.DefaultConfig()
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), 1))
		cfg.PeerID = ident.PeerID()
		cfg.UnixEpochUs = start.UnixMicro()
		cfg.LiveWindow = time.Second
		cfg.AdvertisedUploadBps = 1_000_000_000
		if mutate != nil {
			mutate(&cfg)
		}
		e, err := core.NewEngine(cfg)
		if err != nil {
			b.Fatal(err)
		}
		d := desc
		d.Origin = origin
		if err := e.AddSwarm(0, d); err != nil {
			b.Fatal(err)
		}
		drv := NewDriver(DriverConfig{Conn: conn, Engine: e, Start: start, OnEvent: onEvent})
		wg.Add(1)
		go func() {
			defer wg.Done()
			drv.Run(ctx)
			conn.Close()
		}()
		return drv, conn
	}
	org, orgConn := newNode(true, nil, nil)
	relay, relayConn := newNode(false, nil, nil)
	sink, _ := newNode(false, func(c *core.Config) { c.MinPeers, c.MaxPeers = 1, 1 },
		func(_ time.Duration, _ *core.Engine, ev core.Event) {
			if ev.Kind == core.EventChunk {
				atB.Add(1)
				select {
				case gotB <- struct{}{}:
				default:
				}
			}
		})
	if err := relay.Post(ctx, func(now time.Duration, e *core.Engine) { _ = e.AddPeer(now, id, orgConn.LocalAddr()) }); err != nil {
		b.Fatal(err)
	}
	if err := sink.Post(ctx, func(now time.Duration, e *core.Engine) { _ = e.AddPeer(now, id, relayConn.LocalAddr()) }); err != nil {
		b.Fatal(err)
	}

	// publish once the chain is connected: the origin pushes only to peers
	// it has, and answers others only when they are in trouble
	peers := func(d *Driver) (n int) {
		_ = d.Call(ctx, func(_ time.Duration, e *core.Engine) {
			st, _ := e.SwarmStats(id)
			n = st.Peers
		})
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); peers(org) < 1 || peers(relay) < 2 || peers(sink) < 1; {
		if time.Now().After(deadline) {
			b.Fatal("the three engines did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}

	data := make([]byte, chunkBytes)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var seq uint64
	publish := func() {
		ts := time.Now().UnixMicro()
		flags := uint8(0)
		if seq%8 == 0 {
			flags = 1 // a random-access point now and then, as a real stream has
		}
		m := integrity.ChunkMeta{Seq: seq, TimestampUs: ts, Flags: flags, Length: chunkBytes}
		sig, err := signer.Sign(m, data)
		if err != nil {
			b.Fatal(err)
		}
		s := seq
		meta := core.ChunkMeta{TimestampUs: ts, Flags: flags, Length: chunkBytes, Signature: sig}
		if err := org.Post(ctx, func(now time.Duration, e *core.Engine) { _ = e.Publish(now, id, s, meta, data) }); err != nil {
			b.Fatal(err)
		}
		seq++
	}
	// run publishes until n chunks have reached B, at most relayWindow ahead
	run := func(n int64) {
		for atB.Load() < n {
			for int64(seq) < n && int64(seq)-atB.Load() < relayWindow {
				publish()
			}
			select {
			case <-gotB:
			case <-time.After(10 * time.Second):
				for i, d := range []*Driver{org, relay, sink} {
					_ = d.Call(ctx, func(_ time.Duration, e *core.Engine) {
						st, _ := e.SwarmStats(id)
						b.Logf("%s: %+v", [...]string{"origin", "A", "B"}[i], st)
					})
				}
				b.Fatalf("stalled: %d chunks published, %d at the last viewer", seq, atB.Load())
			}
		}
	}
	run(1024) // warm up: handshakes, slow start, buffers in use
	cpu0, cpuOK := processCPU()
	base := atB.Load()
	b.SetBytes(chunkBytes)
	b.ResetTimer()
	run(base + int64(b.N))
	b.StopTimer()
	if cpu1, ok := processCPU(); ok && cpuOK {
		gib := float64(b.N) * chunkBytes / (1 << 30)
		b.ReportMetric((cpu1-cpu0).Seconds()/gib, "cpu-s/GiB")
	}
}
