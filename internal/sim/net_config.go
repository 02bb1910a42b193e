package sim

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidConfig is wrapped by every Validate error of this package.
var ErrInvalidConfig = errors.New("invalid config")

// Config describes the modelled network. The zero value is not valid; start
// from DefaultConfig.
type Config struct {
	// MinLatency is the one-way latency between two nodes at the same place.
	// Range [0, 10s].
	MinLatency time.Duration
	// MaxLatency is the one-way latency between the two farthest places.
	// Nodes get random positions on a square plane and the one-way latency
	// of a pair grows linearly with their distance from MinLatency to
	// MaxLatency, so the triangle inequality roughly holds.
	// Range [MinLatency, 10s].
	MaxLatency time.Duration
	// Jitter adds a uniform random [0, Jitter] to each datagram's latency
	// (which may reorder datagrams). Range [0, 10s].
	Jitter time.Duration
	// LossRate is the probability that a datagram is lost on the path
	// between two links. Range [0, 1).
	LossRate float64
	// QueueLimit is the longest a datagram may wait in one link direction
	// (a node's uplink or downlink queue); a datagram that would wait
	// longer is dropped (drop-tail). Range (0, 60s].
	QueueLimit time.Duration
	// OverheadBytes is added to every datagram's size when it is
	// serialised on a link (IP and UDP headers). Range [0, 1000].
	OverheadBytes int
	// MTU is the path's packet size for loss: a larger datagram is lost with
	// the probability that any of its MTU-sized packets is. 0 = whole
	// datagrams. Range [0, 65535].
	MTU int
	// SegmentBytes is the size of the pieces in which a service response
	// crosses the client's downlink, sharing it with datagrams; smaller is
	// more faithful and costs more events. Range [256, 1 MiB].
	SegmentBytes int
	// SlotBytes is the room each datagram in flight gets in the network's
	// pool: set it to the largest datagram the endpoints send. A larger
	// datagram still goes through, copied to a buffer of its own, which is
	// slower. Range [1500, 65536].
	SlotBytes int
}

// DefaultConfig returns the network used when a scenario says nothing else.
func DefaultConfig() Config {
	return Config{
		MinLatency:    10 * time.Millisecond,
		MaxLatency:    150 * time.Millisecond,
		Jitter:        0,
		LossRate:      0.005,
		QueueLimit:    300 * time.Millisecond,
		OverheadBytes: 28,
		SegmentBytes:  16 << 10,
		MTU:           1200,
		SlotBytes:     1500,
	}
}

const maxConfigDelay = 10 * time.Second

// Validate reports the first field out of its range.
func (c Config) Validate() error {
	switch {
	case c.MinLatency < 0 || c.MinLatency > maxConfigDelay:
		return fmt.Errorf("sim: Config.MinLatency %v out of range [0, %v]: %w", c.MinLatency, maxConfigDelay, ErrInvalidConfig)
	case c.MaxLatency < c.MinLatency || c.MaxLatency > maxConfigDelay:
		return fmt.Errorf("sim: Config.MaxLatency %v out of range [MinLatency=%v, %v]: %w", c.MaxLatency, c.MinLatency, maxConfigDelay, ErrInvalidConfig)
	case c.Jitter < 0 || c.Jitter > maxConfigDelay:
		return fmt.Errorf("sim: Config.Jitter %v out of range [0, %v]: %w", c.Jitter, maxConfigDelay, ErrInvalidConfig)
	case !(c.LossRate >= 0 && c.LossRate < 1): // also rejects NaN
		return fmt.Errorf("sim: Config.LossRate %v out of range [0, 1): %w", c.LossRate, ErrInvalidConfig)
	case c.QueueLimit <= 0 || c.QueueLimit > 60*time.Second:
		return fmt.Errorf("sim: Config.QueueLimit %v out of range (0, 60s]: %w", c.QueueLimit, ErrInvalidConfig)
	case c.OverheadBytes < 0 || c.OverheadBytes > 1000:
		return fmt.Errorf("sim: Config.OverheadBytes %d out of range [0, 1000]: %w", c.OverheadBytes, ErrInvalidConfig)
	case c.MTU < 0 || c.MTU > 65535:
		return fmt.Errorf("sim: Config.MTU %d out of range [0, 65535]: %w", c.MTU, ErrInvalidConfig)
	case c.SegmentBytes < 256 || c.SegmentBytes > 1<<20:
		return fmt.Errorf("sim: Config.SegmentBytes %d out of range [256, %d]: %w", c.SegmentBytes, 1<<20, ErrInvalidConfig)
	case c.SlotBytes < minSlotBytes || c.SlotBytes > maxSlotBytes:
		return fmt.Errorf("sim: Config.SlotBytes %d out of range [%d, %d]: %w", c.SlotBytes, minSlotBytes, maxSlotBytes, ErrInvalidConfig)
	}
	return nil
}

// NATClass is how a node's NAT filters unsolicited datagrams.
type NATClass uint8

const (
	// NATOpen is a public address (or a NAT with a forwarded port): anyone
	// can reach it.
	NATOpen NATClass = iota
	// NATCone is an endpoint-independent mapping: hole punching works with
	// another open or cone node.
	NATCone
	// NATSymmetric maps each destination to a new port: only open nodes can
	// talk with it.
	NATSymmetric
)

func (c NATClass) String() string {
	switch c {
	case NATOpen:
		return "open"
	case NATCone:
		return "cone"
	case NATSymmetric:
		return "symmetric"
	}
	return fmt.Sprintf("NATClass(%d)", uint8(c))
}

// natCompatible reports whether two NAT classes let datagrams through: if
// either side is open, or both are cone.
func natCompatible(a, b NATClass) bool {
	return a == NATOpen || b == NATOpen || (a == NATCone && b == NATCone)
}

// NodeConfig is one node's access link and NAT.
type NodeConfig struct {
	// UpBps is the uplink capacity in bits per second; 0 means unlimited
	// (no serialisation delay, no queue).
	UpBps int64
	// DownBps is the downlink capacity in bits per second; 0 means
	// unlimited.
	DownBps int64
	// NAT is the node's NAT class.
	NAT NATClass
}

// Validate reports the first field out of its range.
func (c NodeConfig) Validate() error {
	switch {
	case c.UpBps < 0:
		return fmt.Errorf("sim: NodeConfig.UpBps %d out of range [0, max int64]: %w", c.UpBps, ErrInvalidConfig)
	case c.DownBps < 0:
		return fmt.Errorf("sim: NodeConfig.DownBps %d out of range [0, max int64]: %w", c.DownBps, ErrInvalidConfig)
	case c.NAT > NATSymmetric:
		return fmt.Errorf("sim: NodeConfig.NAT %v is not one of open, cone, symmetric: %w", c.NAT, ErrInvalidConfig)
	}
	return nil
}
