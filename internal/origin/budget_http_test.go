package origin

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestLimitHandlerSpendsTheBudget(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 600<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "f.bin", time.Time{}, bytes.NewReader(body))
	})
	b := NewBudget(80_000_000) // 10 MB/s, a 2.5 MB burst: no waiting here
	srv := httptest.NewServer(LimitHandler(b, h))
	defer srv.Close()
	start := time.Now()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("body: %d bytes, %v", len(got), err)
	}
	elapsed := time.Since(start)
	b.mu.Lock()
	tokens := b.tokens
	b.mu.Unlock()
	// what is left is the burst less the body, plus what refilled meanwhile
	if most := b.burst - float64(len(body)) + b.rateBps/8*elapsed.Seconds() + 1; tokens > most {
		t.Errorf("budget holds %.0f bytes after a %d-byte answer, want at most %.0f", tokens, len(body), most)
	}
	if LimitHandler(nil, h) == nil {
		t.Error("nil budget: no handler")
	}
}

func TestLimitHandlerWaitsForTheBudget(t *testing.T) {
	body := bytes.Repeat([]byte("y"), 200<<10)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) })
	b := NewBudget(8_000_000) // 1 MB/s, a 250 KB burst
	b.Spend(int(b.burst))     // the seed used it all
	srv := httptest.NewServer(LimitHandler(b, h))
	defer srv.Close()
	start := time.Now()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	// all but the last slice had to be earned at the budget's rate
	least := time.Duration(float64(n-budgetSlice) / (b.rateBps / 8) * float64(time.Second))
	if n != int64(len(body)) || elapsed < least*9/10 {
		t.Errorf("%d bytes in %v, want %d bytes in at least %v", n, elapsed, len(body), least)
	}
}
