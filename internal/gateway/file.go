package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"
)

// Source is a file being swarmed: reads block until the bytes are verified.
type Source interface {
	Size() int64
	// ID is the content ID in hex; it is the file's ETag.
	ID() string
	// Name is the file name; its extension gives the Content-Type.
	Name() string
	// ReadAt reads like io.ReaderAt, blocking until the bytes are available
	// or ctx is done. The node turns the offset into demand.
	ReadAt(ctx context.Context, p []byte, off int64) (int, error)
}

// ErrNoProgress is wrapped when a Source returns neither bytes nor an error.
var ErrNoProgress = errors.New("source returned no bytes and no error")

// contentTypes maps extensions to the types players expect. It is fixed
// rather than taken from the system's MIME tables, so every host answers the
// same.
var contentTypes = map[string]string{
	".mp4":  "video/mp4",
	".m4v":  "video/mp4",
	".m4a":  "audio/mp4",
	".m4s":  "video/iso.segment",
	".mov":  "video/quicktime",
	".ts":   "video/mp2t",
	".m2ts": "video/mp2t",
	".mts":  "video/mp2t",
	".mkv":  "video/x-matroska",
	".mka":  "audio/x-matroska",
	".webm": "video/webm",
	".ogv":  "video/ogg",
	".ogg":  "audio/ogg",
	".oga":  "audio/ogg",
	".opus": "audio/ogg",
	".mp3":  "audio/mpeg",
	".aac":  "audio/aac",
	".flac": "audio/flac",
	".wav":  "audio/wav",
	".avi":  "video/x-msvideo",
	".flv":  "video/x-flv",
	".m3u8": contentTypeHLS,
	".vtt":  "text/vtt; charset=utf-8",
	".srt":  "application/x-subrip",
	".txt":  "text/plain; charset=utf-8",
	".json": "application/json",
	".pdf":  "application/pdf",
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".gif":  "image/gif",
	".webp": "image/webp",
	".svg":  "image/svg+xml",
	".zip":  "application/zip",
	".gz":   "application/gzip",
	".tar":  "application/x-tar",
	".iso":  "application/x-iso9660-image",
}

// ContentType returns the Content-Type for a file name by its extension,
// case-insensitively; application/octet-stream when unknown.
func ContentType(name string) string {
	if t, ok := contentTypes[strings.ToLower(path.Ext(name))]; ok {
		return t
	}
	return "application/octet-stream"
}

// NewFile returns a handler serving src to GET and HEAD, whatever the path;
// a Server routes /vod/ID/NAME to it. See the package comment for the HTTP
// semantics.
func NewFile(src Source) http.Handler {
	return &fileHandler{src: src, etag: `"` + src.ID() + `"`, contentType: ContentType(src.Name())}
}

type fileHandler struct {
	src         Source
	etag        string
	contentType string
}

func (f *fileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !allowGetHead(w, r) {
		return
	}
	h := w.Header()
	h.Set("ETag", f.etag)
	h.Set("Content-Type", f.contentType)
	// ServeContent would add Accept-Ranges too, but not on a 304 or 416.
	h.Set("Accept-Ranges", "bytes")
	http.ServeContent(w, r, f.src.Name(), time.Time{}, &sourceReader{ctx: r.Context(), src: f.src, size: f.src.Size()})
}

// sourceReader adapts a Source to the io.ReadSeeker http.ServeContent wants;
// every read carries the request's context.
type sourceReader struct {
	ctx  context.Context
	src  Source
	size int64
	off  int64
}

func (s *sourceReader) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	if rest := s.size - s.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := s.src.ReadAt(s.ctx, p, s.off)
	s.off += int64(n)
	switch {
	case err == io.EOF && n > 0:
		// The bytes count; the next call reports the end.
		err = nil
	case err == nil && n == 0:
		err = fmt.Errorf("gateway: file %s at offset %d: %w", s.src.ID(), s.off, ErrNoProgress)
	case err != nil && err != io.EOF:
		err = fmt.Errorf("gateway: file %s at offset %d: %w", s.src.ID(), s.off, err)
	}
	return n, err
}

func (s *sourceReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = s.off + offset
	case io.SeekEnd:
		abs = s.size + offset
	default:
		return 0, fmt.Errorf("gateway: seek whence %d: %w", whence, errors.ErrUnsupported)
	}
	if abs < 0 {
		return 0, fmt.Errorf("gateway: seek to %d: negative position", abs)
	}
	s.off = abs
	return abs, nil
}
