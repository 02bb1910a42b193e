package tracker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ErrInvalidConfig is wrapped by Config.Validate.
var ErrInvalidConfig = errors.New("invalid tracker config")

// Tracker defaults and limits.
const (
	DefaultInterval         = 30 * time.Second
	DefaultMaxPeersPerSwarm = 100_000
	DefaultNumWant          = 30
	DefaultMaxNumWant       = 100

	// ExpiryIntervals is how many announce intervals a peer may stay silent
	// before it is dropped: one lost announce is not a departure.
	ExpiryIntervals = 3

	// MaxSeedsPerSwarm bounds AddSeed; every answer carries all seeds.
	MaxSeedsPerSwarm = 16

	maxInterval         = time.Hour
	maxMaxPeersPerSwarm = 10_000_000
	maxMaxNumWant       = 1000
)

// Config configures a Tracker. Zero fields take their defaults.
type Config struct {
	// Interval is how often viewers are told to announce; a whole number of
	// seconds from 1 s to 1 h, default 30 s. Peers silent for
	// ExpiryIntervals × Interval are expired.
	Interval time.Duration
	// MaxPeersPerSwarm bounds the peers stored per swarm, 1 to 10,000,000,
	// default 100,000. Beyond it new peers still get an answer but are not
	// stored, so they are not handed to others until room frees up.
	MaxPeersPerSwarm int
	// DefaultNumWant is how many peers an announce without numwant gets;
	// 1 to MaxNumWant, default 30.
	DefaultNumWant int
	// MaxNumWant caps numwant; 1 to 1000, default 100.
	MaxNumWant int
	// Now is the clock that drives expiry; default time.Now.
	Now func() time.Time
	// Rand picks the peers handed out; default a PCG seeded from
	// crypto/rand. Only the Tracker uses it, under its lock.
	Rand *rand.Rand
}

// DefaultConfig returns the defaults, with the real clock and a random seed.
func DefaultConfig() Config {
	return Config{
		Interval:         DefaultInterval,
		MaxPeersPerSwarm: DefaultMaxPeersPerSwarm,
		DefaultNumWant:   DefaultNumWant,
		MaxNumWant:       DefaultMaxNumWant,
	}
}

// Validate reports the first field out of range.
func (c Config) Validate() error {
	if c.Interval < 0 || c.Interval > maxInterval || c.Interval%time.Second != 0 ||
		(c.Interval != 0 && c.Interval < time.Second) {
		return fmt.Errorf("tracker: Interval %v: want 0 (default %v) or whole seconds from 1s to %v: %w",
			c.Interval, DefaultInterval, maxInterval, ErrInvalidConfig)
	}
	if c.MaxPeersPerSwarm < 0 || c.MaxPeersPerSwarm > maxMaxPeersPerSwarm {
		return fmt.Errorf("tracker: MaxPeersPerSwarm %d: want 0 (default %d) to %d: %w",
			c.MaxPeersPerSwarm, DefaultMaxPeersPerSwarm, maxMaxPeersPerSwarm, ErrInvalidConfig)
	}
	if c.MaxNumWant < 0 || c.MaxNumWant > maxMaxNumWant {
		return fmt.Errorf("tracker: MaxNumWant %d: want 0 (default %d) to %d: %w",
			c.MaxNumWant, DefaultMaxNumWant, maxMaxNumWant, ErrInvalidConfig)
	}
	d := c.withDefaults()
	if c.DefaultNumWant < 0 || d.DefaultNumWant > d.MaxNumWant {
		return fmt.Errorf("tracker: DefaultNumWant %d: want 0 (default %d) to MaxNumWant %d: %w",
			c.DefaultNumWant, DefaultNumWant, d.MaxNumWant, ErrInvalidConfig)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.MaxPeersPerSwarm == 0 {
		c.MaxPeersPerSwarm = DefaultMaxPeersPerSwarm
	}
	if c.MaxNumWant == 0 {
		c.MaxNumWant = DefaultMaxNumWant
	}
	if c.DefaultNumWant == 0 {
		c.DefaultNumWant = min(DefaultNumWant, c.MaxNumWant)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
