package main

import (
	"context"
	"fmt"
	"io"

	"github.com/shoalstream/shoal/internal/node"
)

// playVOD is shoal play for an on-demand link: the file is served to
// players with Range at the gateway while the swarm fetches what they read.
func playVOD(ctx context.Context, cfg node.VODConfig, player string, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v, err := node.StartVOD(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "playing %s\n  %s\n  stats: %s/stats\n", cfg.URL, v.FileURL(), v.GatewayURL())
	startPlayer(ctx, cancel, player, v.FileURL(), stderr)
	var prev node.VODStats
	statusLoop(ctx, stderr, func() (string, bool) {
		s := v.Stats(ctx)
		down := s.BytesFromPeers + s.BytesFromOrigin + s.BytesFromHTTP - prev.BytesFromPeers - prev.BytesFromOrigin - prev.BytesFromHTTP
		up := s.BytesUploaded - prev.BytesUploaded
		changed := s != prev
		prev = s
		return fmt.Sprintf("peers %d · have %.0f%% · p2p %.0f%% · down %s · up %s · stalls %d · web seed %s",
			s.Peers, 100*float64(s.HaveBytes)/float64(max(s.SizeBytes, 1)), 100*s.P2PShare(), fmtRate(down*8), fmtRate(up*8), s.Stalls, s.WebSeed), changed
	})
	v.Wait()
	fmt.Fprintf(stderr, "shoal play: left the swarm\n")
	return nil
}
