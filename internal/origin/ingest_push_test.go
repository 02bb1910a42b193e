package origin

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// pushServer serves a PushHandler for the push streams given, plus one pulled
// stream named "pulled", and returns the server and the sinks by name.
func pushServer(t *testing.T, key string, names ...string) (*httptest.Server, map[string]*Ingest, map[string]*chunkSink) {
	t.Helper()
	ingests := map[string]*Ingest{}
	sinks := map[string]*chunkSink{}
	for _, name := range names {
		in, sink, _ := startIngest(t, IngestConfig{Name: name, StallAfter: 100 * time.Millisecond})
		ingests[name], sinks[name] = in, sink
	}
	pulled, err := NewIngest(IngestConfig{Name: "pulled", Source: &TSSource{URL: "http://127.0.0.1:1/x.ts"}}, func(Chunk) {})
	if err != nil {
		t.Fatal(err)
	}
	ingests["pulled"] = pulled
	h := &PushHandler{Key: key, Logger: testLogger(t), Lookup: func(name string) (*Ingest, bool) {
		in, ok := ingests[name]
		return in, ok
	}}
	mux := http.NewServeMux()
	mux.Handle(PushPathPrefix, h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close) // registered last, so it runs before the ingests stop
	return srv, ingests, sinks
}

func doPush(t *testing.T, method, url string, body io.Reader, hdr http.Header) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestPushHandlerAnswers(t *testing.T) {
	stream := synthStream{gops: 2, framesPerGOP: 3, framePackets: 3, tablesEvery: 1, rai: true, idr: true}.build(t)
	tests := []struct {
		name       string
		method     string
		path       string
		hdr        http.Header
		wantStatus int
		wantChunks bool
	}{
		{"PUT with key", http.MethodPut, "/ingest/news?key=s3cret", nil, http.StatusNoContent, true},
		{"POST with bearer key", http.MethodPost, "/ingest/news", http.Header{"Authorization": {"Bearer s3cret"}}, http.StatusNoContent, true},
		{"wrong key", http.MethodPut, "/ingest/news?key=s3cre", nil, http.StatusUnauthorized, false},
		{"missing key", http.MethodPut, "/ingest/news", nil, http.StatusUnauthorized, false},
		{"empty key", http.MethodPut, "/ingest/news?key=", nil, http.StatusUnauthorized, false},
		{"unknown stream", http.MethodPut, "/ingest/sports?key=s3cret", nil, http.StatusNotFound, false},
		{"nested name", http.MethodPut, "/ingest/news/x?key=s3cret", nil, http.StatusNotFound, false},
		{"no name", http.MethodPut, "/ingest/?key=s3cret", nil, http.StatusNotFound, false},
		{"pulled stream", http.MethodPut, "/ingest/pulled?key=s3cret", nil, http.StatusConflict, false},
		{"GET", http.MethodGet, "/ingest/news?key=s3cret", nil, http.StatusMethodNotAllowed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, sinks := pushServer(t, "s3cret", "news")
			got := doPush(t, tt.method, srv.URL+tt.path, bytes.NewReader(stream), tt.hdr)
			if got != tt.wantStatus {
				t.Fatalf("status %d, want %d", got, tt.wantStatus)
			}
			if n := sinks["news"].len(); (n > 0) != tt.wantChunks {
				t.Fatalf("%d chunks, want chunks: %v", n, tt.wantChunks)
			}
		})
	}
	t.Run("server without key", func(t *testing.T) {
		srv, _, sinks := pushServer(t, "", "news")
		if got := doPush(t, http.MethodPut, srv.URL+"/ingest/news?key=", bytes.NewReader(stream), nil); got != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", got)
		}
		if sinks["news"].len() != 0 {
			t.Fatal("chunks from a refused push")
		}
	})
}

func TestPushConcurrentAndContinued(t *testing.T) {
	stream := synthStream{gops: 3, framesPerGOP: 3, framePackets: 3, tablesEvery: 1, rai: true, idr: true}.build(t)
	srv, ingests, sinks := pushServer(t, "k", "live")
	in, sink := ingests["live"], sinks["live"]
	url := srv.URL + "/ingest/live?key=k"

	pr, pw := io.Pipe()
	first := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPut, url, pr)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	pw.Write(stream)
	waitFor(t, "first push live", 10*time.Second, func() bool { return in.Status().State == StateLive })
	if got := doPush(t, http.MethodPut, url, bytes.NewReader(stream), nil); got != http.StatusConflict {
		t.Fatalf("second concurrent push: status %d, want 409", got)
	}
	pw.Close()
	if got := <-first; got != http.StatusNoContent {
		t.Fatalf("first push: status %d, want 204", got)
	}
	if st := in.Status(); st.State != StateStalled || st.Restarts != 0 {
		t.Fatalf("after the push: %+v, want stalled without restarts", st)
	}
	n := sink.len()
	if n == 0 {
		t.Fatal("no chunks from the first push")
	}

	if got := doPush(t, http.MethodPost, url, bytes.NewReader(stream), nil); got != http.StatusNoContent {
		t.Fatalf("later push: status %d, want 204", got)
	}
	chunks := sink.snapshot()
	if len(chunks) <= n || chunks[n].Flags != ChunkRAP|ChunkDiscontinuity {
		t.Fatalf("first chunk of the later push: flags %d, want RAP|Discontinuity", chunks[n].Flags)
	}
	for i, ch := range chunks {
		if i != n && ch.Flags&ChunkDiscontinuity != 0 {
			t.Fatalf("chunk %d flagged too", i)
		}
	}
	if st := in.Status(); st.State != StateStalled || st.Restarts != 1 || st.Bytes != 2*int64(len(stream)) {
		t.Fatalf("after the later push: %+v", st)
	}
	checkRAPChunks(t, chunks, testPMTPID, testVideoPID)
}
