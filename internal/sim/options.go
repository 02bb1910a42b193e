package sim

import (
	"errors"
	"fmt"
	"github.com/shoalstream/shoal/internal/core"
	"github.com/shoalstream/shoal/internal/wire"
	"strings"
	"time"
)

// ErrOptions is wrapped by every bad-option error.
var ErrOptions = errors.New("sim: invalid options")

// Options describe one run. Zero fields take the defaults of DefaultOptions.
type Options struct {
	Scenario string
	Peers    int
	Seed     uint64
	// Duration is the virtual time simulated.
	Duration time.Duration
	// StreamRateBps is the media rate.
	StreamRateBps int64
	// PlayDelay is how far behind live viewers play (live scenarios).
	PlayDelay time.Duration
	// OriginUpFactor is the origin's upload as a multiple of the stream rate.
	OriginUpFactor float64
	// ViewerUpFactor is the mean viewer upload as a multiple of the stream
	// rate; individual viewers are drawn around it, some below the rate.
	ViewerUpFactor float64
	// BoosterFactor is the booster's (or web seed's) capacity as a multiple
	// of the stream rate.
	BoosterFactor float64
	// RealCrypto checks chunks with SHA-256 and Ed25519 as real peers do;
	// without it a 64-bit hash stands in (same checks, a fraction of the cost).
	RealCrypto bool
	// FragmentBytes is the payload of one Data datagram; 0 sends each chunk
	// whole, as a burst of MTU-sized packets that the network model loses and
	// charges as such. 1120 is what real peers send, at ~15× the events.
	FragmentBytes int
	// Tune, if set, adjusts every viewer engine's configuration (for
	// experiments with the engine's knobs).
	Tune func(*core.Config)
	// Workers is how many goroutines run the nodes' events; 0 means one per
	// CPU (GOMAXPROCS). The run does not depend on it.
	Workers int
	// Net is the network model.
	Net Config
	// Sample is the period of the time series (for plots).
	Sample time.Duration
	// Progress, if set, is called now and then with the virtual time done.
	Progress func(done, total time.Duration)
}

// DefaultOptions returns the options of a default run of scenario.
func DefaultOptions(scenario string) Options {
	o := Options{
		Scenario:       scenario,
		Seed:           1,
		Duration:       5 * time.Minute,
		StreamRateBps:  2_000_000,
		PlayDelay:      2900 * time.Millisecond,
		OriginUpFactor: 10,
		ViewerUpFactor: 1.5,
		BoosterFactor:  10,
		FragmentBytes:  wire.FragmentSize,
		Net:            DefaultConfig(),
		Sample:         5 * time.Second,
	}
	if sc, ok := lookup(scenario); ok {
		o.Peers = sc.DefaultPeers
	}
	return o
}

// Validate names the first bad option.
func (o *Options) Validate() error {
	bad := func(f string, args ...any) error {
		return fmt.Errorf("%w: "+f, append([]any{ErrOptions}, args...)...)
	}
	if _, ok := lookup(o.Scenario); !ok {
		return bad("unknown scenario %q; valid scenarios: %s", o.Scenario, strings.Join(ScenarioNames(), ", "))
	}
	switch {
	case o.Peers < 1 || o.Peers > 100_000:
		return bad("peers %d, want 1..100000", o.Peers)
	case o.Duration < 10*time.Second || o.Duration > 24*time.Hour:
		return bad("duration %v, want 10s..24h", o.Duration)
	case o.StreamRateBps < 64_000 || o.StreamRateBps > 100_000_000:
		return bad("stream rate %d b/s, want 64kbit..100mbit", o.StreamRateBps)
	case o.PlayDelay < 200*time.Millisecond || o.PlayDelay > time.Minute:
		return bad("play delay %v, want 200ms..60s", o.PlayDelay)
	case o.OriginUpFactor < 1 || o.OriginUpFactor > 10_000:
		return bad("origin upload factor %g, want 1..10000", o.OriginUpFactor)
	case o.ViewerUpFactor < 0 || o.ViewerUpFactor > 100:
		return bad("viewer upload factor %g, want 0..100", o.ViewerUpFactor)
	case o.BoosterFactor < 0 || o.BoosterFactor > 10_000:
		return bad("booster factor %g, want 0..10000", o.BoosterFactor)
	case o.FragmentBytes != 0 && (o.FragmentBytes < 256 || o.FragmentBytes > 60000):
		return bad("fragment bytes %d, want 0 (whole chunks) or 256..60000", o.FragmentBytes)
	case o.Workers < 0 || o.Workers > 256:
		return bad("workers %d, want 0 (one per CPU) or 1..256", o.Workers)
	case o.Sample < time.Second:
		return bad("sample period %v, want >= 1s", o.Sample)
	}
	return o.Net.Validate()
}

// liveWindow is how much live stream every viewer keeps for its neighbours.
func (o *Options) liveWindow() time.Duration { return o.PlayDelay + 2*time.Second }

// heapEstimate is about how much memory a run's engines hold: the chunks
// each viewer is assembling (verified ones are shared, see chunkShare) and
// a quarter of a megabyte of state besides.
func (o *Options) heapEstimate() int {
	window := o.liveWindow().Seconds() * float64(o.StreamRateBps) / 8
	return int(float64(o.Peers+1) * (0.25*window + 1<<18))
}
