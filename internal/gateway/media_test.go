package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Helpers that make real media with ffmpeg and check it with ffprobe.

const tsPacketSize = 188

// testChunk is one live chunk cut from a real MPEG-TS.
type testChunk struct {
	data []byte
	rap  bool
	dur  time.Duration
}

// needTools skips a test when ffmpeg or ffprobe is missing: it cannot check
// real media without them.
func needTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: real-media tests need it", tool)
		}
	}
}

func runFFmpeg(t testing.TB, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, stderr.Bytes())
	}
	return out
}

var (
	streamOnce   sync.Once
	streamTS     []byte
	streamChunks []testChunk
	streamErr    error
)

// framesPerChunk cuts each 25-frame group of pictures into five chunks, so
// that a test can lose one in the middle of a group.
const framesPerChunk = 5

// testStream returns a 6 s H.264 + AAC MPEG-TS from ffmpeg and its chunks,
// made once per test binary.
func testStream(t testing.TB) ([]byte, []testChunk) {
	t.Helper()
	needTools(t)
	streamOnce.Do(func() {
		streamTS = runFFmpeg(t,
			"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-sc_threshold", "0",
			"-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "mpegts", "pipe:1")
		streamChunks, streamErr = cutTS(streamTS, framesPerChunk)
	})
	if streamErr != nil {
		t.Fatal(streamErr)
	}
	return streamTS, streamChunks
}

// cutTS cuts an MPEG-TS as ffmpeg writes it (each PES contiguous, PAT and PMT
// right before every keyframe) into chunks that start at a video PES: a RAP
// chunk at every keyframe, beginning with the PAT and PMT in front of it, and
// another chunk every framesPerChunk frames. Durations come from the video
// PTS.
func cutTS(ts []byte, framesPerChunk int) ([]testChunk, error) {
	if len(ts)%tsPacketSize != 0 {
		return nil, fmt.Errorf("stream of %d bytes is not whole packets", len(ts))
	}
	var pmtPID, videoPID int = -1, -1
	type cut struct {
		pkt int
		rap bool
		pts int64
	}
	var cuts []cut
	frames := 0
	lastPSI := -1 // first packet of the run of PSI packets just before this one
	for i := 0; i*tsPacketSize < len(ts); i++ {
		p := ts[i*tsPacketSize : (i+1)*tsPacketSize]
		if p[0] != 0x47 {
			return nil, fmt.Errorf("packet %d: no sync byte", i)
		}
		pid := int(binary.BigEndian.Uint16(p[1:3]) & 0x1fff)
		pusi := p[1]&0x40 != 0
		afc := p[3] >> 4 & 3
		payload := p[4:]
		rai := false
		if afc&2 != 0 {
			n := int(p[4])
			if n > 0 {
				rai = p[5]&0x40 != 0
			}
			payload = p[5+n:]
		}
		switch {
		case pid == 0 && pusi:
			// PAT: pointer field, then 8 bytes of header, then program entries.
			sec := payload[1+int(payload[0]):]
			for e := sec[8:]; len(e) >= 8; e = e[4:] {
				if prog := binary.BigEndian.Uint16(e); prog != 0 {
					pmtPID = int(binary.BigEndian.Uint16(e[2:]) & 0x1fff)
					break
				}
			}
		case pid == pmtPID && pusi:
			sec := payload[1+int(payload[0]):]
			secLen := int(binary.BigEndian.Uint16(sec[1:]) & 0xfff)
			infoLen := int(binary.BigEndian.Uint16(sec[10:]) & 0xfff)
			for e := sec[12+infoLen : 3+secLen-4]; len(e) >= 5; {
				esLen := int(binary.BigEndian.Uint16(e[3:]) & 0xfff)
				if e[0] == 0x1b {
					videoPID = int(binary.BigEndian.Uint16(e[1:]) & 0x1fff)
				}
				e = e[5+esLen:]
			}
		}
		if pid == 0 || pid == pmtPID || pid == 0x11 {
			if lastPSI < 0 {
				lastPSI = i
			}
			continue
		}
		start := lastPSI
		lastPSI = -1
		if pid != videoPID || !pusi {
			continue
		}
		if payload[7]&0x80 == 0 {
			return nil, fmt.Errorf("packet %d: video PES without PTS", i)
		}
		pts := ptsOf(payload[9:14])
		if rai {
			if start < 0 {
				return nil, fmt.Errorf("packet %d: keyframe without PAT and PMT right before it", i)
			}
			cuts = append(cuts, cut{pkt: start, rap: true, pts: pts})
			frames = 1
			continue
		}
		if frames%framesPerChunk == 0 && len(cuts) > 0 {
			cuts = append(cuts, cut{pkt: i, pts: pts})
		}
		frames++
	}
	if len(cuts) == 0 {
		return nil, fmt.Errorf("no keyframe in %d bytes", len(ts))
	}
	chunks := make([]testChunk, len(cuts))
	for k, c := range cuts {
		from := c.pkt * tsPacketSize
		if k == 0 {
			from = 0
		}
		to := len(ts)
		dur := time.Duration(framesPerChunk) * 40 * time.Millisecond
		if k+1 < len(cuts) {
			to = cuts[k+1].pkt * tsPacketSize
			dur = time.Duration(cuts[k+1].pts-c.pts) * time.Second / 90000
		}
		chunks[k] = testChunk{data: ts[from:to], rap: c.rap, dur: dur}
	}
	return chunks, nil
}

func ptsOf(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// probeResult is the part of ffprobe's JSON the tests look at.
type probeResult struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
	} `json:"streams"`
	Format struct {
		FormatName string `json:"format_name"`
	} `json:"format"`
}

// ffprobe runs ffprobe on a file or URL.
func ffprobe(t testing.TB, input string, extra ...string) probeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := append([]string{"-v", "error", "-of", "json", "-show_streams", "-show_format"}, extra...)
	cmd := exec.CommandContext(ctx, "ffprobe", append(args, input)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", input, err, stderr.Bytes())
	}
	var res probeResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ffprobe %s: %v", input, err)
	}
	return res
}

// probeBytes writes b to a file and probes it.
func probeBytes(t testing.TB, b []byte, name string) probeResult {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return ffprobe(t, p)
}

// wantCodecs fails unless res has exactly one h264 video and one aac audio
// stream.
func wantCodecs(t testing.TB, res probeResult) {
	t.Helper()
	got := map[string]string{}
	for _, s := range res.Streams {
		got[s.CodecType] += s.CodecName
	}
	if got["video"] != "h264" || got["audio"] != "aac" || len(res.Streams) != 2 {
		t.Fatalf("streams %+v: want one h264 video and one aac audio", res.Streams)
	}
}

// decodeErrors decodes b fully with ffmpeg and returns what it reports at
// error level: empty for a clean stream.
func decodeErrors(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "decode.ts")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", p, "-f", "null", "-")
	out, err := cmd.CombinedOutput()
	if err != nil && len(out) == 0 {
		t.Fatalf("ffmpeg decode: %v", err)
	}
	return string(out)
}

// frameHashes decodes the video of an MPEG-TS and returns the MD5 of every
// frame by its original PTS.
func frameHashes(t testing.TB, b []byte) map[string]string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "frames.ts")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := runFFmpeg(t, "-copyts", "-i", p, "-map", "0:v", "-fps_mode", "passthrough", "-f", "framemd5", "pipe:1")
	m := make(map[string]string)
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) != 6 {
			t.Fatalf("framemd5 line %q", line)
		}
		m[strings.TrimSpace(f[2])] = strings.TrimSpace(f[5])
	}
	return m
}

// wrongFrames decodes b and counts the video frames that differ from the
// source stream's frame at the same PTS: a client that received a group of
// pictures without its start decodes some frames wrong.
func wrongFrames(t testing.TB, b []byte) (frames, wrong int) {
	t.Helper()
	ts, _ := testStream(t)
	refOnce.Do(func() { refHashes = frameHashes(t, ts) })
	got := frameHashes(t, b)
	for pts, h := range got {
		if refHashes[pts] != h {
			wrong++
		}
	}
	return len(got), wrong
}

var (
	refOnce   sync.Once
	refHashes map[string]string
)

func concatChunks(cs []testChunk) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, c.data...)
	}
	return b
}

func TestCutTS(t *testing.T) {
	ts, chunks := testStream(t)
	if got := concatChunks(chunks); !bytes.Equal(got, ts) {
		t.Fatalf("chunks join to %d bytes, stream has %d", len(got), len(ts))
	}
	raps := 0
	var total time.Duration
	for i, c := range chunks {
		total += c.dur
		if c.rap {
			raps++
			// The first chunk may open with ffmpeg's SDT.
			if p := c.data[:tsPacketSize]; i > 0 && (p[1]&0x1f != 0 || p[2] != 0) {
				t.Errorf("RAP chunk %d does not start with a PAT packet", i)
			}
		}
	}
	if raps < 5 || len(chunks) < 4*raps {
		t.Fatalf("%d chunks, %d RAPs: want a RAP per second and several chunks per RAP", len(chunks), raps)
	}
	if total < 5*time.Second || total > 7*time.Second {
		t.Fatalf("chunks last %v in all, want about 6 s", total)
	}
	wantCodecs(t, probeBytes(t, concatChunks(chunks[framesPerChunk:]), "tail.ts"))
	if e := decodeErrors(t, ts); e != "" {
		t.Fatalf("ffmpeg's own stream decodes with errors:\n%s", e)
	}
}
