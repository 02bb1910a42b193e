package gateway

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// StatsFunc returns what /stats answers, marshalled as JSON.
type StatsFunc func() any

// ServerOptions configures a Server.
type ServerOptions struct {
	// Stats answers /stats; nil serves the Server's own Stats.
	Stats StatsFunc
	// Logger receives failures to answer /stats; default slog.Default().
	Logger *slog.Logger
}

// Server routes players' requests to the registered live streams and files.
// It is an http.Handler and safe for concurrent use.
type Server struct {
	stats StatsFunc
	log   *slog.Logger

	mu    sync.RWMutex
	lives map[string]*Live
	files map[string]*fileEntry
}

type fileEntry struct {
	src     Source
	handler http.Handler
}

// ServerStats is what /stats answers when ServerOptions.Stats is nil.
type ServerStats struct {
	Live  []LiveStats `json:"live"`
	Files []FileInfo  `json:"files"`
}

// FileInfo describes a registered file.
type FileInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	SizeBytes int64  `json:"sizeBytes"`
	Path      string `json:"path"`
}

// NewServer returns a Server with nothing registered.
func NewServer(opts ServerOptions) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Server{
		stats: opts.Stats,
		log:   opts.Logger,
		lives: make(map[string]*Live),
		files: make(map[string]*fileEntry),
	}
}

// AddLive serves l under /live/NAME.
func (s *Server) AddLive(l *Live) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.lives[l.Name()]; ok {
		return fmt.Errorf("gateway: live stream %q: %w", l.Name(), ErrDuplicate)
	}
	s.lives[l.Name()] = l
	return nil
}

// RemoveLive stops serving the live stream name and reports whether it was
// served. It does not close the Live.
func (s *Server) RemoveLive(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.lives[name]
	delete(s.lives, name)
	return ok
}

// AddFile serves src under /vod/ID/NAME.
func (s *Server) AddFile(src Source) error {
	if err := checkID(src.ID()); err != nil {
		return err
	}
	if err := checkName(src.Name()); err != nil {
		return fmt.Errorf("gateway: file %s: %w", src.ID(), err)
	}
	if src.Size() < 0 {
		return fmt.Errorf("gateway: file %s: negative size %d: %w", src.ID(), src.Size(), ErrInvalidOptions)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.files[src.ID()]; ok {
		return fmt.Errorf("gateway: file %s: %w", src.ID(), ErrDuplicate)
	}
	s.files[src.ID()] = &fileEntry{src: src, handler: NewFile(src)}
	return nil
}

// RemoveFile stops serving the file id and reports whether it was served.
func (s *Server) RemoveFile(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.files[id]
	delete(s.files, id)
	return ok
}

// LivePath is the path of a live stream's progressive MPEG-TS; its playlist
// is the same with ".m3u8" for ".ts".
func LivePath(name string) string { return livePath(name, ".ts") }

// FilePath is the path a Server serves a file at.
func FilePath(src Source) string { return filePath(src.ID(), src.Name()) }

// Stats returns what is registered, sorted by name.
func (s *Server) Stats() ServerStats {
	s.mu.RLock()
	lives := make([]*Live, 0, len(s.lives))
	for _, l := range s.lives {
		lives = append(lives, l)
	}
	st := ServerStats{Live: []LiveStats{}, Files: []FileInfo{}}
	for _, f := range s.files {
		st.Files = append(st.Files, FileInfo{ID: f.src.ID(), Name: f.src.Name(), SizeBytes: f.src.Size(), Path: FilePath(f.src)})
	}
	s.mu.RUnlock()
	for _, l := range lives {
		st.Live = append(st.Live, l.Stats())
	}
	slices.SortFunc(st.Live, func(a, b LiveStats) int { return cmp.Compare(a.Name, b.Name) })
	slices.SortFunc(st.Files, func(a, b FileInfo) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})
	return st
}

const routesHelp = "this gateway serves /, /stats, /live/NAME.ts, /live/NAME.m3u8, /live/NAME/seg/N.ts and /vod/ID/NAME"

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, err := parseRoute(r.URL.Path)
	if err != nil {
		http.Error(w, fmt.Sprintf("no page at %q: %s", r.URL.Path, routesHelp), http.StatusNotFound)
		return
	}
	switch rt.kind {
	case routeIndex:
		s.serveIndex(w, r)
	case routeStats:
		s.serveStats(w, r)
	case routeLiveTS, routeLivePlaylist, routeLiveSegment:
		s.mu.RLock()
		l := s.lives[rt.name]
		s.mu.RUnlock()
		if l == nil {
			http.Error(w, fmt.Sprintf("no live stream %q here; see / for what is available", rt.name), http.StatusNotFound)
			return
		}
		switch rt.kind {
		case routeLiveTS:
			l.ServeTS(w, r)
		case routeLivePlaylist:
			l.ServePlaylist(w, r)
		default:
			l.ServeSegment(w, r, rt.seg)
		}
	case routeFile, routeFileBare:
		s.mu.RLock()
		f := s.files[rt.id]
		s.mu.RUnlock()
		if f == nil {
			http.Error(w, fmt.Sprintf("no file %s here; see / for what is available", rt.id), http.StatusNotFound)
			return
		}
		// The ID names the content; the name only has to be the file's, so
		// that players see the right extension.
		if rt.kind == routeFileBare || rt.name != f.src.Name() {
			http.Redirect(w, r, FilePath(f.src), http.StatusFound)
			return
		}
		f.handler.ServeHTTP(w, r)
	}
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) {
	if !allowGetHead(w, r) {
		return
	}
	var v any
	if s.stats != nil {
		v = s.stats()
	} else {
		v = s.Stats()
	}
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Warn("gateway: /stats", "err", err)
		http.Error(w, "stats cannot be encoded as JSON: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}

var indexTemplate = template.Must(template.New("index").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Shoal gateway</title></head>
<body>
<h1>Shoal gateway</h1>
<h2>Live</h2>
{{if .Live}}<ul>
{{range .Live}}<li>{{.Name}}: <a href="{{.TS}}">MPEG-TS</a> · <a href="{{.HLS}}">HLS</a> ({{.Clients}} players)</li>
{{end}}</ul>{{else}}<p>No live stream.</p>{{end}}
<h2>On demand</h2>
{{if .Files}}<ul>
{{range .Files}}<li><a href="{{.Path}}">{{.Name}}</a> ({{.SizeBytes}} bytes)</li>
{{end}}</ul>{{else}}<p>No file.</p>{{end}}
<p><a href="/stats">/stats</a> (JSON)</p>
</body></html>
`))

type indexLive struct {
	Name, TS, HLS string
	Clients       int
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	if !allowGetHead(w, r) {
		return
	}
	st := s.Stats()
	data := struct {
		Live  []indexLive
		Files []FileInfo
	}{Files: st.Files}
	for _, l := range st.Live {
		data.Live = append(data.Live, indexLive{Name: l.Name, TS: livePath(l.Name, ".ts"), HLS: livePath(l.Name, ".m3u8"), Clients: l.Clients})
	}
	var b strings.Builder
	if err := indexTemplate.Execute(&b, data); err != nil {
		http.Error(w, "index: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(b.String()))
}
