package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/shoalstream/shoal/internal/node"
)

// lieFlag is a hidden flag: the viewer corrupts every chunk it relays, for
// tests that check liars get banned.
const lieFlag = "test-lie"

func runPlay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	lie := false
	kept := args[:0:0]
	for _, a := range args {
		if a == "-"+lieFlag || a == "--"+lieFlag {
			lie = true
			continue
		}
		kept = append(kept, a)
	}
	args = kept
	fs := flag.NewFlagSet("shoal play", flag.ContinueOnError)
	fs.SetOutput(stderr)
	gw := fs.String("gateway", "127.0.0.1:0", "local HTTP address players connect to")
	udpAddr := fs.String("udp", ":0", "UDP address for the swarm")
	dataDir := fs.String("data", "shoal-viewer", "directory for the viewer's key")
	maxUpload := fs.String("max-upload", "0", "cap on what this viewer relays, e.g. 2mbit (0 = congestion control only)")
	delay := fs.Duration("delay", 0, "how far behind live to play (default 2.9s)")
	player := fs.String("player", "", "start a player on the stream: mpv, vlc or ffplay")
	cacheSize := fs.String("cache-size", "0", "on demand: memory for the file's chunks, e.g. 512MiB (0 = keep the whole file on disk in --data)")
	verbose := fs.Bool("v", false, "log debug details")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: shoal play URL [flags]\n\nJoins the live stream at URL (http://ORIGIN/live/NAME) and serves it to local\nplayers as progressive MPEG-TS and HLS, or the on-demand file at URL\n(http://ORIGIN/vod/ID/NAME) and serves it with Range, fetched as it is read.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var url string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		url, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if url == "" && fs.NArg() > 0 {
		url = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return errUsage
		}
	}
	if url == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	upBps, err := parseRate(*maxUpload)
	if err != nil {
		return fmt.Errorf("--max-upload: %w", err)
	}
	switch *player {
	case "", "mpv", "vlc", "ffplay":
	default:
		return fmt.Errorf("--player %q: want mpv, vlc or ffplay", *player)
	}
	if isVODLink(url) {
		cache, err := parseSize(*cacheSize)
		if err != nil {
			return fmt.Errorf("--cache-size: %w", err)
		}
		return playVOD(ctx, node.VODConfig{URL: url, GatewayAddr: *gw, UDPAddr: *udpAddr, DataDir: *dataDir,
			MaxUploadBps: upBps, CacheBytes: cache, Logger: newLogger(stderr, *verbose, slog.LevelWarn)}, *player, stdout, stderr)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	v, err := node.StartViewer(ctx, node.ViewerConfig{URL: url, GatewayAddr: *gw, UDPAddr: *udpAddr, DataDir: *dataDir,
		MaxUploadBps: upBps, PlayDelay: *delay, Lie: lie, Logger: newLogger(stderr, *verbose, slog.LevelWarn)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "playing %s\n  %s\n  %s\n  stats: %s/stats\n", url, v.TSURL(), v.PlaylistURL(), v.GatewayURL())
	startPlayer(ctx, cancel, *player, v.TSURL(), stderr)
	var prev node.ViewerStats
	statusLoop(ctx, stderr, func() (string, bool) {
		s := v.Stats(ctx)
		down := s.BytesFromPeers + s.BytesFromOrigin + s.BytesFromHTTP - prev.BytesFromPeers - prev.BytesFromOrigin - prev.BytesFromHTTP
		up := s.BytesUploaded - prev.BytesUploaded
		prev = s
		return fmt.Sprintf("peers %d · delay %.1fs · p2p %.0f%% · down %s · up %s · stalls %d",
			s.Peers, s.DelayS, 100*s.P2PShare(), fmtRate(down*8), fmtRate(up*8), s.Stalls), true
	})
	v.Wait()
	fmt.Fprintf(stderr, "shoal play: left the swarm\n")
	return nil
}

// startPlayer runs the player named on url, if any; closing it ends play.
func startPlayer(ctx context.Context, cancel context.CancelFunc, player, url string, stderr io.Writer) {
	if player == "" {
		return
	}
	cmd := exec.CommandContext(ctx, player, url)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "shoal play: start %s: %v\n", player, err)
		return
	}
	go func() { _ = cmd.Wait(); cancel() }()
}

// statusLoop prints the line that next returns once a second until ctx
// ends: in place on a terminal, one per line to a log, where a line that
// next reports as unchanged is left out.
func statusLoop(ctx context.Context, w io.Writer, next func() (line string, changed bool)) {
	tty := isTerminal(w)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if tty {
				fmt.Fprintln(w)
			}
			return
		case <-t.C:
		}
		line, changed := next()
		switch {
		case tty:
			fmt.Fprintf(w, "\r\033[K%s", line)
		case changed:
			fmt.Fprintln(w, line)
		}
	}
}

func fmtRate(bps int64) string {
	switch {
	case bps >= 1e6:
		return fmt.Sprintf("%.1f Mbit/s", float64(bps)/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%.0f kbit/s", float64(bps)/1e3)
	}
	return fmt.Sprintf("%d bit/s", bps)
}
