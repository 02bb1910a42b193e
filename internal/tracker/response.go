package tracker

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"
)

// ErrBadResponse is wrapped when a tracker's answer cannot be decoded.
var ErrBadResponse = errors.New("malformed tracker response")

// maxAnswerInterval bounds interval_s in a decoded answer.
const maxAnswerInterval = 24 * time.Hour

// Response is a tracker's answer to an announce.
type Response struct {
	// Interval is when to announce again.
	Interval time.Duration
	// Peers to dial: the swarm's seeds first, then other live peers in
	// random order, never the asker.
	Peers []Peer
}

// Peer is one address to dial.
type Peer struct {
	Addr netip.AddrPort
	ID   [32]byte // zero when unknown (seeds registered by address only)
	Seed bool     // one of the origin's own seeds
}

type wireResponse struct {
	IntervalS int64      `json:"interval_s"`
	Peers     []wirePeer `json:"peers"`
}

type wirePeer struct {
	Addr string `json:"addr"`
	Peer string `json:"peer,omitempty"`
	Seed bool   `json:"seed,omitempty"`
}

type wireError struct {
	Error string `json:"error"`
}

// MarshalJSON encodes r in the wire form: interval in whole seconds, peer IDs
// in hex, a zero ID left out.
func (r Response) MarshalJSON() ([]byte, error) {
	w := wireResponse{IntervalS: int64(r.Interval / time.Second), Peers: make([]wirePeer, len(r.Peers))}
	for i, p := range r.Peers {
		w.Peers[i] = wirePeer{Addr: p.Addr.String(), Seed: p.Seed}
		if p.ID != ([32]byte{}) {
			w.Peers[i].Peer = hex.EncodeToString(p.ID[:])
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes and checks the wire form: a positive interval of at
// most a day, dialable addresses and 64-digit IDs. A bad entry fails the
// whole answer, as it says the tracker is not one this code speaks to.
func (r *Response) UnmarshalJSON(b []byte) error {
	var w wireResponse
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrBadResponse)
	}
	if w.IntervalS <= 0 || w.IntervalS > int64(maxAnswerInterval/time.Second) {
		return fmt.Errorf("%w: interval_s %d: want 1 to %d", ErrBadResponse, w.IntervalS, int64(maxAnswerInterval/time.Second))
	}
	out := Response{Interval: time.Duration(w.IntervalS) * time.Second, Peers: make([]Peer, 0, len(w.Peers))}
	for i, wp := range w.Peers {
		ap, err := netip.ParseAddrPort(wp.Addr)
		if err != nil || ap.Port() == 0 || !ap.Addr().IsValid() || ap.Addr().IsUnspecified() || ap.Addr().IsMulticast() {
			return fmt.Errorf("%w: peers[%d].addr %q: want a unicast IP:port", ErrBadResponse, i, wp.Addr)
		}
		p := Peer{Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), Seed: wp.Seed}
		if wp.Peer != "" {
			if len(wp.Peer) != 2*len(p.ID) {
				return fmt.Errorf("%w: peers[%d].peer: want %d hex digits", ErrBadResponse, i, 2*len(p.ID))
			}
			if _, err := hex.Decode(p.ID[:], []byte(wp.Peer)); err != nil {
				return fmt.Errorf("%w: peers[%d].peer: %w", ErrBadResponse, i, err)
			}
		}
		out.Peers = append(out.Peers, p)
	}
	*r = out
	return nil
}
