package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// needTools skips a test when ffmpeg or ffprobe is missing.
func needTools(t *testing.T) {
	t.Helper()
	if noTools != "" {
		t.Skip(noTools)
	}
}

// makeMP4 encodes secs seconds of ffmpeg's test pattern as H.264 + AAC at
// about 2 Mb/s into path, with the index (moov) at the end as ffmpeg writes
// it by default.
func makeMP4(t *testing.T, path string, secs int) {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-g", "50",
		"-b:v", "1900k", "-maxrate", "1900k", "-bufsize", "1900k", "-c:a", "aac", "-b:a", "96k", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// faststart copies an MP4 with its index moved to the front.
func faststart(t *testing.T, in, out string) {
	t.Helper()
	b, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", in,
		"-c", "copy", "-movflags", "+faststart", out).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg faststart: %v\n%s", err, b)
	}
}

// fileInfo is an entry of the origin's /api/files.
type fileInfo struct {
	Name string `json:"name"`
	ID   string `json:"id"`
	Size int64  `json:"size"`
	URL  string `json:"url"`
}

// startVODOrigin runs shoal serve with extra flags and returns its base URL.
func startVODOrigin(t *testing.T, extra ...string) string {
	t.Helper()
	httpPort := freePort(t, "tcp")
	base := "http://127.0.0.1:" + strconv.Itoa(httpPort)
	args := append([]string{"serve", "--http", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--udp", "127.0.0.1:" + strconv.Itoa(freePort(t, "udp")), "--data", filepath.Join(t.TempDir(), "origin")}, extra...)
	p := start(t, "origin", shoalBin, args...)
	p.out.wait(t, regexp.MustCompile(`^origin listening`), 15*time.Second)
	return base
}

// waitFiles waits until the origin lists n files and returns them by name.
func waitFiles(t *testing.T, base string, n int, timeout time.Duration) map[string]fileInfo {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var list []fileInfo
		getJSON(t, base+"/api/files", &list)
		if len(list) >= n {
			m := map[string]fileInfo{}
			for _, f := range list {
				m[f.Name] = f
			}
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("origin lists %d files after %v, want %d", len(list), timeout, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vodViewer is a shoal play process on an on-demand link.
type vodViewer struct {
	p     *proc
	file  string // the file at its gateway
	stats string
}

var vodLine = regexp.MustCompile(`^\s+(http://127\.0\.0\.1:\d+)(/vod/\S+)$`)

func startVODViewer(t *testing.T, name, link string, extra ...string) *vodViewer {
	t.Helper()
	args := append([]string{"play", link, "--data", filepath.Join(t.TempDir(), name),
		"--udp", "127.0.0.1:0", "--gateway", "127.0.0.1:0"}, extra...)
	p := start(t, name, shoalBin, args...)
	m := p.out.wait(t, vodLine, 20*time.Second)
	return &vodViewer{p: p, file: m[1] + m[2], stats: m[1] + "/stats"}
}

// vodStats is the part of an on-demand gateway's /stats the tests read.
type vodStats struct {
	HaveBytes       int64  `json:"have_bytes"`
	BytesFromPeers  int64  `json:"bytes_from_peers"`
	BytesFromOrigin int64  `json:"bytes_from_origin"`
	BytesFromHTTP   int64  `json:"bytes_from_http"`
	BytesUploaded   int64  `json:"bytes_uploaded"`
	Peers           int    `json:"peers"`
	Stalls          int64  `json:"stalls"`
	ChunksVerified  int64  `json:"chunks_verified"`
	ChunksRejected  int64  `json:"chunks_rejected"`
	WebSeed         string `json:"web_seed"`
}

func (v *vodViewer) statsNow(t *testing.T) vodStats {
	t.Helper()
	var s vodStats
	getJSON(t, v.stats, &s)
	return s
}

// readRange GETs n bytes from off (n < 0: to the end) and returns them with
// the time from the request to the first byte of the body.
func readRange(ctx context.Context, url string, off, n int64) ([]byte, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	if n < 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	} else {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	startAt := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		return nil, 0, fmt.Errorf("GET %s %s: %s", url, req.Header.Get("Range"), resp.Status)
	}
	var first time.Duration
	var buf bytes.Buffer
	b := make([]byte, 64<<10)
	for {
		k, err := resp.Body.Read(b)
		if k > 0 && first == 0 {
			first = time.Since(startAt)
		}
		buf.Write(b[:k])
		if err == io.EOF {
			return buf.Bytes(), first, nil
		}
		if err != nil {
			return buf.Bytes(), first, err
		}
	}
}

// readAllHash GETs the whole file and returns the SHA-256 of the body and
// its length.
func readAllHash(ctx context.Context, url string) ([32]byte, int64, error) {
	var sum [32]byte
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return sum, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return sum, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return sum, 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	copy(sum[:], h.Sum(nil))
	return sum, n, err
}

// probeMP4 checks with ffprobe, reading through url, that the file holds
// H.264 and AAC streams.
func probeMP4(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", url).Output()
	if err != nil {
		t.Errorf("ffprobe %s: %v", url, err)
		return
	}
	var r struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
		} `json:"streams"`
		Format struct {
			FormatName string `json:"format_name"`
			Duration   string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Errorf("ffprobe %s: %v", url, err)
		return
	}
	codecs := map[string]bool{}
	for _, s := range r.Streams {
		codecs[s.CodecName] = true
	}
	if !codecs["h264"] || !codecs["aac"] || !strings.Contains(r.Format.FormatName, "mp4") {
		t.Errorf("ffprobe %s: format %q codecs %v, want mp4 with h264 and aac", url, r.Format.FormatName, codecs)
	}
}

// runShoal runs a shoal command to its end and returns its exit code and
// output.
func runShoal(t *testing.T, timeout time.Duration, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, shoalBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("shoal %s: still running after %v\n%s", strings.Join(args, " "), timeout, errb.String())
	}
	code = 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	return code, out.String(), errb.String()
}

// webSource is a web server holding one file: plain GETs get the file, and
// Range requests get it with one byte in every 4 KiB flipped while corrupt
// is set.
type webSource struct {
	data    []byte
	bad     []byte
	corrupt atomic.Bool
	flipped atomic.Int64 // corrupted answers sent
}

func newWebSource(data []byte) *webSource {
	bad := bytes.Clone(data)
	for i := 100; i < len(bad); i += 4096 {
		bad[i] ^= 0xff
	}
	return &webSource{data: data, bad: bad}
}

var sourceTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func (s *webSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := s.data
	if r.Header.Get("Range") != "" && s.corrupt.Load() {
		body = s.bad
		s.flipped.Add(1)
	}
	http.ServeContent(w, r, "clip.bin", sourceTime, bytes.NewReader(body))
}

// sha sums b.
func sha(b []byte) [32]byte { return sha256.Sum256(b) }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
