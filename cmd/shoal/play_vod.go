package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"time"

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
	if player != "" {
		cmd := exec.CommandContext(ctx, player, v.FileURL())
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(stderr, "shoal play: start %s: %v\n", player, err)
		} else {
			go func() { _ = cmd.Wait(); cancel() }() // closing the player ends play
		}
	}
	vodStatusLoop(ctx, v, stderr)
	v.Wait()
	fmt.Fprintf(stderr, "shoal play: left the swarm\n")
	return nil
}

// vodStatusLoop prints one status line a second until ctx ends.
func vodStatusLoop(ctx context.Context, v *node.VOD, w io.Writer) {
	tty := isTerminal(w)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var prev node.VODStats
	for {
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(w)
			}
			return
		case <-t.C:
		}
		s := v.Stats(ctx)
		down := s.BytesFromPeers + s.BytesFromOrigin + s.BytesFromHTTP - prev.BytesFromPeers - prev.BytesFromOrigin - prev.BytesFromHTTP
		up := s.BytesUploaded - prev.BytesUploaded
		if s == prev && !tty {
			continue // idle: no line to a log
		}
		prev = s
		line := fmt.Sprintf("peers %d · have %.0f%% · p2p %.0f%% · down %s · up %s · stalls %d · web seed %s",
			s.Peers, 100*float64(s.HaveBytes)/float64(max(s.SizeBytes, 1)), 100*s.P2PShare(), fmtRate(down*8), fmtRate(up*8), s.Stalls, s.WebSeed)
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(w, line)
		}
	}
}
