package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestServerRoutes(t *testing.T) {
	s := NewServer(ServerOptions{Logger: quiet})
	l := NewLive("my cam", LiveOptions{Logger: quiet})
	if err := s.AddLive(l); err != nil {
		t.Fatal(err)
	}
	l.Push(LiveChunk{Seq: 0, RAP: true, Data: []byte("[0]")}, time.Second)
	l.Push(LiveChunk{Seq: 1, RAP: true, Data: []byte("[1]")}, time.Second)
	l.Push(LiveChunk{Seq: 2, RAP: true, Data: []byte("[2]")}, time.Second)
	src := newMemSource("0123abcd", "film <1>.mp4", []byte("0123456789"))
	src.unlock(0, 10)
	if err := s.AddFile(src); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, tc := range []struct {
		method, path string
		status       int
		contentType  string
		body         []string // substrings
		location     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", []string{
			`href="/live/my%20cam.ts"`, `href="/live/my%20cam.m3u8"`,
			`href="/vod/0123abcd/film%20%3C1%3E.mp4"`, `film &lt;1&gt;.mp4`, `href="/stats"`}, ""},
		{"GET", "/stats", 200, "application/json", []string{`"name":"my cam"`, `"id":"0123abcd"`}, ""},
		{"GET", "/live/my%20cam.m3u8", 200, contentTypeHLS, []string{"my%20cam/seg/0.ts"}, ""},
		{"GET", "/live/my%20cam/seg/0.ts", 200, "video/mp2t", []string{"[0]"}, ""},
		{"GET", "/live/my%20cam/seg/00.ts", 404, "", []string{"no page at"}, ""},
		{"GET", "/live/other.ts", 404, "", []string{`no live stream "other"`}, ""},
		{"GET", "/live/my%20cam.mp4", 404, "", []string{"no page at", "/live/NAME.ts"}, ""},
		{"GET", "/vod/0123abcd/film%20%3C1%3E.mp4", 200, "video/mp4", []string{"0123456789"}, ""},
		{"GET", "/vod/0123abcd", 302, "", nil, "/vod/0123abcd/film%20%3C1%3E.mp4"},
		{"GET", "/vod/0123abcd/other.mkv", 302, "", nil, "/vod/0123abcd/film%20%3C1%3E.mp4"},
		{"GET", "/vod/ffff/x.mp4", 404, "", []string{"no file ffff"}, ""},
		{"GET", "/vod/NOTHEX/x.mp4", 404, "", []string{"no page at"}, ""},
		{"GET", "/favicon.ico", 404, "", []string{"no page at", "/vod/ID/NAME"}, ""},
		{"POST", "/stats", 405, "", []string{"use GET or HEAD"}, ""},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		body := string(b)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, resp.StatusCode, tc.status, body)
			continue
		}
		if tc.contentType != "" && resp.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("%s %s: Content-Type %q, want %q", tc.method, tc.path, resp.Header.Get("Content-Type"), tc.contentType)
		}
		for _, sub := range tc.body {
			if !strings.Contains(body, sub) {
				t.Errorf("%s %s: body lacks %q:\n%s", tc.method, tc.path, sub, body)
			}
		}
		if tc.location != "" && resp.Header.Get("Location") != tc.location {
			t.Errorf("%s %s: Location %q, want %q", tc.method, tc.path, resp.Header.Get("Location"), tc.location)
		}
	}

	if !s.RemoveLive("my cam") || s.RemoveLive("my cam") {
		t.Error("RemoveLive: want true once, then false")
	}
	if !s.RemoveFile("0123abcd") || s.RemoveFile("0123abcd") {
		t.Error("RemoveFile: want true once, then false")
	}
	if st := s.Stats(); len(st.Live) != 0 || len(st.Files) != 0 {
		t.Errorf("stats after removal: %+v", st)
	}
}

func TestServerStatsFunc(t *testing.T) {
	s := NewServer(ServerOptions{Logger: quiet, Stats: func() any {
		return map[string]int{"bytesFromPeers": 42}
	}})
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats", nil))
	var got map[string]int
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got["bytesFromPeers"] != 42 {
		t.Fatalf("stats %q: %v", rec.Body.String(), err)
	}
	bad := NewServer(ServerOptions{Logger: quiet, Stats: func() any { return func() {} }})
	rec = httptest.NewRecorder()
	bad.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/stats", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("stats that cannot be encoded: %d", rec.Code)
	}
}

func TestServerRegistration(t *testing.T) {
	s := NewServer(ServerOptions{})
	if err := s.AddLive(NewLive("a", LiveOptions{})); err != nil {
		t.Fatal(err)
	}
	if err := s.AddLive(NewLive("a", LiveOptions{})); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second live named a: %v", err)
	}
	for _, tc := range []struct {
		id, name string
		want     error
	}{
		{"ab", "x.mp4", nil},
		{"ab", "y.mp4", ErrDuplicate},
		{"AB", "x.mp4", ErrBadName},
		{"", "x.mp4", ErrBadName},
		{"cd", "a/b.mp4", ErrBadName},
		{"cd", "..", ErrBadName},
		{"cd", "tab\there", ErrBadName},
		{"cd", "", ErrBadName},
	} {
		err := s.AddFile(newMemSource(tc.id, tc.name, nil))
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("AddFile(%q, %q) = %v, want %v", tc.id, tc.name, err, tc.want)
		}
	}
}

func TestRouteRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		path string
		want route
	}{
		{"/", route{kind: routeIndex}},
		{"/stats", route{kind: routeStats}},
		{"/live/cam.ts", route{kind: routeLiveTS, name: "cam"}},
		{"/live/cam.ts.ts", route{kind: routeLiveTS, name: "cam.ts"}},
		{"/live/cam.m3u8", route{kind: routeLivePlaylist, name: "cam"}},
		{"/live/cam/seg/0.ts", route{kind: routeLiveSegment, name: "cam", seg: 0}},
		{"/live/cam/seg/18446744073709551615.ts", route{kind: routeLiveSegment, name: "cam", seg: 1<<64 - 1}},
		{"/vod/ab12", route{kind: routeFileBare, id: "ab12"}},
		{"/vod/ab12/a b.mp4", route{kind: routeFile, id: "ab12", name: "a b.mp4"}},
	} {
		got, err := parseRoute(tc.path)
		if err != nil || got != tc.want {
			t.Errorf("parseRoute(%q) = %+v, %v; want %+v", tc.path, got, err, tc.want)
			continue
		}
		if p, _ := url.PathUnescape(got.path()); p != tc.path {
			t.Errorf("path of %+v = %q, want %q", got, p, tc.path)
		}
	}
	for _, p := range []string{"", "/x", "/live/", "/live/.ts", "/live/cam", "/live/../x.ts", "/live/cam/seg/.ts",
		"/live/cam/seg/-1.ts", "/live/cam/seg/+1.ts", "/live/cam/seg/01.ts", "/live/cam/seg/18446744073709551616.ts",
		"/live/cam/seg/1.mp4", "/live/cam/x/1.ts", "/live/a/b.ts", "/vod/", "/vod/XY", "/vod/ab/", "/vod/ab/c/d", "/stats/"} {
		if r, err := parseRoute(p); err == nil {
			t.Errorf("parseRoute(%q) = %+v, want an error", p, r)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, p := range []string{"/", "/stats", "/live/cam.ts", "/live/a.b.m3u8", "/live/cam/seg/12.ts",
		"/vod/ab12/a b.mp4", "/vod/ab", "/live/%/seg/1.ts", "/vod/00/\x00"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, err := parseRoute(p)
		if err != nil {
			return
		}
		back, err := url.PathUnescape(r.path())
		if err != nil {
			t.Fatalf("path %q of %+v does not unescape: %v", r.path(), r, err)
		}
		if back != p {
			t.Fatalf("parseRoute(%q) = %+v, whose path is %q", p, r, back)
		}
		again, err := parseRoute(back)
		if err != nil || again != r {
			t.Fatalf("round trip of %q: %+v, %v", p, again, err)
		}
	})
}
