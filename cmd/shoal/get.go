package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/shoalstream/shoal/internal/node"
)

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shoal get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "the file to write (required); a partial one is checked and completed")
	udpAddr := fs.String("udp", ":0", "UDP address for the swarm")
	dataDir := fs.String("data", "shoal-get", "directory for the downloader's key")
	maxUpload := fs.String("max-upload", "0", "cap on what this download relays meanwhile, e.g. 2mbit (0 = congestion control only)")
	timeout := fs.Duration("timeout", node.DefaultStallTimeout, "give up when no verified byte arrives for this long")
	verbose := fs.Bool("v", false, "log debug details")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: shoal get URL -o FILE [flags]\n\nDownloads the on-demand file at URL (http://ORIGIN/vod/ID/NAME) through its swarm,\nverifying every block. Run it again after an interruption: what FILE already\nholds is checked against the file's hashes and only the rest is fetched.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	var link string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		link, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if link == "" && fs.NArg() > 0 {
		link = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return errUsage
		}
	}
	if link == "" || *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	if !isVODLink(link) {
		return fmt.Errorf("%s is not an on-demand link (http://ORIGIN/vod/ID/NAME); live streams play with shoal play", link)
	}
	upBps, err := parseRate(*maxUpload)
	if err != nil {
		return fmt.Errorf("--max-upload: %w", err)
	}
	existed := false
	if fi, err := os.Stat(*out); err == nil && fi.Size() > 0 {
		existed = true
	}
	var check *progressbar.ProgressBar
	cfg := node.VODConfig{URL: link, UDPAddr: *udpAddr, DataDir: *dataDir, MaxUploadBps: upBps, Output: *out,
		StallTimeout: *timeout, Logger: newLogger(stderr, *verbose, slog.LevelWarn)}
	if existed {
		cfg.CheckProgress = func(done, total int64) {
			if check == nil {
				check = newByteBar(stderr, total, "checking "+*out)
			}
			_ = check.Set64(done)
		}
	}
	vctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := node.StartVOD(vctx, cfg)
	if err != nil {
		return err
	}
	size := v.Descriptor().Size
	start := time.Now()
	bar := newByteBar(stderr, size, "downloading "+v.Name())
	err = v.Download(ctx, func(have, total int64) { _ = bar.Set64(have) })
	if err == nil {
		_ = bar.Finish()
	} else {
		_ = bar.Exit()
		fmt.Fprintln(stderr)
	}
	st := v.Stats(context.Background())
	cancel()
	v.Wait()
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted with %s of %s verified in %s; run the same command again to resume",
				fmtBytes(st.HaveBytes), fmtBytes(size), *out)
		}
		return fmt.Errorf("%s: %w (%s of %s verified and kept; run the same command again to resume)",
			*out, err, fmtBytes(st.HaveBytes), fmtBytes(size))
	}
	fmt.Fprintf(stdout, "%s: %d bytes verified in %.1fs: from peers %d, origin %d, web seed %d, already in the file %d; %d chunks rejected\n",
		*out, size, time.Since(start).Seconds(), st.BytesFromPeers, st.BytesFromOrigin, st.BytesFromHTTP, st.BytesResumed, st.ChunksRejected)
	return nil
}

func newByteBar(w io.Writer, total int64, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(250*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
}

// isVODLink says whether a link names an on-demand file rather than a live
// stream.
func isVODLink(link string) bool {
	_, rest, ok := strings.Cut(link, "://")
	if !ok {
		return false
	}
	_, path, _ := strings.Cut(rest, "/")
	return strings.HasPrefix("/"+path, "/vod/")
}
