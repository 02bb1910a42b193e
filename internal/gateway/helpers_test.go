package gateway

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// quiet is a logger for tests that expect warnings.
var quiet = slog.New(slog.DiscardHandler)

// waitFor polls cond until it holds; it fails the test after a generous
// limit, which only a broken build reaches, never a slow machine's normal
// run.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// serveLive starts a Server on 127.0.0.1 with the given lives.
func serveLive(t testing.TB, lives ...*Live) *httptest.Server {
	t.Helper()
	s := NewServer(ServerOptions{Logger: quiet})
	for _, l := range lives {
		if err := s.AddLive(l); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	// Runs first, so that a failed test's streaming handlers end and Close
	// does not wait for them.
	for _, l := range lives {
		t.Cleanup(l.Close)
	}
	return srv
}

// tsClient reads one GET to the end in the background.
type tsClient struct {
	mu     sync.Mutex
	status int
	header http.Header
	body   []byte
	err    error // from the read of the body; nil on a clean end
	done   chan struct{}
	cancel context.CancelFunc
}

func startClient(url string) *tsClient {
	ctx, cancel := context.WithCancel(context.Background())
	c := &tsClient{done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(c.done)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		defer resp.Body.Close()
		c.mu.Lock()
		c.status, c.header = resp.StatusCode, resp.Header
		c.mu.Unlock()
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			c.mu.Lock()
			c.body = append(c.body, buf[:n]...)
			if err != nil {
				if err != io.EOF {
					c.err = err
				}
				c.mu.Unlock()
				return
			}
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *tsClient) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.body)
}

// wait returns the status, body and read error once the response ended.
func (c *tsClient) wait(t testing.TB) (int, []byte, error) {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(time.Minute):
		t.Fatal("client never finished")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.body, c.err
}

func waitClients(t testing.TB, l *Live, n int) {
	t.Helper()
	waitFor(t, "live clients", func() bool { return l.Stats().Clients == n })
}
