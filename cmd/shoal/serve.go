package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/shoalstream/shoal/internal/node"
)

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func newLogger(w io.Writer, verbose bool, quiet slog.Level) *slog.Logger {
	lvl := quiet
	if verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shoal serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http", ":8080", "HTTP address: ingest, booster, tracker, API, metrics")
	udpAddr := fs.String("udp", ":8081", "UDP address of the swarm seed")
	dataDir := fs.String("data", "shoal-origin", "directory for the origin's keys")
	var streams multiFlag
	fs.Var(&streams, "stream", "NAME=SOURCE to pull (HLS playlist or MPEG-TS URL), or NAME alone for a push stream; repeatable")
	variant := fs.String("variant", "", "HLS master playlist variant: a BANDWIDTH value, an index or part of its URI (default the highest)")
	pushKey := fs.String("push-key", "", "key that enables PUT/POST /ingest/NAME?key=KEY")
	maxUpload := fs.String("max-upload", "0", "cap on the origin's media upload, swarm and booster together, e.g. 3mbit (0 = none)")
	window := fs.Duration("window", 30*time.Second, "how much recent live stream is kept in memory")
	files := fs.String("files", "", "publish every file in this directory on demand (new files are picked up)")
	demo := fs.Bool("demo", false, "also push ffmpeg's test pattern as stream \"demo\"")
	verbose := fs.Bool("v", false, "log debug details")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: shoal serve [flags]\n\nRuns an origin: ingests live streams, signs their chunks, publishes files on\ndemand, seeds their swarms and serves the booster, the web seed, the tracker,\n/api/streams, /api/files and /metrics.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExamples:\n  shoal serve --demo\n  shoal serve --stream news=https://example.com/live/index.m3u8 --max-upload 20mbit\n  shoal serve --push-key s3cret   # then: ffmpeg -re -i IN -c copy -f mpegts -method PUT 'http://HOST:8080/ingest/NAME?key=s3cret'\n  shoal serve --files /srv/films --max-upload 20mbit\n")
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "shoal serve: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	upBps, err := parseRate(*maxUpload)
	if err != nil {
		return fmt.Errorf("--max-upload: %w", err)
	}
	cfg := node.OriginConfig{HTTPAddr: *httpAddr, UDPAddr: *udpAddr, DataDir: *dataDir, Variant: *variant,
		PushKey: *pushKey, MaxUploadBps: upBps, Window: *window, FilesDir: *files, Logger: newLogger(stderr, *verbose, slog.LevelInfo)}
	if isTerminal(stderr) {
		cfg.Progress = stderr
	}
	for _, s := range streams {
		name, src, _ := strings.Cut(s, "=")
		if src == "push" {
			src = ""
		}
		cfg.Streams = append(cfg.Streams, node.StreamSource{Name: name, URL: src})
	}
	var ffmpeg string
	if *demo {
		if ffmpeg, err = exec.LookPath("ffmpeg"); err != nil {
			return errors.New("--demo needs ffmpeg to make its test stream, and ffmpeg is not in PATH; install it (apt install ffmpeg, brew install ffmpeg) or use --stream")
		}
		if cfg.PushKey == "" {
			var b [12]byte
			_, _ = rand.Read(b[:])
			cfg.PushKey = hex.EncodeToString(b[:])
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o, err := node.StartOrigin(ctx, cfg)
	if err != nil {
		return err
	}
	base := "http://" + hostPort(o.HTTPAddr())
	fmt.Fprintf(stdout, "origin listening: HTTP %s, UDP %s\n", base, o.UDPAddr())
	for _, s := range cfg.Streams {
		fmt.Fprintf(stdout, "stream %s: %s/live/%s\n", s.Name, base, s.Name)
	}
	if *files != "" {
		fmt.Fprintf(stdout, "files in %s: listed at %s/api/files\n", *files, base)
	}
	if *demo {
		cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-re",
			"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
			"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "25", "-b:v", "1M",
			"-c:a", "aac", "-f", "mpegts", "-method", "PUT", base+"/ingest/demo?key="+cfg.PushKey)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		cmd.WaitDelay = 2 * time.Second
		if err := cmd.Start(); err != nil {
			cancel()
			o.Wait()
			return fmt.Errorf("--demo: start ffmpeg: %w", err)
		}
		go func() {
			if err := cmd.Wait(); err != nil && ctx.Err() == nil {
				fmt.Fprintf(stderr, "shoal serve: demo ffmpeg ended: %v\n", err)
			}
		}()
		fmt.Fprintf(stdout, "demo stream started; watch it with\n  shoal play %s/live/demo\nor open %s/live/demo\n", base, base)
	}
	<-ctx.Done()
	fmt.Fprintf(stderr, "shoal serve: shutting down\n")
	o.Wait()
	return nil
}

// hostPort turns a listener address into one a local client can dial.
func hostPort(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	host := ta.IP.String()
	if ta.IP == nil || ta.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(ta.Port))
}

// isTerminal says whether status lines may be redrawn in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
