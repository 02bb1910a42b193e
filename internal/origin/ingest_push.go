package origin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// PushPathPrefix is the path under which PushHandler takes pushes.
const PushPathPrefix = "/ingest/"

// PushHandler takes an MPEG-TS stream pushed with PUT or POST to
// /ingest/NAME?key=KEY, as `ffmpeg -re -i … -c copy -f mpegts -method PUT URL`
// sends it (chunked transfer encoding). The key may also come as
// "Authorization: Bearer KEY". Answers: 204 when the push ends, 401 for a
// wrong or missing key (nothing is read), 404 for an unknown stream, 409
// while another push to the stream runs or when the stream is pulled.
type PushHandler struct {
	// Key every push must present; an empty Key refuses all pushes.
	Key string
	// Lookup finds the push stream of a name.
	Lookup func(name string) (*Ingest, bool)
	// Logger receives refused pushes; default slog.Default().
	Logger *slog.Logger
}

func (h *PushHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		w.Header().Set("Allow", "PUT, POST")
		http.Error(w, "push with PUT or POST", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, PushPathPrefix)
	if !ok || name == "" || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	// The key is checked before the name, so that names cannot be probed.
	if !h.keyOK(pushKey(r)) {
		h.logger().Warn("origin: push refused: wrong or missing key", "stream", name, "remote", r.RemoteAddr)
		http.Error(w, "wrong or missing push key", http.StatusUnauthorized)
		return
	}
	ing, ok := h.Lookup(name)
	if !ok || ing == nil {
		http.Error(w, "no such stream", http.StatusNotFound)
		return
	}
	// A push lasts as long as the broadcast; a server-wide read deadline
	// must not cut it.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	err := ing.Push(r.Context(), r.Body)
	switch {
	case errors.Is(err, ErrPushBusy):
		http.Error(w, "another push to this stream is running", http.StatusConflict)
	case errors.Is(err, ErrNotPush):
		http.Error(w, "this stream is pulled from a source", http.StatusConflict)
	case err != nil:
		// The push body failed; the client is most likely gone.
		http.Error(w, "push interrupted", http.StatusBadRequest)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func pushKey(r *http.Request) string {
	if k := r.URL.Query().Get("key"); k != "" {
		return k
	}
	if k, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return k
	}
	return ""
}

// keyOK compares in constant time; hashing first hides the key's length too.
func (h *PushHandler) keyOK(got string) bool {
	if h.Key == "" || got == "" {
		return false
	}
	a := sha256.Sum256([]byte(got))
	b := sha256.Sum256([]byte(h.Key))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func (h *PushHandler) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
