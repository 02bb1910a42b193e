package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
)

// PublishRequest is the body of POST /api/files: exactly one of Path (a file
// on the origin's machine) or URL (a web server that answers Range requests).
type PublishRequest struct {
	Path string `json:"path,omitempty"`
	URL  string `json:"url,omitempty"`
}

// maxPublishBody bounds the JSON of a publish request.
const maxPublishBody = 64 << 10

// PublishHandler answers POST /api/files: it publishes what the JSON body
// names with PublishFile or PublishURL and answers the file's FileInfo with
// 201, after calling published (when not nil) with it. A request must carry
// key as "?key=KEY" or "Authorization: Bearer KEY" when key is set; without
// a key only clients on the origin's own machine (loopback) may publish,
// since a path names any file the origin can read.
//
// Failures answer JSON {"error": "..."}: 400 for a malformed request, 401 for
// a wrong key, 403 for a remote client without a key configured, 422 for a
// path that is not a regular file or is empty and for a web server without
// Range support, 502 for a web server that failed.
func (f *Files) PublishHandler(key string, published func(*PublishedFile)) http.Handler {
	auth := &PushHandler{Key: key}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSONError(w, http.StatusMethodNotAllowed, errors.New("publish with POST"))
			return
		}
		if key != "" {
			if !auth.keyOK(pushKey(r)) {
				f.log.Warn("origin: files: publish refused: wrong or missing key", "remote", r.RemoteAddr)
				writeJSONError(w, http.StatusUnauthorized, errors.New("wrong or missing key: pass the origin's --push-key"))
				return
			}
		} else if !fromLoopback(r) {
			writeJSONError(w, http.StatusForbidden, errors.New("this origin has no --push-key, so it takes publish requests only from its own machine"))
			return
		}
		var req PublishRequest
		dec := json.NewDecoder(io.LimitReader(r.Body, maxPublishBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSONError(w, http.StatusBadRequest, fmt.Errorf("body: want JSON {\"path\": FILE} or {\"url\": URL}: %w", err))
			return
		}
		if (req.Path == "") == (req.URL == "") {
			writeJSONError(w, http.StatusBadRequest, errors.New("body: want exactly one of \"path\" and \"url\""))
			return
		}
		var pf *PublishedFile
		var err error
		if req.Path != "" {
			pf, err = f.PublishFile(r.Context(), req.Path)
		} else {
			pf, err = f.PublishURL(r.Context(), req.URL)
		}
		if err != nil {
			if r.Context().Err() == nil {
				f.log.Warn("origin: files: publish failed", "path", req.Path, "url", req.URL, "err", err)
			}
			writeJSONError(w, publishStatus(err), err)
			return
		}
		if published != nil {
			published(pf)
		}
		w.Header().Set("Location", filesVODPath(pf))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(pf.Info())
	})
}

// publishStatus maps a publishing failure to its HTTP status.
func publishStatus(err error) int {
	switch {
	case errors.Is(err, ErrNotFile), errors.Is(err, ErrEmpty), errors.Is(err, ErrChanged), errors.Is(err, ErrNoRange):
		return http.StatusUnprocessableEntity
	case errors.Is(err, ErrSource):
		return http.StatusBadGateway
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}
