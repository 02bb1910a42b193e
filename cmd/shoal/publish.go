package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/shoalstream/shoal/internal/origin"
)

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shoal publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	originURL := fs.String("origin", "http://127.0.0.1:8080", "the origin's HTTP address")
	key := fs.String("key", os.Getenv("SHOAL_PUSH_KEY"), "the origin's --push-key, if it has one (default $SHOAL_PUSH_KEY)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: shoal publish FILE|URL [flags]\n\nAsks an origin to publish a file on its machine, or a file on a web server that\nanswers Range requests (which becomes the file's web seed), and prints the\nlink viewers open with shoal play or shoal get.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nExamples:\n  shoal publish /srv/films/talk.mp4\n  shoal publish https://cdn.example.com/talk.mp4 --origin http://origin:8080 --key s3cret\n")
	}
	var what string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		what, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return errUsage
	}
	if what == "" && fs.NArg() > 0 {
		what = fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return errUsage
		}
	}
	if what == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	var body origin.PublishRequest
	if strings.HasPrefix(what, "http://") || strings.HasPrefix(what, "https://") {
		body.URL = what
	} else {
		abs, err := filepath.Abs(what)
		if err != nil {
			return fmt.Errorf("%q: %w", what, err)
		}
		body.Path = abs
	}
	base := strings.TrimRight(*originURL, "/")
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--origin %q: want http://HOST:PORT", *originURL)
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+origin.FilesListPath, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if *key != "" {
		req.Header.Set("Authorization", "Bearer "+*key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("origin %s: %w", base, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(out))
		if json.Unmarshal(out, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		return fmt.Errorf("%s not published: origin %s answered %s: %s", what, base, resp.Status, msg)
	}
	var info origin.FileInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return fmt.Errorf("origin %s: unexpected answer: %w", base, err)
	}
	link := base + info.URL
	fmt.Fprintln(stdout, link)
	fmt.Fprintf(stderr, "published %s (%s, ID %s)\nwatch: shoal play %s\nfetch: shoal get %s -o %s\n",
		info.Name, fmtBytes(info.Size), info.ID, link, link, info.Name)
	return nil
}
