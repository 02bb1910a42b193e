package tracker

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
)

// Announce errors.
var (
	ErrBadAnnounce   = errors.New("bad announce")
	ErrUnknownSwarm  = errors.New("unknown swarm")
	ErrTooManySeeds  = errors.New("too many seeds")
	ErrTracker       = errors.New("tracker request failed")
	errNoRemoteAddr  = errors.New("cannot tell the caller's address")
	errMethodAllowed = errors.New("method not allowed: use GET")
)

// Announce events.
const (
	EventStarted = "started" // first announce of a peer
	EventStopped = "stopped" // the peer leaves; it is removed at once
	EventUpdate  = "update"  // periodic refresh; "" means the same
)

// Query parameter names of GET /tracker/announce.
const (
	paramSwarm   = "swarm"
	paramPeer    = "peer"
	paramPort    = "port"
	paramEvent   = "event"
	paramUp      = "up"
	paramNumWant = "numwant"
	paramIP      = "ip"
)

// maxNumWantParam bounds what the parser accepts; the Tracker then caps the
// value at its MaxNumWant.
const maxNumWantParam = 1 << 20

// maxUploadBps bounds up (1 Tb/s), so that a swarm's sum cannot overflow.
const maxUploadBps = 1_000_000_000_000

// Announce is one viewer's announce for one swarm.
type Announce struct {
	Swarm [32]byte // swarm ID
	Peer  [32]byte // the viewer's peer ID; never all zeros
	Port  uint16   // the viewer's UDP port, 1..65535
	// Event is EventStarted, EventStopped, EventUpdate or "" (update).
	Event string
	// UploadBps is the upload the viewer offers the swarm, in bits per
	// second; 0 when unknown.
	UploadBps int64
	// NumWant is how many peers the viewer wants; 0 takes the tracker's
	// default, and the tracker caps it.
	NumWant int
	// IP overrides the address the tracker sees the viewer at. The tracker
	// honours it only from a loopback caller, so several viewers on one host
	// can announce distinct addresses; from anyone else it is ignored.
	IP string
}

// Validate reports the first field a tracker would refuse.
func (a Announce) Validate() error {
	if a.Peer == ([32]byte{}) {
		return fmt.Errorf("%w: peer: the all-zero peer ID is reserved", ErrBadAnnounce)
	}
	if a.Port == 0 {
		return fmt.Errorf("%w: port: want the viewer's UDP port, 1..65535, got 0", ErrBadAnnounce)
	}
	switch a.Event {
	case "", EventStarted, EventStopped, EventUpdate:
	default:
		return fmt.Errorf("%w: event %q: want %s, %s or %s",
			ErrBadAnnounce, clip(a.Event), EventStarted, EventStopped, EventUpdate)
	}
	if a.UploadBps < 0 || a.UploadBps > maxUploadBps {
		return fmt.Errorf("%w: up %d: want bits per second, 0 to %d", ErrBadAnnounce, a.UploadBps, int64(maxUploadBps))
	}
	if a.NumWant < 0 || a.NumWant > maxNumWantParam {
		return fmt.Errorf("%w: numwant %d: want 0 (default) to %d", ErrBadAnnounce, a.NumWant, maxNumWantParam)
	}
	if a.IP != "" {
		if _, err := parseIP(a.IP); err != nil {
			return err
		}
	}
	return nil
}

func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w: ip %q: want an IPv4 or IPv6 address", ErrBadAnnounce, clip(s))
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("%w: ip %q: want a unicast address a peer can dial", ErrBadAnnounce, clip(s))
	}
	return ip, nil
}

// Values encodes a as the query of GET /tracker/announce, leaving out
// fields at their zero value (other than the IDs and port).
func (a Announce) Values() url.Values {
	v := url.Values{}
	v.Set(paramSwarm, hex.EncodeToString(a.Swarm[:]))
	v.Set(paramPeer, hex.EncodeToString(a.Peer[:]))
	v.Set(paramPort, strconv.Itoa(int(a.Port)))
	if a.Event != "" {
		v.Set(paramEvent, a.Event)
	}
	if a.UploadBps != 0 {
		v.Set(paramUp, strconv.FormatInt(a.UploadBps, 10))
	}
	if a.NumWant != 0 {
		v.Set(paramNumWant, strconv.Itoa(a.NumWant))
	}
	if a.IP != "" {
		v.Set(paramIP, a.IP)
	}
	return v
}

// ParseAnnounce decodes and validates the query string of GET
// /tracker/announce. Unknown parameters are ignored; a known one given twice
// is an error. IP comes back in canonical form.
func ParseAnnounce(rawQuery string) (Announce, error) {
	var a Announce
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return a, fmt.Errorf("%w: query: %w", ErrBadAnnounce, err)
	}
	get := func(name string, required bool) (string, bool, error) {
		vs := q[name]
		switch {
		case len(vs) > 1:
			return "", false, fmt.Errorf("%w: %s given %d times: give it once", ErrBadAnnounce, name, len(vs))
		case len(vs) == 0 && required:
			return "", false, fmt.Errorf("%w: %s: missing", ErrBadAnnounce, name)
		case len(vs) == 0:
			return "", false, nil
		}
		return vs[0], true, nil
	}
	for _, id := range []struct {
		name string
		dst  *[32]byte
	}{{paramSwarm, &a.Swarm}, {paramPeer, &a.Peer}} {
		s, _, err := get(id.name, true)
		if err != nil {
			return a, err
		}
		if *id.dst, err = parseID(id.name, s); err != nil {
			return a, err
		}
	}
	s, _, err := get(paramPort, true)
	if err != nil {
		return a, err
	}
	port, err := strconv.ParseUint(s, 10, 16)
	if err != nil || port == 0 {
		return a, fmt.Errorf("%w: port %q: want the viewer's UDP port, 1..65535", ErrBadAnnounce, clip(s))
	}
	a.Port = uint16(port)
	if a.Event, _, err = get(paramEvent, false); err != nil {
		return a, err
	}
	if s, ok, err := get(paramUp, false); err != nil {
		return a, err
	} else if ok {
		if a.UploadBps, err = strconv.ParseInt(s, 10, 64); err != nil || a.UploadBps < 0 || a.UploadBps > maxUploadBps {
			return a, fmt.Errorf("%w: up %q: want the upload offered in bits per second, 0 to %d", ErrBadAnnounce, clip(s), int64(maxUploadBps))
		}
	}
	if s, ok, err := get(paramNumWant, false); err != nil {
		return a, err
	} else if ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxNumWantParam {
			return a, fmt.Errorf("%w: numwant %q: want how many peers, 0 (default) to %d", ErrBadAnnounce, clip(s), maxNumWantParam)
		}
		a.NumWant = n
	}
	if s, ok, err := get(paramIP, false); err != nil {
		return a, err
	} else if ok {
		ip, err := parseIP(s)
		if err != nil {
			return a, err
		}
		a.IP = ip.String()
	}
	return a, a.Validate()
}

func parseID(name, s string) ([32]byte, error) {
	var id [32]byte
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("%w: %s: want %d hex digits, got %d characters", ErrBadAnnounce, name, 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("%w: %s: want %d hex digits: %w", ErrBadAnnounce, name, 2*len(id), err)
	}
	return id, nil
}

// clip shortens a caller's value quoted back in an error message.
func clip(s string) string {
	const maxQuotedBytes = 64
	if len(s) > maxQuotedBytes {
		return s[:maxQuotedBytes] + "…"
	}
	return s
}
