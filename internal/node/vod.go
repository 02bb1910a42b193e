package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/gateway"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/origin"
	"github.com/shoalstream/shoal/internal/tracker"
	"github.com/shoalstream/shoal/internal/transport/udp"
)

// On-demand errors.
var (
	// ErrFileDescriptor is wrapped when a file's descriptor or leaves cannot
	// be had or do not match its link.
	ErrFileDescriptor = errors.New("node: file descriptor")
	// ErrNoSource is wrapped when a read or a download gives up: no source
	// delivered the bytes it waits for.
	ErrNoSource = errors.New("node: no source delivers the file")
)

// DefaultStallTimeout is how long a read waits for its next verified byte.
const DefaultStallTimeout = 30 * time.Second

// noSourceGrace is how long a read waits, with no neighbour and no usable
// web seed, before it says so: long enough for the tracker to name peers.
const noSourceGrace = 5 * time.Second

// VODConfig configures StartVOD.
type VODConfig struct {
	// URL is the file's link on the origin: http://ORIGIN/vod/ID/NAME.
	URL string
	// GatewayAddr is where players connect; "" opens no gateway (a download).
	GatewayAddr string
	// UDPAddr is the swarm socket; default :0.
	UDPAddr string
	// DataDir keeps the viewer's key and its cache; required.
	DataDir string
	// MaxUploadBps caps what this viewer relays (0 = congestion control only).
	MaxUploadBps int64
	// CacheBytes bounds the chunks kept, in memory; 0 keeps the whole file
	// on disk: in Output, or in DataDir/cache.
	CacheBytes int64
	// Output is the file to fill. Chunks already in it that match their
	// leaf hashes are kept, so an interrupted download resumes; the same
	// holds for the cache file in DataDir.
	Output string
	// StallTimeout: a read or download that receives no verified byte for
	// this long fails with ErrNoSource; default DefaultStallTimeout.
	StallTimeout time.Duration
	// CheckProgress, when set, sees the bytes of an existing file checked
	// against the leaves so far.
	CheckProgress func(doneBytes, totalBytes int64)
	// HTTP fetches the descriptor, the leaves and web seed ranges; default a
	// client without a global timeout.
	HTTP *http.Client
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// VOD is a running on-demand viewer (`shoal play` of a /vod/ link, or
// `shoal get`): it joins the file's swarm, fetches chunks in the order its
// readers need them, relays what it holds, and serves the file to players
// through a gateway.Source.
type VOD struct {
	cfg     VODConfig
	ctx     context.Context
	log     *slog.Logger
	desc    origin.FileDescriptor
	id      integrity.Hash
	name    string
	webSeed string // absolute, or "" without one
	store   *vodStore
	conn    *udp.Conn
	drv     *Driver
	ann     *announcer
	httpSrv *http.Server
	httpLn  net.Listener
	wg      sync.WaitGroup
	fetches sync.WaitGroup

	resumedBytes  int64 // found in the file at start
	resumedChunks int64

	rmu     sync.Mutex
	readers map[<-chan struct{}]*vodReader // by request: its context's Done
	rgen    int64

	lastWant atomic.Int64 // chunk of the last Want posted, -1 before
	lastEnd  atomic.Int64 // where the last read ended, for stall counting
	stalls   atomic.Int64
	webBad   atomic.Bool // the web seed sent bytes that failed verification
	webFails atomic.Int32
	webErr   atomic.Pointer[string]
}

// FetchFileDescriptor asks the origin for a file's descriptor and returns it
// with the URL that answered (after redirects), against which its relative
// links resolve.
func FetchFileDescriptor(ctx context.Context, c *http.Client, link string) (origin.FileDescriptor, *url.URL, error) {
	var d origin.FileDescriptor
	resp, body, err := getJSON(ctx, c, link)
	if err != nil {
		return d, nil, fmt.Errorf("%w: %v", ErrFileDescriptor, err)
	}
	if resp.StatusCode != http.StatusOK {
		return d, nil, fmt.Errorf("%w: %s answered %s: %s", ErrFileDescriptor, link, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return d, nil, fmt.Errorf("%w: %s: not a file descriptor: %v", ErrFileDescriptor, link, err)
	}
	if d.Size <= 0 || d.Size > integrity.MaxSize || d.ChunkBytes != integrity.LeafSize {
		return d, nil, fmt.Errorf("%w: size %d, chunk_bytes %d", ErrFileDescriptor, d.Size, d.ChunkBytes)
	}
	return d, resp.Request.URL, nil
}

// linkID is the content ID a /vod/ID/NAME link names, if it names one.
func linkID(link string) (integrity.Hash, bool) {
	u, err := url.Parse(link)
	if err != nil {
		return integrity.Hash{}, false
	}
	_, rest, ok := strings.Cut(u.Path, origin.VODPathPrefix)
	if !ok {
		return integrity.Hash{}, false
	}
	id, _, _ := strings.Cut(rest, "/")
	h, err := integrity.ParseHash(id)
	return h, err == nil
}

// fetchLeaves downloads the leaf layer and checks it against the content ID.
func fetchLeaves(ctx context.Context, c *http.Client, u string, id integrity.Hash, size int64) ([]integrity.Hash, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: leaves: %v", ErrFileDescriptor, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: leaves: %v", ErrFileDescriptor, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: leaves %s answered %s", ErrFileDescriptor, u, resp.Status)
	}
	limit := int64(64) + int64(integrity.NumLeaves(size))*integrity.HashSize
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%w: leaves: %v", ErrFileDescriptor, err)
	}
	var t integrity.Tree
	if err := t.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%w: leaves: %v", ErrFileDescriptor, err)
	}
	if t.Root() != id || t.Size() != size {
		return nil, fmt.Errorf("%w: the leaves from %s do not hash to the file's ID %s", ErrFileDescriptor, u, id)
	}
	return t.Leaves(), nil
}

func resolve(base *url.URL, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return base.ResolveReference(r).String(), nil
}

// gatewayName makes a file name servable by the gateway.
func gatewayName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("/?#\\", r) {
			return '_'
		}
		return r
	}, name)
	if len(name) > 128 {
		ext := filepath.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		name = strings.ToValidUTF8(name[:100], "") + ext
	}
	if name == "" || name == "." || name == ".." {
		name = "file"
	}
	return name
}

// StartVOD joins the file at cfg.URL; it runs until ctx ends, then leaves
// cleanly. Wait returns when it is done.
func StartVOD(ctx context.Context, cfg VODConfig) (*VOD, error) {
	switch {
	case cfg.DataDir == "":
		return nil, fmt.Errorf("%w: DataDir is empty, want a directory for keys", ErrConfig)
	case cfg.MaxUploadBps < 0:
		return nil, fmt.Errorf("%w: MaxUploadBps = %d, want >= 0", ErrConfig, cfg.MaxUploadBps)
	case cfg.CacheBytes < 0:
		return nil, fmt.Errorf("%w: CacheBytes = %d, want >= 0", ErrConfig, cfg.CacheBytes)
	case cfg.CacheBytes > 0 && cfg.Output != "":
		return nil, fmt.Errorf("%w: CacheBytes and Output together: an output file keeps every chunk", ErrConfig)
	case cfg.StallTimeout < 0:
		return nil, fmt.Errorf("%w: StallTimeout = %v, want >= 0", ErrConfig, cfg.StallTimeout)
	}
	if cfg.UDPAddr == "" {
		cfg.UDPAddr = ":0"
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, ResponseHeaderTimeout: 10 * time.Second}}
	}
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	d, base, err := FetchFileDescriptor(jctx, cfg.HTTP, cfg.URL)
	if err != nil {
		return nil, err
	}
	if want, ok := linkID(cfg.URL); ok && want != d.ID {
		return nil, fmt.Errorf("%w: the origin describes file %s, the link names %s", ErrFileDescriptor, d.ID, want)
	}
	leavesURL, err := resolve(base, d.LeavesURL)
	if err != nil {
		return nil, fmt.Errorf("%w: leaves_url: %v", ErrFileDescriptor, err)
	}
	leaves, err := fetchLeaves(jctx, cfg.HTTP, leavesURL, d.ID, d.Size)
	if err != nil {
		return nil, err
	}
	v := &VOD{cfg: cfg, ctx: ctx, log: cfg.Logger.With("file", d.Name), desc: d, id: d.ID, name: gatewayName(d.Name),
		readers: map[<-chan struct{}]*vodReader{}}
	v.lastWant.Store(-1)
	v.lastEnd.Store(-1)
	if d.WebSeed != "" {
		if v.webSeed, err = resolve(base, d.WebSeed); err != nil {
			return nil, fmt.Errorf("%w: web_seed: %v", ErrFileDescriptor, err)
		}
	}
	trackerURL, err := resolve(base, d.Tracker)
	if err != nil {
		return nil, fmt.Errorf("%w: tracker: %v", ErrFileDescriptor, err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data directory: %w", err)
	}
	ident, err := udp.LoadOrCreateIdentity(filepath.Join(cfg.DataDir, "udp.key"))
	if err != nil {
		return nil, fmt.Errorf("node: UDP identity: %w", err)
	}
	switch {
	case cfg.Output != "":
		v.store, err = openFileStore(cfg.Output, d.Size)
	case cfg.CacheBytes > 0:
		v.store = newMemStore(d.Size)
	default:
		dir := filepath.Join(cfg.DataDir, "cache")
		if err = os.MkdirAll(dir, 0o700); err == nil {
			v.store, err = openFileStore(filepath.Join(dir, d.ID.String()), d.Size)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("node: file store: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			v.store.close()
		}
	}()
	var progress func(int64)
	if cfg.CheckProgress != nil {
		progress = func(done int64) { cfg.CheckProgress(done, d.Size) }
	}
	found, err := v.store.check(leaves, progress)
	if err != nil {
		return nil, err
	}

	start := time.Now()
	ecfg := core.DefaultConfig()
	ecfg.Rand = newRand()
	ecfg.PeerID = ident.PeerID()
	ecfg.MaxUploadBps = cfg.MaxUploadBps
	ecfg.AdvertisedUploadBps = cfg.MaxUploadBps
	ecfg.CacheBytes = cfg.CacheBytes
	eng, err := core.NewEngine(ecfg)
	if err != nil {
		return nil, fmt.Errorf("node: viewer engine: %w", err)
	}
	sd := core.SwarmDescriptor{Kind: core.OnDemand, ID: d.ID, Size: d.Size, Leaves: leaves, RateBps: d.RateBps,
		WebSeed: v.webSeed != "", Store: v.store}
	if err := eng.AddSwarm(0, sd); err != nil {
		return nil, fmt.Errorf("node: viewer swarm: %w", err)
	}
	// what the file already held counts as held, and is announced as such
	var buf []byte
	for _, i := range found {
		if buf, err = v.store.ReadChunk(buf[:0], i); err == nil && eng.HandleFetched(0, d.ID, uint64(i), buf) == nil {
			v.resumedBytes += int64(len(buf))
			v.resumedChunks++
		}
		for _, ok := eng.PollEvent(); ok; _, ok = eng.PollEvent() {
		}
	}
	if v.resumedBytes > 0 {
		v.log.Info("resumed", "bytes", v.resumedBytes, "of", d.Size)
	}

	if v.conn, err = udp.Listen(cfg.UDPAddr, ident, udp.Options{Logger: cfg.Logger}); err != nil {
		return nil, fmt.Errorf("node: viewer UDP: %w", err)
	}
	v.drv = NewDriver(DriverConfig{Conn: v.conn, Engine: eng, Start: start, OnEvent: v.onEvent, Logger: cfg.Logger})
	if cfg.GatewayAddr != "" {
		gw := gateway.NewServer(gateway.ServerOptions{Stats: func() any { return v.Stats(context.Background()) }, Logger: cfg.Logger})
		if err := gw.AddFile(v); err != nil {
			v.conn.Close()
			return nil, err
		}
		if v.httpLn, err = net.Listen("tcp", cfg.GatewayAddr); err != nil {
			v.conn.Close()
			return nil, fmt.Errorf("node: gateway: %w", err)
		}
		v.httpSrv = &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	}
	ok = true

	drvCtx, stopDrv := context.WithCancel(context.Background())
	v.wg.Add(1)
	go func() { defer v.wg.Done(); v.drv.Run(drvCtx) }()
	if v.httpSrv != nil {
		go func() { _ = v.httpSrv.Serve(v.httpLn) }()
	}
	if d.Seed != "" {
		if a, err := resolveUDP(d.Seed); err == nil {
			_ = v.drv.Post(ctx, func(now time.Duration, e *core.Engine) { _ = e.AddPeer(now, v.id, a) })
		} else {
			v.log.Warn("origin seed address", "seed", d.Seed, "err", err)
		}
	}
	v.ann = newSwarmAnnouncer(v.id, v.drv, cfg.HTTP, strings.TrimSuffix(trackerURL, tracker.AnnouncePath),
		cfg.MaxUploadBps, v.log, int(v.conn.LocalAddr().Port()))
	annCtx, stopAnn := context.WithCancel(context.Background())
	annDone := make(chan struct{})
	go func() { defer close(annDone); v.ann.run(annCtx) }()
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		<-ctx.Done()
		if v.httpSrv != nil {
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = v.httpSrv.Shutdown(sctx)
			cancel()
			_ = v.httpSrv.Close()
		}
		stopAnn()
		<-annDone
		v.ann.stopped() // tell the tracker before the goodbyes
		stopDrv()
		<-v.drv.Done()
		v.fetches.Wait()
		_ = v.conn.Close()
		if err := v.store.sync(); err != nil {
			v.log.Warn("file not flushed", "err", err)
		}
		_ = v.store.close()
	}()
	return v, nil
}

// Wait returns once the viewer has left after its context ended.
func (v *VOD) Wait() { v.wg.Wait() }

// Descriptor returns what the origin said about the file.
func (v *VOD) Descriptor() origin.FileDescriptor { return v.desc }

// GatewayURL returns the gateway's base URL, as http://127.0.0.1:PORT, or ""
// without a gateway.
func (v *VOD) GatewayURL() string {
	if v.httpLn == nil {
		return ""
	}
	a := v.httpLn.Addr().(*net.TCPAddr)
	host := a.IP.String()
	if a.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(a.Port))
}

// FileURL is where a player reads the file.
func (v *VOD) FileURL() string { return v.GatewayURL() + gateway.FilePath(v) }

// UDPAddr is the swarm socket's address.
func (v *VOD) UDPAddr() netip.AddrPort { return v.conn.LocalAddr() }

// Size is the file's size in bytes (gateway.Source).
func (v *VOD) Size() int64 { return v.desc.Size }

// ID is the content ID in hex (gateway.Source).
func (v *VOD) ID() string { return v.id.String() }

// Name is the file's name (gateway.Source).
func (v *VOD) Name() string { return v.name }

// onEvent runs on the engine goroutine.
func (v *VOD) onEvent(now time.Duration, e *core.Engine, ev core.Event) {
	switch ev.Kind {
	case core.EventFetch:
		v.fetch(ev.Seq, ev.End)
	case core.EventWantPeers:
		v.ann.poke()
	case core.EventPeerBanned:
		v.log.Warn("peer banned: it sent bytes that failed verification", "peer", ev.Peer)
	case core.EventRejected:
		if !ev.Peer.IsValid() && !v.webBad.Swap(true) {
			v.log.Warn("web seed sent bytes that failed verification; it is not used again", "url", v.webSeed, "chunk", ev.Seq)
		} else {
			v.log.Debug("chunk rejected", "chunk", ev.Seq, "peer", ev.Peer)
		}
	}
}
