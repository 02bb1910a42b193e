package origin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

func TestPublishHandler(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "talk.mp4")
	writeTestFile(t, good, testBytes(1, 40000))
	var published []string
	f, _ := newTestFiles(t, FileConfig{})
	h := f.PublishHandler("k3y", func(pf *PublishedFile) { published = append(published, pf.Name) })
	open := f.PublishHandler("", nil)
	for _, c := range []struct {
		name   string
		h      http.Handler
		method string
		remote string
		key    string
		body   string
		code   int
		want   string
	}{
		{"published", h, "POST", "127.0.0.1:1", "Bearer k3y", `{"path":"` + good + `"}`, 201, `"url":"/vod/`},
		{"key in the query", h, "POST", "192.0.2.7:1", "?key=k3y", `{"path":"` + good + `"}`, 201, `"name":"talk.mp4"`},
		{"no key", h, "POST", "127.0.0.1:1", "", `{"path":"` + good + `"}`, 401, "key"},
		{"wrong key", h, "POST", "127.0.0.1:1", "Bearer nope", `{"path":"` + good + `"}`, 401, "key"},
		{"no key configured, local", open, "POST", "[::1]:1", "", `{"path":"` + good + `"}`, 201, `"id"`},
		{"no key configured, remote", open, "POST", "192.0.2.7:1", "", `{"path":"` + good + `"}`, 403, "--push-key"},
		{"GET", h, "GET", "127.0.0.1:1", "Bearer k3y", "", 405, "POST"},
		{"not JSON", h, "POST", "127.0.0.1:1", "Bearer k3y", "path=x", 400, "JSON"},
		{"both", h, "POST", "127.0.0.1:1", "Bearer k3y", `{"path":"a","url":"http://b/"}`, 400, "exactly one"},
		{"neither", h, "POST", "127.0.0.1:1", "Bearer k3y", `{}`, 400, "exactly one"},
		{"unknown field", h, "POST", "127.0.0.1:1", "Bearer k3y", `{"file":"a"}`, 400, "unknown field"},
		{"missing file", h, "POST", "127.0.0.1:1", "Bearer k3y", `{"path":"` + filepath.Join(dir, "nope") + `"}`, 422, "not a regular file"},
		{"directory", h, "POST", "127.0.0.1:1", "Bearer k3y", `{"path":"` + dir + `"}`, 422, "not a regular file"},
		{"bad URL", h, "POST", "127.0.0.1:1", "Bearer k3y", `{"url":"ftp://x/y"}`, 502, "http"},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := "/api/files"
			if strings.HasPrefix(c.key, "?") {
				target += c.key
			}
			r := httptest.NewRequest(c.method, target, strings.NewReader(c.body))
			r.RemoteAddr = c.remote
			if strings.HasPrefix(c.key, "Bearer") {
				r.Header.Set("Authorization", c.key)
			}
			w := httptest.NewRecorder()
			c.h.ServeHTTP(w, r)
			if w.Code != c.code || !strings.Contains(w.Body.String(), c.want) {
				t.Errorf("%d %s, want %d with %q", w.Code, w.Body.String(), c.code, c.want)
			}
			if w.Code >= 400 {
				var e map[string]string
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e["error"] == "" {
					t.Errorf("error body %q is not {\"error\": ...}", w.Body.String())
				}
			}
		})
	}
	if len(published) != 2 || published[0] != "talk.mp4" {
		t.Errorf("published callback saw %v, want talk.mp4 twice", published)
	}
	if len(f.List()) != 1 {
		t.Errorf("%d files published, want 1", len(f.List()))
	}
}
