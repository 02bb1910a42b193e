package sim

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Result is one run's report. The JSON field names are a stable interface.
type Result struct {
	Scenario              string  `json:"scenario"`
	Seed                  uint64  `json:"seed"`
	Peers                 int     `json:"peers"`
	DurationS             float64 `json:"duration_s"`
	StreamRateBps         int64   `json:"stream_rate_bps"`
	P2PShare              float64 `json:"p2p_share"`
	OriginEgressBytes     int64   `json:"origin_egress_bytes"`
	OriginBoundBytes      int64   `json:"origin_bound_bytes"`
	BoosterBytes          int64   `json:"booster_bytes"`
	DelayP50S             float64 `json:"delay_p50_s"`
	DelayP95S             float64 `json:"delay_p95_s"`
	DelayP99S             float64 `json:"delay_p99_s"`
	DelayBoundS           float64 `json:"delay_bound_s"`
	Continuity            float64 `json:"continuity"`
	JoinP50S              float64 `json:"join_p50_s"`
	JoinP95S              float64 `json:"join_p95_s"`
	StartP95S             float64 `json:"start_p95_s"`
	SeekP95S              float64 `json:"seek_p95_s"`
	Stalls                int64   `json:"stalls"`
	UnverifiedBytesPlayed int64   `json:"unverified_bytes_played"`
	BadPeersBanned        int     `json:"bad_peers_banned"`
	Events                uint64  `json:"events"`
	Digest                string  `json:"digest"`

	// More detail.
	PlayDelayS         float64 `json:"play_delay_s"`
	BadPeers           int     `json:"bad_peers"`
	HonestPeersBanned  int64   `json:"honest_peers_banned"`
	ChunksPlayed       int64   `json:"chunks_played"`
	ChunksMissed       int64   `json:"chunks_missed"`
	ChunksRejected     int64   `json:"chunks_rejected"`
	ViewersJoined      int     `json:"viewers_joined"`
	ViewersStarted     int     `json:"viewers_started"`
	BytesFromPeers     int64   `json:"bytes_from_peers"`
	BytesFromOrigin    int64   `json:"bytes_from_origin"`
	BytesFromHTTP      int64   `json:"bytes_from_http"`
	MeanViewerUpBps    float64 `json:"mean_viewer_up_bps"`
	DatagramsLost      int64   `json:"datagrams_lost"`
	DatagramsQueueDrop int64   `json:"datagrams_queue_dropped"`

	Timeline *Timeline `json:"-"`
}

func (r *Run) result() *Result {
	o := r.opt
	t := r.totals()
	k := r.total()
	res := &Result{
		Scenario: o.Scenario, Seed: o.Seed, Peers: o.Peers,
		DurationS: o.Duration.Seconds(), StreamRateBps: o.StreamRateBps,
		BoosterBytes:          k.boosterBytes,
		DelayP50S:             k.delay.quantile(0.50),
		DelayP95S:             k.delay.quantile(0.95),
		DelayP99S:             k.delay.quantile(0.99),
		JoinP50S:              quantileOf(k.joins, 0.50),
		JoinP95S:              quantileOf(k.joins, 0.95),
		StartP95S:             quantileOf(k.starts, 0.95),
		SeekP95S:              quantileOf(k.seeks, 0.95),
		Stalls:                k.stalls + t.Stalls,
		UnverifiedBytesPlayed: k.unverified,
		BadPeersBanned:        len(k.badBanned),
		Events:                r.net.Events(),
		PlayDelayS:            o.PlayDelay.Seconds(),
		HonestPeersBanned:     k.honestBanned,
		ChunksPlayed:          k.played,
		ChunksMissed:          k.missed,
		ChunksRejected:        k.rejected,
		ViewersJoined:         len(r.viewers),
		BytesFromPeers:        t.BytesFromPeers,
		BytesFromOrigin:       t.BytesFromOrigin,
		BytesFromHTTP:         t.BytesFromHTTP,
	}
	for _, v := range r.viewers {
		if v.bad {
			res.BadPeers++
		}
		if v.ready {
			res.ViewersStarted++
		}
		st := r.net.Stats(v.addr)
		res.DatagramsLost += st.DropLoss
		res.DatagramsQueueDrop += st.DropQueue
	}
	if all := t.BytesFromPeers + t.BytesFromOrigin + t.BytesFromHTTP; all > 0 {
		res.P2PShare = float64(t.BytesFromPeers) / float64(all)
	}
	if n := k.played + k.missed; n > 0 {
		res.Continuity = float64(k.played) / float64(n)
	}
	os := r.net.Stats(r.origin.addr)
	res.OriginEgressBytes = os.BytesSent + k.boosterBytes
	secs := o.Duration.Seconds()
	meanUp := r.upSeconds / secs
	res.MeanViewerUpBps = meanUp / float64(max(1, o.Peers))
	res.OriginBoundBytes = int64(r.boundBits / 8)
	res.DelayBoundS = DelayBoundSeconds(o.Peers, r.chunkSeconds())
	res.Digest = r.digest()
	res.Timeline = r.series.out
	return res
}

func (r *Run) chunkSeconds() float64 {
	return float64(r.desc.ChunkBytes*8) / float64(r.opt.StreamRateBps)
}

// WriteTable prints a result for people.
func (res *Result) WriteTable(w io.Writer, wall time.Duration) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("scenario", fmt.Sprintf("%s (%d peers, seed %d, %.0fs virtual, %.2f Mb/s stream)", res.Scenario, res.Peers, res.Seed, res.DurationS, float64(res.StreamRateBps)/1e6))
	row("p2p share", fmt.Sprintf("%.4f  (peers %s, origin seed %s, http %s)", res.P2PShare, bytesStr(res.BytesFromPeers), bytesStr(res.BytesFromOrigin), bytesStr(res.BytesFromHTTP)))
	row("origin egress", fmt.Sprintf("%s  (bound %s, %.1f×; booster %s)", bytesStr(res.OriginEgressBytes), bytesStr(res.OriginBoundBytes), float64(res.OriginEgressBytes)/float64(max(1, res.OriginBoundBytes)), bytesStr(res.BoosterBytes)))
	if res.DelayP50S > 0 {
		row("delay behind live", fmt.Sprintf("p50 %.2fs  p95 %.2fs  p99 %.2fs  (bound %.2fs, play delay %.2fs)", res.DelayP50S, res.DelayP95S, res.DelayP99S, res.DelayBoundS, res.PlayDelayS))
		row("join", fmt.Sprintf("p50 %.2fs  p95 %.2fs  (%d of %d viewers started)", res.JoinP50S, res.JoinP95S, res.ViewersStarted, res.ViewersJoined))
	}
	if res.StartP95S > 0 || res.SeekP95S > 0 {
		row("start / seek", fmt.Sprintf("start p95 %.2fs  seek p95 %.2fs", res.StartP95S, res.SeekP95S))
	}
	row("continuity", fmt.Sprintf("%.4f  (%d played, %d missed, %d stalls)", res.Continuity, res.ChunksPlayed, res.ChunksMissed, res.Stalls))
	row("integrity", fmt.Sprintf("%d unverified bytes played, %d chunks rejected, %d of %d liars banned, %d honest peers banned", res.UnverifiedBytesPlayed, res.ChunksRejected, res.BadPeersBanned, res.BadPeers, res.HonestPeersBanned))
	row("network", fmt.Sprintf("%d datagrams lost, %d dropped at full queues", res.DatagramsLost, res.DatagramsQueueDrop))
	row("events", fmt.Sprintf("%d  (%.0f per second of wall time, %.1fs wall)", res.Events, float64(res.Events)/max(wall.Seconds(), 1e-9), wall.Seconds()))
	row("digest", res.Digest)
	tw.Flush()
}

func bytesStr(n int64) string {
	f := float64(n)
	switch {
	case f >= 1<<30:
		return fmt.Sprintf("%.2f GiB", f/(1<<30))
	case f >= 1<<20:
		return fmt.Sprintf("%.1f MiB", f/(1<<20))
	case f >= 1<<10:
		return fmt.Sprintf("%.1f KiB", f/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
