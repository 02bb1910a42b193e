package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/keyfile"
	"github.com/shoalstream/shoal/internal/origin"
	"github.com/shoalstream/shoal/internal/tracker"
	"github.com/shoalstream/shoal/internal/transport/udp"
)

// ErrConfig is wrapped by every configuration error of this package.
var ErrConfig = errors.New("node: invalid configuration")

// StreamSource names one pulled stream: NAME=URL on the command line.
type StreamSource struct {
	Name string
	// URL is an HLS playlist (.m3u8) or a progressive MPEG-TS URL; empty
	// makes a push stream.
	URL string
}

// OriginConfig configures StartOrigin.
type OriginConfig struct {
	HTTPAddr string // ingest, booster, tracker, API, metrics; default ":8080"
	UDPAddr  string // the swarm seed; default ":8081"
	DataDir  string // keys; required
	Streams  []StreamSource
	// Variant picks the variant of HLS master playlists (see origin.HLSSource).
	Variant string
	// PushKey enables push ingest; with it, a push to a new name creates the
	// stream.
	PushKey string
	// MaxUploadBps caps the origin's media egress, seed and booster together
	// (0 = no cap).
	MaxUploadBps int64
	// Window is how much recent stream is kept in memory; default 30 s.
	Window time.Duration
	// FilesDir is published on demand, file by file, and scanned for new
	// files; "" publishes only what POST /api/files adds.
	FilesDir string
	// Progress shows a progress bar for every file hashed; nil is silent.
	Progress io.Writer
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Validate names the first bad field.
func (c *OriginConfig) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: DataDir is empty, want a directory for keys", ErrConfig)
	}
	if c.MaxUploadBps < 0 {
		return fmt.Errorf("%w: MaxUploadBps = %d, want >= 0", ErrConfig, c.MaxUploadBps)
	}
	if c.Window != 0 && (c.Window < time.Second || c.Window > 10*time.Minute) {
		return fmt.Errorf("%w: Window = %v, want 1s..10m", ErrConfig, c.Window)
	}
	seen := map[string]bool{}
	for _, s := range c.Streams {
		if seen[s.Name] {
			return fmt.Errorf("%w: stream %q given twice", ErrConfig, s.Name)
		}
		seen[s.Name] = true
		if s.URL != "" {
			if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return fmt.Errorf("%w: stream %q: source %q, want an http(s) URL", ErrConfig, s.Name, s.URL)
			}
		}
	}
	return nil
}

// Origin is a running `shoal serve`.
type Origin struct {
	cfg     OriginConfig
	log     *slog.Logger
	ctx     context.Context
	key     integrity.Hash
	priv    []byte
	conn    *udp.Conn
	drv     *Driver
	trk     *tracker.Tracker
	srv     *origin.Server
	httpSrv *http.Server
	httpLn  net.Listener
	budget  *origin.Budget
	files   *origin.Files
	seeds   *vodSeeds
	wg      sync.WaitGroup
}

// seedStream is the engine side of one stream; its fields are used on the
// engine's goroutine only.
type seedStream struct {
	live    *origin.Live
	added   bool
	nextPub uint64
	// wake publishes again when a chunk stamped in the future is due
	wake   func(after time.Duration)
	waking bool
}

func newRand() *mrand.Rand {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])))
}

// StartOrigin opens the origin's sockets and starts its streams; it runs
// until ctx ends. Wait returns when it has shut down.
func StartOrigin(ctx context.Context, cfg OriginConfig) (*Origin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = ":8080"
	}
	if cfg.UDPAddr == "" {
		cfg.UDPAddr = ":8081"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Window == 0 {
		cfg.Window = origin.DefaultWindow
	}
	priv, err := keyfile.LoadOrCreate(filepath.Join(cfg.DataDir, "origin.key"))
	if err != nil {
		return nil, fmt.Errorf("node: origin key: %w", err)
	}
	id, err := udp.LoadOrCreateIdentity(filepath.Join(cfg.DataDir, "udp.key"))
	if err != nil {
		return nil, fmt.Errorf("node: UDP identity: %w", err)
	}
	o := &Origin{cfg: cfg, log: cfg.Logger, ctx: ctx, priv: priv,
		budget: origin.NewBudget(cfg.MaxUploadBps)}
	start := time.Now()
	ecfg := core.DefaultConfig()
	ecfg.Rand = newRand()
	ecfg.PeerID = id.PeerID()
	// One budget: the seed may use three quarters of it; the booster takes
	// what the seed leaves, and never less than the last quarter.
	ecfg.MaxUploadBps = cfg.MaxUploadBps * 3 / 4
	ecfg.AdvertisedUploadBps = ecfg.MaxUploadBps
	ecfg.MinPeers, ecfg.MaxPeers = 1, 200
	ecfg.LiveWindow = cfg.Window
	ecfg.UnixEpochUs = start.UnixMicro()
	eng, err := core.NewEngine(ecfg)
	if err != nil {
		return nil, fmt.Errorf("node: origin engine: %w", err)
	}
	tcfg := tracker.DefaultConfig()
	tcfg.Interval = 15 * time.Second
	if o.trk, err = tracker.New(tcfg); err != nil {
		return nil, fmt.Errorf("node: tracker: %w", err)
	}
	if o.conn, err = udp.Listen(cfg.UDPAddr, id, udp.Options{Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("node: origin UDP: %w", err)
	}
	o.drv = NewDriver(DriverConfig{Conn: o.conn, Engine: eng, Start: start, Logger: cfg.Logger,
		OnSend: func(_ netip.AddrPort, b []byte) { o.budget.Spend(len(b) + udp.Overhead) }})
	filesHandler, err := o.startFiles()
	if err != nil {
		o.conn.Close()
		return nil, err
	}
	o.srv, err = origin.NewServer(origin.ServerConfig{
		PushKey: cfg.PushKey, Tracker: o.trk, Budget: o.budget, SeedPort: int(o.conn.LocalAddr().Port()),
		SeedBytes: o.seedBytes, Create: o.createPush, Files: filesHandler, Logger: cfg.Logger,
	})
	if err != nil {
		o.conn.Close()
		return nil, err
	}
	if o.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		o.conn.Close()
		return nil, fmt.Errorf("node: origin HTTP: %w", err)
	}
	o.httpSrv = &http.Server{Handler: o.srv, ReadHeaderTimeout: 10 * time.Second}
	drvCtx, stopDrv := context.WithCancel(context.Background())
	o.wg.Add(1)
	go func() { defer o.wg.Done(); o.drv.Run(drvCtx) }()
	go func() { _ = o.httpSrv.Serve(o.httpLn) }()
	for _, s := range cfg.Streams {
		if _, _, err := o.addStream(s, true); err != nil {
			o.log.Error("stream not started", "stream", s.Name, "err", err)
		}
	}
	o.runFiles(ctx)
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = o.httpSrv.Shutdown(sctx)
		cancel()
		_ = o.httpSrv.Close()
		stopDrv()
		<-o.drv.Done()
		o.closeSeeds()
		_ = o.conn.Close()
	}()
	return o, nil
}

// HTTPAddr is the address the HTTP side listens on.
func (o *Origin) HTTPAddr() net.Addr { return o.httpLn.Addr() }

// UDPAddr is the swarm seed's address.
func (o *Origin) UDPAddr() netip.AddrPort { return o.conn.LocalAddr() }

// Server is the origin's HTTP handler.
func (o *Origin) Server() *origin.Server { return o.srv }

// Wait returns once the origin has shut down after its context ended.
func (o *Origin) Wait() { o.wg.Wait() }

func (o *Origin) createPush(name string) (*origin.Live, *origin.Ingest, error) {
	return o.addStream(StreamSource{Name: name}, false)
}

// addStream starts one stream: live buffer, ingest, tracker entry; the
// engine's swarm follows once the stream's rate is measured.
func (o *Origin) addStream(s StreamSource, serve bool) (*origin.Live, *origin.Ingest, error) {
	var src origin.Source
	if s.URL != "" {
		if isPlaylist(s.URL) {
			src = &origin.HLSSource{URL: s.URL, Variant: o.cfg.Variant, Logger: o.log}
		} else {
			src = &origin.TSSource{URL: s.URL}
		}
	}
	st := &seedStream{}
	st.wake = func(after time.Duration) {
		time.AfterFunc(after, func() {
			_ = o.drv.Post(o.ctx, func(now time.Duration, e *core.Engine) {
				st.waking = false
				st.publish(now, e)
			})
		})
	}
	live, err := origin.NewLive(origin.LiveConfig{Name: s.Name, Key: o.priv, Window: o.cfg.Window,
		OnChunk: func(origin.SignedChunk) { _ = o.drv.Post(o.ctx, st.publish) }})
	if err != nil {
		return nil, nil, err
	}
	st.live = live
	icfg := origin.DefaultIngestConfig(s.Name, src)
	icfg.Logger = o.log
	in, err := origin.NewIngest(icfg, live.Sink)
	if err != nil {
		return nil, nil, err
	}
	if serve {
		if err := o.srv.AddStream(live, in); err != nil {
			return nil, nil, err
		}
	}
	id := live.SwarmID()
	o.trk.AddSwarm(id)
	if a := o.conn.LocalAddr(); a.Addr().IsValid() && !a.Addr().IsUnspecified() {
		_ = o.trk.AddSeed(id, a)
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		if err := in.Run(o.ctx); err != nil && !errors.Is(err, context.Canceled) {
			o.log.Warn("ingest ended", "stream", s.Name, "err", err)
		}
	}()
	o.log.Info("stream", "name", s.Name, "source", cmp(s.URL, "push"), "swarm", id)
	return live, in, nil
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func isPlaylist(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	return strings.HasSuffix(strings.ToLower(p.Path), ".m3u8") || strings.HasSuffix(strings.ToLower(p.Path), ".m3u")
}

// publish runs on the engine goroutine: it starts the swarm once the
// stream's rate is known and hands the engine every chunk not yet published.
func (st *seedStream) publish(now time.Duration, e *core.Engine) {
	if !st.added {
		rate, err := st.live.RateBps()
		if err != nil {
			return // the chunks wait in the window
		}
		dur, _ := st.live.ChunkDuration()
		d := core.SwarmDescriptor{Kind: core.Live, ID: st.live.SwarmID(), ChunkBytes: origin.DefaultChunkBytes,
			RateBps: rate, ChunkDuration: dur, OriginKey: st.live.PublicKey(), Origin: true}
		if err := e.AddSwarm(now, d); err != nil {
			return
		}
		st.added = true
		// joiners need the current group of pictures: start a little back
		if s := st.live.Stats(); s.NextSeq > 16 {
			st.nextPub = s.NextSeq - 16
		}
	}
	nowUs := time.Now().UnixMicro()
	for _, c := range st.live.Recent(st.nextPub) {
		if c.TimestampUs > nowUs {
			// A source that delivers in pieces has chunks stamped when
			// their media plays (origin.Chunker.Span): each enters the
			// swarm then, so that viewers see the live edge where it is
			// and the seed sends a steady stream rather than bursts.
			if !st.waking {
				st.waking = true
				st.wake(time.Duration(c.TimestampUs-nowUs) * time.Microsecond)
			}
			return
		}
		meta := core.ChunkMeta{TimestampUs: c.TimestampUs, Flags: c.Flags, Length: uint32(len(c.Data)), Signature: c.Signature}
		_ = e.Publish(now, st.live.SwarmID(), c.Seq, meta, c.Data)
		st.nextPub = c.Seq + 1
	}
}

// seedBytes reads what the seed uploaded for a swarm.
func (o *Origin) seedBytes(id integrity.Hash) int64 {
	ctx, cancel := context.WithTimeout(o.ctx, time.Second)
	defer cancel()
	var n int64
	_ = o.drv.Call(ctx, func(_ time.Duration, e *core.Engine) {
		if s, ok := e.SwarmStats(id); ok {
			n = s.BytesUploaded
		}
	})
	return n
}
