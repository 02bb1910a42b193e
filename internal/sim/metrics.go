package sim

import (
	"crypto/sha256"
	"encoding/binary"
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

// trace hashes a node's events as they happen: the same seed gives the
// same digest, byte for byte. Each node keeps its own, so that the digest
// does not depend on the order in which nodes' events of a window run.
type trace struct {
	h   hash.Hash
	buf [32]byte
	n   uint64
}

func newTrace() trace { return trace{h: sha256.New()} }

func (t *trace) record(now time.Duration, node uint32, kind uint8, seq uint64) {
	b := t.buf[:0]
	b = binary.LittleEndian.AppendUint64(b, uint64(now))
	b = binary.LittleEndian.AppendUint32(b, node)
	b = append(b, kind)
	b = binary.LittleEndian.AppendUint64(b, seq)
	t.h.Write(b)
	t.n++
}

// sum is the hash of the events recorded so far.
func (t *trace) sum() []byte { return t.h.Sum(nil) }

// tally is what the checkers count. Each lane of the network keeps its own
// (a node's events may run on any lane), and a reading sums them: sums,
// histograms and sets do not depend on the order of their parts.
type tally struct {
	delay        histogram
	delaySum     time.Duration // of delays, for the time series
	joins        []time.Duration
	starts       []time.Duration
	seeks        []time.Duration
	played       int64
	missed       int64
	stalls       int64
	unverified   int64
	badBanned    map[uint32]bool
	honestBanned int64
	rejected     int64
	boosterBytes int64
}

func (t *tally) addDelay(d time.Duration) {
	t.delay.add(d)
	t.delaySum += d
}

// addCounts adds o's counters, not its histogram, lists and set.
func (t *tally) addCounts(o *tally) {
	t.delaySum += o.delaySum
	t.delay.n += o.delay.n
	t.played += o.played
	t.missed += o.missed
	t.stalls += o.stalls
	t.unverified += o.unverified
	t.honestBanned += o.honestBanned
	t.rejected += o.rejected
	t.boosterBytes += o.boosterBytes
}

// add adds all of o.
func (t *tally) add(o *tally) {
	t.addCounts(o)
	t.delay.n -= o.delay.n
	t.delay.merge(&o.delay)
	t.joins = append(t.joins, o.joins...)
	t.starts = append(t.starts, o.starts...)
	t.seeks = append(t.seeks, o.seeks...)
	for id := range o.badBanned {
		if t.badBanned == nil {
			t.badBanned = map[uint32]bool{}
		}
		t.badBanned[id] = true
	}
}

func (h *histogram) merge(o *histogram) {
	if o.buckets == nil {
		return
	}
	if h.buckets == nil {
		h.buckets = make([]int64, histMax)
	}
	for i, k := range o.buckets {
		h.buckets[i] += k
	}
	h.n += o.n
	h.over += o.over
}
