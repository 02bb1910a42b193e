package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors wrapped by this package's failures.
var (
	// ErrInvalidOptions is wrapped by every Validate error.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrBadName is wrapped when a stream or file name cannot be served.
	ErrBadName = errors.New("bad name")
	// ErrDuplicate is wrapped when a name or ID is already registered.
	ErrDuplicate = errors.New("already registered")
)

// Defaults for LiveOptions.
const (
	DefaultWindow            = 30 * time.Second
	DefaultMaxClientLagBytes = 8 << 20
	DefaultTargetSegment     = 2 * time.Second
	DefaultStartTimeout      = 10 * time.Second
)

const (
	maxNameBytes    = 128
	maxWindow       = 24 * time.Hour
	maxStartTimeout = 10 * time.Minute
	maxLagBytes     = 1 << 30
)

// LiveOptions configures one Live. Zero fields take their defaults.
type LiveOptions struct {
	// Window is how much of the recent stream the HLS playlist may list;
	// default 30 s, up to 24 h.
	Window time.Duration
	// MaxClientLagBytes is how far a progressive client may fall behind the
	// stream before it is disconnected; default 8 MiB, up to 1 GiB.
	MaxClientLagBytes int
	// TargetSegment is the least duration of an HLS segment: a segment ends at
	// the first RAP at or after it; default 2 s, at most Window.
	TargetSegment time.Duration
	// StartTimeout is how long a progressive client waits for its first RAP
	// before it gets 503; default 10 s, up to 10 min.
	StartTimeout time.Duration
	// Logger receives dropped clients and gaps; default slog.Default().
	Logger *slog.Logger
}

// DefaultLiveOptions returns the defaults.
func DefaultLiveOptions() LiveOptions {
	return LiveOptions{
		Window:            DefaultWindow,
		MaxClientLagBytes: DefaultMaxClientLagBytes,
		TargetSegment:     DefaultTargetSegment,
		StartTimeout:      DefaultStartTimeout,
	}
}

func (o LiveOptions) withDefaults() LiveOptions {
	d := DefaultLiveOptions()
	if o.Window == 0 {
		o.Window = d.Window
	}
	if o.MaxClientLagBytes == 0 {
		o.MaxClientLagBytes = d.MaxClientLagBytes
	}
	if o.TargetSegment == 0 {
		o.TargetSegment = d.TargetSegment
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = d.StartTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports the first field out of range; zero fields are valid and
// mean the default.
func (o LiveOptions) Validate() error {
	if o.Window < 0 || o.Window > maxWindow {
		return fmt.Errorf("gateway: LiveOptions.Window %v: want 0 (default %v) to %v: %w",
			o.Window, DefaultWindow, maxWindow, ErrInvalidOptions)
	}
	if o.MaxClientLagBytes < 0 || o.MaxClientLagBytes > maxLagBytes {
		return fmt.Errorf("gateway: LiveOptions.MaxClientLagBytes %d: want 0 (default %d) to %d: %w",
			o.MaxClientLagBytes, DefaultMaxClientLagBytes, maxLagBytes, ErrInvalidOptions)
	}
	if o.StartTimeout < 0 || o.StartTimeout > maxStartTimeout {
		return fmt.Errorf("gateway: LiveOptions.StartTimeout %v: want 0 (default %v) to %v: %w",
			o.StartTimeout, DefaultStartTimeout, maxStartTimeout, ErrInvalidOptions)
	}
	d := o.withDefaults()
	if o.TargetSegment < 0 || d.TargetSegment > d.Window {
		return fmt.Errorf("gateway: LiveOptions.TargetSegment %v: want 0 (default %v) to Window %v: %w",
			o.TargetSegment, DefaultTargetSegment, d.Window, ErrInvalidOptions)
	}
	return nil
}

// checkName reports whether name can be a live stream name or a file name in
// a URL path segment: 1 to 128 bytes of UTF-8 without control characters,
// '/', '?', '#' or '\', and neither "." nor "..".
func checkName(name string) error {
	if name == "" || len(name) > maxNameBytes || !utf8.ValidString(name) ||
		name == "." || name == ".." || strings.ContainsAny(name, "/?#\\") {
		return fmt.Errorf("gateway: name %q: want 1..%d bytes of UTF-8 without '/', '?', '#' or '\\': %w",
			name, maxNameBytes, ErrBadName)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("gateway: name %q: control character: %w", name, ErrBadName)
		}
	}
	return nil
}

// checkID reports whether id is a content ID: lower-case hex, 1 to 128 digits.
func checkID(id string) error {
	if id == "" || len(id) > maxNameBytes {
		return fmt.Errorf("gateway: content ID %q: want 1..%d hex digits: %w", id, maxNameBytes, ErrBadName)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("gateway: content ID %q: want lower-case hex: %w", id, ErrBadName)
		}
	}
	return nil
}
