package origin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// sniffBytes is how much of a stream is read ahead to recognise MPEG-TS.
const sniffBytes = 4 * PacketSize

// checkSourceURL accepts absolute http and https URLs.
func checkSourceURL(kind, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s source URL %q: %w: %w", kind, raw, ErrInvalidConfig, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%s source URL %q: want an absolute http or https URL: %w", kind, raw, ErrInvalidConfig)
	}
	return u, nil
}

// httpGet sends a GET and returns the response when its status is 200 (or
// 206 for a range). Other statuses become ErrSourceHTTP with the URL.
func httpGet(ctx context.Context, client *http.Client, u *url.URL, rangeHdr string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", u, ErrSourceHTTP, err)
	}
	if rangeHdr != "" {
		req.Header.Set("Range", rangeHdr)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSourceHTTP, err)
	}
	if resp.StatusCode == http.StatusOK || rangeHdr != "" && resp.StatusCode == http.StatusPartialContent {
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	return nil, &statusError{url: u.String(), code: resp.StatusCode}
}

// statusError is an HTTP response with an unwanted status.
type statusError struct {
	url  string
	code int
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d %s: %v", e.url, e.code, http.StatusText(e.code), ErrSourceHTTP)
}

func (e *statusError) Unwrap() error { return ErrSourceHTTP }

// copyTS checks that body is MPEG-TS and copies it to w. It returns the bytes
// written and the error that ended the copy (nil at end of body).
func copyTS(w io.Writer, body io.Reader) (int64, error) {
	br := bufio.NewReaderSize(body, 64<<10)
	head, err := br.Peek(sniffBytes)
	if len(head) == 0 {
		if err == io.EOF {
			return 0, nil
		}
		return 0, err
	}
	if err := sniffTS(head); err != nil {
		return 0, err
	}
	buf := make([]byte, 64<<10)
	var n int64
	for {
		k, err := br.Read(buf)
		if k > 0 {
			w.Write(buf[:k])
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
