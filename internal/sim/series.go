package sim

import (
	"fmt"
	"time"
)

// Timeline is a run over time, one point per sample period.
type Timeline struct {
	T          []float64 // seconds
	P2PShare   []float64 // of bytes viewers received in the period
	DelayMeanS []float64 // mean delay behind live of chunks played in the period
	OriginBps  []float64 // origin egress rate (UDP and booster)
	BoundBps   []float64 // least origin rate for the viewers present
	Viewers    []float64
	Continuity []float64 // chunks played on time ÷ chunks due, in the period
}

type seriesRec struct {
	r          *Run
	out        *Timeline
	lastPeers  int64
	lastOther  int64
	lastOrigin int64
	lastDelay  time.Duration // sum of delays so far
	lastDelayN int64
	lastPlayed int64
	lastMissed int64
}

func (s *seriesRec) init(r *Run) {
	s.r = r
	s.out = &Timeline{}
	var tick func(now time.Duration)
	tick = func(now time.Duration) {
		s.sample(now)
		if now+r.opt.Sample <= r.opt.Duration {
			r.net.At(now+r.opt.Sample, tick)
		}
	}
	r.net.At(r.opt.Sample, tick)
}

func (s *seriesRec) sample(now time.Duration) {
	r := s.r
	k := r.counts()
	t := r.totals()
	other := t.BytesFromOrigin + t.BytesFromHTTP
	dp, do := t.BytesFromPeers-s.lastPeers, other-s.lastOther
	s.lastPeers, s.lastOther = t.BytesFromPeers, other
	share := 0.0
	if dp+do > 0 {
		share = float64(dp) / float64(dp+do)
	}
	origin := r.net.Stats(r.origin.addr).BytesSent + k.boosterBytes
	dOrigin := origin - s.lastOrigin
	s.lastOrigin = origin
	mean := 0.0
	if dn := k.delay.n - s.lastDelayN; dn > 0 {
		mean = ((k.delaySum - s.lastDelay) / time.Duration(dn)).Seconds()
	}
	s.lastDelay, s.lastDelayN = k.delaySum, k.delay.n
	o := s.out
	o.T = append(o.T, now.Seconds())
	o.P2PShare = append(o.P2PShare, share)
	o.DelayMeanS = append(o.DelayMeanS, mean)
	o.OriginBps = append(o.OriginBps, float64(dOrigin)*8/r.opt.Sample.Seconds())
	rate := float64(r.opt.StreamRateBps)
	o.BoundBps = append(o.BoundBps, max(rate, float64(len(r.alive))*rate-r.sumUpBps))
	o.Viewers = append(o.Viewers, float64(len(r.alive)))
	dp, dm := k.played-s.lastPlayed, k.missed-s.lastMissed
	s.lastPlayed, s.lastMissed = k.played, k.missed
	cont := 1.0
	if dp+dm > 0 {
		cont = float64(dp) / float64(dp+dm)
	}
	o.Continuity = append(o.Continuity, cont)
}

// Plot draws the run over time: P2P share, delay, origin egress vs bound.
func (res *Result) Plot(path string) error {
	s := res.Timeline
	if s == nil || len(s.T) == 0 {
		return fmt.Errorf("sim: nothing to plot: the run was shorter than one sample period")
	}
	mbps := func(xs []float64) []float64 {
		out := make([]float64, len(xs))
		for i, x := range xs {
			out[i] = x / 1e6
		}
		return out
	}
	title := fmt.Sprintf("shoal sim %s: %d peers, seed %d", res.Scenario, res.Peers, res.Seed)
	return WritePlot(path, title, "virtual time (s)", []Panel{
		{Title: "P2P share of bytes received, and continuity", YLabel: "fraction", Series: []Series{{Name: "p2p share", X: s.T, Y: s.P2PShare}, {Name: "continuity", X: s.T, Y: s.Continuity}}},
		{Title: "delay behind live", YLabel: "seconds", Series: []Series{{Name: "mean delay", X: s.T, Y: s.DelayMeanS}}},
		{Title: "origin egress", YLabel: "Mb/s", Series: []Series{{Name: "origin (udp + booster)", X: s.T, Y: mbps(s.OriginBps)}, {Name: "bound max(r, N·r − Σu)", X: s.T, Y: mbps(s.BoundBps)}}},
	})
}
