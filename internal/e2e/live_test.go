package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// streamBps is the rate ffmpeg is asked for: video and audio together.
const streamBps = 1_000_000

// encodeArgs makes ffmpeg's test pattern at a fixed ~1 Mb/s, H.264 + AAC,
// one keyframe a second, in real time.
func encodeArgs() []string {
	return []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
		"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "25",
		"-b:v", "900k", "-maxrate", "900k", "-bufsize", "450k", "-c:a", "aac", "-b:a", "64k"}
}

type rig struct {
	t        *testing.T
	base     string // origin HTTP base
	stream   string // http://ORIGIN/live/NAME
	source   func() *proc
	src      *proc
	hardStop bool // kill the source: an HLS encoder stopped cleanly ends its playlist for good
	viewers  []*viewer
	n        int
}

type viewer struct {
	p     *proc
	ts    string
	stats string
}

var tsLine = regexp.MustCompile(`^\s+(http://127\.0\.0\.1:\d+)(/live/[^ ]+\.ts)$`)

func (r *rig) addViewer(extra ...string) *viewer {
	r.t.Helper()
	r.n++
	args := append([]string{"play", r.stream, "--data", filepath.Join(r.t.TempDir(), "viewer"),
		"--udp", "127.0.0.1:0", "--gateway", "127.0.0.1:0", "--max-upload", "6mbit"}, extra...)
	p := start(r.t, fmt.Sprintf("viewer%d", r.n), shoalBin, args...)
	m := p.out.wait(r.t, tsLine, 20*time.Second)
	v := &viewer{p: p, ts: m[1] + m[2], stats: m[1] + "/stats"}
	r.viewers = append(r.viewers, v)
	return v
}

func (r *rig) stats(v *viewer) viewerStats {
	var s viewerStats
	getJSON(r.t, v.stats, &s)
	return s
}

// waitPlaying waits until every viewer plays.
func (r *rig) waitPlaying(vs []*viewer, timeout time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for _, v := range vs {
		for !r.stats(v).Playing {
			if time.Now().After(deadline) {
				r.t.Fatalf("%s not playing after %v", v.p.name, timeout)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func startOrigin(t *testing.T, extra ...string) (base string) {
	httpPort := freePort(t, "tcp")
	base = "http://127.0.0.1:" + strconv.Itoa(httpPort)
	args := append([]string{"serve", "--http", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--udp", "127.0.0.1:" + strconv.Itoa(freePort(t, "udp")), "--data", filepath.Join(t.TempDir(), "origin"),
		"--max-upload", strconv.Itoa(streamBps * 3 / 2), "--window", "20s"}, extra...)
	p := start(t, "origin", shoalBin, args...)
	p.out.wait(t, regexp.MustCompile(`^origin listening`), 10*time.Second)
	return base
}

func TestLivePush(t *testing.T) {
	needMedia(t)
	base := startOrigin(t, "--push-key", "k3y")
	r := &rig{t: t, base: base, stream: base + "/live/cam"}
	r.source = func() *proc {
		return start(t, "ffmpeg-push", "ffmpeg", append(encodeArgs(), "-f", "mpegts", "-method", "PUT",
			base+"/ingest/cam?key=k3y")...)
	}
	r.src = r.source()
	runScenario(t, r, true)
}

func TestLiveHLSPull(t *testing.T) {
	needMedia(t)
	dir := t.TempDir()
	hls := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer hls.Close()
	startNum := 0
	source := func() *proc {
		p := start(t, "ffmpeg-hls", "ffmpeg", append(encodeArgs(), "-f", "hls", "-hls_time", "1", "-hls_list_size", "6",
			"-hls_flags", "delete_segments", "-start_number", strconv.Itoa(startNum), filepath.Join(dir, "index.m3u8"))...)
		startNum += 10000 // a restarted encoder continues the media sequence
		return p
	}
	src := source()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "index.m3u8")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ffmpeg wrote no playlist")
		}
	}
	base := startOrigin(t, "--stream", "cam="+hls.URL+"/index.m3u8")
	r := &rig{t: t, base: base, stream: base + "/live/cam", source: source, src: src, hardStop: true}
	runScenario(t, r, false)
}

// runScenario is the floor of the live issue: four viewers, P2P share,
// no stalls, delay, churn, a source outage and, when full, a liar.
func runScenario(t *testing.T, r *rig, full bool) {
	for range 4 {
		r.addViewer()
	}
	r.waitPlaying(r.viewers, 30*time.Second)
	time.Sleep(6 * time.Second) // warm-up: let the swarm settle
	before := make([]viewerStats, len(r.viewers))
	for i, v := range r.viewers {
		before[i] = r.stats(v)
	}

	// every viewer's .ts, read for several seconds, is a valid stream
	paths := make([]string, len(r.viewers))
	done := make(chan int)
	for i, v := range r.viewers {
		go func() {
			defer func() { done <- i }()
			paths[i], _ = readFor(t, v.ts, 6*time.Second)
		}()
	}
	for range r.viewers {
		<-done
	}
	for i, p := range paths {
		if d := probe(t, p); d < 3 {
			t.Errorf("viewer %d: %.1f s of stream in 6 s of reading", i+1, d)
		}
	}

	var peers, all int64
	for i, v := range r.viewers {
		s := r.stats(v)
		b := before[i]
		dp := s.BytesFromPeers - b.BytesFromPeers
		peers += dp
		all += dp + s.BytesFromOrigin - b.BytesFromOrigin + s.BytesFromHTTP - b.BytesFromHTTP
		got := dp + s.BytesFromOrigin - b.BytesFromOrigin + s.BytesFromHTTP - b.BytesFromHTTP
		t.Logf("viewer %d: p2p %.0f%%, delay %.2f s, stalls %d, peers %d; from peers %d, origin %d, http %d, uploaded %d bytes",
			i+1, 100*float64(dp)/float64(max(got, 1)), s.DelayS, s.Stalls-b.Stalls, s.Peers, dp,
			s.BytesFromOrigin-b.BytesFromOrigin, s.BytesFromHTTP-b.BytesFromHTTP, s.BytesUploaded-b.BytesUploaded)
		if s.Stalls != b.Stalls {
			t.Errorf("viewer %d stalled %d times after warm-up", i+1, s.Stalls-b.Stalls)
		}
		if s.DelayS > 5 || s.DelayS <= 0 {
			t.Errorf("viewer %d: delay_s %.2f, want (0, 5]", i+1, s.DelayS)
		}
	}
	if all == 0 {
		t.Fatal("viewers received nothing after warm-up")
	}
	share := float64(peers) / float64(all)
	t.Logf("P2P share after warm-up: %.1f%%", 100*share)
	if share < 0.6 {
		t.Errorf("P2P share %.1f%%, want ≥ 60%%", 100*share)
	}

	// one viewer is killed: the others keep playing
	r.viewers[0].p.kill()
	rest := r.viewers[1:]
	mark := make([]viewerStats, len(rest))
	for i, v := range rest {
		mark[i] = r.stats(v)
	}
	// a new one joins and its .ts starts within 2 s of the first request
	nv := r.addViewer()
	path, first := readFor(t, nv.ts, 5*time.Second)
	t.Logf("new viewer: first byte after %v", first)
	if first < 0 || first > 2*time.Second {
		t.Errorf("new viewer: first byte after %v, want ≤ 2s", first)
	}
	probe(t, path)
	for i, v := range rest {
		s := r.stats(v)
		if s.ChunksPlayed <= mark[i].ChunksPlayed {
			t.Errorf("viewer %d stopped playing after a peer died", i+2)
		}
	}
	rest = append(rest, nv)

	// the source stops for 5 s and comes back: players keep their connection
	type reader struct {
		done chan struct{}
		path string
	}
	size := func(p string) int64 {
		st, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return st.Size()
	}
	holds := make([]*reader, len(rest))
	for i, v := range rest {
		h := &reader{done: make(chan struct{}), path: filepath.Join(t.TempDir(), "held.ts")}
		holds[i] = h
		go func() {
			defer close(h.done)
			readTo(t, v.ts, 22*time.Second, h.path)
		}()
	}
	time.Sleep(2 * time.Second)
	if r.hardStop {
		r.src.kill()
	} else {
		r.src.stop()
	}
	time.Sleep(5 * time.Second)
	outage := make([]viewerStats, len(rest))
	for i, v := range rest {
		outage[i] = r.stats(v)
	}
	atRestart := make([]int64, len(holds))
	for i, h := range holds {
		atRestart[i] = size(h.path)
	}
	r.src = r.source()
	time.Sleep(12 * time.Second)
	for i, v := range rest {
		s := r.stats(v)
		if s.Gateway.Chunks <= outage[i].Gateway.Chunks+8 {
			t.Errorf("viewer %s did not recover after the source came back: %d chunks before, %d after",
				v.p.name, outage[i].Gateway.Chunks, s.Gateway.Chunks)
		}
	}
	for i, h := range holds {
		<-h.done
		// the same connection carries at least 4 s of the restarted stream
		if got := size(h.path) - atRestart[i]; got < 4*streamBps/8 {
			t.Errorf("player on %s got %d bytes after the source came back; it did not continue", rest[i].p.name, got)
		}
	}
	if !full {
		return
	}

	// a lying viewer is banned and its bytes reach no one's output
	rejected0 := int64(0)
	for _, v := range rest {
		rejected0 += r.stats(v).ChunksRejected
	}
	r.addViewer("--test-lie", "--max-upload", "20mbit")
	time.Sleep(12 * time.Second)
	var rejected, banned int64
	for _, v := range rest {
		s := r.stats(v)
		rejected += s.ChunksRejected
		banned += s.PeersBanned
	}
	t.Logf("after the liar joined: %d chunks rejected, %d bans", rejected-rejected0, banned)
	if rejected <= rejected0 || banned == 0 {
		t.Errorf("liar not caught: %d chunks rejected, %d peers banned", rejected-rejected0, banned)
	}
	// the others play on: whatever the origin pushed to the liar before it
	// was found out must not leave holes in their streams
	marks := make([]viewerStats, len(rest))
	for i, v := range rest {
		marks[i] = r.stats(v)
	}
	outs := make([]string, len(rest))
	for i, v := range rest {
		go func() {
			defer func() { done <- i }()
			outs[i], _ = readFor(t, v.ts, 6*time.Second)
		}()
	}
	for range rest {
		<-done
	}
	for i, v := range rest {
		if d := probe(t, outs[i]); d < 3 {
			t.Errorf("%s: %.1f s of stream in 6 s of reading after the liar was banned", v.p.name, d)
		}
		if s := r.stats(v); s.Stalls != marks[i].Stalls {
			t.Errorf("%s stalled %d times after the liar was banned", v.p.name, s.Stalls-marks[i].Stalls)
		}
	}
}
