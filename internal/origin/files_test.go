package origin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
)

// filesLogger logs to the test's output at debug level.
func filesLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newTestFiles returns a Files whose tree builds are counted.
func newTestFiles(t testing.TB, cfg FileConfig) (*Files, *atomic.Int64) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = filesLogger(t)
	}
	f, err := NewFiles(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var builds atomic.Int64
	f.build = func(r io.Reader, size int64, progress func(int64)) (*integrity.Tree, error) {
		builds.Add(1)
		return integrity.BuildTree(r, size, progress)
	}
	return f, &builds
}

// testBytes returns n bytes from a seeded generator.
func testBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	_, _ = r.Read(b)
	return b
}

// filesWaitFor polls cond until it holds or the timeout passes.
func filesWaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func writeTestFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rootOf hashes b independently of Files.
func rootOf(t testing.TB, b []byte) integrity.Hash {
	t.Helper()
	tr, err := integrity.BuildTree(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Root()
}

// testDir fills a directory with files of the sizes given by name, around
// block boundaries, plus what must not be published: an empty file, a dot
// file, a subdirectory and a dangling link.
func testDir(t testing.TB) (dir string, want map[string][]byte) {
	t.Helper()
	dir = t.TempDir()
	want = map[string][]byte{}
	for i, n := range map[string]int{"a.bin": 1, "b one.bin": integrity.LeafSize, "c.mp4": integrity.LeafSize + 1, "d.ts": 5*integrity.LeafSize - 7} {
		b := testBytes(uint64(n), n)
		want[i] = b
		writeTestFile(t, filepath.Join(dir, i), b)
	}
	writeTestFile(t, filepath.Join(dir, "empty.mp4"), nil)
	writeTestFile(t, filepath.Join(dir, ".partial"), []byte("not yet"))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "sub", "inner.bin"), []byte("below"))
	if err := os.Symlink(filepath.Join(dir, "nowhere"), filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	return dir, want
}

// checkList compares the published files with the expected contents.
func checkList(t testing.TB, f *Files, want map[string][]byte) {
	t.Helper()
	list := f.List()
	var names []string
	for _, pf := range list {
		names = append(names, pf.Name)
	}
	wantNames := slices.Sorted(func(yield func(string) bool) {
		for n := range want {
			if !yield(n) {
				return
			}
		}
	})
	if !slices.Equal(names, wantNames) {
		t.Fatalf("published %q, want %q", names, wantNames)
	}
	for _, pf := range list {
		b := want[pf.Name]
		if id := rootOf(t, b); pf.ID != id || pf.Size != int64(len(b)) || pf.Tree.Root() != id {
			t.Errorf("%s: ID %v size %d, want %v size %d", pf.Name, pf.ID, pf.Size, id, len(b))
		}
		if !filepath.IsAbs(pf.Path) || pf.SourceURL != "" || pf.ModTime.IsZero() {
			t.Errorf("%s: Path %q SourceURL %q ModTime %v", pf.Name, pf.Path, pf.SourceURL, pf.ModTime)
		}
		got, ok := f.Lookup(pf.ID)
		if !ok || got.Name != pf.Name {
			t.Errorf("Lookup(%v) = %v, %v", pf.ID, got, ok)
		}
	}
}

func TestFileConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		rescan time.Duration
		ok     bool
	}{
		{0, true}, {DefaultRescan, true}, {10 * time.Millisecond, true}, {24 * time.Hour, true},
		{-time.Second, false}, {time.Millisecond, false}, {25 * time.Hour, false},
	} {
		cfg := DefaultFileConfig("", "")
		cfg.Rescan = tc.rescan
		err := cfg.Validate()
		if (err == nil) != tc.ok || err != nil && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "Rescan")) {
			t.Errorf("Rescan %v: Validate() = %v, want ok=%v", tc.rescan, err, tc.ok)
		}
		if _, err := NewFiles(cfg); (err == nil) != tc.ok {
			t.Errorf("Rescan %v: NewFiles error %v, want ok=%v", tc.rescan, err, tc.ok)
		}
	}
}

func TestNewFilesBadDir(t *testing.T) {
	tmp := t.TempDir()
	regular := filepath.Join(tmp, "regular")
	writeTestFile(t, regular, []byte("x"))
	dangling := filepath.Join(tmp, "dangling")
	if err := os.Symlink(filepath.Join(tmp, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{regular, dangling, filepath.Join(tmp, "missing")} {
		_, err := NewFiles(FileConfig{Dir: dir, Logger: filesLogger(t)})
		if !errors.Is(err, ErrDir) {
			t.Errorf("NewFiles(Dir %q) = %v, want ErrDir", dir, err)
		}
	}
}

func TestFilesPublishDir(t *testing.T) {
	dir, want := testDir(t)
	f, builds := newTestFiles(t, FileConfig{Dir: dir})
	if len(f.List()) != 0 {
		t.Fatal("published before the first scan")
	}
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkList(t, f, want)
	if n := builds.Load(); n != int64(len(want)) {
		t.Errorf("%d trees built, want %d", n, len(want))
	}
	// A scan with nothing changed hashes nothing.
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := builds.Load(); n != int64(len(want)) {
		t.Errorf("%d trees built after an idle scan, want %d", n, len(want))
	}
	if _, ok := f.Lookup(rootOf(t, nil)); ok {
		t.Error("the empty file is published")
	}
}

func TestFilesRescan(t *testing.T) {
	dir, want := testDir(t)
	f, builds := newTestFiles(t, FileConfig{Dir: dir})
	ctx := t.Context()
	if err := f.Rescan(ctx); err != nil {
		t.Fatal(err)
	}
	oldID := rootOf(t, want["a.bin"])

	// New, changed, removed, and an empty file that fills up.
	want["new.bin"] = testBytes(7, 3*integrity.LeafSize)
	writeTestFile(t, filepath.Join(dir, "new.bin"), want["new.bin"])
	want["a.bin"] = []byte("a changed")
	writeTestFile(t, filepath.Join(dir, "a.bin"), want["a.bin"])
	delete(want, "d.ts")
	if err := os.Remove(filepath.Join(dir, "d.ts")); err != nil {
		t.Fatal(err)
	}
	want["empty.mp4"] = []byte("no longer empty")
	writeTestFile(t, filepath.Join(dir, "empty.mp4"), want["empty.mp4"])
	before := builds.Load()
	if err := f.Rescan(ctx); err != nil {
		t.Fatal(err)
	}
	checkList(t, f, want)
	if n := builds.Load() - before; n != 3 {
		t.Errorf("%d trees built by the rescan, want 3", n)
	}
	if _, ok := f.Lookup(oldID); ok {
		t.Error("the old version of a.bin is still published")
	}

	// A file emptied is unpublished.
	writeTestFile(t, filepath.Join(dir, "empty.mp4"), nil)
	delete(want, "empty.mp4")
	if err := f.Rescan(ctx); err != nil {
		t.Fatal(err)
	}
	checkList(t, f, want)
}

func TestFilesCacheReuse(t *testing.T) {
	dir, want := testDir(t)
	data := t.TempDir()
	f1, builds1 := newTestFiles(t, FileConfig{Dir: dir, DataDir: data})
	if err := f1.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := builds1.Load(); n != int64(len(want)) {
		t.Fatalf("first start built %d trees, want %d", n, len(want))
	}
	caches, _ := filepath.Glob(filepath.Join(data, "trees", "*.tree"))
	if len(caches) != len(want) {
		t.Fatalf("%d cache files, want %d", len(caches), len(want))
	}

	// A restart finds every tree in the cache.
	f2, builds2 := newTestFiles(t, FileConfig{Dir: dir, DataDir: data})
	if err := f2.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkList(t, f2, want)
	if n := builds2.Load(); n != 0 {
		t.Errorf("restart built %d trees, want 0", n)
	}

	// A touched file is hashed again and its stale cache file removed; a
	// damaged cache file costs a hash, not a wrong ID.
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "a.bin"), future, future); err != nil {
		t.Fatal(err)
	}
	for _, c := range caches {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("b one.bin")) {
			b[len(b)-1] ^= 1 // flip a bit of a leaf hash
			writeTestFile(t, c, b)
		}
	}
	f3, builds3 := newTestFiles(t, FileConfig{Dir: dir, DataDir: data})
	if err := f3.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkList(t, f3, want)
	if n := builds3.Load(); n != 2 {
		t.Errorf("built %d trees after a touch and a damaged cache file, want 2", n)
	}
	if err := f2.Rescan(t.Context()); err != nil { // f2 replaces its a.bin
		t.Fatal(err)
	}
	caches, _ = filepath.Glob(filepath.Join(data, "trees", "*"))
	if len(caches) != len(want) {
		t.Errorf("%d files in the cache, want %d: %q", len(caches), len(want), caches)
	}
}

func TestFilesChangedWhileHashing(t *testing.T) {
	dir, want := testDir(t)
	f, _ := newTestFiles(t, FileConfig{Dir: dir})
	grow := filepath.Join(dir, "c.mp4")
	var once sync.Once
	f.build = func(r io.Reader, size int64, progress func(int64)) (*integrity.Tree, error) {
		if size == int64(len(want["c.mp4"])) {
			once.Do(func() {
				fh, err := os.OpenFile(grow, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Error(err)
					return
				}
				fh.Write([]byte("more"))
				fh.Close()
			})
		}
		return integrity.BuildTree(r, size, progress)
	}
	err := f.Rescan(t.Context())
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("Rescan() = %v, want ErrChanged", err)
	}
	grown := append(want["c.mp4"], "more"...)
	delete(want, "c.mp4")
	checkList(t, f, want) // the others are published
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	want["c.mp4"] = grown
	checkList(t, f, want)
}

func TestPublishFileErrors(t *testing.T) {
	dir, want := testDir(t)
	f, _ := newTestFiles(t, FileConfig{Dir: dir})
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want []error
	}{
		{filepath.Join(dir, "missing.mp4"), []error{ErrNotFile, fs.ErrNotExist}},
		{filepath.Join(dir, "dangling"), []error{ErrNotFile, fs.ErrNotExist}},
		{filepath.Join(dir, "sub"), []error{ErrNotFile}},
		{filepath.Join(dir, "empty.mp4"), []error{ErrEmpty}},
	} {
		pf, err := f.PublishFile(t.Context(), tc.path)
		for _, w := range tc.want {
			if !errors.Is(err, w) {
				t.Errorf("PublishFile(%q) = %v, %v; want %v", tc.path, pf, err, w)
			}
		}
	}
	checkList(t, f, want)
}

func TestPublishFileOutsideDir(t *testing.T) {
	dir, want := testDir(t)
	f, builds := newTestFiles(t, FileConfig{Dir: dir})
	other := filepath.Join(t.TempDir(), "other.mkv")
	want["other.mkv"] = testBytes(9, 2*integrity.LeafSize+3)
	writeTestFile(t, other, want["other.mkv"])

	// Concurrent publishers of one file and a scan share one hash.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			pf, err := f.PublishFile(t.Context(), other)
			if err != nil || pf.ID != rootOf(t, want["other.mkv"]) {
				t.Errorf("PublishFile = %+v, %v", pf, err)
			}
		})
	}
	wg.Go(func() {
		if err := f.Rescan(t.Context()); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	checkList(t, f, want)
	if n := builds.Load(); n != int64(len(want)) {
		t.Errorf("%d trees built, want %d", n, len(want))
	}
	// Scans follow a file outside Dir too.
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	delete(want, "other.mkv")
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkList(t, f, want)
}

func TestFilesRun(t *testing.T) {
	dir, want := testDir(t)
	f, _ := newTestFiles(t, FileConfig{Dir: dir, Rescan: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	published := func(n int) func() bool { return func() bool { return len(f.List()) == n } }
	filesWaitFor(t, "the initial scan", 10*time.Second, published(len(want)))
	writeTestFile(t, filepath.Join(dir, "late.bin"), []byte("late"))
	filesWaitFor(t, "a rescan to find late.bin", 10*time.Second, published(len(want)+1))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run() = %v, want context.Canceled", err)
	}
}

func TestFilesProgress(t *testing.T) {
	dir, _ := testDir(t)
	var out bytes.Buffer
	f, _ := newTestFiles(t, FileConfig{Dir: dir, Progress: &out})
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "hashing d.ts") || !strings.Contains(s, "100%") {
		t.Errorf("progress output %q lacks a finished bar for d.ts", s)
	}
}

func TestFilesScanDirGone(t *testing.T) {
	dir, _ := testDir(t)
	f, _ := newTestFiles(t, FileConfig{Dir: dir})
	other := filepath.Join(t.TempDir(), "kept.bin")
	writeTestFile(t, other, []byte("kept"))
	if _, err := f.PublishFile(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, dir, []byte("a file where the directory was"))
	if err := f.Rescan(t.Context()); !errors.Is(err, ErrDir) {
		t.Errorf("Rescan() = %v, want ErrDir", err)
	}
	checkList(t, f, map[string][]byte{"kept.bin": []byte("kept")})
}
