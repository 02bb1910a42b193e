package origin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/grafov/m3u8"
)

// HLS defaults and bounds.
const (
	DefaultHLSTimeout        = 10 * time.Second
	DefaultHLSSegmentRetries = 2
	maxPlaylistBytes         = 4 << 20
	minPlaylistPoll          = 100 * time.Millisecond
	segmentRetryDelay        = 250 * time.Millisecond
)

// HLSSource pulls an HLS stream of MPEG-TS segments. From a master playlist
// it takes the highest-bandwidth variant unless Variant names another. It
// polls the media playlist every half target duration and writes new segments
// in media-sequence order; it stops at EXT-X-ENDLIST. Fragmented MP4 and
// encrypted segments are refused with ErrUnsupported.
//
// An HLSSource remembers the next media sequence number across the Ingest's
// retries, so a reconnect does not send segments twice. Use it by pointer.
type HLSSource struct {
	URL string
	// Variant picks a variant of a master playlist: a number is a BANDWIDTH
	// value, or else an index into the variants in playlist order; other
	// text is a substring of the variant's URI.
	Variant string
	// Client fetches playlists and segments; default http.DefaultClient.
	Client *http.Client
	// LiveEdgeSegments is how many segments from the end of a live playlist
	// to start with; default 1, the newest.
	LiveEdgeSegments int
	// SegmentRetries is how often a segment answering 404 or 410 is asked
	// again before it is skipped; default 2, negative for none.
	SegmentRetries int
	// Timeout bounds a playlist request; a segment request gets the larger of
	// it and three target durations. Default 10 s.
	Timeout time.Duration
	// Logger receives skipped segments and discontinuities; default slog.Default().
	Logger *slog.Logger

	started bool   // next is meaningful
	next    uint64 // media sequence number of the next segment to write
	wrote   bool   // a segment was written, so a break is a discontinuity
}

// Validate checks the URL and the numbers.
func (s *HLSSource) Validate() error {
	if _, err := checkSourceURL("hls", s.URL); err != nil {
		return err
	}
	if s.LiveEdgeSegments < 0 || s.LiveEdgeSegments > 1000 {
		return fmt.Errorf("hls LiveEdgeSegments %d: want 0 (default 1) to 1000: %w", s.LiveEdgeSegments, ErrInvalidConfig)
	}
	if s.SegmentRetries > 100 {
		return fmt.Errorf("hls SegmentRetries %d: want at most 100: %w", s.SegmentRetries, ErrInvalidConfig)
	}
	if s.Timeout < 0 || s.Timeout > maxIngestDuration {
		return fmt.Errorf("hls Timeout %v: want 0 (default) to %v: %w", s.Timeout, maxIngestDuration, ErrInvalidConfig)
	}
	return nil
}

// Run follows the playlist, writing segments to w, until EXT-X-ENDLIST (it
// returns nil), a failure, or the end of ctx.
func (s *HLSSource) Run(ctx context.Context, w SourceWriter) error {
	u, err := checkSourceURL("hls", s.URL)
	if err != nil {
		return err
	}
	pl, base, err := s.fetchPlaylist(ctx, u)
	if err != nil {
		return err
	}
	if master, ok := pl.(*m3u8.MasterPlaylist); ok {
		v, err := pickVariant(master, s.Variant)
		if err != nil {
			return fmt.Errorf("hls %s: %w", base, err)
		}
		if u, err = resolveURI(base, v.URI); err != nil {
			return err
		}
		s.logger().Debug("origin: hls variant", "uri", u, "bandwidth", v.Bandwidth)
		if pl, base, err = s.fetchPlaylist(ctx, u); err != nil {
			return err
		}
	}
	for {
		media, ok := pl.(*m3u8.MediaPlaylist)
		if !ok {
			return fmt.Errorf("hls %s: %w: master playlist where a media playlist was expected", base, ErrPlaylist)
		}
		target := time.Duration(media.TargetDuration * float64(time.Second))
		if target <= 0 {
			target = time.Second
		}
		w.ExpectGap(target * 3 / 2)
		if err := s.writeNew(ctx, w, media, base, target); err != nil {
			return err
		}
		if media.Closed {
			return nil
		}
		if !sleepCtx(ctx, max(target/2, minPlaylistPoll)) {
			return ctx.Err()
		}
		if pl, base, err = s.fetchPlaylist(ctx, u); err != nil {
			return err
		}
	}
}

// writeNew writes the playlist's segments that come after the last one
// written, noting gaps and restarts of the media sequence as discontinuities.
func (s *HLSSource) writeNew(ctx context.Context, w SourceWriter, media *m3u8.MediaPlaylist, base *url.URL, target time.Duration) error {
	segs := mediaSegments(media)
	if len(segs) == 0 {
		return nil
	}
	first := media.SeqNo
	end := first + uint64(len(segs)) // one past the last
	switch {
	case !s.started:
		s.next = s.startSeq(media, first, end)
		s.started = true
	case end < s.next:
		// The sequence went back: the packager restarted.
		s.logger().Warn("origin: hls media sequence restarted", "url", base, "was", s.next, "now_end", end)
		s.breakStream(w)
		s.next = s.startSeq(media, first, end)
	case first > s.next:
		s.logger().Warn("origin: hls segments expired before they were fetched", "url", base, "missed", first-s.next)
		s.breakStream(w)
		s.next = first
	}
	var prevURI string
	var prevEnd int64
	for i, seg := range segs {
		seq := first + uint64(i)
		rangeHdr, rangeEnd := byteRange(seg, prevURI, prevEnd)
		prevURI, prevEnd = seg.URI, rangeEnd
		if seq < s.next {
			continue
		}
		if seg.Map != nil || media.Map != nil {
			return fmt.Errorf("hls %s: %w: segments with EXT-X-MAP are fragmented MP4 (fMP4/CMAF), not supported yet, only MPEG-TS", base, ErrUnsupported)
		}
		if seg.Key != nil && seg.Key.Method != "" && seg.Key.Method != "NONE" {
			return fmt.Errorf("hls %s: %w: encrypted segments (METHOD=%s)", base, ErrUnsupported, seg.Key.Method)
		}
		if seg.Discontinuity {
			s.breakStream(w)
		}
		su, err := resolveURI(base, seg.URI)
		if err != nil {
			return err
		}
		dur := time.Duration(seg.Duration * float64(time.Second))
		if err := s.fetchSegment(ctx, w, su, rangeHdr, dur, max(s.timeout(), 3*target)); err != nil {
			return err
		}
		s.next = seq + 1
	}
	return nil
}

func (s *HLSSource) startSeq(media *m3u8.MediaPlaylist, first, end uint64) uint64 {
	if media.Closed {
		return first
	}
	back := uint64(max(s.LiveEdgeSegments, 1))
	if end-first <= back {
		return first
	}
	return end - back
}

// breakStream marks a discontinuity unless nothing was written yet.
func (s *HLSSource) breakStream(w SourceWriter) {
	if s.wrote {
		w.Discontinuity()
	}
}

// fetchSegment writes one segment to w. A segment still missing after the
// retries is skipped behind a discontinuity; other failures are returned. A
// segment that fails after some of it was written is not fetched again.
func (s *HLSSource) fetchSegment(ctx context.Context, w SourceWriter, u *url.URL, rangeHdr string, dur, timeout time.Duration) error {
	retries := s.SegmentRetries
	if retries == 0 {
		retries = DefaultHLSSegmentRetries
	}
	for try := 0; ; try++ {
		n, err := s.copySegment(ctx, w, u, rangeHdr, dur, timeout)
		if n > 0 {
			s.wrote = true
		}
		if err == nil {
			return nil
		}
		if n > 0 {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.logger().Warn("origin: hls segment cut short", "url", u, "bytes", n, "err", err)
			s.breakStream(w)
			return nil
		}
		var se *statusError
		if !errors.As(err, &se) || se.code != http.StatusNotFound && se.code != http.StatusGone {
			return fmt.Errorf("hls segment: %w", err)
		}
		if try >= retries {
			s.logger().Warn("origin: hls segment skipped", "url", u, "err", err)
			s.breakStream(w)
			return nil
		}
		if !sleepCtx(ctx, segmentRetryDelay*time.Duration(try+1)) {
			return ctx.Err()
		}
	}
}

func (s *HLSSource) copySegment(ctx context.Context, w io.Writer, u *url.URL, rangeHdr string, dur, timeout time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := httpGet(ctx, s.client(), u, rangeHdr)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// The segment arrives at once but plays over its duration: say so, so
	// that its chunks are stamped as if it had come in real time.
	if sp, ok := w.(spanWriter); ok && dur > 0 && resp.ContentLength > 0 {
		sp.Span(dur, int(resp.ContentLength))
	}
	n, err := copyTS(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("%s: %w", u, err)
	}
	return n, nil
}

// fetchPlaylist returns the decoded playlist and the URL it came from after
// redirects, which relative URIs in it are resolved against.
func (s *HLSSource) fetchPlaylist(ctx context.Context, u *url.URL) (m3u8.Playlist, *url.URL, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	resp, err := httpGet(ctx, s.client(), u, "")
	if err != nil {
		return nil, u, fmt.Errorf("hls playlist: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPlaylistBytes+1))
	if err != nil {
		return nil, u, fmt.Errorf("hls playlist %s: %w: %w", u, ErrSourceHTTP, err)
	}
	base := resp.Request.URL
	pl, err := decodePlaylist(body)
	if err != nil {
		return nil, base, fmt.Errorf("hls playlist %s: %w", base, err)
	}
	return pl, base, nil
}

// decodePlaylist parses an M3U8 playlist of outside bytes; it never panics.
func decodePlaylist(b []byte) (pl m3u8.Playlist, err error) {
	if len(b) > maxPlaylistBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrPlaylist, maxPlaylistBytes)
	}
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	if !bytes.HasPrefix(b, []byte("#EXTM3U")) {
		return nil, fmt.Errorf("%w: does not start with #EXTM3U", ErrPlaylist)
	}
	defer func() {
		if r := recover(); r != nil {
			pl, err = nil, fmt.Errorf("%w: parser failed: %v", ErrPlaylist, r)
		}
	}()
	p, _, err := m3u8.Decode(*bytes.NewBuffer(b), false)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPlaylist, err)
	}
	if media, ok := p.(*m3u8.MediaPlaylist); ok {
		for _, seg := range mediaSegments(media) {
			if seg.URI == "" {
				return nil, fmt.Errorf("%w: segment without URI", ErrPlaylist)
			}
		}
	}
	return p, nil
}

// mediaSegments returns the playlist's segments in order.
func mediaSegments(media *m3u8.MediaPlaylist) []*m3u8.MediaSegment {
	n := min(int(media.Count()), len(media.Segments))
	segs := make([]*m3u8.MediaSegment, 0, n)
	for _, seg := range media.Segments[:n] {
		if seg != nil {
			segs = append(segs, seg)
		}
	}
	return segs
}

// pickVariant chooses a master playlist's variant, skipping I-frame ones.
func pickVariant(master *m3u8.MasterPlaylist, want string) (*m3u8.Variant, error) {
	var vs []*m3u8.Variant
	for _, v := range master.Variants {
		if v != nil && !v.Iframe && v.URI != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%w: master playlist lists no variant", ErrVariant)
	}
	if want == "" {
		best := vs[0]
		for _, v := range vs[1:] {
			if v.Bandwidth > best.Bandwidth {
				best = v
			}
		}
		return best, nil
	}
	if n, err := strconv.ParseUint(want, 10, 32); err == nil {
		for _, v := range vs {
			if uint64(v.Bandwidth) == n {
				return v, nil
			}
		}
		if n < uint64(len(vs)) {
			return vs[n], nil
		}
		return nil, fmt.Errorf("%w: no variant has BANDWIDTH %d and there are only %d variants", ErrVariant, n, len(vs))
	}
	for _, v := range vs {
		if strings.Contains(v.URI, want) {
			return v, nil
		}
	}
	return nil, fmt.Errorf("%w: no variant URI contains %q", ErrVariant, want)
}

// byteRange returns the Range header for an EXT-X-BYTERANGE segment and the
// offset where its range ends; a range without an offset follows the
// previous range of the same URI.
func byteRange(seg *m3u8.MediaSegment, prevURI string, prevEnd int64) (hdr string, end int64) {
	if seg.Limit <= 0 {
		return "", 0
	}
	off := seg.Offset
	if off == 0 && seg.URI == prevURI {
		off = prevEnd
	}
	return fmt.Sprintf("bytes=%d-%d", off, off+seg.Limit-1), off + seg.Limit
}

func resolveURI(base *url.URL, ref string) (*url.URL, error) {
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return nil, fmt.Errorf("hls %s: %w: URI %q: %w", base, ErrPlaylist, ref, err)
	}
	u := base.ResolveReference(r)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("hls %s: %w: URI %q is not http or https", base, ErrPlaylist, ref)
	}
	return u, nil
}

// spanWriter is a SourceWriter that can be told how long the next bytes
// play (the Ingest's is).
type spanWriter interface {
	Span(d time.Duration, n int)
}

func (s *HLSSource) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return http.DefaultClient
}

func (s *HLSSource) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultHLSTimeout
}

func (s *HLSSource) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
