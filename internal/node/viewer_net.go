package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/gateway"
	"github.com/shoalstream/shoal/internal/integrity"
	"github.com/shoalstream/shoal/internal/origin"
	"github.com/shoalstream/shoal/internal/tracker"
)

// announcer keeps the viewer known to the tracker and feeds the engine the
// peers it hears of.
type announcer struct {
	id      integrity.Hash
	drv     *Driver
	log     *slog.Logger
	upBps   int64
	port    int
	client  tracker.Client
	pokeCh  chan struct{}
	started bool // the tracker knows us; set and read on run's goroutine, then by stopped
}

func newAnnouncer(v *Viewer, port int) *announcer {
	return newSwarmAnnouncer(v.id, v.drv, v.cfg.HTTP, v.desc.Tracker, v.cfg.MaxUploadBps, v.log, port)
}

// newSwarmAnnouncer announces swarm id to the tracker at baseURL.
func newSwarmAnnouncer(id integrity.Hash, drv *Driver, hc *http.Client, baseURL string, upBps int64, log *slog.Logger, port int) *announcer {
	return &announcer{id: id, drv: drv, log: log, upBps: upBps, port: port,
		client: tracker.Client{HTTP: hc, BaseURL: baseURL}, pokeCh: make(chan struct{}, 1)}
}

// poke asks for an early announce: the engine wants more peers.
func (a *announcer) poke() {
	select {
	case a.pokeCh <- struct{}{}:
	default:
	}
}

func (a *announcer) announce(ctx context.Context, event string) (tracker.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return a.client.Announce(ctx, tracker.Announce{Swarm: a.id, Peer: a.drv.e.ID(), Port: uint16(a.port),
		Event: event, UploadBps: a.upBps, NumWant: 30})
}

// minPokeGap keeps a swarm that wants peers from hammering the tracker.
const minPokeGap = 2 * time.Second

func (a *announcer) run(ctx context.Context) {
	event := tracker.EventStarted
	var last time.Time
	for {
		wait := 2 * time.Second
		resp, err := a.announce(ctx, event)
		last = time.Now()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("tracker announce", "err", err)
		} else {
			a.started = true
			event = tracker.EventUpdate
			wait = resp.Interval
			peers := resp.Peers
			_ = a.drv.Post(ctx, func(now time.Duration, e *core.Engine) {
				for _, p := range peers {
					_ = e.AddPeer(now, a.id, p.Addr)
				}
			})
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-a.pokeCh:
			t.Stop()
			if d := minPokeGap - time.Since(last); d > 0 {
				select {
				case <-ctx.Done():
					return
				case <-time.After(d):
				}
			}
		}
	}
}

// stopped tells the tracker the viewer leaves.
func (a *announcer) stopped() {
	if !a.started {
		return
	}
	if _, err := a.announce(context.Background(), tracker.EventStopped); err != nil {
		a.log.Debug("tracker stop", "err", err)
	}
}

// boost fetches chunk seq from the booster on its own goroutine and hands it
// to the engine, which verifies it like any other.
func (v *Viewer) boost(seq uint64, due time.Duration) {
	ctx := v.ctx
	go func() {
		select {
		case v.boostSem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		defer func() { <-v.boostSem }()
		// after its due time a chunk is of no use: stop asking then
		fctx, cancel := context.WithTimeout(ctx, min(max(due, 100*time.Millisecond), 4*time.Second))
		defer cancel()
		for attempt := 0; ; attempt++ {
			meta, data, retry, err := v.fetchChunk(fctx, seq, due)
			if err == nil {
				_ = v.drv.Post(ctx, func(now time.Duration, e *core.Engine) {
					if err := e.HandleBoosted(now, v.id, seq, meta, data); err != nil {
						v.log.Debug("boosted chunk refused", "seq", seq, "err", err)
					}
				})
				return
			}
			if !retry || attempt >= 5 {
				v.log.Debug("booster", "seq", seq, "err", err)
				return
			}
			select {
			case <-fctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
}

// fetchChunk GETs one chunk from the booster; retry says whether it may
// appear later (425).
func (v *Viewer) fetchChunk(ctx context.Context, seq uint64, due time.Duration) (meta core.ChunkMeta, data []byte, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.desc.Booster+strconv.FormatUint(seq, 10), nil)
	if err != nil {
		return meta, nil, false, err
	}
	if dl, ok := ctx.Deadline(); ok && due > 0 {
		// what is left of it after the retries so far
		req.Header.Set(origin.HeaderDue, strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10))
	}
	resp, err := v.cfg.HTTP.Do(req)
	if err != nil {
		return meta, nil, true, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return meta, nil, resp.StatusCode == http.StatusTooEarly, fmt.Errorf("booster chunk %d: %s", seq, resp.Status)
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, int64(v.desc.ChunkBytes)+1))
	if err != nil {
		return meta, nil, true, err
	}
	if len(data) > v.desc.ChunkBytes {
		return meta, nil, false, fmt.Errorf("booster chunk %d: larger than %d bytes", seq, v.desc.ChunkBytes)
	}
	ts, err1 := strconv.ParseInt(resp.Header.Get(origin.HeaderTimestamp), 10, 64)
	flags, err2 := strconv.ParseUint(resp.Header.Get(origin.HeaderFlags), 10, 8)
	sig, err3 := hex.DecodeString(resp.Header.Get(origin.HeaderSignature))
	if err1 != nil || err2 != nil || err3 != nil || len(sig) != len(meta.Signature) {
		return meta, nil, false, fmt.Errorf("booster chunk %d: bad metadata headers", seq)
	}
	meta.TimestampUs, meta.Flags, meta.Length = ts, uint8(flags), uint32(len(data))
	copy(meta.Signature[:], sig)
	return meta, data, false, nil
}

// ViewerStats is what the gateway's /stats answers.
type ViewerStats struct {
	Stream          string            `json:"stream"`
	Playing         bool              `json:"playing"`
	BytesFromPeers  int64             `json:"bytes_from_peers"`
	BytesFromOrigin int64             `json:"bytes_from_origin"` // the origin's swarm seed, over UDP
	BytesFromHTTP   int64             `json:"bytes_from_http"`   // the booster
	BytesUploaded   int64             `json:"bytes_uploaded"`
	Peers           int               `json:"peers"`
	DelayS          float64           `json:"delay_s"` // playback behind the origin's live edge
	Stalls          int64             `json:"stalls"`
	ChunksVerified  int64             `json:"chunks_verified"`
	ChunksRejected  int64             `json:"chunks_rejected"`
	ChunksPlayed    int64             `json:"chunks_played"`
	ChunksMissed    int64             `json:"chunks_missed"`
	PeersBanned     int64             `json:"peers_banned"`
	Gateway         gateway.LiveStats `json:"gateway"`
	Error           string            `json:"error,omitempty"`
}

// P2PShare is the part of received bytes that came from other viewers.
func (s ViewerStats) P2PShare() float64 {
	return p2pShare(s.BytesFromPeers, s.BytesFromOrigin, s.BytesFromHTTP)
}

// p2pShare is fromPeers over all bytes received.
func p2pShare(fromPeers, fromOrigin, fromHTTP int64) float64 {
	total := fromPeers + fromOrigin + fromHTTP
	if total == 0 {
		return 0
	}
	return float64(fromPeers) / float64(total)
}

// Stats returns the viewer's counters, read on the engine's goroutine.
func (v *Viewer) Stats(ctx context.Context) ViewerStats {
	st := ViewerStats{Stream: v.desc.Name, Gateway: v.live.Stats()}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := v.drv.Call(ctx, func(_ time.Duration, e *core.Engine) {
		s, ok := e.SwarmStats(v.id)
		if !ok {
			return
		}
		st.Playing = v.playing
		st.BytesFromPeers, st.BytesFromOrigin, st.BytesFromHTTP = s.BytesFromPeers, s.BytesFromOrigin, s.BytesFromHTTP
		st.BytesUploaded, st.Peers, st.Stalls = s.BytesUploaded, s.Peers, s.Stalls
		st.DelayS = float64(s.DelayUs) / 1e6
		st.ChunksVerified, st.ChunksRejected = s.ChunksVerified, s.ChunksRejected
		st.ChunksPlayed, st.ChunksMissed, st.PeersBanned = s.ChunksPlayed, s.ChunksMissed, s.PeersBanned
	})
	if err != nil {
		st.Error = err.Error()
	}
	return st
}
