package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve starts a Tracker behind a real HTTP server on 127.0.0.1 and returns
// a Client for it.
func serve(t testing.TB, tr *Tracker) *Client {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, tr)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &Client{HTTP: srv.Client(), BaseURL: srv.URL}
}

func TestHTTPRoundTrip(t *testing.T) {
	tr, _ := newTestTracker(t, Config{Interval: 20 * time.Second})
	c := serve(t, tr)
	ctx := context.Background()
	sw := swarmID(0)
	tr.AddSwarm(sw)
	seed := mustAddrPort("127.0.0.1:8081")
	if err := tr.AddSeed(sw, seed); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		r, err := c.Announce(ctx, announceFor(sw, i))
		if err != nil {
			t.Fatal(err)
		}
		if r.Interval != 20*time.Second {
			t.Fatalf("Interval = %v, want 20s", r.Interval)
		}
		if len(r.Peers) != 1+i || r.Peers[0] != (Peer{Addr: seed, Seed: true}) {
			t.Fatalf("peer %d's first answer: %+v, want the seed then %d peers", i, r.Peers, i)
		}
	}
	for i := range n {
		a := announceFor(sw, i)
		a.Event = EventUpdate
		r, err := c.Announce(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		others := nonSeeds(t, r)
		if len(r.Peers) == 0 || r.Peers[0].Addr != seed || len(others) != n-1 {
			t.Fatalf("peer %d: %+v, want the seed then %d others", i, r.Peers, n-1)
		}
		got := map[netip.AddrPort][32]byte{}
		for _, p := range others {
			got[p.Addr] = p.ID
		}
		for k := range n {
			id, ok := got[peerAddr(k)]
			switch {
			case k == i && ok:
				t.Fatalf("peer %d was handed itself", i)
			case k != i && (!ok || id != peerID(k)):
				t.Fatalf("peer %d: peer %d at %v missing or with the wrong ID in %+v", i, k, peerAddr(k), others)
			}
		}
	}
	// Without ip=, a viewer is seen at the connection's address.
	r, err := c.Announce(ctx, Announce{Swarm: sw, Peer: peerID(100), Port: 4242})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Peers) != 1+n {
		t.Fatalf("newcomer got %d peers, want %d", len(r.Peers), 1+n)
	}
	r, _ = c.Announce(ctx, Announce{Swarm: sw, Peer: peerID(0), Port: peerAddr(0).Port(), IP: peerAddr(0).Addr().String(), NumWant: 100})
	found := false
	for _, p := range r.Peers {
		found = found || (p.ID == peerID(100) && p.Addr == mustAddrPort("127.0.0.1:4242"))
	}
	if !found {
		t.Fatalf("newcomer not listed at 127.0.0.1:4242: %+v", r.Peers)
	}
	if got := tr.Stats()[sw].Peers; got != n+1 {
		t.Fatalf("Stats: %d peers, want %d", got, n+1)
	}
}

func TestHTTPStoppedAndNumWant(t *testing.T) {
	tr, _ := newTestTracker(t, Config{DefaultNumWant: 4, MaxNumWant: 10})
	c := serve(t, tr)
	ctx := context.Background()
	sw := swarmID(0)
	tr.AddSwarm(sw)
	for i := range 30 {
		if _, err := c.Announce(ctx, announceFor(sw, i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct{ numWant, want int }{{0, 4}, {2, 2}, {10, 10}, {50, 10}} {
		a := announceFor(sw, 0)
		a.NumWant = tt.numWant
		r, err := c.Announce(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Peers) != tt.want {
			t.Errorf("numwant %d: %d peers, want %d", tt.numWant, len(r.Peers), tt.want)
		}
	}
	for i := range 29 {
		a := announceFor(sw, i)
		a.Event = EventStopped
		r, err := c.Announce(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Peers) != 0 {
			t.Fatalf("stopped peer %d got %d peers", i, len(r.Peers))
		}
	}
	r, err := c.Announce(ctx, announceFor(sw, 100))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Peers) != 1 || r.Peers[0].ID != peerID(29) {
		t.Fatalf("after 29 stops: %+v, want only peer 29", r.Peers)
	}
}

func TestHTTPExpiry(t *testing.T) {
	tr, clk := newTestTracker(t, Config{Interval: 5 * time.Second})
	c := serve(t, tr)
	ctx := context.Background()
	sw := swarmID(0)
	tr.AddSwarm(sw)
	if _, err := c.Announce(ctx, announceFor(sw, 0)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(15*time.Second - time.Nanosecond)
	if r, err := c.Announce(ctx, announceFor(sw, 1)); err != nil || len(r.Peers) != 1 {
		t.Fatalf("just before expiry: %+v, %v; want peer 0", r, err)
	}
	clk.Advance(time.Nanosecond)
	if r, err := c.Announce(ctx, announceFor(sw, 1)); err != nil || len(r.Peers) != 0 {
		t.Fatalf("at expiry: %+v, %v; want no peers", r, err)
	}
}

// get sends a raw GET and decodes the JSON error, if any.
func get(t *testing.T, c *Client, path string) (int, string) {
	t.Helper()
	res, err := c.HTTP.Get(c.BaseURL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	var e wireError
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatalf("GET %s: body is not JSON: %v", path, err)
	}
	return res.StatusCode, e.Error
}

func TestHTTPBadRequests(t *testing.T) {
	tr, _ := newTestTracker(t, Config{})
	c := serve(t, tr)
	tr.AddSwarm(swarmID(0))
	ok := "swarm=" + hexID(swarmID(0)) + "&peer=" + hexID(peerID(0))
	tests := []struct {
		name   string
		path   string
		status int
		says   string
	}{
		{"no params", AnnouncePath, 400, "swarm: missing"},
		{"no port", AnnouncePath + "?" + ok, 400, "port: missing"},
		{"port 0", AnnouncePath + "?" + ok + "&port=0", 400, "UDP port, 1..65535"},
		{"port text", AnnouncePath + "?" + ok + "&port=udp", 400, "port \"udp\""},
		{"short swarm", AnnouncePath + "?swarm=ab&peer=" + hexID(peerID(0)) + "&port=1", 400, "swarm: want 64 hex digits, got 2"},
		{"bad event", AnnouncePath + "?" + ok + "&port=1&event=begin", 400, "want started, stopped or update"},
		{"negative numwant", AnnouncePath + "?" + ok + "&port=1&numwant=-3", 400, "numwant"},
		{"bad ip", AnnouncePath + "?" + ok + "&port=1&ip=1.2.3", 400, "ip \"1.2.3\""},
		{"unknown swarm", AnnouncePath + "?swarm=" + hexID(swarmID(9)) + "&peer=" + hexID(peerID(0)) + "&port=1", 404, "unknown swarm"},
		{"unknown endpoint", PathPrefix + "scrape", 404, "announce at " + AnnouncePath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := get(t, c, tt.path)
			if status != tt.status || !strings.Contains(msg, tt.says) {
				t.Fatalf("GET %s = %d %q, want %d saying %q", tt.path, status, msg, tt.status, tt.says)
			}
		})
	}
	res, err := c.HTTP.Post(c.BaseURL+AnnouncePath+"?"+ok+"&port=1", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET" {
		t.Fatalf("POST = %d, Allow %q; want 405, GET", res.StatusCode, res.Header.Get("Allow"))
	}
	if got := tr.Stats()[swarmID(0)].Peers; got != 0 {
		t.Fatalf("bad requests stored %d peers", got)
	}
}

func TestClientErrors(t *testing.T) {
	tr, _ := newTestTracker(t, Config{})
	c := serve(t, tr)
	ctx := context.Background()

	_, err := c.Announce(ctx, announceFor(swarmID(5), 0))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || !se.FromServer ||
		!errors.Is(err, ErrUnknownSwarm) || !errors.Is(err, ErrTracker) || !strings.Contains(err.Error(), "check the stream's URL") {
		t.Fatalf("unknown swarm: %v, want a 404 StatusError wrapping ErrUnknownSwarm and ErrTracker", err)
	}

	bad := announceFor(swarmID(0), 0)
	bad.Port = 0
	if _, err := c.Announce(ctx, bad); !errors.Is(err, ErrTracker) || !errors.Is(err, ErrBadAnnounce) {
		t.Fatalf("port 0: %v, want ErrTracker and ErrBadAnnounce before sending", err)
	}

	for _, base := range []string{"", "origin:8080", "ftp://origin/", "http://", "http://[::1"} {
		cc := Client{BaseURL: base}
		if _, err := cc.Announce(ctx, announceFor(swarmID(0), 0)); !errors.Is(err, ErrTracker) {
			t.Errorf("BaseURL %q: %v, want ErrTracker", base, err)
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Announce(cctx, announceFor(swarmID(0), 0)); !errors.Is(err, ErrTracker) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v, want ErrTracker wrapping context.Canceled", err)
	}
}

func TestClientBaseURLWithPrefix(t *testing.T) {
	tr, _ := newTestTracker(t, Config{})
	tr.AddSwarm(swarmID(0))
	mux := http.NewServeMux()
	mux.Handle("/edge"+PathPrefix, http.StripPrefix("/edge", tr))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, base := range []string{srv.URL + "/edge", srv.URL + "/edge/"} {
		c := Client{HTTP: srv.Client(), BaseURL: base}
		if _, err := c.Announce(context.Background(), announceFor(swarmID(0), 0)); err != nil {
			t.Fatalf("BaseURL %q: %v", base, err)
		}
	}
}

// TestClientHostileServers points the Client at servers that answer with
// garbage; every answer must be an error wrapping ErrTracker, never a panic.
func TestClientHostileServers(t *testing.T) {
	big := strings.Repeat("x", MaxResponseBytes+10)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int  // StatusError code expected; 0 when the answer is a 200
		badResp bool // wraps ErrBadResponse
		says    string
	}{
		{"html page", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<html><body>Welcome to the hotel wifi</body></html>")
		}, 0, true, "invalid character"},
		{"truncated json", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"interval_s":30,"peers":[{"addr":"127.0.0.1:1"`)
		}, 0, true, "unexpected end"},
		{"empty 200", func(w http.ResponseWriter, r *http.Request) {}, 0, true, "unexpected end"},
		{"bad peer addr", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"interval_s":30,"peers":[{"addr":"nowhere"}]}`)
		}, 0, true, "peers[0].addr"},
		{"zero interval", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"interval_s":0,"peers":[]}`)
		}, 0, true, "interval_s 0"},
		{"huge chunked body", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"interval_s":30,"peers":[],"pad":"`)
			for range 3 {
				io.WriteString(w, big)
			}
		}, 0, true, "exceeds"},
		{"huge declared body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(len(big)))
			io.WriteString(w, big)
		}, 0, true, "exceeds"},
		{"huge error body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, big)
		}, 0, true, "exceeds"},
		{"500 text", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "upstream on fire\x1b[31m", http.StatusInternalServerError)
		}, 500, false, "upstream on fire?[31m"},
		{"502 empty", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadGateway)
		}, 502, false, "(empty body)"},
		{"404 html", func(w http.ResponseWriter, r *http.Request) {
			http.NotFound(w, r)
		}, 404, false, "404 page not found"},
		{"400 json", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"bad announce: up: too much"}`)
		}, 400, false, "bad announce: up: too much"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			c := Client{HTTP: srv.Client(), BaseURL: srv.URL}
			r, err := c.Announce(context.Background(), announceFor(swarmID(0), 0))
			if err == nil {
				t.Fatalf("Announce = %+v, want an error", r)
			}
			if !errors.Is(err, ErrTracker) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want ErrTracker saying %q", err, tt.says)
			}
			if errors.Is(err, ErrBadResponse) != tt.badResp {
				t.Fatalf("err = %v: wraps ErrBadResponse %v, want %v", err, !tt.badResp, tt.badResp)
			}
			var se *StatusError
			if got := errors.As(err, &se); got != (tt.status != 0) || (got && se.StatusCode != tt.status) {
				t.Fatalf("err = %v, want StatusError %d", err, tt.status)
			}
			if tt.status == 404 && errors.Is(err, ErrUnknownSwarm) {
				t.Fatal("a 404 page that is not the tracker's JSON must not read as an unknown swarm")
			}
			if tt.status == 400 && !errors.Is(err, ErrBadAnnounce) {
				t.Fatal("the tracker's JSON 400 must wrap ErrBadAnnounce")
			}
			if len(err.Error()) > 1000 {
				t.Fatalf("error message of %d bytes quotes too much of the body", len(err.Error()))
			}
		})
	}
}

func TestConcurrentAnnounces(t *testing.T) {
	tr, _ := newTestTracker(t, Config{MaxNumWant: 20})
	c := serve(t, tr)
	c.HTTP.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	sw := swarmID(0)
	tr.AddSwarm(sw)
	if err := tr.AddSeed(sw, mustAddrPort("127.0.0.1:8081")); err != nil {
		t.Fatal(err)
	}
	const workers, perWorker = 32, 20
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for k := range perWorker {
				n := w*perWorker + k
				a := announceFor(sw, n)
				a.NumWant = 20
				a.UploadBps = 1000
				r, err := c.Announce(ctx, a)
				if err != nil {
					errs <- err
					return
				}
				if len(r.Peers) == 0 || !r.Peers[0].Seed {
					errs <- fmt.Errorf("peer %d: seed missing from %+v", n, r.Peers)
				}
				for _, p := range r.Peers {
					if p.ID == a.Peer {
						errs <- fmt.Errorf("peer %d handed itself", n)
					}
				}
				if k%5 == 4 { // some leave again
					a.Event = EventStopped
					if _, err := c.Announce(ctx, a); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	wg.Go(func() { // readers alongside
		for range 50 {
			tr.Stats()
			tr.Sweep()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	const stayed = workers * perWorker * 4 / 5
	if st := tr.Stats()[sw]; st.Peers != stayed || st.UploadBps != stayed*1000 {
		t.Fatalf("Stats = %+v, want %d peers offering %d b/s", st, stayed, stayed*1000)
	}
}
