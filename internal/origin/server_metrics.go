package origin

import "github.com/prometheus/client_golang/prometheus"

// collector reads the Server's counters at scrape time, so the hot paths
// keep only their own atomics.
type collector struct {
	s                                            *Server
	ingestBytes, chunks, seedBytes, boosterBytes *prometheus.Desc
	viewers, rate, up, share, boosterLate        *prometheus.Desc
}

func newCollector(s *Server) *collector {
	l := []string{"stream"}
	return &collector{s: s,
		ingestBytes:  prometheus.NewDesc("shoal_origin_ingest_bytes_total", "Stream bytes received from the source.", l, nil),
		chunks:       prometheus.NewDesc("shoal_origin_chunks_total", "Chunks cut, signed and published.", l, nil),
		seedBytes:    prometheus.NewDesc("shoal_origin_seed_bytes_total", "Chunk bytes the swarm seed sent over UDP.", l, nil),
		boosterBytes: prometheus.NewDesc("shoal_origin_booster_bytes_total", "Chunk bytes the booster sent over HTTP.", l, nil),
		boosterLate:  prometheus.NewDesc("shoal_origin_booster_late_total", "Booster requests refused (503) because the upload budget could not send them by their due time.", l, nil),
		viewers:      prometheus.NewDesc("shoal_origin_viewers", "Viewers announced to the tracker.", l, nil),
		rate:         prometheus.NewDesc("shoal_origin_stream_rate_bps", "Stream rate measured over the window, bits per second.", l, nil),
		up:           prometheus.NewDesc("shoal_origin_ingest_live", "1 while the source delivers, 0 otherwise.", l, nil),
		share:        prometheus.NewDesc("shoal_origin_p2p_share", "Estimated share of viewers' bytes that came from peers.", l, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.ingestBytes, c.chunks, c.seedBytes, c.boosterBytes, c.boosterLate, c.viewers, c.rate, c.up, c.share} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.s.Streams() {
		live := 0.0
		if st.Ingest == StateLive {
			live = 1
		}
		ch <- prometheus.MustNewConstMetric(c.ingestBytes, prometheus.CounterValue, float64(st.IngestBytes), st.Name)
		ch <- prometheus.MustNewConstMetric(c.chunks, prometheus.CounterValue, float64(st.Chunks), st.Name)
		ch <- prometheus.MustNewConstMetric(c.seedBytes, prometheus.CounterValue, float64(st.SeedBytes), st.Name)
		ch <- prometheus.MustNewConstMetric(c.boosterBytes, prometheus.CounterValue, float64(st.BoosterBytes), st.Name)
		ch <- prometheus.MustNewConstMetric(c.boosterLate, prometheus.CounterValue, float64(st.BoosterLate), st.Name)
		ch <- prometheus.MustNewConstMetric(c.viewers, prometheus.GaugeValue, float64(st.Viewers), st.Name)
		ch <- prometheus.MustNewConstMetric(c.rate, prometheus.GaugeValue, float64(st.RateBps), st.Name)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, live, st.Name)
		ch <- prometheus.MustNewConstMetric(c.share, prometheus.GaugeValue, st.P2PShare, st.Name)
	}
}
