package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
)

// webServer serves files with Range through http.ServeContent, as any web
// server does, and counts whole-file downloads.
type webServer struct {
	etag     bool // send an ETag
	fullGets atomic.Int64

	mu      sync.Mutex
	files   map[string][]byte
	modTime time.Time // zero sends no Last-Modified
}

func (s *webServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.files[r.URL.Path]
	modTime := s.modTime
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Range") == "" {
		s.fullGets.Add(1)
	}
	if s.etag {
		w.Header().Set("ETag", `"`+rootOfBytes(b).String()[:16]+`"`)
	}
	http.ServeContent(w, r, r.URL.Path, modTime, bytes.NewReader(b))
}

func (s *webServer) set(path string, b []byte, modTime time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = b
	s.modTime = modTime
}

func rootOfBytes(b []byte) integrity.Hash {
	tr, err := integrity.BuildTree(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		panic(err)
	}
	return tr.Root()
}

func newWebServer(t *testing.T, etag bool) (*webServer, *httptest.Server) {
	t.Helper()
	ws := &webServer{files: map[string][]byte{}, etag: etag}
	srv := httptest.NewServer(ws)
	t.Cleanup(srv.Close)
	return ws, srv
}

func TestPublishURL(t *testing.T) {
	day := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		etag    bool
		modTime time.Time
		gets    int64 // whole-file downloads over two starts
	}{
		{"etag", true, day, 1},
		{"last-modified", false, day, 1},
		{"unversioned", false, time.Time{}, 2}, // nothing says the file is the same
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws, srv := newWebServer(t, tc.etag)
			film := testBytes(11, 7*integrity.LeafSize+100)
			ws.set("/media/my film.mp4", film, tc.modTime)
			data := t.TempDir()
			f, builds := newTestFiles(t, FileConfig{DataDir: data})
			raw := srv.URL + "/media/my%20film.mp4"
			pf, err := f.PublishURL(t.Context(), raw)
			if err != nil {
				t.Fatal(err)
			}
			want := PublishedFile{Name: "my film.mp4", ID: rootOf(t, film), Size: int64(len(film)), SourceURL: raw,
				ModTime: tc.modTime, Tree: pf.Tree}
			if *pf != want {
				t.Fatalf("PublishURL = %+v, want %+v", *pf, want)
			}
			if got, ok := f.Lookup(pf.ID); !ok || got.SourceURL != raw {
				t.Errorf("Lookup = %+v, %v", got, ok)
			}
			if n := ws.fullGets.Load(); n != 1 {
				t.Errorf("%d whole-file downloads, want 1", n)
			}
			if info := pf.Info(); info.WebSeed != raw || info.URL != "/vod/"+pf.ID.String()+"/my%20film.mp4" {
				t.Errorf("Info() = %+v", info)
			}

			f2, builds2 := newTestFiles(t, FileConfig{DataDir: data})
			pf2, err := f2.PublishURL(t.Context(), raw)
			if err != nil || pf2.ID != pf.ID {
				t.Fatalf("after restart: %+v, %v", pf2, err)
			}
			if n := builds.Load() + builds2.Load(); n != tc.gets {
				t.Errorf("%d trees built over two starts, want %d", n, tc.gets)
			}
			if n := ws.fullGets.Load(); n != tc.gets {
				t.Errorf("%d whole-file downloads over two starts, want %d", n, tc.gets)
			}

			// The seed link of a web source leads to the source.
			hs := httptest.NewServer(f2.Handler())
			defer hs.Close()
			resp, _ := filesFetch(t, "GET", hs.URL+"/seed/"+pf.ID.String()+"/my%20film.mp4", nil)
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != raw {
				t.Errorf("seed of a web source: %s Location %q", resp.Status, resp.Header.Get("Location"))
			}

			// A changed file is a new version.
			shorter := film[:len(film)-1]
			ws.set("/media/my film.mp4", shorter, tc.modTime.Add(time.Hour))
			pf3, err := f2.PublishURL(t.Context(), raw)
			if err != nil || pf3.ID != rootOf(t, shorter) {
				t.Fatalf("changed source: %+v, %v", pf3, err)
			}
			if _, ok := f2.Lookup(pf.ID); ok {
				t.Error("old version still published")
			}
		})
	}
}

func TestPublishURLErrors(t *testing.T) {
	ws, srv := newWebServer(t, true)
	ws.set("/empty.mp4", nil, time.Time{})
	body := testBytes(3, 3*integrity.LeafSize+5)
	size := len(body)
	ok := &atomic.Bool{}
	mux := http.NewServeMux()
	mux.Handle("/", ws)
	// A server that ignores Range.
	mux.HandleFunc("/norange.mp4", func(w http.ResponseWriter, r *http.Request) {
		ok.Store(true)
		w.Header().Set("Content-Length", strconv.Itoa(size))
		w.Write(body)
	})
	// Servers that answer the range probe well and then lie.
	probe := func(w http.ResponseWriter, r *http.Request, etag string) bool {
		w.Header().Set("ETag", etag)
		if r.Header.Get("Range") != "bytes=0-0" {
			return false
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-0/%d", size))
		w.Header().Set("Content-Length", "1")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body[:1])
		return true
	}
	mux.HandleFunc("/longer.mp4", func(w http.ResponseWriter, r *http.Request) {
		if !probe(w, r, `"a"`) {
			w.Write(body) // no Content-Length: chunked
			w.(http.Flusher).Flush()
			w.Write([]byte("and then some"))
		}
	})
	mux.HandleFunc("/shorter.mp4", func(w http.ResponseWriter, r *http.Request) {
		if !probe(w, r, `"a"`) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Write(body[:size-100]) // the server closes the connection short
		}
	})
	mux.HandleFunc("/bigger.mp4", func(w http.ResponseWriter, r *http.Request) {
		if !probe(w, r, `"a"`) {
			w.Header().Set("Content-Length", strconv.Itoa(size+10))
			w.Write(append(body, make([]byte, 10)...))
		}
	})
	mux.HandleFunc("/etag.mp4", func(w http.ResponseWriter, r *http.Request) {
		if !probe(w, r, `"a"`) {
			w.Header().Set("ETag", `"b"`)
			w.Write(body)
		}
	})
	mux.HandleFunc("/stall.mp4", func(w http.ResponseWriter, r *http.Request) {
		if !probe(w, r, `"a"`) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Write(body[:100])
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	})
	mux.HandleFunc("/badrange.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", "bytes 0-0/*")
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body[:1])
	})
	mux.HandleFunc("/tworange.mp4", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-0/%d", size))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(body[:2])
	})
	mux.HandleFunc("/gone.mp4", func(w http.ResponseWriter, r *http.Request) {
		if !probe(w, r, `"a"`) {
			http.Error(w, "gone", http.StatusGone)
		}
	})
	lying := httptest.NewServer(mux)
	t.Cleanup(lying.Close)

	f, _ := newTestFiles(t, FileConfig{})
	f.stall = 200 * time.Millisecond
	kept := []byte("a file that stays published")
	ws.set("/kept.bin", kept, time.Time{})
	if _, err := f.PublishURL(t.Context(), srv.URL+"/kept.bin"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		url  string
		want error
		msg  string
	}{
		{srv.URL + "/missing.mp4", ErrSource, "404"},
		{srv.URL + "/empty.mp4", ErrEmpty, ""},
		{lying.URL + "/norange.mp4", ErrNoRange, "200"},
		{lying.URL + "/longer.mp4", ErrSource, "other than the"},
		{lying.URL + "/shorter.mp4", ErrSource, "other than the"},
		{lying.URL + "/bigger.mp4", ErrSource, "announces"},
		{lying.URL + "/etag.mp4", ErrSource, "changed"},
		{lying.URL + "/stall.mp4", ErrSource, "too long"},
		{lying.URL + "/badrange.mp4", ErrSource, "Content-Range"},
		{lying.URL + "/tworange.mp4", ErrSource, "2 bytes"},
		{lying.URL + "/gone.mp4", ErrSource, "410"},
		{"http://127.0.0.1:1/refused.mp4", ErrSource, "refused"},
		{"ftp://example.com/x.mp4", ErrSource, "http"},
		{"/relative.mp4", ErrSource, "absolute"},
		{"http://[::1", ErrSource, ""},
	} {
		pf, err := f.PublishURL(t.Context(), tc.url)
		if !errors.Is(err, tc.want) || !strings.Contains(fmt.Sprint(err), tc.msg) {
			t.Errorf("PublishURL(%s) = %v, %v; want %v with %q", tc.url, pf, err, tc.want, tc.msg)
		}
		if list := f.List(); len(list) != 1 || list[0].Name != "kept.bin" {
			t.Errorf("after %s: published %+v, want only kept.bin", tc.url, list)
		}
	}
	if !ok.Load() {
		t.Error("the server without Range support was not asked")
	}
}

func TestPublishURLCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			w.Header().Set("Content-Range", "bytes 0-0/1000")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte{0})
			return
		}
		w.Header().Set("Content-Length", "1000")
		w.Write([]byte{0})
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	f, _ := newTestFiles(t, FileConfig{})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := f.PublishURL(ctx, srv.URL+"/slow.mp4")
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrSource) {
		t.Errorf("PublishURL with an expiring context = %v, want DeadlineExceeded", err)
	}
}
