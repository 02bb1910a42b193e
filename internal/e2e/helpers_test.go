package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	shoalBin   string
	skipReason string // why the live tests skip
	noTools    string // why every test skips: ffmpeg or ffprobe is missing
)

func TestMain(m *testing.M) {
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			skipReason = bin + " is not in PATH; the live end-to-end tests need real ffmpeg and ffprobe"
			noTools = bin + " is not in PATH; the end-to-end tests need real ffmpeg and ffprobe"
		}
	}
	dir, err := os.MkdirTemp("", "shoal-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shoalBin = filepath.Join(dir, "shoal")
	if noTools != "" {
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	out, err := exec.Command("go", "build", "-o", shoalBin, "github.com/shoalstream/shoal/cmd/shoal").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build shoal: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func needMedia(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}

// proc is a child process whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	out  *lineWatch
	done chan struct{}
}

// lineWatch collects stdout lines and lets a test wait for one.
type lineWatch struct {
	mu    sync.Mutex
	lines []string
	cond  chan struct{}
}

func (w *lineWatch) add(s string) {
	w.mu.Lock()
	w.lines = append(w.lines, s)
	close(w.cond)
	w.cond = make(chan struct{})
	w.mu.Unlock()
}

func (w *lineWatch) wait(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		for _, l := range w.lines {
			if m := re.FindStringSubmatch(l); m != nil {
				w.mu.Unlock()
				return m
			}
		}
		c := w.cond
		w.mu.Unlock()
		select {
		case <-c:
		case <-deadline:
			t.Fatalf("no output line matching %v within %v", re, timeout)
		}
	}
}

// start runs a child process; the test's cleanup stops it.
func start(t *testing.T, name string, bin string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	if dir := os.Getenv("SHOAL_E2E_LOGS"); dir != "" {
		// keep every process's log, shoal's with debug details
		dir = filepath.Join(dir, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		logPath = filepath.Join(dir, name+".log")
		if bin == shoalBin {
			args = append(args, "-v")
		}
	}
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, out: &lineWatch{cond: make(chan struct{})}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.out.add(sc.Text())
			fmt.Fprintln(logf, "stdout:", sc.Text())
		}
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			s := string(b)
			if len(s) > 3000 {
				s = "…" + s[len(s)-3000:]
			}
			t.Logf("--- %s log (tail) ---\n%s", name, s)
		}
	})
	return p
}

// stop interrupts the process (a clean exit) and kills it if it lingers.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process without letting it say goodbye.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// viewerStats is the part of a gateway's /stats the tests read.
type viewerStats struct {
	Playing         bool    `json:"playing"`
	BytesFromPeers  int64   `json:"bytes_from_peers"`
	BytesFromOrigin int64   `json:"bytes_from_origin"`
	BytesFromHTTP   int64   `json:"bytes_from_http"`
	BytesUploaded   int64   `json:"bytes_uploaded"`
	Peers           int     `json:"peers"`
	DelayS          float64 `json:"delay_s"`
	Stalls          int64   `json:"stalls"`
	ChunksVerified  int64   `json:"chunks_verified"`
	ChunksRejected  int64   `json:"chunks_rejected"`
	ChunksPlayed    int64   `json:"chunks_played"`
	ChunksMissed    int64   `json:"chunks_missed"`
	PeersBanned     int64   `json:"peers_banned"`
	Gateway         struct {
		Chunks uint64 `json:"chunks"`
		Bytes  uint64 `json:"bytes"`
	} `json:"gateway"`
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// readFor reads url for d into a file and returns its path and when the
// first byte came, measured from the request.
func readFor(t *testing.T, url string, d time.Duration) (path string, firstByte time.Duration) {
	return readTo(t, url, d, filepath.Join(t.TempDir(), "out.ts"))
}

// readTo is readFor into a given file.
func readTo(t *testing.T, url string, d time.Duration, path string) (string, time.Duration) {
	var firstByte time.Duration
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	startAt := time.Now()
	resp, err := http.DefaultClient.Do(req)
	firstByte = -1
	if err != nil {
		t.Errorf("GET %s: %v", url, err) // not Fatal: readFor runs on other goroutines too
		return path, firstByte
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", url, resp.Status)
		return path, firstByte
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 && firstByte < 0 {
			firstByte = time.Since(startAt)
		}
		f.Write(buf[:n])
		if err != nil {
			if err != io.EOF && ctx.Err() == nil {
				t.Errorf("read %s: %v", url, err)
			}
			return path, firstByte
		}
	}
}

// probe checks with ffprobe that a file is an MPEG-TS with H.264 and AAC
// and returns its duration in seconds.
func probe(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-of", "json", "-show_streams", "-show_format", path).Output()
	if err != nil {
		t.Errorf("ffprobe %s: %v", path, err)
		return 0
	}
	var r struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			Duration  string `json:"duration"`
		} `json:"streams"`
		Format struct {
			FormatName string `json:"format_name"`
			Duration   string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Errorf("ffprobe %s: %v", path, err)
		return 0
	}
	codecs := map[string]bool{}
	for _, s := range r.Streams {
		codecs[s.CodecName] = true
	}
	if !codecs["h264"] || !codecs["aac"] || !strings.Contains(r.Format.FormatName, "mpegts") {
		t.Errorf("%s: format %q codecs %v, want mpegts with h264 and aac", path, r.Format.FormatName, codecs)
	}
	var dur float64
	fmt.Sscanf(r.Format.Duration, "%g", &dur)
	return dur
}
