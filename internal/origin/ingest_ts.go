package origin

import (
	"context"
	"fmt"
	"net/http"
)

// TSSource pulls a progressive MPEG-TS stream over HTTP: one GET read for as
// long as the server sends. When the response ends or fails, the Ingest
// reconnects with backoff and the stream continues behind a discontinuity.
type TSSource struct {
	URL    string
	Client *http.Client // default http.DefaultClient; it must not set a Timeout, which would cut the stream
}

// Validate checks the URL.
func (s *TSSource) Validate() error {
	_, err := checkSourceURL("ts", s.URL)
	return err
}

// Run reads the stream into w until it ends (ErrSourceEnded) or fails.
func (s *TSSource) Run(ctx context.Context, w SourceWriter) error {
	u, err := checkSourceURL("ts", s.URL)
	if err != nil {
		return err
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := httpGet(ctx, client, u, "")
	if err != nil {
		return fmt.Errorf("ts source: %w", err)
	}
	defer resp.Body.Close()
	n, err := copyTS(w, resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("ts source %s: %w", u, ctx.Err())
		}
		return fmt.Errorf("ts source %s: after %d bytes: %w", u, n, err)
	}
	return fmt.Errorf("ts source %s: %w after %d bytes", u, ErrSourceEnded, n)
}
