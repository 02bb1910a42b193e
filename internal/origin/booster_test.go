package origin

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shoalstream/shoal/internal/tracker"
)

// TestWaitByRefusesWhatWouldBeLate: a waiter whose bytes the budget could
// not cover by its deadline is refused at once and takes nothing, so the
// next one is not delayed by it.
func TestWaitByRefusesWhatWouldBeLate(t *testing.T) {
	b := NewBudget(8_000_000) // 1 MB/s
	b.Spend(int(b.burst))     // the seed used the burst: empty now
	ctx := context.Background()
	soon := time.Now().Add(200 * time.Millisecond)
	if err := b.WaitBy(ctx, 500_000, soon); !errors.Is(err, ErrLate) {
		t.Fatalf("500 KB by 200 ms at 1 MB/s: %v, want ErrLate", err)
	}
	// had the refused one reserved its 500 KB, this would need 0.55 s
	if err := b.WaitBy(ctx, 50_000, soon); err != nil {
		t.Fatalf("50 KB by 200 ms after a refusal: %v", err)
	}
	if err := b.Wait(ctx, 1); err != nil { // no deadline: always waits its turn
		t.Fatal(err)
	}
	// a waiter that gives up returns its reservation
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := b.Wait(cctx, 2_000_000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if err := b.WaitBy(ctx, 10_000, time.Now().Add(300*time.Millisecond)); err != nil {
		t.Fatalf("after a cancelled 2 MB reservation: %v", err)
	}
}

// TestBoosterRefusesLateChunks: with the upload budget spent, a booster
// request that says its chunk is due sooner than the budget can send it
// gets 503 and is counted; one without a due time waits and gets the chunk.
func TestBoosterRefusesLateChunks(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	l, err := NewLive(LiveConfig{Name: "cam", Key: priv, Window: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l.Sink(Chunk{TimestampUs: 0, Flags: ChunkRAP, Data: make([]byte, 100_000)})
	budget := NewBudget(800_000) // 100 KB/s, a 64 KiB burst
	trk, err := tracker.New(tracker.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(ServerConfig{Tracker: trk, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddStream(l, nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	budget.Spend(int(budget.burst))
	get := func(due string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+LivePathPrefix+"cam/chunk/0", nil)
		if due != "" {
			req.Header.Set(HeaderDue, due)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp
	}
	if resp := get("300"); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("due in 300 ms, 1 s of budget needed: %s, Cache-Control %q", resp.Status, resp.Header.Get("Cache-Control"))
	}
	if resp := get(""); resp.StatusCode != http.StatusOK {
		t.Fatalf("no due time: %s", resp.Status)
	}
	var streams []StreamInfo
	resp, err := http.Get(srv.URL + "/api/streams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&streams); err != nil {
		t.Fatal(err)
	}
	if len(streams) != 1 || streams[0].BoosterLate != 1 || streams[0].BoosterBytes != 100_000 {
		t.Errorf("streams %+v, want 1 late and 100000 bytes sent", streams)
	}
}
