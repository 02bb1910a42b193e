package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
)

// want tells the engine where its reader is: a jump is a seek, and a reader
// moving on carries the read-ahead along. It posts only when the chunk
// changed, unless force is set (the reader is blocked).
func (v *VOD) want(off int64, n int, force bool) {
	chunk := off / integrity.LeafSize
	if v.lastWant.Swap(chunk) == chunk && !force {
		return
	}
	_ = v.drv.Post(v.ctx, func(now time.Duration, e *core.Engine) { _ = e.Want(now, v.id, off, int64(n)) })
}

// vodReader is one player request reading the file. The engine has one
// position per file, so readers take turns: the newest request steers (a
// player that opened a new one has moved there), and an older one only while
// it waits and no newer one does.
type vodReader struct {
	gen     int64
	waiting bool
}

// reader returns the reader of the request ctx belongs to.
func (v *VOD) reader(ctx context.Context) *vodReader {
	key := ctx.Done() // one per request; nil for a context that never ends
	v.rmu.Lock()
	defer v.rmu.Unlock()
	if r := v.readers[key]; r != nil {
		return r
	}
	v.rgen++
	r := &vodReader{gen: v.rgen}
	v.readers[key] = r
	if key != nil {
		context.AfterFunc(ctx, func() {
			v.rmu.Lock()
			delete(v.readers, key)
			v.rmu.Unlock()
		})
	}
	return r
}

func (v *VOD) setWaiting(r *vodReader, w bool) {
	v.rmu.Lock()
	r.waiting = w
	v.rmu.Unlock()
}

// steers says whether r may move the engine's position.
func (v *VOD) steers(r *vodReader) bool {
	v.rmu.Lock()
	defer v.rmu.Unlock()
	for _, o := range v.readers {
		if o.gen > r.gen && (o.waiting || !r.waiting) {
			return false
		}
	}
	return true
}

// ReadAt reads verified bytes of the file from off (gateway.Source). It
// returns as many as are held without a gap, at least one, and otherwise
// tells the engine it needs them and waits until they are verified, ctx
// ends, or no source delivers them (ErrNoSource).
func (v *VOD) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	size := v.desc.Size
	if off < 0 {
		return 0, fmt.Errorf("node: read at negative offset %d", off)
	}
	if off >= size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), size-off)]
	r := v.reader(ctx)
	var since time.Time
	var tick *time.Ticker
	defer func() {
		if tick != nil {
			tick.Stop()
			v.setWaiting(r, false)
		}
	}()
	for {
		n, changed, err := v.store.readAt(p, off)
		if n > 0 {
			if tick != nil {
				v.setWaiting(r, false)
			}
			if v.steers(r) {
				v.want(off, len(p), false)
			}
			v.lastEnd.Store(off + int64(n))
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		if tick == nil {
			since = time.Now()
			tick = time.NewTicker(250 * time.Millisecond)
			if v.lastEnd.Load() == off {
				v.stalls.Add(1) // a reader that was moving on had to wait
			}
			v.setWaiting(r, true)
			if v.steers(r) {
				v.want(off, len(p), true)
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
			// take the position back if another reader moved it
			if v.steers(r) {
				v.want(off, len(p), false)
			}
			if err := v.stalled(ctx, int(off/integrity.LeafSize), time.Since(since)); err != nil {
				v.log.Warn("read failed", "offset", off, "err", err)
				return 0, err
			}
		}
	}
}

// stalled says why waiting for chunk i must end, or nil to wait on.
func (v *VOD) stalled(ctx context.Context, i int, waited time.Duration) error {
	if waited < min(noSourceGrace, v.cfg.StallTimeout) {
		return nil
	}
	st := v.Stats(ctx)
	web := v.webState()
	switch {
	case waited >= v.cfg.StallTimeout:
		return fmt.Errorf("%w: chunk %d: nothing verified for %v (%d peers; web seed: %s)",
			ErrNoSource, i, waited.Round(time.Second), st.Peers, web)
	case st.Peers == 0 && v.webSeed == "":
		return fmt.Errorf("%w: chunk %d: no peer is connected and the file has no web seed", ErrNoSource, i)
	case st.Peers == 0 && v.webBad.Load():
		return fmt.Errorf("%w: chunk %d: no peer is connected, and the web seed sent bytes that failed verification and is no longer used",
			ErrNoSource, i)
	}
	return nil
}

// webState describes the web seed for messages and /stats.
func (v *VOD) webState() string {
	switch {
	case v.webSeed == "":
		return "none"
	case v.webBad.Load():
		return "disabled: it sent bytes that failed verification"
	case v.webFails.Load() > 0:
		if e := v.webErr.Load(); e != nil {
			return "failing: " + *e
		}
		return "failing"
	}
	return "ok"
}

// Download fetches every chunk not held yet, in order, and returns once the
// whole file is verified (and, for a file store, flushed), or with
// ErrNoSource when nothing arrives for the stall timeout, or ctx's error.
// progress, when set, sees the verified bytes held.
func (v *VOD) Download(ctx context.Context, progress func(haveBytes, totalBytes int64)) error {
	size := v.desc.Size
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	from := 0
	last, lastAt := int64(-1), time.Now()
	for {
		have, changed := v.store.held()
		if progress != nil {
			progress(have, size)
		}
		if have != last {
			last, lastAt = have, time.Now()
		}
		i := v.store.firstMissing(from)
		if i < 0 {
			if err := v.store.sync(); err != nil {
				return fmt.Errorf("node: flush %s: %w", v.cfg.Output, err)
			}
			return nil
		}
		v.want(int64(i)*integrity.LeafSize, integrity.LeafSize, i != from)
		from = i
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if err := v.stalled(ctx, i, time.Since(lastAt)); err != nil {
				return err
			}
		}
	}
}

// VODStats is what the gateway's /stats answers for the file.
type VODStats struct {
	File            string  `json:"file"`
	ID              string  `json:"id"`
	SizeBytes       int64   `json:"size"`
	HaveBytes       int64   `json:"have_bytes"` // verified bytes held
	BytesFromPeers  int64   `json:"bytes_from_peers"`
	BytesFromOrigin int64   `json:"bytes_from_origin"` // the origin's swarm seed, over UDP
	BytesFromHTTP   int64   `json:"bytes_from_http"`   // the web seed
	BytesResumed    int64   `json:"bytes_resumed"`     // found in the file at start
	BytesUploaded   int64   `json:"bytes_uploaded"`
	Peers           int     `json:"peers"`
	DelayS          float64 `json:"delay_s"` // 0 on demand: there is no live edge
	Stalls          int64   `json:"stalls"`  // reads that had to wait while moving on
	ChunksVerified  int64   `json:"chunks_verified"`
	ChunksRejected  int64   `json:"chunks_rejected"`
	PeersBanned     int64   `json:"peers_banned"`
	WebSeed         string  `json:"web_seed"`
	Error           string  `json:"error,omitempty"`
}

// P2PShare is the part of received bytes that came from other viewers.
func (s VODStats) P2PShare() float64 {
	return p2pShare(s.BytesFromPeers, s.BytesFromOrigin, s.BytesFromHTTP)
}

// Stats returns the viewer's counters, read on the engine's goroutine.
func (v *VOD) Stats(ctx context.Context) VODStats {
	have, _ := v.store.held()
	st := VODStats{File: v.name, ID: v.id.String(), SizeBytes: v.desc.Size, HaveBytes: have,
		BytesResumed: v.resumedBytes, Stalls: v.stalls.Load(), WebSeed: v.webState()}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := v.drv.Call(ctx, func(_ time.Duration, e *core.Engine) {
		s, ok := e.SwarmStats(v.id)
		if !ok {
			return
		}
		st.BytesFromPeers, st.BytesFromOrigin = s.BytesFromPeers, s.BytesFromOrigin
		// chunks found in the file at start went in as fetched ones
		st.BytesFromHTTP = s.BytesFromHTTP - v.resumedBytes
		st.ChunksVerified = s.ChunksVerified - v.resumedChunks
		st.BytesUploaded, st.Peers = s.BytesUploaded, s.Peers
		st.ChunksRejected, st.PeersBanned = s.ChunksRejected, s.PeersBanned
	})
	if err != nil && !errors.Is(err, ErrStopped) {
		st.Error = err.Error()
	}
	return st
}
