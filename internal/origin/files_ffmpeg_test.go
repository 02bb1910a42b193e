package origin

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runFilesTool runs a tool and returns its standard output.
func runFilesTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not found: this test runs the real tool", name)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestFilesFFprobeReadsWebSeed publishes a real MP4 and has ffprobe read it
// over HTTP from the web seed, with the Range requests it makes.
func TestFilesFFprobeReadsWebSeed(t *testing.T) {
	dir := t.TempDir()
	runFilesTool(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=duration=5:size=320x240:rate=25",
		"-c:v", "libx264", "-preset", "ultrafast", "-movflags", "+faststart",
		filepath.Join(dir, "test clip.mp4"))
	// The same clip with its 'moov' box after the media, as ffmpeg writes
	// by default.
	runFilesTool(t, "ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", filepath.Join(dir, "test clip.mp4"),
		"-c", "copy", filepath.Join(dir, "z moov last.mp4"))
	f, _ := newTestFiles(t, FileConfig{Dir: dir})
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	list := f.List()
	if len(list) != 2 {
		t.Fatalf("published %+v, want the two clips", list)
	}
	pf := list[0]
	if last := list[1]; math.Abs(float64(last.RateBps-pf.RateBps)) > 0.02*float64(pf.RateBps) {
		t.Errorf("rate with moov last %d, with moov first %d", last.RateBps, pf.RateBps)
	}
	srv := httptest.NewServer(f.Handler())
	defer srv.Close()

	out := runFilesTool(t, "ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
		srv.URL+pf.Info().WebSeed)
	var probe struct {
		Streams []struct {
			CodecName string `json:"codec_name"`
			Width     int    `json:"width"`
			Height    int    `json:"height"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
			Size     string `json:"size"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	if len(probe.Streams) != 1 || probe.Streams[0].CodecName != "h264" || probe.Streams[0].Width != 320 || probe.Streams[0].Height != 240 {
		t.Errorf("ffprobe streams %+v, want one h264 320x240", probe.Streams)
	}
	secs, err := strconv.ParseFloat(probe.Format.Duration, 64)
	if err != nil || math.Abs(secs-5) > 0.1 {
		t.Errorf("ffprobe duration %q, want 5 s", probe.Format.Duration)
	}
	if probe.Format.Size != strconv.FormatInt(pf.Size, 10) {
		t.Errorf("ffprobe size %q, want %d", probe.Format.Size, pf.Size)
	}
	// The rate estimate from the 'mvhd' box agrees with ffprobe's duration.
	wantRate := float64(pf.Size) * 8 / secs
	if pf.RateBps <= 0 || math.Abs(float64(pf.RateBps)-wantRate)/wantRate > 0.02 {
		t.Errorf("RateBps %d, want about %.0f (size over ffprobe's duration)", pf.RateBps, wantRate)
	}
	if d := pf.Descriptor(); d.RateBps != pf.RateBps {
		t.Errorf("descriptor rate %d, want %d", d.RateBps, pf.RateBps)
	}
}
