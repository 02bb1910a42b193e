package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/integrity"
)

// Limits on one range request to the web seed. Its blocks wait for it and
// for no one else, so a server that does not start answering soon is given
// up and the blocks go back to the peers.
const (
	webHeaderTimeout = 3 * time.Second
	webFetchTimeout  = 20 * time.Second
)

var errWebSlow = fmt.Errorf("web seed sent no answer within %v", webHeaderTimeout)

// errWebBad stops a fetch whose bytes the engine refused.
var errWebBad = errors.New("web seed sent bytes that failed verification")

// fetch runs the engine's EventFetch: chunks [start, end) from the web seed
// by one Range request, each handed to the engine, which verifies it. The
// engine asks for one range at a time; a failed request is reported only
// after a back-off, which paces the retries of a failing server.
func (v *VOD) fetch(start, end uint64) {
	v.fetches.Add(1)
	go func() {
		defer v.fetches.Done()
		err := v.fetchRange(start, end)
		failed := err != nil && !errors.Is(err, errWebBad)
		if failed {
			k := v.webFails.Add(1)
			msg := err.Error()
			v.webErr.Store(&msg)
			if k == 1 || k%20 == 0 {
				v.log.Warn("web seed", "err", err, "failures", k)
			}
			backoff := min(100*time.Millisecond<<min(k-1, 6), 5*time.Second)
			select {
			case <-v.ctx.Done():
				return
			case <-time.After(backoff):
			}
		} else if err == nil {
			v.webFails.Store(0)
		}
		_ = v.drv.Post(v.ctx, func(now time.Duration, e *core.Engine) { e.HandleFetchDone(now, v.id, start, end, failed) })
	}()
}

func (v *VOD) fetchRange(start, end uint64) error {
	size := v.desc.Size
	off := int64(start) * integrity.LeafSize
	last := min(int64(end)*integrity.LeafSize, size) - 1
	if off > last {
		return fmt.Errorf("web seed: empty range [%d, %d)", start, end)
	}
	ctx, cancel := context.WithCancelCause(v.ctx)
	defer cancel(nil)
	slow := time.AfterFunc(webHeaderTimeout, func() { cancel(errWebSlow) })
	defer time.AfterFunc(webFetchTimeout, func() { cancel(fmt.Errorf("web seed took over %v for a range", webFetchTimeout)) }).Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.webSeed, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, last))
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := v.cfg.HTTP.Do(req)
	slow.Stop()
	if err != nil {
		if c := context.Cause(ctx); c != nil && v.ctx.Err() == nil {
			return c
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		return fmt.Errorf("web seed answered %s to a Range request", resp.Status)
	}
	if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, fmt.Sprintf("bytes %d-%d/", off, last)) {
		return fmt.Errorf("web seed answered Content-Range %q to bytes=%d-%d", cr, off, last)
	}
	for i := start; i < end && int64(i)*integrity.LeafSize < size; i++ {
		buf := make([]byte, min(integrity.LeafSize, size-int64(i)*integrity.LeafSize))
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			if c := context.Cause(ctx); c != nil && v.ctx.Err() == nil {
				err = c
			}
			return fmt.Errorf("web seed: chunk %d: %w", i, err)
		}
		var herr error
		if err := v.drv.Call(v.ctx, func(now time.Duration, e *core.Engine) { herr = e.HandleFetched(now, v.id, i, buf) }); err != nil {
			return err
		}
		if errors.Is(herr, core.ErrBadChunk) {
			msg := herr.Error()
			v.webErr.Store(&msg)
			return errWebBad
		}
	}
	return nil
}
