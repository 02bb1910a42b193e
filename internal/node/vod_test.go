package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// startFilesOrigin runs an origin publishing dir and waits until it lists
// want files.
func startFilesOrigin(t *testing.T, dir string, want int) (*Origin, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o, err := StartOrigin(ctx, OriginConfig{HTTPAddr: "127.0.0.1:0", UDPAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		FilesDir: dir, Logger: quietLogger()})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); o.Wait() })
	for deadline := time.Now().Add(10 * time.Second); len(o.Files().List()) < want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("origin publishes %d files, want %d", len(o.Files().List()), want)
		}
	}
	return o, "http://" + o.HTTPAddr().String()
}

func startTestVOD(t *testing.T, cfg VODConfig) *VOD {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.UDPAddr = "127.0.0.1:0"
	cfg.Logger = quietLogger()
	ctx, cancel := context.WithCancel(context.Background())
	v, err := StartVOD(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); v.Wait() })
	return v
}

func httpGet(t *testing.T, url, rng string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return b
}

func TestVODServesTheFileThroughTheGateway(t *testing.T) {
	dir := t.TempDir()
	data := randomBytes(40*integrity.LeafSize + 777)
	if err := os.WriteFile(filepath.Join(dir, "clip.mp4"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	o, base := startFilesOrigin(t, dir, 1)
	pf := o.Files().List()[0]
	link := base + "/vod/" + pf.ID.String() + "/clip.mp4"

	v1 := startTestVOD(t, VODConfig{URL: link, GatewayAddr: "127.0.0.1:0"})
	if !strings.HasSuffix(v1.FileURL(), "/vod/"+pf.ID.String()+"/clip.mp4") {
		t.Fatalf("file URL %s", v1.FileURL())
	}
	// a seek first, then the whole file
	if got := httpGet(t, v1.FileURL(), "bytes=500000-520000"); !bytes.Equal(got, data[500000:520001]) {
		t.Fatalf("range: %d bytes, differ", len(got))
	}
	if got := httpGet(t, v1.FileURL(), ""); !bytes.Equal(got, data) {
		t.Fatalf("full read: %d bytes of %d, differ", len(got), len(data))
	}
	st := v1.Stats(context.Background())
	if st.HaveBytes != int64(len(data)) || st.BytesFromOrigin+st.BytesFromHTTP+st.BytesFromPeers != int64(len(data)) ||
		st.ChunksVerified != int64(integrity.NumLeaves(int64(len(data)))) || st.WebSeed != "ok" {
		t.Errorf("stats after a full read: %+v", st)
	}
	var js map[string]any
	if err := json.Unmarshal(httpGet(t, v1.GatewayURL()+"/stats", ""), &js); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Fields("bytes_from_peers bytes_from_origin bytes_from_http bytes_uploaded peers delay_s stalls chunks_verified chunks_rejected") {
		if _, ok := js[k]; !ok {
			t.Errorf("/stats lacks %q", k)
		}
	}

	// a second viewer, bounded to a small cache, reads it too
	v2 := startTestVOD(t, VODConfig{URL: link, GatewayAddr: "127.0.0.1:0", CacheBytes: 8 * integrity.LeafSize})
	if got := httpGet(t, v2.FileURL(), ""); !bytes.Equal(got, data) {
		t.Fatalf("second viewer: %d bytes, differ", len(got))
	}
	if st := v2.Stats(context.Background()); st.HaveBytes > 12*integrity.LeafSize {
		t.Errorf("second viewer holds %d bytes with an 8-chunk cache", st.HaveBytes)
	}
}

func TestVODDownloadKeepsWhatTheFileHolds(t *testing.T) {
	dir := t.TempDir()
	data := randomBytes(30*integrity.LeafSize + 5)
	if err := os.WriteFile(filepath.Join(dir, "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	o, base := startFilesOrigin(t, dir, 1)
	link := base + "/vod/" + o.Files().List()[0].ID.String() + "/f.bin"
	out := filepath.Join(t.TempDir(), "out.bin")
	partial := append(bytes.Clone(data[:10*integrity.LeafSize+100]), randomBytes(len(data)-10*integrity.LeafSize-100)...)
	if err := os.WriteFile(out, partial, 0o644); err != nil {
		t.Fatal(err)
	}
	v := startTestVOD(t, VODConfig{URL: link, Output: out})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := v.Download(ctx, nil); err != nil {
		t.Fatal(err)
	}
	st := v.Stats(ctx)
	if st.BytesResumed != 10*integrity.LeafSize {
		t.Errorf("resumed %d bytes, want the 10 whole chunks the file held", st.BytesResumed)
	}
	if got := st.BytesFromPeers + st.BytesFromOrigin + st.BytesFromHTTP; got != int64(len(data))-st.BytesResumed {
		t.Errorf("fetched %d bytes, want only the %d missing", got, int64(len(data))-st.BytesResumed)
	}
	if err := v.store.sync(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out); !bytes.Equal(b, data) {
		t.Error("downloaded file differs")
	}
}

// lyingSource answers plain GETs with the file and Range requests with a
// byte flipped in each.
type lyingSource struct {
	data  []byte
	lying atomic.Bool
}

func (s *lyingSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b := s.data
	if r.Header.Get("Range") != "" && s.lying.Load() {
		b = bytes.Clone(b)
		for i := 7; i < len(b); i += 1000 {
			b[i] ^= 1
		}
	}
	http.ServeContent(w, r, "x.bin", time.Unix(1e9, 0), bytes.NewReader(b))
}

func TestVODLyingWebSeedIsCaught(t *testing.T) {
	src := &lyingSource{data: randomBytes(20*integrity.LeafSize + 3)}
	srv := httptest.NewServer(src)
	defer srv.Close()
	o, base := startFilesOrigin(t, "", 0)
	pf, err := o.Files().PublishURL(context.Background(), srv.URL+"/x.bin")
	if err != nil {
		t.Fatal(err)
	}
	src.lying.Store(true)
	link := base + "/vod/" + pf.ID.String() + "/x.bin"
	v := startTestVOD(t, VODConfig{URL: link, GatewayAddr: "127.0.0.1:0", StallTimeout: 2 * time.Second})
	buf := make([]byte, 1000)
	n, err := v.ReadAt(context.Background(), buf, 0)
	if n != 0 || !errors.Is(err, ErrNoSource) || !strings.Contains(err.Error(), "failed verification") {
		t.Fatalf("read from a lying web seed alone: %d bytes, %v; want ErrNoSource naming the bad bytes", n, err)
	}
	st := v.Stats(context.Background())
	if st.ChunksRejected == 0 || st.HaveBytes != 0 || !strings.HasPrefix(st.WebSeed, "disabled") {
		t.Errorf("stats: %+v", st)
	}
	// a reader that leaves stops waiting
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := v.ReadAt(ctx, buf, 5000); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("read with an ended context: %v", err)
	}

	// once an honest viewer holds the file, the first gets it from there
	src.lying.Store(false)
	h := startTestVOD(t, VODConfig{URL: link, GatewayAddr: "127.0.0.1:0"})
	if got := httpGet(t, h.FileURL(), ""); !bytes.Equal(got, src.data) {
		t.Fatal("honest viewer: bytes differ")
	}
	src.lying.Store(true)
	if err := v.drv.Post(context.Background(), func(now time.Duration, e *core.Engine) { _ = e.AddPeer(now, v.id, h.UDPAddr()) }); err != nil {
		t.Fatal(err)
	}
	if got := httpGet(t, v.FileURL(), ""); !bytes.Equal(got, src.data) {
		t.Fatalf("viewer with a lying web seed and an honest peer: %d bytes, differ", len(got))
	}
}

func TestVODRefusesABadLink(t *testing.T) {
	_, base := startFilesOrigin(t, "", 0)
	ctx := context.Background()
	_, err := StartVOD(ctx, VODConfig{URL: base + "/vod/" + strings.Repeat("0", 64) + "/x.mp4", DataDir: t.TempDir(), Logger: quietLogger()})
	if !errors.Is(err, ErrFileDescriptor) || !strings.Contains(err.Error(), "404") {
		t.Errorf("unknown file: %v", err)
	}
	// a descriptor for another ID than the link names
	other := strings.Repeat("1", 64)
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":"%s","name":"x.mp4","size":100,"chunk_bytes":16384,"leaves_url":"/l","tracker":"/tracker/announce"}`, other)
	}))
	defer fake.Close()
	_, err = StartVOD(ctx, VODConfig{URL: fake.URL + "/vod/" + strings.Repeat("2", 64) + "/x.mp4", DataDir: t.TempDir(), Logger: quietLogger()})
	if !errors.Is(err, ErrFileDescriptor) || !strings.Contains(err.Error(), "link names") {
		t.Errorf("descriptor for another file: %v", err)
	}
	if _, err := StartVOD(ctx, VODConfig{URL: base + "/vod/x", DataDir: t.TempDir(), Output: "o", CacheBytes: 1}); !errors.Is(err, ErrConfig) {
		t.Errorf("Output with CacheBytes: %v", err)
	}
}

func TestOriginSeedsPublishedFilesAndForgetsRemovedOnes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(path, randomBytes(3*integrity.LeafSize), 0o644); err != nil {
		t.Fatal(err)
	}
	o, _ := startFilesOrigin(t, dir, 1)
	id := o.Files().List()[0].ID
	has := func() bool {
		var ok bool
		_ = o.drv.Call(context.Background(), func(_ time.Duration, e *core.Engine) { _, ok = e.SwarmStats(id) })
		return ok
	}
	o.syncFiles()
	if !has() || o.trk.Stats()[id].Seeds != 1 {
		t.Fatalf("published file not seeded: engine %v, tracker %+v", has(), o.trk.Stats()[id])
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := o.Files().Rescan(context.Background()); err != nil {
		t.Fatal(err)
	}
	o.syncFiles()
	if has() {
		t.Error("removed file still seeded")
	}
	if _, ok := o.trk.Stats()[id]; ok {
		t.Error("removed file still tracked")
	}
}

func TestVODNewestReaderSteers(t *testing.T) {
	v := &VOD{readers: map[<-chan struct{}]*vodReader{}}
	ctxA, cancelA := context.WithCancel(context.Background())
	ctxB, cancelB := context.WithCancel(context.Background())
	defer cancelB()
	a := v.reader(ctxA)
	b := v.reader(ctxB)
	if v.reader(ctxA) != a {
		t.Fatal("one request, two readers")
	}
	for _, c := range []struct {
		aWaits, bWaits bool
		a, b           bool
	}{
		{false, false, false, true}, // the newest steers
		{true, false, true, true},   // an older one that waits, while the newest does not
		{true, true, false, true},   // both wait: the newest
		{false, true, false, true},
	} {
		v.setWaiting(a, c.aWaits)
		v.setWaiting(b, c.bWaits)
		if v.steers(a) != c.a || v.steers(b) != c.b {
			t.Errorf("a waits %v, b waits %v: a steers %v, b steers %v; want %v, %v",
				c.aWaits, c.bWaits, v.steers(a), v.steers(b), c.a, c.b)
		}
	}
	// a request that ends leaves
	cancelA()
	for deadline := time.Now().Add(time.Second); ; time.Sleep(time.Millisecond) {
		v.rmu.Lock()
		n := len(v.readers)
		v.rmu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d readers after one request ended, want 1", n)
		}
	}
}
