package sim

import "math"

// OriginBoundBytes is the least the origin must send so that n peers with a
// total upload of sumUpBps can all stream at rateBps for seconds: it sends
// at least one copy, and whatever the peers cannot upload themselves
// (Kumar, Liu and Ross, 2007): max(r, n·r − Σu) per second.
func OriginBoundBytes(rateBps float64, n int, sumUpBps float64, seconds float64) float64 {
	perSec := math.Max(rateBps, float64(n)*rateBps-sumUpBps)
	return perSec * seconds / 8
}

// MaxSwarmRateBps is the highest rate a swarm of n peers can stream at:
// min(u_s, (u_s + Σu)/n).
func MaxSwarmRateBps(originUpBps float64, n int, sumUpBps float64) float64 {
	if n == 0 {
		return originUpBps
	}
	return math.Min(originUpBps, (originUpBps+sumUpBps)/float64(n))
}

// DelayBoundSeconds is the least delay to reach n peers by store-and-forward
// of whole chunks: ⌈log2(n+1)⌉ chunk times after the first chunk leaves the
// origin.
func DelayBoundSeconds(n int, chunkSeconds float64) float64 {
	return math.Ceil(math.Log2(float64(n)+1)) * chunkSeconds
}
