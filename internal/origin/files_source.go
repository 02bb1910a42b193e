package origin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/shoalstream/shoal/internal/integrity"
)

// Limits on web sources.
const (
	// sourceProbeTimeout bounds the Range request that learns a URL's size.
	sourceProbeTimeout = 30 * time.Second
	// defaultSourceStall is the longest a web source may send nothing while
	// its file is downloaded and hashed.
	defaultSourceStall = 30 * time.Second
)

var errSourceStalled = errors.New("sent nothing for too long")

// hashLocal hashes the regular file at abs, or takes its tree from the
// cache, and returns the entry to publish.
func (f *Files) hashLocal(ctx context.Context, abs string) (*fileEntry, error) {
	file, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("origin: publish %q: %w: %w", abs, ErrNotFile, err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("origin: publish %q: %w: %w", abs, ErrNotFile, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("origin: publish %q: %w (mode %v)", abs, ErrNotFile, fi.Mode().Type())
	}
	st := stampOf(fi)
	if st.size == 0 {
		return nil, fmt.Errorf("origin: publish %q: %w", abs, ErrEmpty)
	}
	e := &fileEntry{pf: PublishedFile{Name: filesSafeName(filepath.Base(abs)), Size: st.size, ModTime: st.modTime, Path: abs},
		cacheKey: localCacheKey(abs, st)}
	if f.fromCache(e) {
		return e, nil
	}
	var probe mp4Probe
	tree, err := f.hash(e.pf.Name, io.TeeReader(filesCtxReader{ctx, file}, &probe), st.size)
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("origin: publish %q: %w", abs, ctx.Err())
	case errors.Is(err, integrity.ErrSize):
		return nil, fmt.Errorf("origin: publish %q: %w: %w", abs, ErrChanged, err)
	case err != nil:
		return nil, fmt.Errorf("origin: publish %q: %w", abs, err)
	}
	// A rewrite of the same length shows only in the modification time.
	if fi2, err := file.Stat(); err != nil || stampOf(fi2) != st {
		return nil, fmt.Errorf("origin: publish %q: %w", abs, ErrChanged)
	}
	e.pf.ID, e.pf.Tree, e.pf.RateBps, e.hashed = tree.Root(), tree, probe.rateBps(st.size), true
	f.toCache(e)
	return e, nil
}

// hash builds the tree of size bytes of r, drawing a progress bar when
// Progress is set.
func (f *Files) hash(name string, r io.Reader, size int64) (*integrity.Tree, error) {
	var progress func(int64)
	if f.progress != nil {
		bar := progressbar.NewOptions64(size,
			progressbar.OptionSetWriter(f.progress),
			progressbar.OptionSetDescription("hashing "+name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(250*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(f.progress) }))
		progress = func(done int64) { _ = bar.Set64(done) }
	}
	return f.build(r, size, progress)
}

// filesCtxReader stops a long hash when its context ends.
type filesCtxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c filesCtxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// PublishURL publishes a file on a web server that answers Range requests,
// which becomes its web seed under rawURL, unchanged. A request for its
// first byte learns the size and proves Range support (ErrNoRange when the
// server answers 200 instead of 206); then the whole body is downloaded once
// and hashed, unless the tree is cached under the same URL, size and ETag or
// Last-Modified. A server that fails, or sends other bytes than it announced,
// gives ErrSource, and nothing is published.
func (f *Files) PublishURL(ctx context.Context, rawURL string) (*PublishedFile, error) {
	u, err := parseSourceURL(rawURL)
	if err != nil {
		return nil, err
	}
	info, err := f.probeURL(ctx, rawURL, u)
	if err != nil {
		return nil, err
	}
	key := remoteCacheKey(rawURL, info)
	current := func(e *fileEntry) bool { return info.versioned() && e.cacheKey == key }
	e, err := f.once(ctx, rawURL, current, func() (*fileEntry, error) { return f.hashRemote(ctx, rawURL, u, info) })
	if err != nil {
		return nil, err
	}
	pf := e.pf
	return &pf, nil
}

// remoteInfo is what the Range probe learned of a web source.
type remoteInfo struct {
	size         int64
	etag         string
	lastModified string
}

// versioned says whether the server named the version of its file, so that
// a cached tree can be trusted for it.
func (r remoteInfo) versioned() bool { return r.etag != "" || r.lastModified != "" }

func parseSourceURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("origin: publish %q: %w: %w", raw, ErrSource, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("origin: publish %q: want an absolute http or https URL: %w", raw, ErrSource)
	}
	return u, nil
}

// probeURL asks for the first byte of the source.
func (f *Files) probeURL(ctx context.Context, raw string, u *url.URL) (remoteInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, sourceProbeTimeout)
	defer cancel()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("origin: publish %q: "+format, append([]any{raw}, args...)...)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return remoteInfo{}, fail("%w: %w", ErrSource, err)
	}
	req.Header.Set("Range", "bytes=0-0")
	// A compressed answer would say nothing of the file's size.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := f.client.Do(req)
	if err != nil {
		return remoteInfo{}, fail("%w: %w", ErrSource, err)
	}
	defer resp.Body.Close()
	cr := resp.Header.Get("Content-Range")
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		if resp.ContentLength == 0 { // servers answer so for an empty file, whatever the Range
			return remoteInfo{}, fail("%w", ErrEmpty)
		}
		// Closing without reading drops the connection and the body with it.
		return remoteInfo{}, fail("%w: it answered 200 with the whole file to \"Range: bytes=0-0\"", ErrNoRange)
	case http.StatusRequestedRangeNotSatisfiable:
		if cr == "bytes */0" {
			return remoteInfo{}, fail("%w", ErrEmpty)
		}
		return remoteInfo{}, fail("%w: HTTP 416 to \"Range: bytes=0-0\" (Content-Range %q)", ErrSource, cr)
	default:
		return remoteInfo{}, fail("%w: HTTP %d %s", ErrSource, resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	size, err := parseFirstByteRange(cr)
	if err != nil {
		return remoteInfo{}, fail("%w: %w", ErrSource, err)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 2))
	if err != nil {
		return remoteInfo{}, fail("%w: %w", ErrSource, err)
	}
	if len(b) != 1 {
		return remoteInfo{}, fail("%w: answered %d bytes to a 1-byte range", ErrSource, len(b))
	}
	return remoteInfo{size: size, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
}

// parseFirstByteRange parses the Content-Range of an answer to bytes=0-0,
// "bytes 0-0/SIZE", and returns SIZE.
func parseFirstByteRange(cr string) (int64, error) {
	total, ok := strings.CutPrefix(cr, "bytes 0-0/")
	if !ok {
		return 0, fmt.Errorf("Content-Range %q, want \"bytes 0-0/SIZE\"", cr)
	}
	size, err := strconv.ParseInt(total, 10, 64)
	if err != nil || size < 1 || size > integrity.MaxSize {
		return 0, fmt.Errorf("Content-Range %q: want a size from 1 to %d bytes", cr, integrity.MaxSize)
	}
	return size, nil
}

// hashRemote downloads the source once, hashing it, or takes its tree from
// the cache.
func (f *Files) hashRemote(ctx context.Context, raw string, u *url.URL, info remoteInfo) (*fileEntry, error) {
	fail := func(format string, args ...any) (*fileEntry, error) {
		return nil, fmt.Errorf("origin: publish %q: "+format, append([]any{raw}, args...)...)
	}
	e := &fileEntry{pf: PublishedFile{Name: sourceName(u), Size: info.size, SourceURL: raw}}
	if t, err := http.ParseTime(info.lastModified); err == nil {
		e.pf.ModTime = t
	}
	if info.versioned() {
		e.cacheKey = remoteCacheKey(raw, info)
		if f.fromCache(e) {
			return e, nil
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watch := time.AfterFunc(f.stall, func() { cancel(errSourceStalled) })
	defer watch.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail("%w: %w", ErrSource, err)
	}
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := f.client.Do(req)
	if err != nil {
		return fail("%w: %w", ErrSource, stallCause(ctx, err))
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode != http.StatusOK:
		return fail("%w: HTTP %d %s", ErrSource, resp.StatusCode, http.StatusText(resp.StatusCode))
	case resp.ContentLength >= 0 && resp.ContentLength != info.size:
		return fail("%w: announces %d bytes, its Range answer said %d", ErrSource, resp.ContentLength, info.size)
	case info.etag != "" && resp.Header.Get("ETag") != "" && resp.Header.Get("ETag") != info.etag:
		return fail("%w: changed while it was published (ETag %s, then %s)", ErrSource, info.etag, resp.Header.Get("ETag"))
	}
	var probe mp4Probe
	body := &sourceStallReader{r: resp.Body, t: watch, d: f.stall}
	tree, err := f.hash(e.pf.Name, io.TeeReader(body, &probe), info.size)
	switch {
	case err == nil:
	case errors.Is(err, integrity.ErrSize):
		return fail("%w: sent other than the %d bytes it announced: %w", ErrSource, info.size, err)
	case context.Cause(ctx) != nil && !errors.Is(context.Cause(ctx), errSourceStalled):
		return fail("%w", context.Cause(ctx))
	default:
		return fail("%w: %w", ErrSource, stallCause(ctx, err))
	}
	e.pf.ID, e.pf.Tree, e.pf.RateBps, e.hashed = tree.Root(), tree, probe.rateBps(info.size), true
	f.toCache(e)
	return e, nil
}

// stallCause names a stall as the reason of err when it was one.
func stallCause(ctx context.Context, err error) error {
	if errors.Is(context.Cause(ctx), errSourceStalled) {
		return errSourceStalled
	}
	return err
}

// sourceStallReader pushes the stall deadline back on every read that brings
// bytes.
type sourceStallReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (s *sourceStallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.t.Reset(s.d)
	}
	return n, err
}

// sourceName is the file name of a URL: its last path element, or its host.
func sourceName(u *url.URL) string {
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == ".." {
		name = u.Hostname()
	}
	return filesSafeName(name)
}

// filesSafeName makes a name safe to show and to put in a link: control
// characters become '_'.
func filesSafeName(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
}
