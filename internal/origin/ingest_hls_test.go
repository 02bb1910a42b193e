package origin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafov/m3u8"
)

// recWriter is a SourceWriter that records which synthetic segments arrived
// and where discontinuities fell.
type recWriter struct {
	mu     sync.Mutex
	buf    []byte
	events []string
	gap    time.Duration
}

func (w *recWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	return len(p), nil
}

func (w *recWriter) Discontinuity() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	w.events = append(w.events, "D")
}

func (w *recWriter) ExpectGap(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gap = d
}

func (w *recWriter) Events() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
	return append([]string(nil), w.events...)
}

// flushLocked turns buffered packets into one event per segment; a segment's
// packets carry its number in every payload byte.
func (w *recWriter) flushLocked() {
	last := -1
	for _, p := range packets(w.buf) {
		if n := int(p[4]); n != last {
			w.events = append(w.events, fmt.Sprintf("S%d", n))
			last = n
		}
	}
	w.buf = w.buf[:0]
}

// segBody is a synthetic three-packet TS segment marked with n.
func segBody(n int) []byte {
	var b []byte
	for cc := range 3 {
		b = append(b, tsPkt(testVideoPID, false, uint8(cc), false, fill(byte(n), 184))...)
	}
	return b
}

// mediaPL writes a media playlist starting at media sequence seq; an item "D"
// puts EXT-X-DISCONTINUITY before the next segment.
func mediaPL(seq int, closed bool, items ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:0.2\n#EXT-X-MEDIA-SEQUENCE:%d\n", seq)
	for _, it := range items {
		if it == "D" {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
			continue
		}
		fmt.Fprintf(&b, "#EXTINF:0.2,\nseg/%s.ts\n", it)
	}
	if closed {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return b.String()
}

// hlsScript serves the i-th playlist at the i-th request (the last one from
// then on) and segments by name; missing names answer 404.
type hlsScript struct {
	mu        sync.Mutex
	playlists []string
	served    int
	segs      map[string][]byte
	hits      map[string]int
}

func (s *hlsScript) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hits[r.URL.Path]++
	if r.URL.Path == "/live/index.m3u8" {
		w.Write([]byte(s.playlists[min(s.served, len(s.playlists)-1)]))
		s.served++
		return
	}
	body, ok := s.segs[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(body)
}

func newHLSScript(playlists ...string) *hlsScript {
	s := &hlsScript{playlists: playlists, segs: map[string][]byte{}, hits: map[string]int{}}
	for n := range 30 {
		s.segs[fmt.Sprintf("/live/seg/%d.ts", n)] = segBody(n)
	}
	return s
}

func TestHLSSourceFollowsMediaSequence(t *testing.T) {
	script := newHLSScript(
		mediaPL(10, false, "10", "11", "12"), // start at the live edge
		mediaPL(11, false, "11", "12", "13"), // one new segment
		mediaPL(16, false, "16", "17"),       // 14 and 15 expired unseen
		mediaPL(17, false, "17", "D", "18"),  // EXT-X-DISCONTINUITY
		mediaPL(18, false, "18", "19", "20"), // 19 answers 404
		mediaPL(2, false, "2", "3"),          // the packager restarted
		mediaPL(2, true, "2", "3", "4"),      // and ended
	)
	delete(script.segs, "/live/seg/19.ts")
	srv := httptest.NewServer(script)
	defer srv.Close()

	src := &HLSSource{URL: srv.URL + "/live/index.m3u8", SegmentRetries: 1}
	w := &recWriter{}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := src.Run(ctx, w); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := "S12 S13 D S16 S17 D S18 D S20 D S3 S4"
	if got := strings.Join(w.Events(), " "); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	if hits := script.hits["/live/seg/19.ts"]; hits != 2 {
		t.Fatalf("missing segment asked %d times, want 2 (one retry)", hits)
	}
	if w.gap != 300*time.Millisecond {
		t.Fatalf("ExpectGap(%v), want 1.5 target durations", w.gap)
	}
}

func TestHLSSourceResumesAfterRetry(t *testing.T) {
	// A second Run of the same source (the Ingest's retry) continues after
	// the last segment written instead of starting at the live edge again.
	script := newHLSScript(mediaPL(5, false, "5", "6"))
	srv := httptest.NewServer(script)
	defer srv.Close()
	src := &HLSSource{URL: srv.URL + "/live/index.m3u8"}
	w := &recWriter{}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for len(w.Events()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	src.Run(ctx, w)
	script.mu.Lock()
	script.playlists = []string{mediaPL(6, true, "6", "7", "8")}
	script.served = 0
	script.mu.Unlock()
	if err := src.Run(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(w.Events(), " "); got != "S6 S7 S8" {
		t.Fatalf("events %s, want S6 S7 S8", got)
	}
}

func TestHLSSourceErrors(t *testing.T) {
	seg := segBody(1)
	fmp4 := append([]byte{0, 0, 0, 0x18}, "ftypiso6\x00\x00\x02\x00iso6mp41"...)
	tests := []struct {
		name     string
		playlist string // served at /pl.m3u8; "" answers 404
		segment  []byte // served at /seg.ts
		status   int    // for the segment, when not 200
		variant  string
		want     error
		mention  []string // text the error must contain
	}{
		{name: "playlist 404", want: ErrSourceHTTP, mention: []string{"404", "/pl.m3u8"}},
		{name: "not a playlist", playlist: "<html>hello</html>", want: ErrPlaylist, mention: []string{"#EXTM3U", "/pl.m3u8"}},
		{name: "no playlist type", playlist: "#EXTM3U\nsomething\n", want: ErrPlaylist},
		{name: "fMP4 by EXT-X-MAP", playlist: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2,\nseg.ts\n#EXT-X-ENDLIST\n",
			segment: seg, want: ErrUnsupported, mention: []string{"fMP4"}},
		{name: "fMP4 segment", playlist: mediaOne("seg.ts"), segment: fmp4, want: ErrUnsupported, mention: []string{"fMP4", "/seg.ts"}},
		{name: "html segment", playlist: mediaOne("seg.ts"), segment: []byte("<html>oops</html>"), want: ErrNotTS, mention: []string{"/seg.ts"}},
		{name: "segment 500", playlist: mediaOne("seg.ts"), status: 500, want: ErrSourceHTTP, mention: []string{"500"}},
		{name: "encrypted", playlist: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-KEY:METHOD=AES-128,URI=\"k\"\n#EXTINF:2,\nseg.ts\n#EXT-X-ENDLIST\n",
			segment: seg, want: ErrUnsupported, mention: []string{"AES-128"}},
		{name: "no such variant", playlist: "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\npl2.m3u8\n", variant: "hd", want: ErrVariant},
		{name: "segment ok", playlist: mediaOne("seg.ts"), segment: seg},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.HandleFunc("/pl.m3u8", func(w http.ResponseWriter, r *http.Request) {
				if tt.playlist == "" {
					http.NotFound(w, r)
					return
				}
				w.Write([]byte(tt.playlist))
			})
			mux.HandleFunc("/seg.ts", func(w http.ResponseWriter, r *http.Request) {
				if tt.status != 0 {
					w.WriteHeader(tt.status)
					return
				}
				w.Write(tt.segment)
			})
			srv := httptest.NewServer(mux)
			defer srv.Close()
			src := &HLSSource{URL: srv.URL + "/pl.m3u8", Variant: tt.variant}
			w := &recWriter{}
			err := src.Run(t.Context(), w)
			t.Logf("Run: %v", err)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Run: %v, want %v", err, tt.want)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Fatalf("error %q does not mention %q", err, m)
				}
			}
			if tt.want != nil && len(w.Events()) != 0 {
				t.Fatalf("wrote %v before failing", w.Events())
			}
		})
	}
}

func mediaOne(uri string) string {
	return "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n" + uri + "\n#EXT-X-ENDLIST\n"
}

func TestPickVariant(t *testing.T) {
	master := "#EXTM3U\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\nlow/index.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=5000000,RESOLUTION=1920x1080\nhd/index.m3u8\n" +
		"#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=9000000,URI=\"iframes.m3u8\"\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=2000000,RESOLUTION=1280x720\nmid/index.m3u8\n"
	pl, err := decodePlaylist([]byte(master))
	if err != nil {
		t.Fatal(err)
	}
	m := pl.(*m3u8.MasterPlaylist)
	tests := []struct {
		want    string
		wantURI string
		wantErr error
	}{
		{"", "hd/index.m3u8", nil},
		{"2000000", "mid/index.m3u8", nil},
		{"0", "low/index.m3u8", nil},
		{"2", "mid/index.m3u8", nil},
		{"3", "", ErrVariant},
		{"low", "low/index.m3u8", nil},
		{"iframes", "", ErrVariant},
		{"4k", "", ErrVariant},
	}
	for _, tt := range tests {
		v, err := pickVariant(m, tt.want)
		if !errors.Is(err, tt.wantErr) || err == nil && v.URI != tt.wantURI {
			t.Errorf("pickVariant(%q) = %v, %v; want %q, %v", tt.want, v, err, tt.wantURI, tt.wantErr)
		}
	}
}

func TestByteRange(t *testing.T) {
	pl, err := decodePlaylist([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n" +
		"#EXT-X-BYTERANGE:1000@0\n#EXTINF:2,\nall.ts\n" +
		"#EXT-X-BYTERANGE:500\n#EXTINF:2,\nall.ts\n" +
		"#EXT-X-BYTERANGE:300@4000\n#EXTINF:2,\nall.ts\n" +
		"#EXTINF:2,\nother.ts\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	var prevURI string
	var prevEnd int64
	for _, seg := range mediaSegments(pl.(*m3u8.MediaPlaylist)) {
		var h string
		h, prevEnd = byteRange(seg, prevURI, prevEnd)
		prevURI = seg.URI
		got = append(got, h)
	}
	want := []string{"bytes=0-999", "bytes=1000-1499", "bytes=4000-4299", ""}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("ranges %q, want %q", got, want)
	}
}

func FuzzDecodePlaylist(f *testing.F) {
	f.Add([]byte(mediaPL(3, true, "3", "D", "4")))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\na.m3u8\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-MAP:URI=\"i\"\n#EXT-X-KEY:METHOD=AES-128\n#EXT-X-BYTERANGE:10@5\n#EXTINF:x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pl, err := decodePlaylist(b)
		if err != nil {
			if !errors.Is(err, ErrPlaylist) {
				t.Fatalf("error %v is not ErrPlaylist", err)
			}
			return
		}
		switch p := pl.(type) {
		case *m3u8.MediaPlaylist:
			for _, seg := range mediaSegments(p) {
				if seg.URI == "" {
					t.Fatal("segment without URI accepted")
				}
				byteRange(seg, "", 0)
			}
		case *m3u8.MasterPlaylist:
			pickVariant(p, "")
			pickVariant(p, "1")
		}
	})
}
