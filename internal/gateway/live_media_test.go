package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grafov/m3u8"
)

// Live tests over a real H.264 + AAC stream from ffmpeg, pushed with its real
// pacing compressed by speedup.

const speedup = 20

// pushPaced pushes chunks with sequence numbers from seq on, sleeping each
// chunk's duration divided by speedup; skip drops chunks by index, as a swarm
// that missed them would.
func pushPaced(l *Live, chunks []testChunk, seq uint64, skip func(i int) bool) uint64 {
	for i, c := range chunks {
		if skip == nil || !skip(i) {
			l.Push(LiveChunk{Seq: seq, RAP: c.rap, Data: c.data}, c.dur)
		}
		seq++
		time.Sleep(c.dur / speedup)
	}
	return seq
}

func TestLiveTSStartsAtLatestRAP(t *testing.T) {
	_, chunks := testStream(t)
	l := NewLive("cam", LiveOptions{Logger: quiet})
	srv := serveLive(t, l)

	// Chunk 5 starts the second group of pictures: a client joining after
	// chunk 6 starts there.
	next := pushPaced(l, chunks[:7], 0, nil)
	c := startClient(srv.URL + "/live/cam.ts")
	waitClients(t, l, 1)
	pushPaced(l, chunks[7:], next, nil)
	l.Close()

	status, body, err := c.wait(t)
	if status != http.StatusOK || err != nil {
		t.Fatalf("status %d, read error %v", status, err)
	}
	if ct := c.header.Get("Content-Type"); ct != "video/mp2t" {
		t.Errorf("Content-Type %q, want video/mp2t", ct)
	}
	if cl := c.header.Get("Content-Length"); cl != "" {
		t.Errorf("Content-Length %q on a live stream", cl)
	}
	if want := concatChunks(chunks[5:]); !bytes.Equal(body, want) {
		t.Fatalf("client got %d bytes, want the %d from chunk 5 (the latest RAP) on", len(body), len(want))
	}
	wantCodecs(t, probeBytes(t, body, "live.ts"))
	if frames, wrong := wrongFrames(t, body); frames != 125 || wrong != 0 {
		t.Fatalf("decoded %d frames, %d differ from the source; want 125 and 0", frames, wrong)
	}
	waitClients(t, l, 0)
}

func TestLiveTSTwoClients(t *testing.T) {
	_, chunks := testStream(t)
	l := NewLive("cam", LiveOptions{Logger: quiet})
	srv := serveLive(t, l)

	early := startClient(srv.URL + "/live/cam.ts") // waits for the first RAP
	waitClients(t, l, 1)
	next := pushPaced(l, chunks[:13], 0, nil)
	late := startClient(srv.URL + "/live/cam.ts") // joins at chunk 10
	waitClients(t, l, 2)
	pushPaced(l, chunks[13:], next, nil)
	l.Close()

	for _, tc := range []struct {
		name string
		c    *tsClient
		from int
	}{{"early", early, 0}, {"late", late, 10}} {
		status, body, err := tc.c.wait(t)
		if status != http.StatusOK || err != nil {
			t.Fatalf("%s: status %d, read error %v", tc.name, status, err)
		}
		if want := concatChunks(chunks[tc.from:]); !bytes.Equal(body, want) {
			t.Fatalf("%s: got %d bytes, want %d from chunk %d", tc.name, len(body), len(want), tc.from)
		}
		wantCodecs(t, probeBytes(t, body, tc.name+".ts"))
	}
}

func TestLiveTSGapSkipsToNextRAP(t *testing.T) {
	_, chunks := testStream(t)
	l := NewLive("cam", LiveOptions{Logger: quiet})
	srv := serveLive(t, l)
	c := startClient(srv.URL + "/live/cam.ts")
	waitClients(t, l, 1)

	// Lose chunk 7, inside the second group of pictures, and chunk 15, a RAP:
	// the client must resume at chunks 10 and 20.
	lost := func(i int) bool { return i == 7 || i == 15 }
	pushPaced(l, chunks, 0, lost)
	l.Close()

	status, body, err := c.wait(t)
	if status != http.StatusOK || err != nil {
		t.Fatalf("status %d, read error %v", status, err)
	}
	var want []byte
	for i, ch := range chunks {
		if !lost(i) && !(i >= 8 && i <= 9) && !(i >= 16 && i <= 19) {
			want = append(want, ch.data...)
		}
	}
	if !bytes.Equal(body, want) {
		t.Fatalf("client got %d bytes, want %d: chunks 0-6, 10-14, 20-29", len(body), len(want))
	}
	st := l.Stats()
	if st.Gaps != 2 || st.ChunksSkipped != 6 {
		t.Errorf("stats %+v: want 2 gaps and 6 chunks skipped", st)
	}
	wantCodecs(t, probeBytes(t, body, "gap.ts"))
	if frames, wrong := wrongFrames(t, body); frames != 110 || wrong != 0 {
		t.Fatalf("decoded %d frames, %d differ from the source; want 110 and 0", frames, wrong)
	}

	// The check can fail: the same loss without skipping decodes wrong.
	var naive []byte
	for i, ch := range chunks {
		if !lost(i) {
			naive = append(naive, ch.data...)
		}
	}
	if _, wrong := wrongFrames(t, naive); wrong == 0 {
		t.Fatal("a stream with broken groups of pictures decoded as if whole: the frame check cannot fail")
	}
}

// dialSmallBuffer connects with a small receive buffer, so a client that
// does not read backs up into the server quickly.
func dialSmallBuffer(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestLiveSlowClientDropped(t *testing.T) {
	_, chunks := testStream(t)
	const maxLag = 256 << 10
	l := NewLive("cam", LiveOptions{MaxClientLagBytes: maxLag, Logger: quiet})
	srv := serveLive(t, l)

	fast := startClient(srv.URL + "/live/cam.ts")
	slow := dialSmallBuffer(t, srv.Listener.Addr().String())
	if _, err := fmt.Fprintf(slow, "GET /live/cam.ts HTTP/1.1\r\nHost: gateway\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	waitClients(t, l, 2)

	// Push the stream over and over, keeping the fast client within half the
	// allowed lag, until the slow one, which reads nothing, is dropped.
	var pushed int
	var seq uint64
	for l.Stats().ClientsDropped == 0 {
		if pushed > 64<<20 {
			t.Fatalf("pushed %d bytes and the client that reads nothing is still connected", pushed)
		}
		for _, c := range chunks {
			l.Push(LiveChunk{Seq: seq, RAP: c.rap, Data: c.data}, c.dur)
			seq++
			pushed += len(c.data)
			waitFor(t, "the fast client", func() bool { return fast.received() >= pushed-maxLag/2 })
		}
	}
	t.Logf("slow client dropped after %d bytes pushed", pushed)
	pushed += len(concatChunks(chunks))
	pushPaced(l, chunks, seq, nil)
	l.Close()

	status, body, err := fast.wait(t)
	if status != http.StatusOK || err != nil || len(body) != pushed {
		t.Fatalf("fast client: status %d, %d of %d bytes, error %v", status, len(body), pushed, err)
	}
	if st := l.Stats(); st.ClientsDropped != 1 {
		t.Fatalf("%d clients dropped, want only the slow one", st.ClientsDropped)
	}

	// The slow client finds its stream cut short, not cleanly ended.
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil || int(n) >= pushed {
		t.Fatalf("slow client read %d of %d bytes, error %v: want the stream cut short", n, pushed, err)
	}
}

func TestLiveHLSSegmentsMatchChunks(t *testing.T) {
	_, chunks := testStream(t)
	l := NewLive("cam", LiveOptions{Logger: quiet})
	srv := serveLive(t, l)
	pushPaced(l, chunks, 100, nil)
	l.Close()

	resp, err := http.Get(srv.URL + "/live/cam.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != contentTypeHLS {
		t.Errorf("Content-Type %q", ct)
	}
	pl, kind, err := m3u8.DecodeFrom(resp.Body, true)
	if err != nil || kind != m3u8.MEDIA {
		t.Fatalf("playlist: kind %v, %v", kind, err)
	}
	media := pl.(*m3u8.MediaPlaylist)
	if media.TargetDuration != 2 || !media.Closed || media.SeqNo != 0 || media.Count() != 3 {
		t.Fatalf("playlist: target %v, closed %v, sequence %d, %d segments; want 2, true, 0, 3",
			media.TargetDuration, media.Closed, media.SeqNo, media.Count())
	}
	// Groups of pictures last 1 s, so each 2 s segment is two of them: ten
	// chunks.
	for i, s := range media.Segments[:media.Count()] {
		if s.Duration != 2 {
			t.Errorf("segment %d lasts %v, want 2", i, s.Duration)
		}
		body := get(t, srv.URL+"/live/"+s.URI, http.StatusOK)
		if want := concatChunks(chunks[10*i : 10*i+10]); !bytes.Equal(body, want) {
			t.Fatalf("segment %d: %d bytes, want chunks %d-%d (%d bytes)", i, len(body), 10*i, 10*i+9, len(want))
		}
		if i == 1 {
			wantCodecs(t, probeBytes(t, body, "seg.ts"))
		}
	}
}

// get fetches url and checks the status.
func get(t testing.TB, url string, status int) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Fatalf("GET %s: status %d, want %d: %s", url, resp.StatusCode, status, body)
	}
	return body
}

func TestLiveHLSProbe(t *testing.T) {
	_, chunks := testStream(t)
	l := NewLive("cam", LiveOptions{Logger: quiet})
	srv := serveLive(t, l)
	seq := pushPaced(l, chunks, 0, nil)

	// Keep the stream going while ffprobe reads the live playlist, looping
	// the source with a discontinuity at each restart.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for i, c := range chunks {
				if ctx.Err() != nil {
					return
				}
				l.Push(LiveChunk{Seq: seq, RAP: c.rap, Discontinuity: i == 0, Data: c.data}, c.dur)
				seq++
				time.Sleep(c.dur / 4)
			}
		}
	}()
	res := ffprobe(t, srv.URL+"/live/cam.m3u8", "-analyzeduration", "1000000")
	cancel()
	wg.Wait()
	wantCodecs(t, res)
	if !strings.Contains(res.Format.FormatName, "hls") {
		t.Errorf("ffprobe saw format %q, want hls", res.Format.FormatName)
	}
}
