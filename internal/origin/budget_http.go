package origin

import (
	"net/http"
)

// budgetSlice is how many bytes of a response wait for the budget at a time.
const budgetSlice = 16 << 10

// LimitHandler makes every response body h writes wait for room in b, so
// that plain HTTP (the web seed) shares the origin's one upload budget with
// the swarm seed and the booster. A nil b passes h through.
func LimitHandler(b *Budget, h http.Handler) http.Handler {
	if b == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&budgetWriter{ResponseWriter: w, b: b, r: r}, r)
	})
}

// budgetWriter has no ReadFrom, so io.Copy goes through Write and the
// budget rather than straight to sendfile.
type budgetWriter struct {
	http.ResponseWriter
	b *Budget
	r *http.Request
}

func (w *budgetWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), budgetSlice)
		if err := w.b.Wait(w.r.Context(), k); err != nil {
			return n, err
		}
		m, err := w.ResponseWriter.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *budgetWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
