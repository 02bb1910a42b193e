package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"
	"sort"
	"time"
)

// histogram keeps durations in 1 ms buckets up to a minute; quantiles are
// exact to the bucket.
type histogram struct {
	buckets []int64
	n       int64
	over    int64
}

const histMax = 60_000

func (h *histogram) add(d time.Duration) {
	if h.buckets == nil {
		h.buckets = make([]int64, histMax)
	}
	ms := int(d / time.Millisecond)
	if ms < 0 {
		ms = 0
	}
	h.n++
	if ms >= histMax {
		h.over++
		return
	}
	h.buckets[ms]++
}

// quantile returns the q-quantile in seconds (0 when empty).
func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var c int64
	for ms, k := range h.buckets {
		c += k
		if c >= rank {
			return float64(ms+1) / 1000
		}
	}
	return histMax / 1000.0
}

// quantileOf returns the q-quantile of xs in seconds.
func quantileOf(xs []time.Duration, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(q*float64(len(s)))) - 1
	i = max(0, min(i, len(s)-1))
	return s[i].Seconds()
}

// trace hashes the run's events as they happen: the same seed gives the
// same digest, byte for byte.
type trace struct {
	h   hash.Hash
	buf [32]byte
	n   uint64
}

func newTrace() *trace { return &trace{h: sha256.New()} }

func (t *trace) record(now time.Duration, node uint32, kind uint8, seq uint64) {
	b := t.buf[:0]
	b = binary.LittleEndian.AppendUint64(b, uint64(now))
	b = binary.LittleEndian.AppendUint32(b, node)
	b = append(b, kind)
	b = binary.LittleEndian.AppendUint64(b, seq)
	t.h.Write(b)
	t.n++
}

func (t *trace) digest() string { return hex.EncodeToString(t.h.Sum(nil)) }
