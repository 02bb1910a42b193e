package node

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/origin"
)

// The origin's on-demand side: origin.Files publishes, and every published
// local file becomes an on-demand swarm the origin's engine seeds from the
// file itself. A file published from a URL is only registered with the
// tracker: its web server is the seed of last resort, and viewers fetch
// from it directly.

// filesSyncInterval is how often the seeded swarms follow the published
// list when nothing asks sooner.
const filesSyncInterval = time.Second

// vodSeeds tracks what the origin seeds; sync holds mu throughout.
type vodSeeds struct {
	mu      sync.Mutex
	tracked map[integrity.Hash]*seedFile // every published ID; store nil for web sources
}

type seedFile struct {
	path  string
	store *seedStore
}

// startFiles makes the publisher and the HTTP handler that serves it.
func (o *Origin) startFiles() (http.Handler, error) {
	fcfg := origin.DefaultFileConfig(o.cfg.FilesDir, o.cfg.DataDir)
	fcfg.Progress = o.cfg.Progress
	fcfg.Logger = o.log
	fcfg.SeedPort = int(o.conn.LocalAddr().Port())
	f, err := origin.NewFiles(fcfg)
	if err != nil {
		return nil, err
	}
	o.files = f
	o.seeds = &vodSeeds{tracked: map[integrity.Hash]*seedFile{}}
	fh := f.Handler()
	mux := http.NewServeMux()
	mux.Handle(origin.FilesListPath, fh)
	mux.Handle("POST "+origin.FilesListPath, f.PublishHandler(o.cfg.PushKey, func(*origin.PublishedFile) { o.syncFiles() }))
	// a viewer fetches the descriptor, then joins at once: the swarm must
	// be there by then
	mux.Handle(origin.VODPathPrefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.syncFiles()
		fh.ServeHTTP(w, r)
	}))
	mux.Handle(origin.SeedPathPrefix, origin.LimitHandler(o.budget, fh))
	return mux, nil
}

// runFiles scans the files directory and keeps the seeded swarms in step
// with what is published, until ctx ends.
func (o *Origin) runFiles(ctx context.Context) {
	o.wg.Add(2)
	go func() {
		defer o.wg.Done()
		if err := o.files.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			o.log.Warn("files", "err", err)
		}
	}()
	go func() {
		defer o.wg.Done()
		t := time.NewTicker(filesSyncInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				o.syncFiles()
			}
		}
	}()
}

// Files is the origin's on-demand publisher.
func (o *Origin) Files() *origin.Files { return o.files }

// syncFiles adds a swarm for every newly published file and removes those
// no longer published.
func (o *Origin) syncFiles() {
	if o.files == nil || o.ctx.Err() != nil {
		return
	}
	s := o.seeds
	s.mu.Lock()
	defer s.mu.Unlock()
	list := o.files.List()
	want := make(map[integrity.Hash]*origin.PublishedFile, len(list))
	for i := range list {
		if pf := &list[i]; want[pf.ID] == nil || want[pf.ID].Path == "" {
			want[pf.ID] = pf
		}
	}
	for id, sf := range s.tracked {
		if pf := want[id]; pf == nil || pf.Path != sf.path {
			o.dropSeed(id, sf, pf != nil)
			delete(s.tracked, id)
		}
	}
	for _, pf := range list {
		if s.tracked[pf.ID] != nil || want[pf.ID].Path != pf.Path {
			continue
		}
		sf, err := o.addSeed(want[pf.ID])
		if err != nil {
			o.log.Warn("file not seeded", "name", pf.Name, "id", pf.ID, "err", err)
			continue
		}
		s.tracked[pf.ID] = sf
	}
}

// addSeed registers a published file with the tracker and, for a local
// file, seeds it from the engine.
func (o *Origin) addSeed(pf *origin.PublishedFile) (*seedFile, error) {
	sf := &seedFile{path: pf.Path}
	if pf.Path != "" {
		st, err := openSeedStore(pf.Path, pf.Size, pf.ModTime)
		if err != nil {
			return nil, err
		}
		d := core.SwarmDescriptor{Kind: core.OnDemand, ID: pf.ID, Size: pf.Size, Leaves: pf.Tree.Leaves(),
			RateBps: pf.RateBps, Origin: true, Seed: true, Store: st}
		ctx, cancel := context.WithTimeout(o.ctx, 5*time.Second)
		defer cancel()
		err = o.drv.Call(ctx, func(now time.Duration, e *core.Engine) { err = e.AddSwarm(now, d) })
		if err != nil {
			st.close()
			return nil, fmt.Errorf("node: seed %s: %w", pf.Name, err)
		}
		sf.store = st
	}
	o.trk.AddSwarm(pf.ID)
	if a := o.conn.LocalAddr(); pf.Path != "" && a.Addr().IsValid() && !a.Addr().IsUnspecified() {
		_ = o.trk.AddSeed(pf.ID, a)
	}
	o.log.Debug("on demand", "name", pf.Name, "id", pf.ID, "seeded", pf.Path != "")
	return sf, nil
}

// dropSeed stops seeding a file; keep leaves the tracker's entry, for a file
// that stays published under another source.
func (o *Origin) dropSeed(id integrity.Hash, sf *seedFile, keep bool) {
	if sf.store != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = o.drv.Call(ctx, func(now time.Duration, e *core.Engine) { e.RemoveSwarm(now, id) })
		cancel()
		sf.store.close()
	}
	if !keep {
		o.trk.RemoveSwarm(id)
	}
}

// closeSeeds closes the seeded files once the engine has stopped.
func (o *Origin) closeSeeds() {
	if o.seeds == nil {
		return
	}
	o.seeds.mu.Lock()
	defer o.seeds.mu.Unlock()
	for _, sf := range o.seeds.tracked {
		if sf.store != nil {
			sf.store.close()
		}
	}
}

// seedStore reads a published local file for the engine. It refuses to
// read once the file has changed, so the seed never sends bytes that are
// not the published ones (the next scan publishes the new version).
type seedStore struct {
	mu   sync.Mutex
	f    *os.File
	size int64
	mod  time.Time
}

func openSeedStore(path string, size int64, mod time.Time) (*seedStore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &seedStore{f: f, size: size, mod: mod}, nil
}

var errSeedChanged = errors.New("node: published file changed")

func (s *seedStore) ReadChunk(dst []byte, i int) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return dst, os.ErrClosed
	}
	off := int64(i) * integrity.LeafSize
	n := int(min(integrity.LeafSize, s.size-off))
	if off < 0 || n <= 0 {
		return dst, fmt.Errorf("node: chunk %d outside the file", i)
	}
	if fi, err := s.f.Stat(); err != nil || fi.Size() != s.size || !fi.ModTime().Equal(s.mod) {
		return dst, errSeedChanged
	}
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	if _, err := s.f.ReadAt(dst[start:], off); err != nil {
		return dst[:start], err
	}
	return dst, nil
}

// WriteChunk is never called for a seed: it holds every chunk.
func (s *seedStore) WriteChunk(int, []byte) error { return nil }

func (s *seedStore) DeleteChunk(int) {}

func (s *seedStore) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
}
