package origin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asticode/go-astits"
)

// End-to-end ingest with real ffmpeg and ffprobe over sockets on 127.0.0.1.

const (
	testMediaSeconds = 10
	testGOPFrames    = 25 // -g 25 at 25 fps: one keyframe a second
)

func requireFFmpeg(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not found: the end-to-end ingest tests run the real tool", bin)
		}
	}
}

func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// makeTestTS encodes the H.264 + AAC test stream into dir/src.ts.
func makeTestTS(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "src.ts")
	runTool(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440",
		"-t", strconv.Itoa(testMediaSeconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", strconv.Itoa(testGOPFrames), "-b:v", "1M",
		"-c:a", "aac", "-f", "mpegts", out)
	return out
}

type probeResult struct {
	Format struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
	Streams []struct {
		CodecType    string `json:"codec_type"`
		CodecName    string `json:"codec_name"`
		NbReadFrames string `json:"nb_read_frames"`
	} `json:"streams"`
}

func probe(t *testing.T, file string, extra ...string) probeResult {
	t.Helper()
	args := append([]string{"-v", "error", "-of", "json",
		"-show_entries", "format=format_name,duration:stream=codec_type,codec_name,nb_read_frames"}, extra...)
	out := runTool(t, "ffprobe", append(args, file)...)
	var r probeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("ffprobe output %q: %v", out, err)
	}
	return r
}

// tablesOf demuxes b with go-astits, an independent parser, and returns the
// PMT PID and the H.264 and AAC PIDs.
func tablesOf(t *testing.T, b []byte) (pmtPID, videoPID, audioPID uint16) {
	t.Helper()
	dmx := astits.NewDemuxer(t.Context(), bytes.NewReader(b))
	for pmtPID == 0 || videoPID == 0 {
		d, err := dmx.NextData()
		if errors.Is(err, astits.ErrNoMorePackets) {
			t.Fatal("no PAT and PMT with H.264 in the chunks")
		}
		if err != nil {
			t.Fatal(err)
		}
		if d.PAT != nil && len(d.PAT.Programs) > 0 {
			pmtPID = d.PAT.Programs[0].ProgramMapID
		}
		if d.PMT != nil {
			for _, es := range d.PMT.ElementaryStreams {
				switch es.StreamType {
				case astits.StreamTypeH264Video:
					videoPID = es.ElementaryPID
				case astits.StreamTypeAACAudio:
					audioPID = es.ElementaryPID
				}
			}
		}
	}
	return pmtPID, videoPID, audioPID
}

// checkFFmpegChunks verifies chunks of the test stream: RAP chunks that start
// with PAT and PMT about once a second, and from the first RAP on a stream
// that ffprobe reads as H.264 + AAC MPEG-TS of the duration sent, with any
// single GOP decodable on its own.
func checkFFmpegChunks(t *testing.T, chunks []Chunk, sentSeconds float64) {
	t.Helper()
	if len(chunks) == 0 {
		t.Fatal("no chunks")
	}
	checkChunks(t, chunks, DefaultChunkBytes)
	pmtPID, videoPID, audioPID := tablesOf(t, concat(chunks))
	if audioPID == 0 {
		t.Fatal("PMT lists no AAC stream")
	}
	checkRAPChunks(t, chunks, pmtPID, videoPID)

	var raps []int
	for i, ch := range chunks {
		if ch.Flags&ChunkRAP != 0 {
			raps = append(raps, i)
		}
	}
	if len(raps) < 2 {
		t.Fatalf("%d RAP chunks", len(raps))
	}
	dir := t.TempDir()
	whole := filepath.Join(dir, "from-first-rap.ts")
	if err := os.WriteFile(whole, concat(chunks[raps[0]:]), 0o644); err != nil {
		t.Fatal(err)
	}
	p := probe(t, whole)
	dur, _ := strconv.ParseFloat(p.Format.Duration, 64)
	t.Logf("%d chunks, %d RAP chunks, ffprobe: %s, %.2f s, streams %+v", len(chunks), len(raps), p.Format.FormatName, dur, p.Streams)
	if p.Format.FormatName != "mpegts" {
		t.Fatalf("ffprobe format %q, want mpegts", p.Format.FormatName)
	}
	if math.Abs(dur-sentSeconds) > 0.1*sentSeconds {
		t.Fatalf("duration %.2f s, want %.1f s ± 10%%", dur, sentSeconds)
	}
	var codecs []string
	for _, s := range p.Streams {
		codecs = append(codecs, s.CodecType+"/"+s.CodecName)
	}
	if got := strings.Join(codecs, ","); !strings.Contains(got, "video/h264") || !strings.Contains(got, "audio/aac") {
		t.Fatalf("streams %s, want video/h264 and audio/aac", got)
	}
	// One keyframe a second was sent: as many RAP chunks as seconds, ± 1.
	if perSec := float64(len(raps)) / dur; math.Abs(float64(len(raps))-dur) > 1.5 {
		t.Fatalf("%d RAP chunks in %.2f s (%.2f/s), want about one a second", len(raps), dur, perSec)
	}

	// A GOP from the middle, alone, decodes completely.
	mid := len(raps) / 2
	end := len(chunks)
	if mid+1 < len(raps) {
		end = raps[mid+1]
	}
	gop := filepath.Join(dir, "gop.ts")
	if err := os.WriteFile(gop, concat(chunks[raps[mid]:end]), 0o644); err != nil {
		t.Fatal(err)
	}
	g := probe(t, gop, "-count_frames", "-select_streams", "v:0")
	if len(g.Streams) != 1 || g.Streams[0].CodecName != "h264" {
		t.Fatalf("GOP from RAP chunk %d: streams %+v", raps[mid], g.Streams)
	}
	if n, _ := strconv.Atoi(g.Streams[0].NbReadFrames); n < testGOPFrames-2 {
		t.Fatalf("GOP from RAP chunk %d decodes %d frames, want about %d", raps[mid], n, testGOPFrames)
	}
}

func TestFFmpegHLSPull(t *testing.T) {
	requireFFmpeg(t)
	t.Parallel()
	dir := t.TempDir()
	src := makeTestTS(t, dir)
	hls := filepath.Join(dir, "hls")
	if err := os.Mkdir(hls, 0o755); err != nil {
		t.Fatal(err)
	}
	runTool(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-i", src, "-c", "copy",
		"-f", "hls", "-hls_time", "2", "-hls_playlist_type", "vod",
		"-hls_segment_filename", filepath.Join(hls, "seg%03d.ts"), filepath.Join(hls, "index.m3u8"))
	// The lower variant does not exist: picking it would fail.
	master := "#EXTM3U\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=300000,RESOLUTION=320x180\nlow/index.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=1500000,RESOLUTION=640x360\nindex.m3u8\n"
	if err := os.WriteFile(filepath.Join(hls, "master.m3u8"), []byte(master), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)

	in, sink, done := startIngest(t, IngestConfig{Name: "hls", Source: &HLSSource{URL: srv.URL + "/hls/master.m3u8"}})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Run did not end at EXT-X-ENDLIST")
	}
	if st := in.Status(); st.State != StateEnded || st.Bytes == 0 {
		t.Fatalf("status %+v, want ended", st)
	}
	checkFFmpegChunks(t, sink.snapshot(), testMediaSeconds)
}

func TestFFmpegTSPull(t *testing.T) {
	requireFFmpeg(t)
	t.Parallel()
	data, err := os.ReadFile(makeTestTS(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) > 1 {
			http.Error(w, "gone", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "video/mp2t")
		for rest := data; len(rest) > 0; { // progressive, in network-sized writes
			k := min(len(rest), 7*PacketSize)
			if _, err := w.Write(rest[:k]); err != nil {
				return
			}
			rest = rest[k:]
		}
	}))
	t.Cleanup(srv.Close)

	in, sink, _ := startIngest(t, IngestConfig{
		Name: "ts", Source: &TSSource{URL: srv.URL + "/live.ts"},
		RetryMin: 20 * time.Millisecond, RetryMax: 50 * time.Millisecond,
	})
	waitFor(t, "the stream to end and a reconnect to fail", time.Minute, func() bool {
		st := in.Status()
		return st.Restarts >= 1 && st.State == StateError && strings.Contains(st.Err, "503")
	})
	if st := in.Status(); st.Bytes != int64(len(data)) {
		t.Fatalf("status %+v, want %d bytes", st, len(data))
	}
	checkFFmpegChunks(t, sink.snapshot(), testMediaSeconds)
}

// TestFFmpegPush pushes the test stream in real time with ffmpeg's HTTP PUT,
// then refuses a push with a wrong key, then takes a second push.
func TestFFmpegPush(t *testing.T) {
	requireFFmpeg(t)
	t.Parallel()
	src := makeTestTS(t, t.TempDir())
	srv, ingests, sinks := pushServer(t, "k3y", "live")
	in, sink := ingests["live"], sinks["live"]
	push := func(key string, args ...string) error {
		args = append(append([]string{"-hide_banner", "-loglevel", "error"}, args...),
			"-i", src, "-c", "copy", "-f", "mpegts", "-method", "PUT",
			fmt.Sprintf("%s/ingest/live?key=%s", srv.URL, key))
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ffmpeg", args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		if err != nil {
			t.Logf("ffmpeg: %v\n%s", err, out.Bytes())
		}
		return err
	}

	live := make(chan bool, 1)
	go func() {
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) {
			if in.Status().State == StateLive {
				live <- true
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		live <- false
	}()
	if err := push("k3y", "-re"); err != nil {
		t.Fatalf("real-time push: %v", err)
	}
	if !<-live {
		t.Fatal("the stream never went live during the push")
	}
	if st := waitStalled(in); st.State != StateStalled || st.Pushing {
		t.Fatalf("after the push: %+v, want stalled", st)
	}
	first := sink.snapshot()
	checkFFmpegChunks(t, first, testMediaSeconds)

	if err := push("wrong"); err == nil {
		t.Log("ffmpeg did not report the refused push; checking the stream instead")
	}
	if n := sink.len(); n != len(first) {
		t.Fatalf("a push with a wrong key made %d chunks", n-len(first))
	}

	if err := push("k3y", "-t", "3"); err != nil {
		t.Fatalf("second push: %v", err)
	}
	all := sink.snapshot()
	second := all[len(first):]
	if len(second) == 0 {
		t.Fatal("no chunks from the second push")
	}
	if f := second[0].Flags; f != ChunkRAP|ChunkDiscontinuity {
		t.Fatalf("first chunk of the second push has flags %d, want RAP|Discontinuity", f)
	}
	if st := waitStalled(in); st.Restarts != 1 || st.State != StateStalled || st.Pushing {
		t.Fatalf("after the second push: %+v", st)
	}
}

// waitStalled gives the origin a moment to see that ffmpeg's upload has
// ended (ffmpeg may exit before the server has read the end of the body, and
// a slow end of upload can stall the stream before the push is over, with
// its last chunks still to come).
func waitStalled(in *Ingest) Status {
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := in.Status()
		if st.State == StateStalled && !st.Pushing || time.Now().After(deadline) {
			return st
		}
		time.Sleep(10 * time.Millisecond)
	}
}
