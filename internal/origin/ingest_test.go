package origin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// chunkSink collects chunks from an Ingest.
type chunkSink struct {
	mu     sync.Mutex
	chunks []Chunk
}

func (s *chunkSink) add(c Chunk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.Seq = uint64(len(s.chunks))
	s.chunks = append(s.chunks, c)
}

func (s *chunkSink) snapshot() []Chunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Chunk(nil), s.chunks...)
}

func (s *chunkSink) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.chunks)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startIngest runs in until the test ends and returns its chunk sink.
func startIngest(t testing.TB, cfg IngestConfig) (*Ingest, *chunkSink, <-chan error) {
	t.Helper()
	sink := &chunkSink{}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	in, err := NewIngest(cfg, sink.add)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		done <- in.Run(ctx)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	return in, sink, done
}

// pacedTS serves stream in pieces of 10 packets every 2 ms, from the start
// again at its end, until the client goes; with gate, it stops after the
// first pass until gate is closed.
func pacedTS(stream []byte, gate <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp2t")
		fl := w.(http.Flusher)
		for pass := 0; ; pass++ {
			if pass == 1 && gate != nil {
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
			}
			for rest := stream; len(rest) > 0; {
				k := min(len(rest), 10*PacketSize)
				if _, err := w.Write(rest[:k]); err != nil {
					return
				}
				fl.Flush()
				rest = rest[k:]
				select {
				case <-time.After(2 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
		}
	}
}

func TestIngestConfigValidate(t *testing.T) {
	src := &TSSource{URL: "http://127.0.0.1:1/s.ts"}
	tests := []struct {
		name string
		cfg  IngestConfig
		ok   bool
	}{
		{"defaults", DefaultIngestConfig("news", src), true},
		{"zero durations", IngestConfig{Name: "news"}, true},
		{"empty name", IngestConfig{}, false},
		{"slash in name", IngestConfig{Name: "a/b"}, false},
		{"long name", IngestConfig{Name: strings.Repeat("x", 129)}, false},
		{"negative stall", IngestConfig{Name: "n", StallAfter: -1}, false},
		{"restart before stall", IngestConfig{Name: "n", StallAfter: 5 * time.Second, RestartAfter: time.Second}, false},
		{"retry max below min", IngestConfig{Name: "n", RetryMin: time.Second, RetryMax: time.Millisecond}, false},
		{"bad chunker", IngestConfig{Name: "n", Chunker: ChunkerConfig{MaxBytes: 10}}, false},
		{"relative source URL", IngestConfig{Name: "n", Source: &TSSource{URL: "/s.ts"}}, false},
		{"ftp source URL", IngestConfig{Name: "n", Source: &HLSSource{URL: "ftp://h/x.m3u8"}}, false},
		{"hls negative live edge", IngestConfig{Name: "n", Source: &HLSSource{URL: "http://h/x.m3u8", LiveEdgeSegments: -1}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestIngestSourceRestart stops the source server while the stream flows and
// starts it again on the same address.
func TestIngestSourceRestart(t *testing.T) {
	stream := synthStream{gops: 20, framesPerGOP: 5, framePackets: 4, tablesEvery: 1, rai: true, idr: true}.build(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := &http.Server{Handler: pacedTS(stream, nil)}
	go srv.Serve(ln)

	in, sink, _ := startIngest(t, IngestConfig{
		Name: "restart", Source: &TSSource{URL: "http://" + addr + "/live.ts"},
		StallAfter: 200 * time.Millisecond, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond,
	})
	waitFor(t, "live with chunks", 10*time.Second, func() bool {
		return in.Status().State == StateLive && sink.len() > 5
	})
	srv.Close()
	waitFor(t, "error state", 10*time.Second, func() bool { return in.Status().State == StateError })
	st := in.Status()
	if !strings.Contains(st.Err, addr) {
		t.Fatalf("status after the server stopped: %+v", st)
	}
	// Let reconnects fail against the stopped server before it returns.
	restarts := st.Restarts
	waitFor(t, "a failed reconnect", 10*time.Second, func() bool {
		st := in.Status()
		return st.State == StateError && st.Restarts > restarts
	})
	before := sink.len()
	for _, ch := range sink.snapshot() {
		if ch.Flags&ChunkDiscontinuity != 0 {
			t.Fatalf("chunk %d flagged before the restart", ch.Seq)
		}
	}

	var ln2 net.Listener
	waitFor(t, "listening again", 5*time.Second, func() bool {
		ln2, err = net.Listen("tcp", addr)
		return err == nil
	})
	srv2 := &http.Server{Handler: pacedTS(stream, nil)}
	go srv2.Serve(ln2)
	t.Cleanup(func() { srv2.Close() })
	waitFor(t, "live again with new chunks", 10*time.Second, func() bool {
		return in.Status().State == StateLive && sink.len() > before+5
	})
	after := sink.snapshot()[before:]
	if after[0].Flags&ChunkDiscontinuity == 0 {
		t.Fatalf("first chunk after the restart has flags %d, want ChunkDiscontinuity", after[0].Flags)
	}
	for _, ch := range after[1:] {
		if ch.Flags&ChunkDiscontinuity != 0 {
			t.Fatalf("chunk %d flagged too", ch.Seq)
		}
	}
	if st := in.Status(); st.Restarts < 1 || st.Err != "" {
		t.Fatalf("status once live again: %+v", st)
	}
	checkChunks(t, sink.snapshot(), DefaultChunkBytes)
	checkRAPChunks(t, sink.snapshot(), testPMTPID, testVideoPID)
}

func TestIngestStallAndResume(t *testing.T) {
	stream := synthStream{gops: 5, framesPerGOP: 5, framePackets: 4, tablesEvery: 1, rai: true, idr: true}.build(t)
	gate := make(chan struct{})
	srv := httptest.NewServer(pacedTS(stream, gate))
	t.Cleanup(srv.Close) // after the ingest stops: Close waits for open requests
	in, sink, _ := startIngest(t, IngestConfig{
		Name: "stall", Source: &TSSource{URL: srv.URL + "/live.ts"},
		StallAfter: 150 * time.Millisecond, RestartAfter: time.Minute,
	})
	waitFor(t, "live", 10*time.Second, func() bool { return in.Status().State == StateLive })
	waitFor(t, "stalled", 10*time.Second, func() bool { return in.Status().State == StateStalled })
	n := sink.len()
	if n == 0 {
		t.Fatal("no chunk before the stall: MaxDuration should have emitted the last one")
	}
	close(gate)
	waitFor(t, "live again", 10*time.Second, func() bool { return in.Status().State == StateLive })
	waitFor(t, "more chunks", 10*time.Second, func() bool { return sink.len() > n })
	if st := in.Status(); st.Restarts != 0 {
		t.Fatalf("a stall reconnected the source: %+v", st)
	}
	for _, ch := range sink.snapshot() {
		if ch.Flags&ChunkDiscontinuity != 0 {
			t.Fatalf("chunk %d flagged discontinuous after a mere stall", ch.Seq)
		}
	}
}

func TestIngestIdleSourceReconnects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // headers, then nothing
	}))
	t.Cleanup(srv.Close) // after the ingest stops: Close waits for open requests
	in, _, _ := startIngest(t, IngestConfig{
		Name: "idle", Source: &TSSource{URL: srv.URL + "/live.ts"},
		StallAfter: 50 * time.Millisecond, RestartAfter: 200 * time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond,
	})
	waitFor(t, "two reconnects", 10*time.Second, func() bool { return in.Status().Restarts >= 2 })
	if st := in.Status(); !strings.Contains(st.Err, ErrSourceIdle.Error()) {
		t.Fatalf("status %+v, want the idle error", st)
	}
}

func TestIngestPlaylistErrorStatus(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close) // after the ingest stops: Close waits for open requests
	in, sink, done := startIngest(t, IngestConfig{
		Name: "missing", Source: &HLSSource{URL: srv.URL + "/gone/index.m3u8"},
		RetryMin: 10 * time.Millisecond, RetryMax: 40 * time.Millisecond,
	})
	waitFor(t, "error with retries", 10*time.Second, func() bool {
		st := in.Status()
		return st.State == StateError && st.Restarts >= 2
	})
	st := in.Status()
	if !strings.Contains(st.Err, "404") || !strings.Contains(st.Err, "/gone/index.m3u8") || !strings.Contains(st.Err, `"missing"`) {
		t.Fatalf("Err %q should name the status, the URL and the stream", st.Err)
	}
	if sink.len() != 0 {
		t.Fatal("chunks from a missing playlist")
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while retrying", err)
	default:
	}
}
