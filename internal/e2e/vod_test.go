package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// originCapBps is the origin's --max-upload: well under what three viewers
// reading at once would take, so that peers must carry the file.
const originCapBps = 4_000_000

// TestVOD is the floor of the on-demand issue: an origin publishing a
// directory under a 4 Mb/s cap, three viewers reading one MP4 through their
// gateways, a cold seek, ffprobe through a gateway, the P2P share, a web
// seed that corrupts bytes, and bad input.
func TestVOD(t *testing.T) {
	needTools(t)
	began := time.Now()
	dir := t.TempDir()
	files := filepath.Join(dir, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	// moov at the end, as ffmpeg writes an MP4, and a copy with it in front
	moovAtEnd := filepath.Join(dir, "talk.mp4")
	makeMP4(t, moovAtEnd, 60)
	faststart(t, moovAtEnd, filepath.Join(files, "talk-faststart.mp4"))
	if err := os.Rename(moovAtEnd, filepath.Join(files, "talk.mp4")); err != nil {
		t.Fatal(err)
	}
	orig := readFile(t, filepath.Join(files, "talk.mp4"))
	origFast := readFile(t, filepath.Join(files, "talk-faststart.mp4"))
	size := int64(len(orig))
	t.Logf("talk.mp4: %d bytes (%.2f Mb/s over 60 s), made in %v", size, float64(size)*8/60/1e6, time.Since(began).Round(time.Millisecond))

	base := startVODOrigin(t, "--files", files, "--max-upload", fmt.Sprint(originCapBps), "--push-key", "k3y")
	list := waitFiles(t, base, 2, 15*time.Second)
	link := base + list["talk.mp4"].URL
	linkFast := base + list["talk-faststart.mp4"].URL
	if list["talk.mp4"].Size != size {
		t.Fatalf("origin lists talk.mp4 with %d bytes, want %d", list["talk.mp4"].Size, size)
	}

	vs := []*vodViewer{startVODViewer(t, "viewer1", link), startVODViewer(t, "viewer2", link), startVODViewer(t, "viewer3", link)}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	check := func(what string, got []byte, off int64) {
		t.Helper()
		if want := orig[off : off+int64(len(got))]; !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes at %d differ from the file", what, len(got), off)
		}
	}

	// cold start and cold seek: viewer 1 holds nothing; only the origin has the file
	b, startT, err := readRange(ctx, vs[0].file, 0, 256<<10)
	if err != nil {
		t.Fatalf("viewer1 start: %v", err)
	}
	check("viewer1 start", b, 0)
	seekOff := size * 8 / 10
	b, seekT, err := readRange(ctx, vs[0].file, seekOff, 256<<10)
	if err != nil {
		t.Fatalf("viewer1 seek: %v", err)
	}
	check("viewer1 seek to 80%", b, seekOff)
	t.Logf("viewer1, cold, from the origin only: first byte after %v at the start, %v after a seek to 80%%",
		startT.Round(time.Millisecond), seekT.Round(time.Millisecond))
	if seekT > 2*time.Second {
		t.Errorf("cold seek to 80%%: first byte after %v, want ≤ 2s", seekT)
	}
	if startT > 2*time.Second {
		t.Errorf("cold start: first byte after %v, want ≤ 2s", startT)
	}
	rng := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 1))
	randomRanges := func(v *vodViewer, n int) {
		t.Helper()
		for range n {
			off := rng.Int64N(size)
			k := min(1+rng.Int64N(300<<10), size-off)
			b, _, err := readRange(ctx, v.file, off, k)
			if err != nil {
				t.Errorf("%s: range %d+%d: %v", v.p.name, off, k, err)
				continue
			}
			if int64(len(b)) != k {
				t.Errorf("%s: range %d+%d: got %d bytes", v.p.name, off, k, len(b))
			}
			check(v.p.name+" random range", b, off)
		}
	}
	randomRanges(vs[0], 6) // cold: each is a seek

	// viewer 1 reads the whole file alone: the origin's cap bounds it
	before := vs[0].statsNow(t)
	t0 := time.Now()
	sum, n, err := readAllHash(ctx, vs[0].file)
	full1 := time.Since(t0)
	if err != nil || n != size || sum != sha(orig) {
		t.Fatalf("viewer1 full read: %d bytes, err %v, equal %v", n, err, sum == sha(orig))
	}
	after := vs[0].statsNow(t)
	got := after.HaveBytes - before.HaveBytes
	rate := float64(got) * 8 / full1.Seconds()
	t.Logf("viewer1 fetched the remaining %d bytes from the origin in %v: %.2f Mb/s against its %.0f Mb/s cap",
		got, full1.Round(time.Millisecond), rate/1e6, originCapBps/1e6)
	if rate > 1.15*originCapBps {
		t.Errorf("the origin sent %.2f Mb/s, over its %.0f Mb/s cap", rate/1e6, originCapBps/1e6)
	}

	// viewer 3, cold, is probed by ffprobe: the moov at the end is a seek
	t0 = time.Now()
	probeMP4(t, vs[2].file)
	s3 := vs[2].statsNow(t)
	t.Logf("ffprobe through viewer3 (cold, moov at the end) took %v; it fetched %d bytes (peers %d, origin %d, web seed %d)",
		time.Since(t0).Round(time.Millisecond), s3.HaveBytes, s3.BytesFromPeers, s3.BytesFromOrigin, s3.BytesFromHTTP)
	if time.Since(t0) > 3*time.Second {
		t.Logf("viewer3 log:\n%s", tail(readFile(t, vs[2].p.log), 3000))
	}

	// viewers 2 and 3 read the whole file at once while viewer 1 seeds
	t0 = time.Now()
	var wg sync.WaitGroup
	for _, v := range vs[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum, n, err := readAllHash(ctx, v.file)
			if err != nil || n != size || sum != sha(orig) {
				t.Errorf("%s full read: %d bytes, err %v, equal %v", v.p.name, n, err, sum == sha(orig))
			}
		}()
	}
	wg.Wait()
	t.Logf("viewers 2 and 3 read the whole file at once in %v", time.Since(t0).Round(time.Millisecond))
	for _, v := range vs {
		randomRanges(v, 12)
	}
	probeMP4(t, vs[1].file)

	var peers, all int64
	for _, v := range vs {
		s := v.statsNow(t)
		peers += s.BytesFromPeers
		all += s.BytesFromPeers + s.BytesFromOrigin + s.BytesFromHTTP
		t.Logf("%s: from peers %d, origin %d, web seed %d; uploaded %d; %d peers, %d rejected",
			v.p.name, s.BytesFromPeers, s.BytesFromOrigin, s.BytesFromHTTP, s.BytesUploaded, s.Peers, s.ChunksRejected)
		if s.HaveBytes != size {
			t.Errorf("%s holds %d bytes after a full read, want %d", v.p.name, s.HaveBytes, size)
		}
	}
	share := float64(peers) / float64(max(all, 1))
	t.Logf("P2P share over the three viewers: %.1f%% of %d bytes", 100*share, all)
	if share < 0.5 {
		t.Errorf("P2P share %.1f%%, want ≥ 50%%", 100*share)
	}

	// the faststart copy: a fourth viewer starts cold and ffprobe reads it
	vf := startVODViewer(t, "viewer-faststart", linkFast)
	b, startF, err := readRange(ctx, vf.file, 0, 256<<10)
	if err != nil {
		t.Fatalf("faststart start: %v", err)
	}
	if !bytes.Equal(b, origFast[:len(b)]) {
		t.Errorf("faststart: first %d bytes differ", len(b))
	}
	t.Logf("viewer-faststart, cold: first byte after %v", startF.Round(time.Millisecond))
	probeMP4(t, vf.file)

	// a Range beyond the end is refused as such
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, vs[1].file, nil)
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-", size+100))
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Errorf("range beyond the end: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", size) {
			t.Errorf("range beyond the end: %s, Content-Range %q; want 416 with bytes */%d", resp.Status, resp.Header.Get("Content-Range"), size)
		}
	}

	corruptWebSeed(t, base)
	badInput(t, base, dir)

	// after all that the origin still serves its files: a cold range of the
	// faststart copy comes from it, and a download of the first file from
	// the viewers
	list = waitFiles(t, base, 2, 5*time.Second)
	if list["talk.mp4"].URL == "" || list["talk-faststart.mp4"].URL == "" {
		t.Errorf("origin lost its files: %v", list)
	}
	off := int64(len(origFast)) / 2
	if b, _, err := readRange(ctx, vf.file, off, 100<<10); err != nil || !bytes.Equal(b, origFast[off:off+100<<10]) {
		t.Errorf("faststart range after the bad input: %d bytes, err %v", len(b), err)
	}
	interruptedGet(t, linkFast, origFast, dir)

	// a download resumes a file that holds the first 40 % and then garbage:
	// it keeps what matches and fetches only the rest
	got1 := filepath.Join(dir, "got.mp4")
	part := size * 4 / 10
	junk := make([]byte, size-part)
	_, _ = rand.Read(junk)
	if err := os.WriteFile(got1, append(bytes.Clone(orig[:part]), junk...), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runShoal(t, 60*time.Second, "get", link, "-o", got1, "--data", filepath.Join(dir, "get"), "--udp", "127.0.0.1:0")
	if code != 0 {
		t.Errorf("shoal get after the bad input: exit %d\n%s", code, errOut)
	} else if !bytes.Equal(readFile(t, got1), orig) {
		t.Errorf("shoal get wrote other bytes than the file")
	}
	t.Logf("shoal get of a file holding its first 40%%: %s", strings.TrimSpace(out))
	var kept int64
	if m := regexp.MustCompile(`already in the file (\d+)`).FindStringSubmatch(out); m != nil {
		fmt.Sscan(m[1], &kept)
	}
	if kept > part || kept < part-16<<10 {
		t.Errorf("shoal get kept %d bytes of the partial file, want the %d-byte prefix down to a whole chunk", kept, part)
	}
	t.Logf("on-demand end-to-end run took %v", time.Since(began).Round(time.Second))
}

// interruptedGet interrupts a download from the origin alone and checks
// that it stops cleanly, says how to resume, and keeps only verified bytes.
func interruptedGet(t *testing.T, link string, want []byte, dir string) {
	out := filepath.Join(dir, "interrupted.mp4")
	p := start(t, "get-interrupted", shoalBin, "get", link, "-o", out, "--data", filepath.Join(dir, "get-int"), "--udp", "127.0.0.1:0")
	time.Sleep(3 * time.Second)
	p.stop()
	log := string(readFile(t, p.log))
	t.Logf("shoal get interrupted: exit %d: %s", p.cmd.ProcessState.ExitCode(), lastLine(log))
	if p.cmd.ProcessState.ExitCode() == 0 || !strings.Contains(log, "run the same command again to resume") {
		t.Errorf("interrupted shoal get: exit %d, want a failure that says how to resume:\n%s", p.cmd.ProcessState.ExitCode(), log)
	}
	b := readFile(t, out)
	if len(b) != len(want) {
		t.Fatalf("interrupted download: %d bytes, want %d", len(b), len(want))
	}
	held := 0
	for off := 0; off < len(b); off += 16 << 10 {
		end := min(off+16<<10, len(b))
		switch {
		case bytes.Equal(b[off:end], want[off:end]):
			held += end - off
		case !bytes.Equal(b[off:end], make([]byte, end-off)):
			t.Fatalf("interrupted download: bytes at %d are neither the file's nor untouched", off)
		}
	}
	if held == 0 {
		t.Errorf("interrupted download kept nothing after 3 s")
	}
}

// corruptWebSeed publishes a file on a web server that flips bytes in its
// Range answers and checks that no flipped byte is ever served or written,
// that a download with no other source fails saying why, and that one with
// a peer holding the file completes.
func corruptWebSeed(t *testing.T, base string) {
	data := make([]byte, 3<<20+1234)
	_, _ = rand.Read(data)
	src := newWebSource(data)
	srv := httptest.NewServer(src)
	defer srv.Close()
	src.corrupt.Store(true)
	code, out, errOut := runShoal(t, 60*time.Second, "publish", srv.URL+"/clip.bin", "--origin", base, "--key", "k3y")
	if code != 0 {
		t.Fatalf("publish a web source: exit %d\n%s", code, errOut)
	}
	link := strings.TrimSpace(out)
	if !regexp.MustCompile(`^http://127\.0\.0\.1:\d+/vod/[0-9a-f]{64}/clip\.bin$`).MatchString(link) {
		t.Fatalf("publish printed %q, want the file's link", link)
	}
	dir := t.TempDir()
	chunksOK := func(path string) {
		t.Helper()
		b := readFile(t, path)
		if len(b) != len(data) {
			t.Errorf("%s: %d bytes, want %d", path, len(b), len(data))
			return
		}
		for off := 0; off < len(b); off += 16 << 10 {
			end := min(off+16<<10, len(b))
			if !bytes.Equal(b[off:end], data[off:end]) && !bytes.Equal(b[off:end], make([]byte, end-off)) {
				t.Errorf("%s: bytes at %d are neither the file's nor untouched", path, off)
				return
			}
		}
	}

	// the web seed is the only source, and it lies: the download fails
	out1 := filepath.Join(dir, "clip.bin")
	t0 := time.Now()
	code, _, errOut = runShoal(t, 60*time.Second, "get", link, "-o", out1, "--data", filepath.Join(dir, "get1"),
		"--udp", "127.0.0.1:0", "--timeout", "20s")
	t.Logf("shoal get with only a lying web seed: exit %d after %v: %s", code, time.Since(t0).Round(time.Millisecond), lastLine(errOut))
	if code == 0 || !strings.Contains(errOut, "failed verification") {
		t.Errorf("shoal get from a lying web seed alone: exit %d, want a failure that names the bad bytes\n%s", code, errOut)
	}
	chunksOK(out1)

	// an honest moment: one viewer takes the whole file
	src.corrupt.Store(false)
	honest := startVODViewer(t, "viewer-honest", link)
	sum, n, err := readAllHash(context.Background(), honest.file)
	if err != nil || sum != sha(data) {
		t.Fatalf("honest web seed: read %d bytes, err %v, equal %v", n, err, sum == sha(data))
	}

	// the web seed lies again: a new viewer is served the right bytes
	src.corrupt.Store(true)
	src.flipped.Store(0)
	liar := startVODViewer(t, "viewer-liar-seed", link)
	sum, n, err = readAllHash(context.Background(), liar.file)
	if err != nil || n != int64(len(data)) || sum != sha(data) {
		t.Errorf("viewer with a lying web seed: read %d bytes, err %v, equal %v", n, err, sum == sha(data))
	}
	s := liar.statsNow(t)
	t.Logf("viewer with a lying web seed: %d corrupted answers sent, %d chunks rejected, web seed %q, from peers %d, web seed %d",
		src.flipped.Load(), s.ChunksRejected, s.WebSeed, s.BytesFromPeers, s.BytesFromHTTP)
	if src.flipped.Load() == 0 || s.ChunksRejected == 0 || !strings.HasPrefix(s.WebSeed, "disabled") {
		t.Errorf("the lying web seed was not caught: %d corrupted answers, %d chunks rejected, web seed %q",
			src.flipped.Load(), s.ChunksRejected, s.WebSeed)
	}

	// and the failed download resumes and completes from the peers
	code, out, errOut = runShoal(t, 60*time.Second, "get", link, "-o", out1, "--data", filepath.Join(dir, "get1"),
		"--udp", "127.0.0.1:0", "--timeout", "20s")
	if code != 0 {
		t.Errorf("shoal get with peers and a lying web seed: exit %d\n%s", code, errOut)
	}
	t.Logf("shoal get with peers and a lying web seed: %s", strings.TrimSpace(out))
	if !bytes.Equal(readFile(t, out1), data) {
		t.Errorf("shoal get wrote other bytes than the file")
	}
}

// badInput checks that bad publishing requests and a bad files directory
// fail with messages that say what is wrong.
func badInput(t *testing.T, base, dir string) {
	noRange := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		_, _ = w.Write(bytes.Repeat([]byte("x"), 100000)) // 200 and the whole body, whatever the Range
	}))
	defer noRange.Close()
	beyond := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Range", "bytes */100000")
		http.Error(w, "range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
	}))
	defer beyond.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	good := filepath.Join(dir, "files", "talk.mp4")
	for _, c := range []struct {
		what string
		args []string
		want string
	}{
		{"a missing file", []string{filepath.Join(dir, "no-such-file.mp4")}, "not a regular file"},
		{"a directory", []string{dir}, "not a regular file"},
		{"a server without Range", []string{noRange.URL + "/film.mp4"}, "does not support Range"},
		{"a server answering 416", []string{beyond.URL + "/film.mp4"}, "416"},
		{"a URL that is not there", []string{notFound.URL + "/film.mp4"}, "404"},
		{"a wrong key", []string{good, "--key", "nope"}, "key"},
	} {
		args := append([]string{"publish"}, c.args...)
		if !strings.Contains(strings.Join(c.args, " "), "--key") {
			args = append(args, "--key", "k3y")
		}
		code, _, errOut := runShoal(t, 30*time.Second, append(args, "--origin", base)...)
		t.Logf("publish %s: exit %d: %s", c.what, code, lastLine(errOut))
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("publish %s: exit %d, want a failure saying %q:\n%s", c.what, code, c.want, errOut)
		}
	}
	code, _, errOut := runShoal(t, 30*time.Second, "get", base+"/vod/"+strings.Repeat("ab", 32)+"/gone.mp4", "-o",
		filepath.Join(dir, "gone.mp4"), "--data", filepath.Join(dir, "get-gone"))
	t.Logf("get an unknown file: exit %d: %s", code, lastLine(errOut))
	if code == 0 || !strings.Contains(errOut, "404") {
		t.Errorf("get an unknown file: exit %d, want a failure saying 404:\n%s", code, errOut)
	}

	// a regular file given as the files directory: serve refuses to start
	code, _, errOut = runShoal(t, 30*time.Second, "serve", "--files", good, "--http", "127.0.0.1:0", "--udp", "127.0.0.1:0",
		"--data", filepath.Join(dir, "origin-bad"))
	t.Logf("serve --files FILE: exit %d: %s", code, lastLine(errOut))
	if code == 0 || !strings.Contains(errOut, "cannot be listed") {
		t.Errorf("serve --files with a regular file: exit %d, want a failure saying the directory cannot be listed:\n%s", code, errOut)
	}
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
