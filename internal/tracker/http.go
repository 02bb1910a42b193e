package tracker

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
)

// HTTP paths the Tracker serves; the origin mounts the Tracker at PathPrefix.
const (
	PathPrefix   = "/tracker/"
	AnnouncePath = PathPrefix + "announce"
)

// ServeHTTP answers GET AnnouncePath with JSON: 200 with the interval and
// peers, 400 for bad input, 404 for an unknown swarm, each error as
// {"error": "..."}. The caller's IP is the connection's remote address;
// forwarding headers are not trusted.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case AnnouncePath:
		t.serveAnnounce(w, r)
	default:
		writeJSON(w, http.StatusNotFound, wireError{Error: "no such tracker endpoint " + r.URL.Path + "; announce at " + AnnouncePath})
	}
}

func (t *Tracker) serveAnnounce(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, wireError{Error: errMethodAllowed.Error()})
		return
	}
	a, err := ParseAnnounce(r.URL.RawQuery)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, wireError{Error: err.Error()})
		return
	}
	var remote netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		remote = ap.Addr()
	}
	resp, err := t.Announce(remote, a)
	switch {
	case errors.Is(err, ErrUnknownSwarm):
		writeJSON(w, http.StatusNotFound, wireError{Error: err.Error()})
	case err != nil:
		writeJSON(w, http.StatusBadRequest, wireError{Error: err.Error()})
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(wireError{Error: "encoding the answer: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
