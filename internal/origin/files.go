package origin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shoalstream/shoal/internal/integrity"
)

// On-demand publishing: Files turns local files and files on web servers into
// content IDs (hash tree roots) and serves what a viewer needs to swarm them:
// the list, a descriptor per file, the leaf layer, and a local file's bytes as
// a web seed. Trees are cached on disk so that a restart does not hash again.
//
// Only the regular files directly inside Dir are published, following
// symbolic links; names starting with '.' and subdirectories are left out.
// An empty file is skipped with one log line (ErrEmpty): it has no block a
// swarm could carry. Two files with the same bytes share one ID; the ID then
// answers for the first of them by name.

// DefaultRescan is the time between scans of the files directory.
const DefaultRescan = 5 * time.Second

const maxRescan = 24 * time.Hour

// Errors of on-demand publishing.
var (
	// ErrDir reports a files directory that cannot be listed.
	ErrDir = errors.New("files directory cannot be listed")
	// ErrNotFile reports a path that is missing or not a regular file.
	ErrNotFile = errors.New("not a regular file")
	// ErrEmpty reports an empty file, which is not published.
	ErrEmpty = errors.New("empty file is not published")
	// ErrChanged reports a file that changed while it was hashed; the next
	// scan tries again.
	ErrChanged = errors.New("file changed while it was hashed")
	// ErrSource reports a web server that failed, answered with an error,
	// or sent other bytes than it announced.
	ErrSource = errors.New("web source failed")
	// ErrNoRange reports a web server that does not answer Range requests
	// with 206, so it cannot be a web seed.
	ErrNoRange = errors.New("web server does not support Range requests")
)

// FileConfig configures on-demand publishing.
type FileConfig struct {
	// Dir holds the files to publish; "" publishes only what PublishFile
	// and PublishURL are given.
	Dir string
	// DataDir keeps the tree cache in DataDir/trees; "" hashes every file
	// again after a restart.
	DataDir string
	// Rescan is the time between scans of Dir and of published local files;
	// 0 scans once when Run starts. DefaultFileConfig sets DefaultRescan.
	Rescan time.Duration
	// Progress receives a progress bar for every file hashed; nil is silent.
	Progress io.Writer
	// Logger; default slog.Default().
	Logger *slog.Logger
	// HTTP fetches PublishURL sources; default http.DefaultClient.
	HTTP *http.Client
	// SeedPort is the UDP port of the origin's swarm seed, told to viewers of
	// local files (which the origin seeds) with the host they reached the
	// origin at; 0 leaves it out.
	SeedPort int
}

// DefaultFileConfig returns the defaults for a files directory and a data
// directory.
func DefaultFileConfig(dir, dataDir string) FileConfig {
	return FileConfig{Dir: dir, DataDir: dataDir, Rescan: DefaultRescan}
}

// Validate reports the first field out of range.
func (c FileConfig) Validate() error {
	if c.Rescan != 0 && (c.Rescan < 10*time.Millisecond || c.Rescan > maxRescan) {
		return fmt.Errorf("origin: files: Rescan %v: want 0 (scan once) or 10ms to %v: %w",
			c.Rescan, maxRescan, ErrInvalidConfig)
	}
	return nil
}

// PublishedFile is one file offered on demand.
type PublishedFile struct {
	Name      string         // file name as shown in links, without directories
	ID        integrity.Hash // content ID: the root of the hash tree
	Size      int64          // bytes
	ModTime   time.Time      // local modification time, or the server's Last-Modified
	Path      string         // absolute local path, or empty for a web source
	SourceURL string         // the web seed URL as given, or empty for a local file
	RateBps   int64          // media rate estimated from the file, 0 when unknown
	Tree      *integrity.Tree
}

// fileEntry is a published file with what its source needs to be checked.
type fileEntry struct {
	pf        PublishedFile
	cacheKey  string // source and version, as the tree cache names it; "" when unversioned
	cacheFile string // tree cache file name, "" when not cached
	hashed    bool   // hashed now rather than found in the cache
}

// filesIndex is an immutable view for readers.
type filesIndex struct {
	list []PublishedFile // sorted by name, then ID
	byID map[integrity.Hash]*PublishedFile
}

// filesHashCall is one hashing of a source that others may wait for.
type filesHashCall struct {
	done chan struct{}
	e    *fileEntry
	err  error
}

// treeBuildFunc hashes size bytes of r into a tree; integrity.BuildTree outside
// tests.
type treeBuildFunc func(r io.Reader, size int64, progress func(doneBytes int64)) (*integrity.Tree, error)

// Files publishes files on demand. It is safe for concurrent use.
type Files struct {
	cfg      FileConfig
	dir      string // absolute Dir, or ""
	cacheDir string // DataDir/trees, or ""
	log      *slog.Logger
	client   *http.Client
	progress io.Writer // serialised cfg.Progress, or nil
	build    treeBuildFunc
	stall    time.Duration // longest pause of a web source's body

	scanMu sync.Mutex // one scan at a time

	mu       sync.Mutex
	entries  map[string]*fileEntry // by source: absolute path or URL
	inflight map[string]*filesHashCall
	failed   map[string]string    // last failure logged per source
	empty    map[string]fileStamp // empty files already logged

	idx atomic.Pointer[filesIndex]
}

// fileStamp identifies a version of a local file.
type fileStamp struct {
	size    int64
	modTime time.Time
}

func stampOf(fi fs.FileInfo) fileStamp { return fileStamp{fi.Size(), fi.ModTime()} }

func (e *fileEntry) stamp() fileStamp { return fileStamp{e.pf.Size, e.pf.ModTime} }

// NewFiles returns a Files that has published nothing yet. It fails with
// ErrDir when cfg.Dir is set but is not a directory it can list.
func NewFiles(cfg FileConfig) (*Files, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f := &Files{cfg: cfg, log: cfg.Logger, client: cfg.HTTP, build: integrity.BuildTree,
		stall: defaultSourceStall, entries: map[string]*fileEntry{}, inflight: map[string]*filesHashCall{},
		failed: map[string]string{}, empty: map[string]fileStamp{}}
	if f.log == nil {
		f.log = slog.Default()
	}
	if f.client == nil {
		f.client = http.DefaultClient
	}
	if cfg.Progress != nil {
		f.progress = &filesLockedWriter{w: cfg.Progress}
	}
	if cfg.Dir != "" {
		dir, err := filepath.Abs(cfg.Dir)
		if err == nil {
			_, err = os.ReadDir(dir)
		}
		if err != nil {
			return nil, fmt.Errorf("origin: files: %q: %w: %w", cfg.Dir, ErrDir, err)
		}
		f.dir = dir
	}
	if cfg.DataDir != "" {
		dir, err := filepath.Abs(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("origin: files: DataDir %q: %w: %w", cfg.DataDir, ErrInvalidConfig, err)
		}
		f.cacheDir = filepath.Join(dir, "trees")
	}
	f.idx.Store(&filesIndex{byID: map[integrity.Hash]*PublishedFile{}})
	return f, nil
}

// Run scans Dir at once and then every Rescan until ctx is done, when it
// returns ctx.Err(). A scan publishes new and changed files and unpublishes
// removed ones; failures are logged and retried at the next scan.
func (f *Files) Run(ctx context.Context) error {
	for first := true; ; first = false {
		_ = f.Rescan(ctx) // each failure is logged where it happens
		if first && ctx.Err() == nil {
			f.log.Info("origin: files: publishing", "dir", f.dir, "files", len(f.List()), "rescan", f.cfg.Rescan)
		}
		if f.cfg.Rescan == 0 {
			<-ctx.Done()
			return ctx.Err()
		}
		t := time.NewTimer(f.cfg.Rescan)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Rescan scans once: it lists Dir, checks every published local file, hashes
// what is new or changed, and unpublishes what is gone, empty or changed. It
// returns the failures joined (ErrDir, ErrChanged, ...), after logging them;
// a failed file stays unpublished until a later scan succeeds.
func (f *Files) Rescan(ctx context.Context) error {
	f.scanMu.Lock()
	defer f.scanMu.Unlock()
	var errs []error
	paths := map[string]bool{}
	if f.dir != "" {
		des, err := os.ReadDir(f.dir)
		if err != nil {
			err = fmt.Errorf("origin: files: %q: %w: %w", f.dir, ErrDir, err)
			f.noteFailure(f.dir, err)
			errs = append(errs, err)
		} else {
			f.clearFailure(f.dir)
		}
		for _, de := range des {
			if !strings.HasPrefix(de.Name(), ".") && !de.IsDir() {
				paths[filepath.Join(f.dir, de.Name())] = true
			}
		}
	}
	f.mu.Lock()
	for key, e := range f.entries {
		if e.pf.Path != "" {
			paths[key] = true
		}
	}
	f.mu.Unlock()
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := f.check(ctx, p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// check brings one local path up to date.
func (f *Files) check(ctx context.Context, path string) error {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		// Gone, a dangling link, or a directory behind a link: not an error
		// of the scan, just nothing to publish.
		f.unpublish(path, "gone")
		f.mu.Lock()
		delete(f.empty, path)
		delete(f.failed, path)
		f.mu.Unlock()
		return nil
	}
	st := stampOf(fi)
	f.mu.Lock()
	e := f.entries[path]
	f.mu.Unlock()
	if e != nil && e.stamp() == st {
		return nil
	}
	if st.size == 0 {
		f.unpublish(path, "now empty")
		f.mu.Lock()
		logged, ok := f.empty[path]
		f.empty[path] = st
		f.mu.Unlock()
		if !ok || logged != st {
			f.log.Info("origin: files: skipping empty file", "path", path)
		}
		return nil
	}
	_, err = f.publishLocal(ctx, path)
	if err != nil && ctx.Err() == nil {
		f.unpublish(path, "changed") // the old ID no longer names its bytes
		f.noteFailure(path, err)
	}
	return err
}

// PublishFile publishes one local file, which may lie outside Dir, and
// returns it. Later scans keep it up to date. It fails with ErrNotFile,
// ErrEmpty or ErrChanged, and with the read error, wrapped.
func (f *Files) PublishFile(ctx context.Context, path string) (*PublishedFile, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("origin: publish %q: %w: %w", path, ErrNotFile, err)
	}
	e, err := f.publishLocal(ctx, abs)
	if err != nil {
		return nil, err
	}
	pf := e.pf
	return &pf, nil
}

// publishLocal hashes, or finds in the cache, the file at abs and publishes
// it.
func (f *Files) publishLocal(ctx context.Context, abs string) (*fileEntry, error) {
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("origin: publish %q: %w: %w", abs, ErrNotFile, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("origin: publish %q: %w (mode %v)", abs, ErrNotFile, fi.Mode().Type())
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("origin: publish %q: %w", abs, ErrEmpty)
	}
	st := stampOf(fi)
	current := func(e *fileEntry) bool { return e.stamp() == st }
	return f.once(ctx, abs, current, func() (*fileEntry, error) { return f.hashLocal(ctx, abs) })
}

// once returns the entry published under source if current says it is up
// to date; otherwise it runs do unless a run for source is under way, whose
// result it then shares, and publishes the entry do returns. Checking and
// starting under one lock means two callers never hash one source twice.
func (f *Files) once(ctx context.Context, source string, current func(*fileEntry) bool, do func() (*fileEntry, error)) (*fileEntry, error) {
	f.mu.Lock()
	if e := f.entries[source]; e != nil && current(e) {
		f.mu.Unlock()
		return e, nil
	}
	if c, ok := f.inflight[source]; ok {
		f.mu.Unlock()
		select {
		case <-c.done:
			return c.e, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := &filesHashCall{done: make(chan struct{})}
	f.inflight[source] = c
	f.mu.Unlock()
	c.e, c.err = do()
	if c.err == nil {
		f.put(source, c.e)
	}
	f.mu.Lock()
	delete(f.inflight, source)
	f.mu.Unlock()
	close(c.done)
	return c.e, c.err
}

// put publishes e under source, replacing an older version.
func (f *Files) put(source string, e *fileEntry) {
	f.mu.Lock()
	old := f.entries[source]
	f.entries[source] = e
	delete(f.failed, source)
	delete(f.empty, source)
	f.reindexLocked()
	f.mu.Unlock()
	if old != nil && old.cacheFile != "" && old.cacheFile != e.cacheFile {
		f.removeCache(old.cacheFile)
	}
	if old == nil || old.pf.ID != e.pf.ID {
		level := slog.LevelInfo
		if !e.hashed {
			level = slog.LevelDebug // known from an earlier start
		}
		f.log.Log(context.Background(), level, "origin: files: published", "name", e.pf.Name, "id", e.pf.ID, "size", e.pf.Size,
			"source", source, "rate_bps", e.pf.RateBps)
	}
}

// unpublish removes the file published under source, if any, and forgets its
// cached tree.
func (f *Files) unpublish(source, why string) {
	f.mu.Lock()
	e, ok := f.entries[source]
	if ok {
		delete(f.entries, source)
		f.reindexLocked()
	}
	f.mu.Unlock()
	if !ok {
		return
	}
	if e.cacheFile != "" {
		f.removeCache(e.cacheFile)
	}
	f.log.Info("origin: files: unpublished", "name", e.pf.Name, "id", e.pf.ID, "source", source, "why", why)
}

func (f *Files) reindexLocked() {
	idx := &filesIndex{list: make([]PublishedFile, 0, len(f.entries)), byID: make(map[integrity.Hash]*PublishedFile, len(f.entries))}
	for _, e := range f.entries {
		idx.list = append(idx.list, e.pf)
	}
	slices.SortFunc(idx.list, func(a, b PublishedFile) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), slices.Compare(a.ID[:], b.ID[:]),
			strings.Compare(a.Path+a.SourceURL, b.Path+b.SourceURL))
	})
	for i := range idx.list {
		if _, dup := idx.byID[idx.list[i].ID]; !dup {
			idx.byID[idx.list[i].ID] = &idx.list[i]
		}
	}
	f.idx.Store(idx)
}

// noteFailure logs err for source, as a warning when it differs from the
// last failure logged for it and at debug level when it repeats.
func (f *Files) noteFailure(source string, err error) {
	msg := err.Error()
	f.mu.Lock()
	repeat := f.failed[source] == msg
	f.failed[source] = msg
	f.mu.Unlock()
	level := slog.LevelWarn
	if repeat {
		level = slog.LevelDebug
	}
	f.log.Log(context.Background(), level, "origin: files: not published, retried at the next scan", "source", source, "err", err)
}

func (f *Files) clearFailure(source string) {
	f.mu.Lock()
	delete(f.failed, source)
	f.mu.Unlock()
}

// List returns the published files sorted by name.
func (f *Files) List() []PublishedFile {
	return slices.Clone(f.idx.Load().list)
}

// Lookup returns the published file with content ID id.
func (f *Files) Lookup(id integrity.Hash) (*PublishedFile, bool) {
	pf, ok := f.idx.Load().byID[id]
	if !ok {
		return nil, false
	}
	c := *pf
	return &c, true
}

// filesLockedWriter serialises progress output of hashes running at once.
type filesLockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *filesLockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
