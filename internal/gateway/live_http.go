package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Content types of what a Live serves.
const (
	contentTypeTS  = "video/mp2t"
	contentTypeHLS = "application/vnd.apple.mpegurl"
)

// ServeTS streams the live MPEG-TS to one client until it hangs up, lags
// too far, or the stream closes.
func (l *Live) ServeTS(w http.ResponseWriter, r *http.Request) {
	if !allowGetHead(w, r) {
		return
	}
	if r.Method == http.MethodHead {
		l.headTS(w)
		return
	}
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	cl := l.subscribe(cancel, r.RemoteAddr)
	if cl == nil {
		http.Error(w, fmt.Sprintf("live stream %q has ended", l.name), http.StatusNotFound)
		return
	}
	defer l.unsubscribe(cl)

	if !l.waitFirst(ctx, w, cl) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeTS)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)

	rc := http.NewResponseController(w)
	// A write stuck on a client that stopped reading returns once the client
	// is dropped or gone.
	stop := context.AfterFunc(ctx, func() { _ = rc.SetWriteDeadline(time.Now()) })
	defer stop()
	for {
		batch, ended := l.take(cl)
		if ended {
			return
		}
		for _, b := range batch {
			if _, err := w.Write(b); err != nil {
				l.abortIfDropped(ctx)
				return
			}
			l.written(cl, len(b))
		}
		if len(batch) > 0 {
			if err := rc.Flush(); err != nil {
				l.abortIfDropped(ctx)
				return
			}
			continue
		}
		select {
		case <-cl.notify:
		case <-ctx.Done():
			l.abortIfDropped(ctx)
			return
		}
	}
}

// waitFirst waits until cl has bytes to send. It answers the request itself
// and returns false when none come within StartTimeout.
func (l *Live) waitFirst(ctx context.Context, w http.ResponseWriter, cl *liveClient) bool {
	timer := time.NewTimer(l.opts.StartTimeout)
	defer timer.Stop()
	for {
		l.mu.Lock()
		ready, ended := len(cl.queue) > 0, cl.ended
		l.mu.Unlock()
		switch {
		case ready:
			return true
		case ended:
			http.Error(w, fmt.Sprintf("live stream %q has ended", l.name), http.StatusNotFound)
			return false
		}
		select {
		case <-cl.notify:
		case <-ctx.Done():
			return false
		case <-timer.C:
			w.Header().Set("Retry-After", "1")
			http.Error(w, fmt.Sprintf("live stream %q: no random-access point arrived within %v; the stream has not started or is stalled",
				l.name, l.opts.StartTimeout), http.StatusServiceUnavailable)
			return false
		}
	}
}

// abortIfDropped cuts the connection of a client dropped for lagging, so its
// player sees an error rather than a clean end of stream.
func (l *Live) abortIfDropped(ctx context.Context) {
	if errors.Is(context.Cause(ctx), errLagging) {
		panic(http.ErrAbortHandler)
	}
}

func (l *Live) headTS(w http.ResponseWriter) {
	l.mu.Lock()
	ok, closed := l.gopOpen && len(l.gop) > 0, l.closed
	l.mu.Unlock()
	switch {
	case closed:
		http.Error(w, fmt.Sprintf("live stream %q has ended", l.name), http.StatusNotFound)
	case !ok:
		w.Header().Set("Retry-After", "1")
		http.Error(w, fmt.Sprintf("live stream %q: no random-access point yet", l.name), http.StatusServiceUnavailable)
	default:
		w.Header().Set("Content-Type", contentTypeTS)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusOK)
	}
}

// ServePlaylist answers the HLS media playlist of the recent window.
func (l *Live) ServePlaylist(w http.ResponseWriter, r *http.Request) {
	if !allowGetHead(w, r) {
		return
	}
	body := l.Playlist()
	if body == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, fmt.Sprintf("live stream %q: no segments yet", l.name), http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentTypeHLS)
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// Playlist renders the HLS media playlist (RFC 8216), or nil when no segment
// is complete yet. Segment URIs are relative to /live/NAME.m3u8.
func (l *Live) Playlist() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	listed := l.listedLocked()
	if len(listed) == 0 {
		return nil
	}
	b := make([]byte, 0, 128+len(listed)*(32+len(l.name)))
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:"...)
	b = strconv.AppendInt(b, int64(l.targetSec), 10)
	b = append(b, "\n#EXT-X-MEDIA-SEQUENCE:"...)
	b = strconv.AppendUint(b, listed[0].n, 10)
	b = append(b, '\n')
	if listed[0].discSeq > 0 {
		b = append(b, "#EXT-X-DISCONTINUITY-SEQUENCE:"...)
		b = strconv.AppendUint(b, listed[0].discSeq, 10)
		b = append(b, '\n')
	}
	b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	prefix := url.PathEscape(l.name) + "/seg/"
	for i, s := range listed {
		// The first listed segment's discontinuity is already counted in
		// EXT-X-DISCONTINUITY-SEQUENCE.
		if s.disc && i > 0 {
			b = append(b, "#EXT-X-DISCONTINUITY\n"...)
		}
		b = append(b, "#EXTINF:"...)
		b = strconv.AppendFloat(b, extinf(s.dur), 'f', 3, 64)
		b = append(b, ",\n"...)
		b = append(b, prefix...)
		b = strconv.AppendUint(b, s.n, 10)
		b = append(b, ".ts\n"...)
	}
	if l.closed {
		b = append(b, "#EXT-X-ENDLIST\n"...)
	}
	return b
}

// extinf is a segment duration in seconds as the playlist writes it, to the
// millisecond.
func extinf(d time.Duration) float64 {
	return d.Round(time.Millisecond).Seconds()
}

// roundedSeconds is a duration as RFC 8216 compares it with the target
// duration: its EXTINF rounded to the nearest integer.
func roundedSeconds(d time.Duration) int {
	return int(math.Round(extinf(d)))
}

// ServeSegment answers HLS segment n, or 404 once it has left the window.
func (l *Live) ServeSegment(w http.ResponseWriter, r *http.Request, n uint64) {
	if !allowGetHead(w, r) {
		return
	}
	l.mu.Lock()
	var data []byte
	found := false
	for _, s := range l.segs {
		if s.n == n {
			data, found = s.data, true
			break
		}
	}
	oldest, next := l.nextSegN, l.nextSegN
	if len(l.segs) > 0 {
		oldest = l.segs[0].n
	}
	l.mu.Unlock()
	if !found {
		msg := fmt.Sprintf("live stream %q: segment %d has left the window (segments %d to %d are available)",
			l.name, n, oldest, int64(next)-1)
		if n >= next {
			msg = fmt.Sprintf("live stream %q: segment %d does not exist yet (newest is %d)", l.name, n, int64(next)-1)
		}
		http.Error(w, msg, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", contentTypeTS)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// allowGetHead answers 405 to any method but GET and HEAD.
func allowGetHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, fmt.Sprintf("method %s not allowed: use GET or HEAD", r.Method), http.StatusMethodNotAllowed)
	return false
}
