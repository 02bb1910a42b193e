package tracker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

// MaxResponseBytes bounds how much of a tracker's answer the Client reads.
const MaxResponseBytes = 1 << 20

// maxErrorTextBytes bounds the part of an error body quoted in an error.
const maxErrorTextBytes = 300

// Client announces to a tracker over HTTP.
type Client struct {
	// HTTP sends the requests; nil means http.DefaultClient. Its Timeout, or
	// the context given to Announce, bounds each announce.
	HTTP *http.Client
	// BaseURL is the origin's HTTP address, as in http://origin:8080; the
	// announce goes to BaseURL + AnnouncePath.
	BaseURL string
}

// StatusError is a tracker's answer other than 200 OK. It wraps ErrTracker,
// and also ErrBadAnnounce (400) or ErrUnknownSwarm (404) when the body is the
// tracker's own JSON error rather than, say, a proxy's page.
type StatusError struct {
	StatusCode int
	Message    string // the tracker's error text, or the start of the body
	FromServer bool   // Message came from a tracker's JSON error
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "(empty body)"
	}
	return fmt.Sprintf("%v: HTTP %d %s: %s", ErrTracker, e.StatusCode, http.StatusText(e.StatusCode), msg)
}

// Unwrap lets errors.Is match ErrTracker and the tracker's own reason.
func (e *StatusError) Unwrap() []error {
	errs := []error{ErrTracker}
	if e.FromServer {
		switch e.StatusCode {
		case http.StatusBadRequest:
			errs = append(errs, ErrBadAnnounce)
		case http.StatusNotFound:
			errs = append(errs, ErrUnknownSwarm)
		}
	}
	return errs
}

// Announce sends a and returns the tracker's answer. Every error wraps
// ErrTracker; a non-200 answer is a *StatusError; an answer that is not the
// tracker's JSON, or larger than MaxResponseBytes, wraps ErrBadResponse.
func (c *Client) Announce(ctx context.Context, a Announce) (Response, error) {
	if err := a.Validate(); err != nil {
		return Response{}, fmt.Errorf("%w: %w", ErrTracker, err)
	}
	u, err := c.announceURL()
	if err != nil {
		return Response{}, err
	}
	u.RawQuery = a.Values().Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %w", ErrTracker, err)
	}
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %w", ErrTracker, err)
	}
	defer res.Body.Close()
	where := "GET " + u.Redacted()
	if res.ContentLength > MaxResponseBytes {
		return Response{}, fmt.Errorf("%w: %s: answer of %d bytes exceeds %d: %w",
			ErrTracker, where, res.ContentLength, MaxResponseBytes, ErrBadResponse)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, MaxResponseBytes+1))
	if err != nil {
		return Response{}, fmt.Errorf("%w: %s: reading the answer: %w", ErrTracker, where, err)
	}
	if len(body) > MaxResponseBytes {
		return Response{}, fmt.Errorf("%w: %s: answer exceeds %d bytes: %w", ErrTracker, where, MaxResponseBytes, ErrBadResponse)
	}
	if res.StatusCode != http.StatusOK {
		return Response{}, statusError(res.StatusCode, body)
	}
	var out Response
	if err := json.Unmarshal(body, &out); err != nil {
		return Response{}, fmt.Errorf("%w: %s: %w", ErrTracker, where, asBadResponse(err))
	}
	return out, nil
}

func (c *Client) announceURL() (*url.URL, error) {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("%w: base URL: %w", ErrTracker, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: base URL %q: want http://HOST[:PORT] or https://…", ErrTracker, c.BaseURL)
	}
	u.RawQuery, u.Fragment = "", ""
	return u.JoinPath(AnnouncePath), nil
}

func statusError(code int, body []byte) *StatusError {
	var we wireError
	if json.Unmarshal(body, &we) == nil && we.Error != "" {
		return &StatusError{StatusCode: code, Message: printable(we.Error, maxErrorTextBytes), FromServer: true}
	}
	return &StatusError{StatusCode: code, Message: printable(string(body), maxErrorTextBytes)}
}

// asBadResponse makes sure a decoding error wraps ErrBadResponse: the
// standard library's syntax errors do not go through UnmarshalJSON.
func asBadResponse(err error) error {
	if errors.Is(err, ErrBadResponse) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrBadResponse, err)
}

// printable trims s to at most n bytes and blanks control characters, so an
// error message cannot smuggle terminal escapes or a flood of text.
func printable(s string, n int) string {
	s = strings.TrimSpace(s)
	cut := len(s) > n
	if cut {
		s = s[:n]
	}
	s = strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if cut {
		s += "…"
	}
	return s
}
