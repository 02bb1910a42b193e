package node

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/edcheck"
	"github.com/shoalstream/shoal/internal/gateway"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/origin"
	"github.com/shoalstream/shoal/internal/transport/udp"
)

// Viewer errors.
var (
	ErrDescriptor = errors.New("node: stream descriptor")
	ErrNotLive    = errors.New("node: stream is not live yet")
)

// ViewerConfig configures StartViewer.
type ViewerConfig struct {
	// URL is the stream's page on the origin: http://ORIGIN/live/NAME.
	URL string
	// GatewayAddr is where players connect; default 127.0.0.1:0.
	GatewayAddr string
	// UDPAddr is the swarm socket; default :0.
	UDPAddr string
	// DataDir keeps the viewer's key; required.
	DataDir string
	// MaxUploadBps caps what this viewer relays (0 = congestion control only).
	MaxUploadBps int64
	// PlayDelay is how far behind the live edge playback runs; 0 = engine default.
	PlayDelay time.Duration
	// JoinTimeout bounds the wait for a stream that is not live yet; default 30 s.
	JoinTimeout time.Duration
	// Lie corrupts every chunk this viewer sends, so that tests can check
	// that peers ban it.
	Lie bool
	// HTTP fetches the descriptor and booster chunks; default a client
	// without a global timeout.
	HTTP *http.Client
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Viewer is a running `shoal play`.
type Viewer struct {
	cfg      ViewerConfig
	ctx      context.Context
	log      *slog.Logger
	desc     origin.Descriptor
	id       integrity.Hash
	conn     *udp.Conn
	drv      *Driver
	live     *gateway.Live
	gw       *gateway.Server
	httpSrv  *http.Server
	httpLn   net.Listener
	ann      *announcer
	boostSem chan struct{}
	wg       sync.WaitGroup

	// engine goroutine only
	prevTs   int64
	prevSeq  uint64
	havePrev bool
	playing  bool
}

// FetchDescriptor asks the origin for a stream's descriptor, retrying while
// the stream is not live yet, until ctx ends.
func FetchDescriptor(ctx context.Context, c *http.Client, pageURL string) (origin.Descriptor, error) {
	u := pageURL
	if strings.Contains(u, "?") {
		u += "&format=json"
	} else {
		u += "?format=json"
	}
	for {
		d, retry, err := fetchDescriptorOnce(ctx, c, u)
		if err == nil || !retry {
			return d, err
		}
		select {
		case <-ctx.Done():
			return d, fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// errRequest marks a request that could not even be made (a bad URL).
var errRequest = errors.New("bad request")

// getJSON asks u for JSON and returns the answer with at most 64 KiB of
// its body.
func getJSON(ctx context.Context, c *http.Client, u string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errRequest, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp, body, nil
}

func fetchDescriptorOnce(ctx context.Context, c *http.Client, u string) (d origin.Descriptor, retry bool, err error) {
	resp, body, err := getJSON(ctx, c, u)
	if err != nil {
		return d, !errors.Is(err, errRequest), fmt.Errorf("%w: %v", ErrDescriptor, err)
	}
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return d, true, ErrNotLive
	case resp.StatusCode == http.StatusNotFound:
		// a push stream exists from its first push on: wait for it
		return d, true, fmt.Errorf("%w: %s answered %s", ErrNotLive, u, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return d, false, fmt.Errorf("%w: %s answered %s", ErrDescriptor, u, resp.Status)
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return d, false, fmt.Errorf("%w: %v", ErrDescriptor, err)
	}
	return d, false, nil
}

// parseDescriptor turns the JSON into an engine swarm descriptor.
func parseDescriptor(d origin.Descriptor) (core.SwarmDescriptor, error) {
	id, err := integrity.ParseHash(d.SwarmID)
	if err != nil {
		return core.SwarmDescriptor{}, fmt.Errorf("%w: swarm_id: %v", ErrDescriptor, err)
	}
	key, err := hex.DecodeString(d.OriginKey)
	if err != nil || len(key) != ed25519.PublicKeySize {
		return core.SwarmDescriptor{}, fmt.Errorf("%w: origin_key is not a hex Ed25519 key", ErrDescriptor)
	}
	if integrity.SwarmID(key, d.Name) != id {
		return core.SwarmDescriptor{}, fmt.Errorf("%w: swarm_id does not match origin_key and name", ErrDescriptor)
	}
	if d.RateBps <= 0 || d.ChunkBytes <= 0 || d.ChunkUs < 0 || d.ChunkUs > time.Minute.Microseconds() {
		return core.SwarmDescriptor{}, fmt.Errorf("%w: rate_bps %d, chunk_bytes %d, chunk_us %d", ErrDescriptor, d.RateBps, d.ChunkBytes, d.ChunkUs)
	}
	return core.SwarmDescriptor{Kind: core.Live, ID: id, ChunkBytes: d.ChunkBytes, RateBps: d.RateBps,
		ChunkDuration: time.Duration(d.ChunkUs) * time.Microsecond,
		OriginKey:     ed25519.PublicKey(key), Booster: d.Booster != ""}, nil
}

// StartViewer joins the stream at cfg.URL and opens the gateway; it runs
// until ctx ends, then leaves cleanly. Wait returns when it is done.
func StartViewer(ctx context.Context, cfg ViewerConfig) (*Viewer, error) {
	if cfg.DataDir == "" {
		return nil, fmt.Errorf("%w: DataDir is empty, want a directory for keys", ErrConfig)
	}
	if cfg.MaxUploadBps < 0 {
		return nil, fmt.Errorf("%w: MaxUploadBps = %d, want >= 0", ErrConfig, cfg.MaxUploadBps)
	}
	if cfg.GatewayAddr == "" {
		cfg.GatewayAddr = "127.0.0.1:0"
	}
	if cfg.UDPAddr == "" {
		cfg.UDPAddr = ":0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, ResponseHeaderTimeout: 10 * time.Second}}
	}
	if cfg.JoinTimeout == 0 {
		cfg.JoinTimeout = 30 * time.Second
	}
	jctx, cancel := context.WithTimeout(ctx, cfg.JoinTimeout)
	d, err := FetchDescriptor(jctx, cfg.HTTP, cfg.URL)
	cancel()
	if err != nil {
		return nil, err
	}
	sd, err := parseDescriptor(d)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	ident, err := udp.LoadOrCreateIdentity(filepath.Join(cfg.DataDir, "udp.key"))
	if err != nil {
		return nil, fmt.Errorf("node: UDP identity: %w", err)
	}
	v := &Viewer{cfg: cfg, ctx: ctx, log: cfg.Logger.With("stream", d.Name), desc: d, id: sd.ID, boostSem: make(chan struct{}, 8)}
	start := time.Now()
	ecfg := core.DefaultConfig()
	ecfg.Rand = newRand()
	ecfg.PeerID = ident.PeerID()
	ecfg.MaxUploadBps = cfg.MaxUploadBps
	ecfg.AdvertisedUploadBps = cfg.MaxUploadBps
	ecfg.UnixEpochUs = start.UnixMicro()
	ecfg.Integrity = edcheck.Integrity{} // the same verdicts, 3× faster
	if cfg.PlayDelay != 0 {
		ecfg.PlayDelay = cfg.PlayDelay
		ecfg.BoostMargin = min(ecfg.BoostMargin, cfg.PlayDelay/2)
	}
	eng, err := core.NewEngine(ecfg)
	if err != nil {
		return nil, fmt.Errorf("node: viewer engine: %w", err)
	}
	if err := eng.AddSwarm(0, sd); err != nil {
		return nil, fmt.Errorf("node: viewer swarm: %w", err)
	}
	if v.conn, err = udp.Listen(cfg.UDPAddr, ident, udp.Options{Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("node: viewer UDP: %w", err)
	}
	dc := DriverConfig{Conn: v.conn, Engine: eng, Start: start, OnEvent: v.onEvent, Logger: cfg.Logger}
	if cfg.Lie {
		dc.OnSend = func(_ netip.AddrPort, b []byte) { CorruptData(b) }
	}
	v.drv = NewDriver(dc)
	v.live = gateway.NewLive(d.Name, gateway.LiveOptions{Logger: cfg.Logger})
	v.gw = gateway.NewServer(gateway.ServerOptions{Stats: func() any { return v.Stats(context.Background()) }, Logger: cfg.Logger})
	if err := v.gw.AddLive(v.live); err != nil {
		v.conn.Close()
		return nil, err
	}
	if v.httpLn, err = net.Listen("tcp", cfg.GatewayAddr); err != nil {
		v.conn.Close()
		return nil, fmt.Errorf("node: gateway: %w", err)
	}
	v.httpSrv = &http.Server{Handler: v.gw, ReadHeaderTimeout: 10 * time.Second}

	drvCtx, stopDrv := context.WithCancel(context.Background())
	v.wg.Add(1)
	go func() { defer v.wg.Done(); v.drv.Run(drvCtx) }()
	go func() { _ = v.httpSrv.Serve(v.httpLn) }()
	if d.Seed != "" {
		if a, err := resolveUDP(d.Seed); err == nil {
			_ = v.drv.Post(ctx, func(now time.Duration, e *core.Engine) { _ = e.AddPeer(now, v.id, a) })
		} else {
			v.log.Warn("origin seed address", "seed", d.Seed, "err", err)
		}
	}
	v.ann = newAnnouncer(v, int(v.conn.LocalAddr().Port()))
	annCtx, stopAnn := context.WithCancel(context.Background())
	annDone := make(chan struct{})
	go func() { defer close(annDone); v.ann.run(annCtx) }()
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		<-ctx.Done()
		stopAnn()
		<-annDone
		v.ann.stopped() // tell the tracker before the goodbyes
		stopDrv()
		<-v.drv.Done()
		v.live.Close()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = v.httpSrv.Shutdown(sctx)
		cancel()
		_ = v.httpSrv.Close()
		_ = v.conn.Close()
	}()
	return v, nil
}

func resolveUDP(hostport string) (netip.AddrPort, error) {
	if a, err := netip.ParseAddrPort(hostport); err == nil {
		return a, nil
	}
	ua, err := net.ResolveUDPAddr("udp", hostport)
	if err != nil {
		return netip.AddrPort{}, err
	}
	a := ua.AddrPort()
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), nil
}

// Wait returns once the viewer has left after its context ended.
func (v *Viewer) Wait() { v.wg.Wait() }

// Descriptor returns what the origin said about the stream.
func (v *Viewer) Descriptor() origin.Descriptor { return v.desc }

// GatewayURL returns the gateway's base URL, as http://127.0.0.1:PORT.
func (v *Viewer) GatewayURL() string {
	a := v.httpLn.Addr().(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(a.Port))
}

// TSURL is where a player reads the progressive MPEG-TS.
func (v *Viewer) TSURL() string { return v.GatewayURL() + gateway.LivePath(v.desc.Name) }

// PlaylistURL is the HLS playlist.
func (v *Viewer) PlaylistURL() string {
	return strings.TrimSuffix(v.TSURL(), ".ts") + ".m3u8"
}

// UDPAddr is the swarm socket's address.
func (v *Viewer) UDPAddr() netip.AddrPort { return v.conn.LocalAddr() }

// onEvent runs on the engine goroutine.
func (v *Viewer) onEvent(now time.Duration, e *core.Engine, ev core.Event) {
	switch ev.Kind {
	case core.EventPlay:
		v.play(ev)
	case core.EventReady:
		v.playing = true
		v.log.Info("playback started", "seq", ev.Seq)
	case core.EventBoost:
		v.log.Debug("boost", "seq", ev.Seq)
		v.boost(ev.Seq, ev.Due)
	case core.EventMissed:
		v.log.Debug("missed", "seq", ev.Seq)
	case core.EventWantPeers:
		v.ann.poke()
	case core.EventPeerBanned:
		v.log.Warn("peer banned", "peer", ev.Peer)
	case core.EventRejected:
		v.log.Debug("chunk rejected", "seq", ev.Seq, "peer", ev.Peer)
	}
}

// play hands a verified chunk to the gateway, with its duration taken from
// the origin's timestamps.
func (v *Viewer) play(ev core.Event) {
	data := append([]byte(nil), ev.Data...)
	dur := time.Duration(int64(len(data)) * 8 * int64(time.Second) / max(v.desc.RateBps, 1))
	if v.havePrev && ev.Seq == v.prevSeq+1 && ev.Meta.TimestampUs > v.prevTs &&
		ev.Meta.Flags&origin.ChunkDiscontinuity == 0 {
		dur = time.Duration(ev.Meta.TimestampUs-v.prevTs) * time.Microsecond
	}
	v.prevTs, v.prevSeq, v.havePrev = ev.Meta.TimestampUs, ev.Seq, true
	v.live.Push(gateway.LiveChunk{Seq: ev.Seq, RAP: ev.Meta.Flags&origin.ChunkRAP != 0,
		Discontinuity: ev.Meta.Flags&origin.ChunkDiscontinuity != 0, Data: data}, dur)
}
