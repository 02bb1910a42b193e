package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// memSource is a Source over bytes that arrive when the test unlocks them,
// as verified blocks arrive from a swarm.
type memSource struct {
	id, name string
	data     []byte

	mu      sync.Mutex
	have    []bool
	changed chan struct{} // closed and replaced on every unlock
	pending int

	reads     chan [2]int64 // blocked reads, [off, end)
	cancelled chan int64    // offsets of reads ended by their context
}

func newMemSource(id, name string, data []byte) *memSource {
	return &memSource{
		id: id, name: name, data: data,
		have:      make([]bool, len(data)),
		changed:   make(chan struct{}),
		reads:     make(chan [2]int64, 1024),
		cancelled: make(chan int64, 1024),
	}
}

func (m *memSource) Size() int64  { return int64(len(m.data)) }
func (m *memSource) ID() string   { return m.id }
func (m *memSource) Name() string { return m.name }

func (m *memSource) unlock(from, to int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := from; i < to && i < int64(len(m.have)); i++ {
		m.have[i] = true
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *memSource) pendingReads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending
}

func (m *memSource) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	if off >= m.Size() {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), m.Size())
	announced := false
	defer func() {
		if announced {
			m.mu.Lock()
			m.pending--
			m.mu.Unlock()
		}
	}()
	for {
		m.mu.Lock()
		ok := !bytes.Contains(boolBytes(m.have[off:end]), []byte{0})
		ch := m.changed
		if !ok && !announced {
			announced = true
			m.pending++
		}
		m.mu.Unlock()
		if ok {
			n := copy(p, m.data[off:end])
			if n < len(p) {
				return n, io.EOF
			}
			return n, nil
		}
		if announced {
			select {
			case m.reads <- [2]int64{off, end}:
			default:
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			m.cancelled <- off
			return 0, ctx.Err()
		}
	}
}

func boolBytes(b []bool) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		if v {
			out[i] = 1
		}
	}
	return out
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func serveFile(t testing.TB, src Source) (*httptest.Server, string) {
	t.Helper()
	s := NewServer(ServerOptions{Logger: quiet})
	if err := s.AddFile(src); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv, srv.URL + FilePath(src)
}

func TestFileHTTPSemantics(t *testing.T) {
	const size = 100 << 10
	data := randomBytes(size)
	src := newMemSource("abcdef0123", "clip.mp4", data)
	src.unlock(0, size)
	_, url := serveFile(t, src)
	sz := strconv.Itoa(size)
	for _, tc := range []struct {
		name          string
		method        string
		header        map[string]string
		status        int
		contentRange  string
		body          []byte // nil: no body expected
		contentLength string
	}{
		{"whole file", "GET", nil, 200, "", data, sz},
		{"head", "HEAD", nil, 200, "", nil, sz},
		{"first bytes", "GET", map[string]string{"Range": "bytes=0-99"}, 206, "bytes 0-99/" + sz, data[:100], "100"},
		{"open range", "GET", map[string]string{"Range": "bytes=100000-"}, 206, "bytes 100000-102399/" + sz, data[100000:], "2400"},
		{"suffix range", "GET", map[string]string{"Range": "bytes=-10"}, 206, "bytes 102390-102399/" + sz, data[size-10:], "10"},
		{"range past the end is clipped", "GET", map[string]string{"Range": "bytes=102300-200000"}, 206, "bytes 102300-102399/" + sz, data[102300:], "100"},
		{"range beyond the end", "GET", map[string]string{"Range": "bytes=" + sz + "-"}, 416, "bytes */" + sz, nil, ""},
		{"head with range", "HEAD", map[string]string{"Range": "bytes=10-19"}, 206, "bytes 10-19/" + sz, nil, "10"},
		{"cached copy is current", "GET", map[string]string{"If-None-Match": `"abcdef0123"`}, 304, "", nil, ""},
		{"weak match counts for If-None-Match", "GET", map[string]string{"If-None-Match": `W/"abcdef0123"`}, 304, "", nil, ""},
		{"cached copy is another file", "GET", map[string]string{"If-None-Match": `"0000"`}, 200, "", data, sz},
		{"if-range matches", "GET", map[string]string{"Range": "bytes=0-9", "If-Range": `"abcdef0123"`}, 206, "bytes 0-9/" + sz, data[:10], "10"},
		{"if-range differs: whole file", "GET", map[string]string{"Range": "bytes=0-9", "If-Range": `"0000"`}, 200, "", data, sz},
		{"method not allowed", "PUT", nil, 405, "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, url, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			h := resp.Header
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.status, body)
			}
			if got := h.Get("Content-Range"); got != tc.contentRange {
				t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
			}
			if tc.contentLength != "" && h.Get("Content-Length") != tc.contentLength {
				t.Errorf("Content-Length %q, want %q", h.Get("Content-Length"), tc.contentLength)
			}
			if tc.body != nil && !bytes.Equal(body, tc.body) {
				t.Errorf("body of %d bytes, want %d", len(body), len(tc.body))
			}
			if tc.body == nil && tc.status != 405 && tc.status != 416 && len(body) != 0 {
				t.Errorf("body of %d bytes, want none", len(body))
			}
			if tc.status < 300 || tc.status == 304 {
				if got := h.Get("ETag"); got != `"abcdef0123"` {
					t.Errorf("ETag %q", got)
				}
				if got := h.Get("Accept-Ranges"); got != "bytes" {
					t.Errorf("Accept-Ranges %q", got)
				}
			}
			if tc.status < 300 && h.Get("Content-Type") != "video/mp4" {
				t.Errorf("Content-Type %q", h.Get("Content-Type"))
			}
		})
	}
}

func TestFileMultiRange(t *testing.T) {
	data := randomBytes(4096)
	src := newMemSource("01", "a.ts", data)
	src.unlock(0, 4096)
	_, url := serveFile(t, src)
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Range", "bytes=0-9,100-199")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 206 || err != nil || mt != "multipart/byteranges" {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for _, want := range []struct {
		cr   string
		body []byte
	}{{"bytes 0-9/4096", data[:10]}, {"bytes 100-199/4096", data[100:200]}} {
		part, err := mr.NextPart()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		if part.Header.Get("Content-Range") != want.cr || part.Header.Get("Content-Type") != "video/mp2t" || !bytes.Equal(b, want.body) {
			t.Fatalf("part %q %q, %d bytes; want %q", part.Header.Get("Content-Range"), part.Header.Get("Content-Type"), len(b), want.cr)
		}
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Fatalf("after two parts: %v", err)
	}
}

func TestFileReadWaitsForBytes(t *testing.T) {
	data := randomBytes(64 << 10)
	src := newMemSource("beef", "movie.mkv", data)
	src.unlock(0, 1000)
	_, url := serveFile(t, src)

	c := startRangeClient(url, "bytes=5000-5999")
	got := <-src.reads
	if got[0] != 5000 {
		t.Fatalf("first blocked read at %d, want 5000", got[0])
	}
	select {
	case <-c.done:
		t.Fatal("response finished while its bytes were missing")
	default:
	}
	src.unlock(0, int64(len(data)))
	status, body, err := c.wait(t)
	if status != 206 || err != nil || !bytes.Equal(body, data[5000:6000]) {
		t.Fatalf("status %d, %d bytes, error %v", status, len(body), err)
	}
}

func TestFileDisconnectCancelsRead(t *testing.T) {
	src := newMemSource("beef", "movie.mp4", randomBytes(64<<10))
	_, url := serveFile(t, src)
	c := startRangeClient(url, "bytes=30000-")
	<-src.reads
	c.cancel()
	if off := <-src.cancelled; off != 30000 {
		t.Fatalf("cancelled read at %d, want 30000", off)
	}
	c.wait(t)
	waitFor(t, "reads to end", func() bool { return src.pendingReads() == 0 })
}

func startRangeClient(url, rng string) *tsClient {
	ctx, cancel := context.WithCancel(context.Background())
	c := &tsClient{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(c.done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Range", rng)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		c.mu.Lock()
		c.status, c.header, c.body, c.err = resp.StatusCode, resp.Header, body, err
		c.mu.Unlock()
	}()
	return c
}

func TestFileFFprobeMP4(t *testing.T) {
	needTools(t)
	p := filepath.Join(t.TempDir(), "clip.mp4")
	runFFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", "-f", "mp4", p)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	// ffmpeg writes the index (moov) last, so a player must seek to the end.
	if i := bytes.Index(data, []byte("moov")); i < len(data)/2 {
		t.Fatalf("moov at %d of %d bytes: want it at the end", i, len(data))
	}
	src := newMemSource("c0ffee", "clip.mp4", data)
	_, url := serveFile(t, src)

	// Bytes arrive only when a read asks for them, as demand would fetch
	// them from the swarm.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var maxOff int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case r := <-src.reads:
				maxOff = max(maxOff, r[0])
				src.unlock(r[0], r[1])
			case <-ctx.Done():
				return
			}
		}
	}()
	res := ffprobe(t, url)
	cancel()
	wg.Wait()
	wantCodecs(t, res)
	if !strings.Contains(res.Format.FormatName, "mp4") {
		t.Errorf("format %q, want mp4", res.Format.FormatName)
	}
	if maxOff < int64(len(data))/2 {
		t.Errorf("no demand past %d of %d bytes: ffprobe did not seek to the index", maxOff, len(data))
	}
}

// shortSource answers reads with nothing and no error, a broken Source.
type shortSource struct{ *memSource }

func (shortSource) ReadAt(context.Context, []byte, int64) (int, error) { return 0, nil }

func TestSourceReader(t *testing.T) {
	src := newMemSource("aa", "f.bin", []byte("hello world"))
	src.unlock(0, 11)
	r := &sourceReader{ctx: context.Background(), src: src, size: src.Size()}
	if _, err := r.Seek(6, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "world" {
		t.Fatalf("read %q, %v", b, err)
	}
	if pos, err := r.Seek(-5, io.SeekEnd); pos != 6 || err != nil {
		t.Fatalf("seek from end: %d %v", pos, err)
	}
	if _, err := r.Seek(-100, io.SeekCurrent); err == nil {
		t.Fatal("seek before the start succeeded")
	}
	bad := &sourceReader{ctx: context.Background(), src: shortSource{src}, size: 11}
	if _, err := bad.Read(make([]byte, 4)); !errors.Is(err, ErrNoProgress) {
		t.Fatalf("read from a source that gives nothing: %v", err)
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"a.mp4": "video/mp4", "B.MP4": "video/mp4", "x.ts": "video/mp2t", "x.mkv": "video/x-matroska",
		"x.webm": "video/webm", "x.mp3": "audio/mpeg", "x.m3u8": "application/vnd.apple.mpegurl",
		"noext": "application/octet-stream", "x.weird": "application/octet-stream", "x.tar.gz": "application/gzip",
	} {
		if got := ContentType(name); got != want {
			t.Errorf("ContentType(%q) = %q, want %q", name, got, want)
		}
	}
}
