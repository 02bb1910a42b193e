package udp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Errors returned by this package; match them with errors.Is.
var (
	ErrInvalidOptions = errors.New("udp: invalid options")
	ErrTooLarge       = errors.New("udp: datagram larger than MaxPayload")
	ErrPeerLimit      = errors.New("udp: MaxPeers reached")
	ErrBadAddress     = errors.New("udp: not a unicast address with a port")
)

// Options tunes a Conn. A zero field takes its value from DefaultOptions.
type Options struct {
	// MaxPeers bounds the remote addresses with a session or a handshake in
	// progress. A Send to a new address beyond it fails with ErrPeerLimit; a
	// handshake from a new address beyond it is dropped. Default 4096.
	MaxPeers int

	// HandshakeTimeout is how long a handshake may take before it is given
	// up and the datagrams held for it are dropped. Default 5 s.
	HandshakeTimeout time.Duration

	// HandshakeRetransmit is the delay before the initiator first sends its
	// handshake again; each further delay doubles (250 ms, 500 ms, 1 s, …).
	// Default 250 ms.
	HandshakeRetransmit time.Duration

	// IdleTimeout is how long a session may carry nothing, either way,
	// before it is forgotten. Default 60 s.
	IdleTimeout time.Duration

	// QueueLen is how many datagrams are held per peer while its handshake
	// runs; when full the oldest is dropped. Default 64.
	QueueLen int

	// MaxQueuedBytes bounds the payload bytes held over all peers while
	// handshakes run; past it new datagrams are dropped. Default 8 MiB.
	MaxQueuedBytes int

	// RecvQueueLen is how many decrypted datagrams wait for Recv; when full
	// new ones are dropped and counted. Default 4096.
	RecvQueueLen int

	// SocketBufferBytes is the send and receive buffer asked of the kernel
	// (which may grant less, see net.core.rmem_max). Default 4 MiB.
	SocketBufferBytes int

	// OnEvent, when set, is called when a session comes up, goes down or
	// moves to a new address. It runs on the Conn's goroutines with no lock
	// held and must return quickly; it may call the Conn's methods.
	OnEvent func(Event)

	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger

	// noBatch forces one system call per datagram (benchmark comparisons).
	noBatch bool
	// noOffload turns segmentation offload (GSO, GRO) off (comparisons).
	noOffload bool
}

// DefaultOptions returns the defaults documented on Options.
func DefaultOptions() Options {
	return Options{
		MaxPeers:            4096,
		HandshakeTimeout:    5 * time.Second,
		HandshakeRetransmit: 250 * time.Millisecond,
		IdleTimeout:         60 * time.Second,
		QueueLen:            64,
		MaxQueuedBytes:      8 << 20,
		RecvQueueLen:        4096,
		SocketBufferBytes:   4 << 20,
	}
}

// withDefaults fills zero fields from DefaultOptions.
func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.MaxPeers == 0 {
		o.MaxPeers = d.MaxPeers
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = d.HandshakeTimeout
	}
	if o.HandshakeRetransmit == 0 {
		o.HandshakeRetransmit = d.HandshakeRetransmit
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = d.IdleTimeout
	}
	if o.QueueLen == 0 {
		o.QueueLen = d.QueueLen
	}
	if o.MaxQueuedBytes == 0 {
		o.MaxQueuedBytes = d.MaxQueuedBytes
	}
	if o.RecvQueueLen == 0 {
		o.RecvQueueLen = d.RecvQueueLen
	}
	if o.SocketBufferBytes == 0 {
		o.SocketBufferBytes = d.SocketBufferBytes
	}
	return o
}

// Validate reports the first field outside its allowed range. Zero fields
// are allowed: they stand for the defaults.
func (o Options) Validate() error {
	o = o.withDefaults()
	bad := func(field string, v any, allowed string) error {
		return fmt.Errorf("udp: %s = %v, want %s: %w", field, v, allowed, ErrInvalidOptions)
	}
	switch {
	case o.MaxPeers < 1 || o.MaxPeers > 1<<20:
		return bad("MaxPeers", o.MaxPeers, "1..1048576")
	case o.HandshakeRetransmit < time.Millisecond || o.HandshakeRetransmit > time.Minute:
		return bad("HandshakeRetransmit", o.HandshakeRetransmit, "1ms..1m")
	case o.HandshakeTimeout < o.HandshakeRetransmit || o.HandshakeTimeout > 10*time.Minute:
		return bad("HandshakeTimeout", o.HandshakeTimeout, "HandshakeRetransmit..10m")
	case o.IdleTimeout < o.HandshakeRetransmit || o.IdleTimeout > 24*time.Hour:
		return bad("IdleTimeout", o.IdleTimeout, "HandshakeRetransmit..24h")
	case o.QueueLen < 1 || o.QueueLen > 1<<16:
		return bad("QueueLen", o.QueueLen, "1..65536")
	case o.MaxQueuedBytes < MaxPayload || o.MaxQueuedBytes > 1<<30:
		return bad("MaxQueuedBytes", o.MaxQueuedBytes, fmt.Sprintf("%d..1GiB", MaxPayload))
	case o.RecvQueueLen < 1 || o.RecvQueueLen > 1<<20:
		return bad("RecvQueueLen", o.RecvQueueLen, "1..1048576")
	case o.SocketBufferBytes < 0 || o.SocketBufferBytes > 1<<30:
		return bad("SocketBufferBytes", o.SocketBufferBytes, "0..1GiB")
	}
	return nil
}

// EventKind says what happened to a session.
type EventKind uint8

const (
	// SessionUp: a handshake completed; Addr and Peer name the session. A
	// peer that restarts comes up again without going down first when its
	// PeerID is unchanged.
	SessionUp EventKind = iota + 1
	// SessionDown: the session was forgotten (see Event.Reason).
	SessionDown
	// SessionMoved: the peer's authenticated traffic now comes from Addr
	// instead of From (NAT rebinding); later sends go to Addr.
	SessionMoved
)

func (k EventKind) String() string {
	switch k {
	case SessionUp:
		return "up"
	case SessionDown:
		return "down"
	case SessionMoved:
		return "moved"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event reports a change of a session; see Options.OnEvent.
type Event struct {
	Kind   EventKind
	Addr   netip.AddrPort
	Peer   PeerID
	From   netip.AddrPort // SessionMoved: the previous address
	Reason string         // SessionDown: "idle", "handshake timeout", "replaced", "address taken"
}
