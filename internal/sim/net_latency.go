package sim

import (
	"math"
	"time"
)

// Nodes sit on a square plane of planeSide units. A pair's one-way latency
// grows linearly with their Euclidean distance, from MinLatency at distance 0
// to MaxLatency at the diagonal. Integer coordinates and an exact integer
// square root keep latencies identical on every platform.
const (
	planeSide = 1 << 16
	// planeDiagonal is floor(sqrt(2) * planeSide); no two points of
	// [0, planeSide)² are farther apart.
	planeDiagonal = 92681
)

type position struct{ x, y int32 }

// isqrt returns floor(sqrt(v)) exactly for 0 <= v < 2^52.
func isqrt(v int64) int64 {
	s := int64(math.Sqrt(float64(v))) // correctly rounded on every platform
	for s*s > v {
		s--
	}
	for (s+1)*(s+1) <= v {
		s++
	}
	return s
}

func distance(a, b position) int64 {
	dx := int64(a.x - b.x)
	dy := int64(a.y - b.y)
	return isqrt(dx*dx + dy*dy)
}

// latencyAt maps a distance on the plane to a one-way latency.
func (c *Config) latencyAt(dist int64) time.Duration {
	return c.MinLatency + time.Duration(int64(c.MaxLatency-c.MinLatency)*dist/planeDiagonal)
}

// pairLatency is the one-way latency between two positions, before jitter.
func (c *Config) pairLatency(a, b position) time.Duration {
	return c.latencyAt(distance(a, b))
}

// centre is where services sit: a CDN is about equally near to everyone.
var centre = position{planeSide / 2, planeSide / 2}

// accessLatency is a node's own latency to a service, independent of any
// other node: the latency its distance to the centre of the plane adds
// beyond MinLatency, in [0, (MaxLatency-MinLatency)/2].
func (c *Config) accessLatency(p position) time.Duration {
	return time.Duration(int64(c.MaxLatency-c.MinLatency) * distance(p, centre) / planeDiagonal)
}
