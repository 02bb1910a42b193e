package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/grafov/m3u8"
)

// Live tests over synthetic chunks whose bytes name their sequence number.

// step is one push; close ends the stream instead.
type step struct {
	seq       uint64
	rap, disc bool
	dur       time.Duration
	close     bool
}

func chunkData(seq uint64) []byte { return fmt.Appendf(nil, "[%d]", seq) }

func run(l *Live, steps []step) {
	for _, s := range steps {
		if s.close {
			l.Close()
			continue
		}
		l.Push(LiveChunk{Seq: s.seq, RAP: s.rap, Discontinuity: s.disc, Data: chunkData(s.seq)}, s.dur)
	}
}

// series returns chunks from..to, each lasting dur, with a RAP every
// every chunks starting at from.
func series(from, to uint64, every uint64, dur time.Duration) []step {
	var s []step
	for q := from; q <= to; q++ {
		s = append(s, step{seq: q, rap: (q-from)%every == 0, dur: dur})
	}
	return s
}

func TestLiveTSJoinAndGaps(t *testing.T) {
	R := func(q uint64) step { return step{seq: q, rap: true, dur: time.Second} }
	P := func(q uint64) step { return step{seq: q, dur: time.Second} }
	for _, tc := range []struct {
		name          string
		before, after []step
		want          string
	}{
		{"join before any chunk", nil, []step{R(0), P(1), R(2)}, "[0][1][2]"},
		{"join at the latest RAP", []step{R(0), P(1), R(2), P(3)}, []step{P(4)}, "[2][3][4]"},
		{"first chunks before a RAP are skipped", nil, []step{P(0), P(1), R(2), P(3)}, "[2][3]"},
		{"join after a gap waits for the next RAP", []step{R(0), P(1), P(3)}, []step{P(4), R(5), P(6)}, "[5][6]"},
		{"gap while playing skips to the next RAP", []step{R(0), P(1)}, []step{P(2), P(4), P(5), R(6), P(7)}, "[0][1][2][6][7]"},
		{"gap onto a RAP resumes there", []step{R(0)}, []step{P(1), R(3), P(4)}, "[0][1][3][4]"},
		{"discontinuity passes through", []step{R(0)}, []step{{seq: 1, disc: true}, P(2), {seq: 3, rap: true, disc: true}}, "[0][1][2][3]"},
		{"stale and duplicate chunks are ignored", []step{R(5)}, []step{P(6), P(6), P(4), P(7)}, "[5][6][7]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLive("cam", LiveOptions{Logger: quiet})
			srv := serveLive(t, l)
			run(l, tc.before)
			c := startClient(srv.URL + "/live/cam.ts")
			waitClients(t, l, 1)
			run(l, tc.after)
			l.Close()
			status, body, err := c.wait(t)
			if status != http.StatusOK || err != nil || string(body) != tc.want {
				t.Fatalf("status %d, body %q, error %v; want 200 and %q", status, body, err, tc.want)
			}
		})
	}
}

func TestLiveNothingYet(t *testing.T) {
	l := NewLive("cam", LiveOptions{StartTimeout: 20 * time.Millisecond, Logger: quiet})
	srv := serveLive(t, l)
	for _, tc := range []struct {
		method, path string
		status       int
		body         string
	}{
		{"GET", "/live/cam.ts", 503, "no random-access point arrived within 20ms"},
		{"HEAD", "/live/cam.ts", 503, ""},
		{"GET", "/live/cam.m3u8", 503, "no segments yet"},
		{"GET", "/live/cam/seg/0.ts", 404, "segment 0 does not exist yet"},
		{"POST", "/live/cam.ts", 405, "use GET or HEAD"},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(b.String(), tc.body) {
			t.Errorf("%s %s: %d %q, want %d with %q", tc.method, tc.path, resp.StatusCode, b.String(), tc.status, tc.body)
		}
	}
	// A client that gave up waiting is gone.
	waitClients(t, l, 0)

	l.Push(LiveChunk{Seq: 0, RAP: true, Data: chunkData(0)}, time.Second)
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/live/cam.ts", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp2t" {
		t.Fatalf("HEAD after a RAP: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	l.Close()
	if body := get(t, srv.URL+"/live/cam.ts", 404); !bytes.Contains(body, []byte("has ended")) {
		t.Fatalf("GET after Close: %q", body)
	}
}

func TestLiveClientsLeaveWithoutLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	streaming := NewLive("on", LiveOptions{Logger: quiet})
	idle := NewLive("off", LiveOptions{Logger: quiet})
	s := NewServer(ServerOptions{Logger: quiet})
	_ = s.AddLive(streaming)
	_ = s.AddLive(idle)
	srv := httptest.NewServer(s)

	streaming.Push(LiveChunk{Seq: 0, RAP: true, Data: chunkData(0)}, time.Second)
	var clients []*tsClient
	for i := range 6 {
		name := "on"
		if i%2 == 1 {
			name = "off" // waits for a RAP that never comes
		}
		clients = append(clients, startClient(srv.URL+"/live/"+name+".ts"))
	}
	waitClients(t, streaming, 3)
	waitClients(t, idle, 3)
	for q := uint64(1); q < 50; q++ {
		streaming.Push(LiveChunk{Seq: q, RAP: q%5 == 0, Data: chunkData(q)}, time.Second)
	}
	for _, c := range clients {
		c.cancel()
		c.wait(t)
	}
	waitClients(t, streaming, 0)
	waitClients(t, idle, 0)
	srv.Close()
	http.DefaultClient.CloseIdleConnections()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

// Playlist tests: each case pushes steps and expects the exact playlist.

func TestLivePlaylist(t *testing.T) {
	const head = "#EXTM3U\n#EXT-X-VERSION:3\n"
	half, sec := 500*time.Millisecond, time.Second
	R := func(q uint64, d time.Duration) step { return step{seq: q, rap: true, dur: d} }
	P := func(q uint64, d time.Duration) step { return step{seq: q, dur: d} }
	for _, tc := range []struct {
		name    string
		opts    LiveOptions
		steps   []step
		want    string
		segData map[uint64]string // segment number → bytes
	}{
		{
			name:  "nothing complete yet",
			steps: []step{R(0, sec), P(1, sec)},
		},
		{
			name:  "segments end at the first RAP at or after the target",
			steps: series(0, 9, 2, half),
			want: head + "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:2.000,\ncam/seg/0.ts\n#EXTINF:2.000,\ncam/seg/1.ts\n",
			segData: map[uint64]string{0: "[0][1][2][3]", 1: "[4][5][6][7]"},
		},
		{
			name:  "the first segment starts at the first RAP",
			steps: []step{P(0, sec), P(1, sec), R(2, sec), P(3, sec), R(4, sec)},
			want: head + "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:2.000,\ncam/seg/0.ts\n",
			segData: map[uint64]string{0: "[2][3]"},
		},
		{
			name: "a gap ends the segment and the next starts at a RAP after a discontinuity",
			steps: []step{R(0, half), P(1, half), R(2, half), P(3, half), R(4, half),
				/* 5 lost */ P(6, half), P(7, half), R(8, half), P(9, half), R(10, half), P(11, half), R(12, half)},
			want: head + "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:2.000,\ncam/seg/0.ts\n#EXTINF:0.500,\ncam/seg/1.ts\n" +
				"#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ncam/seg/2.ts\n",
			segData: map[uint64]string{0: "[0][1][2][3]", 1: "[4]", 2: "[8][9][10][11]"},
		},
		{
			name: "a discontinuity on a RAP starts a segment",
			steps: []step{R(0, half), P(1, half), R(2, half), P(3, half), {seq: 4, rap: true, disc: true, dur: half},
				P(5, half), R(6, half), P(7, half), R(8, half)},
			want: head + "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:2.000,\ncam/seg/0.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ncam/seg/1.ts\n",
			segData: map[uint64]string{0: "[0][1][2][3]", 1: "[4][5][6][7]"},
		},
		{
			name: "a discontinuity off a RAP waits for the next RAP",
			steps: []step{R(0, half), P(1, half), R(2, half), {seq: 3, disc: true, dur: half}, R(4, half),
				P(5, half), R(6, half), P(7, half), R(8, half)},
			want: head + "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:1.500,\ncam/seg/0.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\ncam/seg/1.ts\n",
			segData: map[uint64]string{0: "[0][1][2]", 1: "[4][5][6][7]"},
		},
		{
			name:  "the window slides",
			opts:  LiveOptions{Window: 6 * time.Second, TargetSegment: time.Second},
			steps: series(0, 11, 1, sec),
			want: head + "#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:1.000,\ncam/seg/5.ts\n#EXTINF:1.000,\ncam/seg/6.ts\n#EXTINF:1.000,\ncam/seg/7.ts\n" +
				"#EXTINF:1.000,\ncam/seg/8.ts\n#EXTINF:1.000,\ncam/seg/9.ts\n#EXTINF:1.000,\ncam/seg/10.ts\n",
			segData: map[uint64]string{5: "[5]", 10: "[10]"},
		},
		{
			name:  "a short window still lists three target durations",
			opts:  LiveOptions{Window: 2 * time.Second, TargetSegment: time.Second},
			steps: series(0, 8, 1, sec),
			want: head + "#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:1.000,\ncam/seg/5.ts\n#EXTINF:1.000,\ncam/seg/6.ts\n#EXTINF:1.000,\ncam/seg/7.ts\n",
		},
		{
			name: "discontinuities that left the window are counted",
			opts: LiveOptions{Window: 3 * time.Second, TargetSegment: time.Second},
			steps: []step{R(0, sec), R(1, sec), {seq: 2, rap: true, disc: true, dur: sec}, R(3, sec),
				R(4, sec), {seq: 5, rap: true, disc: true, dur: sec}, R(6, sec), R(7, sec)},
			want: head + "#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:4\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:1.000,\ncam/seg/4.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:1.000,\ncam/seg/5.ts\n#EXTINF:1.000,\ncam/seg/6.ts\n",
		},
		{
			name: "a listed first segment's own discontinuity is in the sequence",
			opts: LiveOptions{Window: 3 * time.Second, TargetSegment: time.Second},
			steps: []step{R(0, sec), R(1, sec), {seq: 2, rap: true, disc: true, dur: sec}, R(3, sec),
				R(4, sec), {seq: 5, rap: true, disc: true, dur: sec}, R(6, sec), R(7, sec), R(8, sec)},
			want: head + "#EXT-X-TARGETDURATION:1\n#EXT-X-MEDIA-SEQUENCE:5\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:1.000,\ncam/seg/5.ts\n#EXTINF:1.000,\ncam/seg/6.ts\n#EXTINF:1.000,\ncam/seg/7.ts\n",
		},
		{
			name: "a long group of pictures raises the target duration",
			steps: []step{R(0, 3400*time.Millisecond), R(1, sec), R(2, sec), R(3, 2500*time.Millisecond),
				R(4, sec)},
			want: head + "#EXT-X-TARGETDURATION:3\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:3.400,\ncam/seg/0.ts\n#EXTINF:2.000,\ncam/seg/1.ts\n#EXTINF:2.500,\ncam/seg/2.ts\n",
		},
		{
			name:  "closing lists the last segment and ends the list",
			steps: []step{R(0, sec), P(1, sec), R(2, half), {close: true}, R(3, sec)},
			want: head + "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:2.000,\ncam/seg/0.ts\n#EXTINF:0.500,\ncam/seg/1.ts\n#EXT-X-ENDLIST\n",
			segData: map[uint64]string{1: "[2]"},
		},
		{
			name:  "names are escaped in segment URIs",
			steps: []step{R(0, sec), {close: true}},
			want: head + "#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
				"#EXTINF:1.000,\nmy%20cam/seg/0.ts\n#EXT-X-ENDLIST\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Logger = quiet
			name := "cam"
			if strings.Contains(tc.name, "escaped") {
				name = "my cam"
			}
			l := NewLive(name, tc.opts)
			run(l, tc.steps)
			got := string(l.Playlist())
			if got != tc.want {
				t.Fatalf("playlist:\n%s\nwant:\n%s", got, tc.want)
			}
			if tc.want != "" {
				checkPlaylistRFC(t, got)
			}
			for n, want := range tc.segData {
				rec := httptest.NewRecorder()
				l.ServeSegment(rec, httptest.NewRequest(http.MethodGet, "/", nil), n)
				if rec.Code != http.StatusOK || rec.Body.String() != want {
					t.Errorf("segment %d: %d %q, want %q", n, rec.Code, rec.Body.String(), want)
				}
			}
		})
	}
}

// checkPlaylistRFC parses a playlist with an independent decoder and checks
// the RFC 8216 rules the gateway promises.
func checkPlaylistRFC(t *testing.T, text string) {
	t.Helper()
	pl, kind, err := m3u8.DecodeFrom(strings.NewReader(text), true)
	if err != nil || kind != m3u8.MEDIA {
		t.Fatalf("m3u8 decode: kind %v, %v", kind, err)
	}
	media := pl.(*m3u8.MediaPlaylist)
	var total float64
	for _, s := range media.Segments[:media.Count()] {
		if r := float64(int(s.Duration + 0.5)); r > media.TargetDuration {
			t.Errorf("segment %s: EXTINF %v rounds above the target duration %v", s.URI, s.Duration, media.TargetDuration)
		}
		total += s.Duration
	}
	if !media.Closed && media.SeqNo > 0 && total < 3*media.TargetDuration {
		t.Errorf("live playlist lasts %v s, under three target durations (%v) though older segments exist", total, media.TargetDuration)
	}
}

func TestLiveSegmentRetention(t *testing.T) {
	l := NewLive("cam", LiveOptions{Window: 3 * time.Second, TargetSegment: time.Second, Logger: quiet})
	fetch := func(n uint64) (int, string) {
		rec := httptest.NewRecorder()
		l.ServeSegment(rec, httptest.NewRequest(http.MethodGet, "/", nil), n)
		return rec.Code, rec.Body.String()
	}
	// Segment 0 leaves the playlist when segment 3 completes, at 5 s, and
	// stays fetchable for its 1 s plus the longest playlist, 4 target
	// durations: until 10 s.
	run(l, series(0, 4, 1, time.Second))
	if st := l.Stats(); st.MediaSequence != 1 || st.Segments != 3 {
		t.Fatalf("stats %+v: want segments 1-3 listed", st)
	}
	run(l, series(5, 9, 1, time.Second))
	if code, body := fetch(0); code != 200 || body != "[0]" {
		t.Fatalf("segment 0 at 10 s: %d %q", code, body)
	}
	run(l, series(10, 10, 1, time.Second))
	if code, body := fetch(0); code != 404 || !strings.Contains(body, "has left the window") {
		t.Fatalf("segment 0 at 11 s: %d %q, want 404", code, body)
	}
	if code, body := fetch(1); code != 200 || body != "[1]" {
		t.Fatalf("segment 1 at 11 s: %d %q", code, body)
	}
	if code, body := fetch(99); code != 404 || !strings.Contains(body, "does not exist yet") {
		t.Fatalf("segment 99: %d %q", code, body)
	}
}

func TestLiveOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts LiveOptions
		ok   bool
	}{
		{"zero means defaults", LiveOptions{}, true},
		{"defaults", DefaultLiveOptions(), true},
		{"negative window", LiveOptions{Window: -time.Second}, false},
		{"window too long", LiveOptions{Window: 25 * time.Hour}, false},
		{"negative lag", LiveOptions{MaxClientLagBytes: -1}, false},
		{"lag too large", LiveOptions{MaxClientLagBytes: 2 << 30}, false},
		{"segment longer than window", LiveOptions{Window: time.Second, TargetSegment: 2 * time.Second}, false},
		{"default segment longer than window", LiveOptions{Window: time.Second}, false},
		{"negative start timeout", LiveOptions{StartTimeout: -1}, false},
	} {
		err := tc.opts.Validate()
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("NewLive with a name containing '/' did not panic")
			}
		}()
		NewLive("a/b", LiveOptions{})
	}()
}

func TestLiveDroppedClientSeesError(t *testing.T) {
	// A client whose queue overflows before it is served is cut off, not
	// ended cleanly.
	l := NewLive("cam", LiveOptions{MaxClientLagBytes: 10, Logger: quiet})
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	cl := l.subscribe(cancel, "test")
	l.Push(LiveChunk{Seq: 0, RAP: true, Data: []byte("0123456789")}, time.Second)
	if ctx.Err() != nil {
		t.Fatal("dropped at the limit, want only beyond it")
	}
	l.Push(LiveChunk{Seq: 1, Data: []byte("x")}, time.Second)
	if !errors.Is(context.Cause(ctx), errLagging) {
		t.Fatalf("cause %v, want errLagging", context.Cause(ctx))
	}
	if st := l.Stats(); st.Clients != 0 || st.ClientsDropped != 1 {
		t.Fatalf("stats %+v", st)
	}
	l.unsubscribe(cl)
}
