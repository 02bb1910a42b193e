package origin

import (
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/shoalstream/shoal/internal/integrity"
)

// Paths of on-demand publishing. Links are relative: the server that mounts
// Files.Handler prefixes its own base.
const (
	FilesListPath    = "/api/files"
	VODPathPrefix    = "/vod/"
	SeedPathPrefix   = "/seed/"
	FilesTrackerPath = "/tracker/announce"
)

// FileInfo is one entry of GET /api/files.
type FileInfo struct {
	Name    string         `json:"name"`
	ID      integrity.Hash `json:"id"`
	Size    int64          `json:"size"`
	URL     string         `json:"url"`      // /vod/ID/NAME
	WebSeed string         `json:"web_seed"` // /seed/ID/NAME, or the web source's URL
}

// FileDescriptor is what GET /vod/ID/NAME answers as JSON: all a viewer
// needs to join the file's swarm.
type FileDescriptor struct {
	ID         integrity.Hash `json:"id"`
	Name       string         `json:"name"`
	Size       int64          `json:"size"`
	ChunkBytes int            `json:"chunk_bytes"` // integrity.LeafSize
	RateBps    int64          `json:"rate_bps"`    // estimated media rate; 0 when unknown
	WebSeed    string         `json:"web_seed"`
	Tracker    string         `json:"tracker"`
	LeavesURL  string         `json:"leaves_url"`     // GET: Tree.MarshalBinary of the file
	Seed       string         `json:"seed,omitempty"` // the origin's UDP seed, HOST:PORT, for local files
}

// Info returns the list entry of pf.
func (pf *PublishedFile) Info() FileInfo {
	return FileInfo{Name: pf.Name, ID: pf.ID, Size: pf.Size, URL: filesVODPath(pf), WebSeed: webSeedOf(pf)}
}

// Descriptor returns the on-demand descriptor of pf.
func (pf *PublishedFile) Descriptor() FileDescriptor {
	return FileDescriptor{ID: pf.ID, Name: pf.Name, Size: pf.Size, ChunkBytes: integrity.LeafSize,
		RateBps: pf.RateBps, WebSeed: webSeedOf(pf), Tracker: FilesTrackerPath,
		LeavesURL: VODPathPrefix + pf.ID.String() + "/leaves"}
}

func filesVODPath(pf *PublishedFile) string {
	return VODPathPrefix + pf.ID.String() + "/" + url.PathEscape(pf.Name)
}

func filesSeedPath(pf *PublishedFile) string {
	return SeedPathPrefix + pf.ID.String() + "/" + url.PathEscape(pf.Name)
}

func webSeedOf(pf *PublishedFile) string {
	if pf.SourceURL != "" {
		return pf.SourceURL
	}
	return filesSeedPath(pf)
}

// Handler serves on-demand publishing over HTTP:
//
//	GET /api/files          the published files as a JSON array of FileInfo
//	GET /vod/ID/NAME        the FileDescriptor as JSON (with "Accept:
//	                        application/json" or "?format=json"); otherwise a
//	                        redirect to the web seed, so a plain player still
//	                        plays the link
//	GET /vod/ID/leaves      the leaf layer (Tree.MarshalBinary), immutable
//	GET|HEAD /seed/ID/NAME  a local file's bytes with Range, ETag "ID"; a web
//	                        source's ID redirects to its URL
//
// A NAME other than the file's, or none, redirects to the right one; an unknown ID
// answers 404 with a line saying so.
func (f *Files) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+FilesListPath, f.serveList)
	mux.HandleFunc("GET "+VODPathPrefix+"{id}/leaves", f.serveLeaves)
	mux.HandleFunc("GET "+VODPathPrefix+"{id}/{name}", f.serveVOD)
	mux.HandleFunc("GET "+VODPathPrefix+"{id}", f.serveVOD)
	mux.HandleFunc("GET "+VODPathPrefix+"{id}/{$}", f.serveVOD)
	mux.HandleFunc("GET "+SeedPathPrefix+"{id}/{name}", f.serveSeed)
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, fmt.Sprintf("no page at %s: files are listed at %s, described at %sID/NAME and served at %sID/NAME (GET)",
			r.URL.Path, FilesListPath, VODPathPrefix, SeedPathPrefix), http.StatusNotFound)
	})
	return mux
}

func (f *Files) serveList(w http.ResponseWriter, r *http.Request) {
	list := f.List()
	out := make([]FileInfo, len(list))
	for i := range list {
		out[i] = list[i].Info()
	}
	w.Header().Set("Cache-Control", "no-cache")
	filesWriteJSON(w, out)
}

// file looks up the request's {id}, answering 404 itself when there is no
// such file.
func (f *Files) file(w http.ResponseWriter, r *http.Request) (*PublishedFile, bool) {
	id, err := integrity.ParseHash(r.PathValue("id"))
	if err != nil {
		http.Error(w, fmt.Sprintf("no file %q: an ID is 64 hex digits, as listed at %s", r.PathValue("id"), FilesListPath), http.StatusNotFound)
		return nil, false
	}
	pf, ok := f.Lookup(id)
	if !ok {
		http.Error(w, fmt.Sprintf("no published file with ID %s (removed or changed?): see %s", id, FilesListPath), http.StatusNotFound)
		return nil, false
	}
	return pf, true
}

// filesCanonical redirects to the right NAME of the file and reports whether it
// did.
func filesCanonical(w http.ResponseWriter, r *http.Request, pf *PublishedFile, want string) bool {
	if r.PathValue("name") == pf.Name {
		return false
	}
	if r.URL.RawQuery != "" {
		want += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, want, http.StatusFound)
	return true
}

func (f *Files) serveVOD(w http.ResponseWriter, r *http.Request) {
	pf, ok := f.file(w, r)
	if !ok {
		return
	}
	w.Header().Set("Vary", "Accept")
	if filesCanonical(w, r, pf, filesVODPath(pf)) {
		return
	}
	if !filesWantJSON(r) {
		http.Redirect(w, r, webSeedOf(pf), http.StatusFound)
		return
	}
	d := pf.Descriptor()
	if f.cfg.SeedPort != 0 && pf.Path != "" {
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			d.Seed = net.JoinHostPort(h, strconv.Itoa(f.cfg.SeedPort))
		}
	}
	w.Header().Set("Cache-Control", "no-cache")
	filesWriteJSON(w, d)
}

func (f *Files) serveLeaves(w http.ResponseWriter, r *http.Request) {
	pf, ok := f.file(w, r)
	if !ok {
		return
	}
	if pf.Name == "leaves" && filesWantJSON(r) { // the descriptor of a file named "leaves"
		f.serveVOD(w, r)
		return
	}
	b, err := pf.Tree.MarshalBinary()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+pf.ID.String()+`.leaves"`)
	h.Set("Vary", "Accept")
	if r.Header.Get("If-None-Match") == h.Get("ETag") {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", fmt.Sprint(len(b)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

func (f *Files) serveSeed(w http.ResponseWriter, r *http.Request) {
	pf, ok := f.file(w, r)
	if !ok || filesCanonical(w, r, pf, filesSeedPath(pf)) {
		return
	}
	if pf.Path == "" {
		http.Redirect(w, r, pf.SourceURL, http.StatusFound)
		return
	}
	file, err := os.Open(pf.Path)
	if err != nil {
		http.Error(w, fmt.Sprintf("file %s is gone; it is unpublished at the next scan", pf.ID), http.StatusNotFound)
		return
	}
	defer file.Close()
	if fi, err := file.Stat(); err != nil || stampOf(fi) != (fileStamp{pf.Size, pf.ModTime}) {
		// Its bytes no longer have this ID; the next scan publishes them anew.
		http.Error(w, fmt.Sprintf("file %s changed since it was published; see %s for its new ID", pf.ID, FilesListPath), http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("ETag", `"`+pf.ID.String()+`"`)
	h.Set("Accept-Ranges", "bytes")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("Content-Type", filesContentType(pf.Name))
	http.ServeContent(w, r, pf.Name, pf.ModTime, file)
}

// filesMediaTypes are the types players need most, which the system's
// table may lack.
var filesMediaTypes = map[string]string{
	".mp4": "video/mp4", ".m4v": "video/mp4", ".m4a": "audio/mp4", ".mov": "video/quicktime",
	".mkv": "video/x-matroska", ".webm": "video/webm", ".ts": "video/mp2t", ".m2ts": "video/mp2t",
	".mp3": "audio/mpeg", ".aac": "audio/aac", ".flac": "audio/flac", ".ogg": "audio/ogg",
	".opus": "audio/ogg", ".wav": "audio/wav", ".m3u8": "application/vnd.apple.mpegurl",
}

// filesContentType returns the Content-Type of a file by its extension. It
// never sniffs: the type of a file stays the same whoever serves it.
func filesContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if t, ok := filesMediaTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		return t
	}
	return "application/octet-stream"
}

// filesWantJSON says whether a request asks for JSON rather than a page or
// the file.
func filesWantJSON(r *http.Request) bool {
	if r.URL.Query().Get("format") == "json" {
		return true
	}
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(mt), "application/json") {
				return true
			}
		}
	}
	return false
}

func filesWriteJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
