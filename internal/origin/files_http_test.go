package origin

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shoalstream/shoal/internal/integrity"
)

// filesServer publishes testDir and serves it on 127.0.0.1.
func filesServer(t *testing.T) (*Files, *httptest.Server, string, map[string][]byte) {
	t.Helper()
	dir, want := testDir(t)
	f, _ := newTestFiles(t, FileConfig{Dir: dir})
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, srv, dir, want
}

// filesNoRedirect is a client that shows redirects instead of following them.
var filesNoRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// filesFetch does one request and returns the response with its body read.
func filesFetch(t *testing.T, method, u string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := filesNoRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestFilesHandlerList(t *testing.T) {
	_, srv, _, want := filesServer(t)
	resp, body := filesFetch(t, "GET", srv.URL+"/api/files", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/files: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var raw []map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != len(want) {
		t.Fatalf("%d files listed, want %d: %s", len(raw), len(want), body)
	}
	for i, e := range raw {
		name, _ := e["name"].(string)
		b, ok := want[name]
		if !ok {
			t.Fatalf("entry %d: unexpected name %q", i, name)
		}
		id := rootOf(t, b).String()
		wantEntry := map[string]any{"name": name, "id": id, "size": float64(len(b)),
			"url": "/vod/" + id + "/" + url.PathEscape(name), "web_seed": "/seed/" + id + "/" + url.PathEscape(name)}
		for k, v := range wantEntry {
			if e[k] != v {
				t.Errorf("%s: %q = %v, want %v", name, k, e[k], v)
			}
		}
		if len(e) != len(wantEntry) {
			t.Errorf("%s: fields %v, want exactly %v", name, e, wantEntry)
		}
		if i > 0 && raw[i-1]["name"].(string) >= name {
			t.Errorf("list not sorted by name: %q before %q", raw[i-1]["name"], name)
		}
	}
}

func TestFilesHandlerDescriptorAndLeaves(t *testing.T) {
	_, srv, _, want := filesServer(t)
	for name, b := range want {
		id := rootOf(t, b)
		vod := srv.URL + "/vod/" + id.String() + "/" + url.PathEscape(name)
		for _, how := range []struct {
			suffix string
			hdr    map[string]string
		}{{"", map[string]string{"Accept": "text/html;q=0.9, application/json"}}, {"?format=json", nil}} {
			resp, body := filesFetch(t, "GET", vod+how.suffix, how.hdr)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s: %s %s", vod+how.suffix, resp.Status, body)
			}
			var d FileDescriptor
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatal(err)
			}
			wantD := FileDescriptor{ID: id, Name: name, Size: int64(len(b)), ChunkBytes: 16384, WebSeed: "/seed/" + id.String() + "/" + url.PathEscape(name),
				Tracker: "/tracker/announce", LeavesURL: "/vod/" + id.String() + "/leaves"}
			if d != wantD {
				t.Errorf("descriptor %+v, want %+v", d, wantD)
			}
			for _, field := range []string{`"chunk_bytes"`, `"rate_bps"`, `"web_seed"`, `"tracker"`, `"leaves_url"`} {
				if !bytes.Contains(body, []byte(field)) {
					t.Errorf("descriptor lacks %s: %s", field, body)
				}
			}
		}
		// Without JSON the link leads a plain player to the bytes.
		resp, _ := filesFetch(t, "GET", vod, nil)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/seed/"+id.String()+"/"+url.PathEscape(name) {
			t.Errorf("GET %s without JSON: %s Location %q", vod, resp.Status, resp.Header.Get("Location"))
		}

		resp, body := filesFetch(t, "GET", srv.URL+"/vod/"+id.String()+"/leaves", nil)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Fatalf("leaves: %s Cache-Control %q", resp.Status, resp.Header.Get("Cache-Control"))
		}
		var tr integrity.Tree
		if err := tr.UnmarshalBinary(body); err != nil {
			t.Fatal(err)
		}
		if err := integrity.VerifyLeaves(id, int64(len(b)), tr.Leaves()); err != nil {
			t.Errorf("%s: leaves do not verify against the ID: %v", name, err)
		}
		resp, _ = filesFetch(t, "GET", srv.URL+"/vod/"+id.String()+"/leaves", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("leaves with If-None-Match: %s, want 304", resp.Status)
		}
	}
}

func TestFilesHandlerSeedRanges(t *testing.T) {
	_, srv, _, want := filesServer(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for name, b := range want {
		id := rootOf(t, b)
		seed := srv.URL + "/seed/" + id.String() + "/" + url.PathEscape(name)
		resp, body := filesFetch(t, "GET", seed, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, b) || resp.Header.Get("ETag") != `"`+id.String()+`"` ||
			resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Fatalf("GET %s: %s, %d bytes, ETag %q", seed, resp.Status, len(body), resp.Header.Get("ETag"))
		}
		if ct, want := resp.Header.Get("Content-Type"), map[string]string{".ts": "video/mp2t", ".mp4": "video/mp4", ".bin": "application/octet-stream"}[filepath.Ext(name)]; ct != want {
			t.Errorf("%s: Content-Type %q, want %q", name, ct, want)
		}
		for range 20 {
			lo := rng.IntN(len(b))
			hi := lo + rng.IntN(len(b)-lo)
			resp, body := filesFetch(t, "GET", seed, map[string]string{"Range": fmt.Sprintf("bytes=%d-%d", lo, hi)})
			if resp.StatusCode != http.StatusPartialContent ||
				resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", lo, hi, len(b)) ||
				sha256.Sum256(body) != sha256.Sum256(b[lo:hi+1]) {
				t.Fatalf("%s bytes=%d-%d: %s %q, %d bytes, content differs: %v", name, lo, hi, resp.Status,
					resp.Header.Get("Content-Range"), len(body), sha256.Sum256(body) != sha256.Sum256(b[lo:hi+1]))
			}
		}
		resp, _ = filesFetch(t, "GET", seed, map[string]string{"Range": fmt.Sprintf("bytes=%d-", len(b))})
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != "bytes */"+strconv.Itoa(len(b)) {
			t.Errorf("%s: range past the end: %s %q", name, resp.Status, resp.Header.Get("Content-Range"))
		}
		resp, body = filesFetch(t, "HEAD", seed, nil)
		if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(b)) {
			t.Errorf("HEAD %s: %s, Content-Length %d, %d body bytes", seed, resp.Status, resp.ContentLength, len(body))
		}
		resp, _ = filesFetch(t, "GET", seed, map[string]string{"If-None-Match": `"` + id.String() + `"`})
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match: %s, want 304", resp.Status)
		}
	}
}

func TestFilesHandlerErrors(t *testing.T) {
	f, srv, dir, want := filesServer(t)
	id := rootOf(t, want["d.ts"]).String()
	unknown := rootOf(t, []byte("never published")).String()
	for _, tc := range []struct {
		method, path string
		code         int
		body         string // substring
		location     string
	}{
		{"GET", "/vod/" + unknown + "/x.mp4?format=json", 404, "no published file with ID " + unknown, ""},
		{"GET", "/vod/" + unknown + "/leaves", 404, "no published file", ""},
		{"GET", "/seed/" + unknown + "/x.mp4", 404, "no published file", ""},
		{"GET", "/seed/NOTHEX/x.mp4", 404, "64 hex digits", ""},
		{"GET", "/vod/" + id + "/wrong.ts?format=json", 302, "", "/vod/" + id + "/d.ts?format=json"},
		{"GET", "/seed/" + id + "/wrong.ts", 302, "", "/seed/" + id + "/d.ts"},
		{"GET", "/vod/" + id, 302, "", "/vod/" + id + "/d.ts"},
		{"GET", "/vod/" + id + "/", 302, "", "/vod/" + id + "/d.ts"},
		{"GET", "/elsewhere", 404, "/api/files", ""},
		{"POST", "/api/files", 405, "", ""},
	} {
		resp, body := filesFetch(t, tc.method, srv.URL+tc.path, nil)
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.body) || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s %s: %s %q Location %q; want %d %q %q", tc.method, tc.path, resp.Status, body,
				resp.Header.Get("Location"), tc.code, tc.body, tc.location)
		}
	}

	// A file changed behind the scan's back is not served under its old ID,
	// and the others still are.
	writeTestFile(t, filepath.Join(dir, "d.ts"), []byte("rewritten"))
	resp, body := filesFetch(t, "GET", srv.URL+"/seed/"+id+"/d.ts", nil)
	if resp.StatusCode != 404 || !strings.Contains(string(body), "changed") {
		t.Errorf("changed file: %s %q, want 404", resp.Status, body)
	}
	if err := os.Remove(filepath.Join(dir, "d.ts")); err != nil {
		t.Fatal(err)
	}
	resp, _ = filesFetch(t, "GET", srv.URL+"/seed/"+id+"/d.ts", nil)
	if resp.StatusCode != 404 {
		t.Errorf("removed file: %s, want 404", resp.Status)
	}
	if err := f.Rescan(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp, _ = filesFetch(t, "GET", srv.URL+"/vod/"+id+"/d.ts?format=json", nil)
	if resp.StatusCode != 404 {
		t.Errorf("descriptor after removal: %s, want 404", resp.Status)
	}
	other := rootOf(t, want["c.mp4"]).String()
	resp, body = filesFetch(t, "GET", srv.URL+"/seed/"+other+"/c.mp4", nil)
	if resp.StatusCode != 200 || !bytes.Equal(body, want["c.mp4"]) {
		t.Errorf("another file after a removal: %s", resp.Status)
	}
}

func TestFilesWantJSON(t *testing.T) {
	for _, tc := range []struct {
		query, accept string
		want          bool
	}{
		{"", "", false},
		{"format=json", "", true},
		{"format=html", "", false},
		{"", "application/json", true},
		{"", "text/html, Application/JSON;q=0.5", true},
		{"", "application/jsonp", false},
		{"", "*/*", false},
	} {
		r := httptest.NewRequest("GET", "/vod/x/y?"+tc.query, nil)
		if tc.accept != "" {
			r.Header.Set("Accept", tc.accept)
		}
		if got := filesWantJSON(r); got != tc.want {
			t.Errorf("query %q Accept %q: %v, want %v", tc.query, tc.accept, got, tc.want)
		}
	}
}
