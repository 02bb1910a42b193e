package origin

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/tracker"
)

// Booster response headers: the signed metadata of a chunk.
const (
	HeaderTimestamp = "Shoal-Timestamp-Us"
	HeaderFlags     = "Shoal-Flags"
	HeaderSignature = "Shoal-Signature"
)

// HeaderDue on a booster request says in how many milliseconds the chunk
// is due to play. An origin whose upload budget cannot send it by then
// answers 503 at once instead of sending it late: a late chunk is no use
// to the viewer and would only delay the others'.
const HeaderDue = "Shoal-Due-Ms"

// LivePathPrefix is where streams, descriptors and booster chunks live.
const LivePathPrefix = "/live/"

// Descriptor is what GET /live/NAME answers as JSON: all a viewer needs to
// join the stream's swarm.
type Descriptor struct {
	Name       string `json:"name"`
	SwarmID    string `json:"swarm_id"`   // hex
	OriginKey  string `json:"origin_key"` // Ed25519 public key, hex
	ChunkBytes int    `json:"chunk_bytes"`
	RateBps    int64  `json:"rate_bps"`           // measured from the ingest
	ChunkUs    int64  `json:"chunk_us,omitempty"` // mean time per chunk, measured from the ingest
	Tracker    string `json:"tracker"`            // base URL for tracker.Client
	Booster    string `json:"booster"`            // GET Booster+SEQ returns chunk SEQ
	Seed       string `json:"seed,omitempty"`
}

// ServerConfig configures the origin's HTTP side.
type ServerConfig struct {
	// PushKey enables push ingest; empty refuses every push.
	PushKey string
	// Tracker answers /tracker/ and counts viewers; required.
	Tracker *tracker.Tracker
	// Budget caps the booster together with the swarm seed; nil is unlimited.
	Budget *Budget
	// SeedPort is the origin's UDP port, told to viewers with the host they
	// reached the origin at; 0 leaves it out.
	SeedPort int
	// ChunkBytes is the largest chunk, as the chunkers cut; default
	// DefaultChunkBytes.
	ChunkBytes int
	// SeedBytes returns the bytes the swarm seed sent for a swarm; nil counts 0.
	SeedBytes func(id integrity.Hash) int64
	// Create makes a push stream on its first authorised push; nil only
	// serves streams added with AddStream.
	Create func(name string) (*Live, *Ingest, error)
	// Files answers on-demand publishing under /api/files, /vod/ and /seed/
	// (see Files.Handler); nil serves none.
	Files http.Handler
	// Logger; default slog.Default().
	Logger *slog.Logger
}

type serverStream struct {
	live        *Live
	ingest      *Ingest
	boosterOut  atomic.Int64
	boosterLate atomic.Int64 // requests refused because they would be late
}

// Server is the origin's HTTP API: descriptors, booster, push ingest,
// tracker, stream list and metrics. It is safe for concurrent use.
type Server struct {
	cfg  ServerConfig
	log  *slog.Logger
	mux  *http.ServeMux
	reg  *prometheus.Registry
	push *PushHandler

	mu      sync.Mutex
	streams map[string]*serverStream
	p2p     map[string]shareSample
}

// NewServer returns a Server with no streams.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Tracker == nil {
		return nil, fmt.Errorf("origin: server: Tracker is nil: %w", ErrInvalidConfig)
	}
	if cfg.ChunkBytes == 0 {
		cfg.ChunkBytes = DefaultChunkBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), reg: prometheus.NewRegistry(),
		streams: map[string]*serverStream{}, p2p: map[string]shareSample{}}
	s.push = &PushHandler{Key: cfg.PushKey, Lookup: s.lookupPush, Logger: cfg.Logger}
	s.reg.MustRegister(newCollector(s))
	s.mux.Handle(PushPathPrefix, s.push)
	s.mux.Handle(tracker.PathPrefix, cfg.Tracker)
	s.mux.HandleFunc("GET "+LivePathPrefix+"{name}", s.serveDescriptor)
	s.mux.HandleFunc("GET "+LivePathPrefix+"{name}/chunk/{seq}", s.serveChunk)
	s.mux.HandleFunc("GET /api/streams", s.serveStreams)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mux.HandleFunc("GET /{$}", s.serveIndex)
	if cfg.Files != nil {
		for _, p := range []string{FilesListPath, VODPathPrefix, SeedPathPrefix} {
			s.mux.Handle(p, cfg.Files)
		}
	}
	return s, nil
}

// AddStream serves a stream; ingest may be nil for a stream fed otherwise.
func (s *Server) AddStream(l *Live, in *Ingest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.streams[l.Name()]; ok {
		return fmt.Errorf("origin: stream %q already served: %w", l.Name(), ErrInvalidConfig)
	}
	s.streams[l.Name()] = &serverStream{live: l, ingest: in}
	return nil
}

func (s *Server) stream(name string) (*serverStream, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.streams[name]
	return st, ok
}

// lookupPush runs after the push key was checked: an unknown name becomes a
// new push stream when the Server may create one.
func (s *Server) lookupPush(name string) (*Ingest, bool) {
	if st, ok := s.stream(name); ok {
		return st.ingest, st.ingest != nil
	}
	if s.cfg.Create == nil || checkName(name) != nil {
		return nil, false
	}
	l, in, err := s.cfg.Create(name)
	if err != nil {
		s.log.Warn("push stream not created", "stream", name, "err", err)
		return nil, false
	}
	if err := s.AddStream(l, in); err != nil {
		st, ok := s.stream(name) // a concurrent push created it first
		return st.ingest, ok && st.ingest != nil
	}
	s.log.Info("push stream created", "stream", name, "swarm", l.SwarmID())
	return in, true
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Descriptor returns the descriptor of a stream as reached at host (the
// Host of the request). It fails with ErrNotMeasured before the stream's rate
// is known.
func (s *Server) Descriptor(name, host string) (Descriptor, error) {
	st, ok := s.stream(name)
	if !ok {
		return Descriptor{}, fmt.Errorf("origin: stream %q: %w", name, errNoStream)
	}
	rate, err := st.live.RateBps()
	if err != nil {
		return Descriptor{}, fmt.Errorf("origin: stream %q: %w", name, err)
	}
	base := "http://" + host
	d := Descriptor{
		Name:       name,
		SwarmID:    st.live.SwarmID().String(),
		OriginKey:  hex.EncodeToString(st.live.PublicKey()),
		ChunkBytes: s.cfg.ChunkBytes,
		RateBps:    rate,
		ChunkUs:    chunkUs(st.live),
		Tracker:    base,
		Booster:    base + LivePathPrefix + name + "/chunk/",
	}
	if s.cfg.SeedPort != 0 {
		if h, _, err := net.SplitHostPort(host); err == nil {
			d.Seed = net.JoinHostPort(h, strconv.Itoa(s.cfg.SeedPort))
		}
	}
	return d, nil
}

// chunkUs is a stream's mean chunk duration in µs, 0 before it is measured.
func chunkUs(l *Live) int64 {
	d, err := l.ChunkDuration()
	if err != nil {
		return 0
	}
	return d.Microseconds()
}

var errNoStream = errors.New("no such stream")

func wantsJSON(r *http.Request) bool {
	return r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json")
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Name}} · Shoal</title></head>
<body><h1>{{.Name}}</h1>
<p>This live stream is carried by a peer-to-peer swarm. Watch it with</p>
<pre>shoal play {{.URL}}</pre>
<p>then open the printed local URL in mpv, VLC or ffplay.</p>
<p><a href="/api/streams">All streams</a></p></body></html>
`))

func (s *Server) serveDescriptor(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !wantsJSON(r) {
		if _, ok := s.stream(name); !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = pageTmpl.Execute(w, struct{ Name, URL string }{name, "http://" + r.Host + LivePathPrefix + name})
		return
	}
	d, err := s.Descriptor(name, r.Host)
	switch {
	case errors.Is(err, errNoStream):
		writeJSONError(w, http.StatusNotFound, err)
		return
	case err != nil:
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, err)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, d)
}

func (s *Server) serveChunk(w http.ResponseWriter, r *http.Request) {
	st, ok := s.stream(r.PathValue("name"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		http.Error(w, "bad sequence number", http.StatusBadRequest)
		return
	}
	c, err := st.live.Chunk(seq)
	switch {
	case errors.Is(err, ErrChunkNotYet):
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, err.Error(), http.StatusTooEarly)
		return
	case err != nil:
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	var deadline time.Time
	if ms, err := strconv.ParseUint(r.Header.Get(HeaderDue), 10, 32); err == nil {
		deadline = time.Now().Add(time.Duration(ms) * time.Millisecond)
	}
	if err := s.cfg.Budget.WaitBy(r.Context(), len(c.Data), deadline); err != nil {
		if errors.Is(err, ErrLate) {
			st.boosterLate.Add(1)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		}
		return // or the client left
	}
	h := w.Header()
	h.Set("Content-Type", "video/mp2t")
	h.Set("Content-Length", strconv.Itoa(len(c.Data)))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set(HeaderTimestamp, strconv.FormatInt(c.TimestampUs, 10))
	h.Set(HeaderFlags, strconv.Itoa(int(c.Flags)))
	h.Set(HeaderSignature, hex.EncodeToString(c.Signature[:]))
	n, _ := w.Write(c.Data)
	st.boosterOut.Add(int64(n))
}

// StreamInfo is one entry of GET /api/streams.
type StreamInfo struct {
	Name         string      `json:"name"`
	SwarmID      string      `json:"swarm_id"`
	Viewers      int         `json:"viewers"`
	Ingest       IngestState `json:"ingest"`
	IngestError  string      `json:"ingest_error,omitempty"`
	IngestBytes  int64       `json:"ingest_bytes"`
	Restarts     int         `json:"restarts"`
	Pushing      bool        `json:"pushing,omitempty"` // a push is connected now
	RateBps      int64       `json:"rate_bps"`
	Chunks       uint64      `json:"chunks"`
	SeedBytes    int64       `json:"seed_bytes"`
	BoosterBytes int64       `json:"booster_bytes"`
	BoosterLate  int64       `json:"booster_late"` // requests refused: the budget could not send them by their due time
	P2PShare     float64     `json:"p2p_share"`    // estimate over the last interval
}

// Streams lists the streams, sorted by name.
func (s *Server) Streams() []StreamInfo {
	s.mu.Lock()
	list := make([]*serverStream, 0, len(s.streams))
	for _, st := range s.streams {
		list = append(list, st)
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].live.Name() < list[j].live.Name() })
	tstats := s.cfg.Tracker.Stats()
	out := make([]StreamInfo, 0, len(list))
	for _, st := range list {
		ls := st.live.Stats()
		id := st.live.SwarmID()
		info := StreamInfo{Name: st.live.Name(), SwarmID: id.String(), Viewers: tstats[id].Peers,
			RateBps: ls.RateBps, Chunks: ls.Chunks, BoosterBytes: st.boosterOut.Load(), BoosterLate: st.boosterLate.Load()}
		if st.ingest != nil {
			is := st.ingest.Status()
			info.Ingest, info.IngestError, info.IngestBytes, info.Restarts, info.Pushing = is.State, is.Err, is.Bytes, is.Restarts, is.Pushing
		}
		if s.cfg.SeedBytes != nil {
			info.SeedBytes = s.cfg.SeedBytes(id)
		}
		info.P2PShare = s.share(info, ls.Bytes)
		out = append(out, info)
	}
	return out
}

// shareSample remembers the counters of the last estimate.
type shareSample struct {
	at                    time.Time
	originBytes, produced int64
	share                 float64
}

// share estimates the part of what viewers received that did not come from
// the origin (seed and booster), over the time since the last estimate
// (at least five seconds).
func (s *Server) share(info StreamInfo, produced int64) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	prev, ok := s.p2p[info.Name]
	origin := info.SeedBytes + info.BoosterBytes
	if ok && now.Sub(prev.at) < 5*time.Second {
		return prev.share
	}
	cur := shareSample{at: now, originBytes: origin, produced: produced}
	if ok && info.Viewers > 0 {
		want := float64(produced-prev.produced) * float64(info.Viewers)
		if want > 0 {
			cur.share = min(1, max(0, 1-float64(origin-prev.originBytes)/want))
		}
	}
	s.p2p[info.Name] = cur
	return cur.share
}

func (s *Server) serveStreams(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.Streams())
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Shoal origin</title></head><body><h1>Shoal origin</h1><ul>\n")
	for _, st := range s.Streams() {
		fmt.Fprintf(w, "<li><a href=\"%s\">%s</a> — %s, %d viewers</li>\n",
			template.HTMLEscapeString(LivePathPrefix+st.Name), template.HTMLEscapeString(st.Name), st.Ingest, st.Viewers)
	}
	fmt.Fprintf(w, "</ul><p><a href=\"/api/streams\">/api/streams</a> · <a href=\"/metrics\">/metrics</a></p></body></html>\n")
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}
