package sim

import (
	"math/bits"
	"time"
)

// eventKind says what an event does when it comes due.
type eventKind uint8

const (
	evArrive       eventKind = iota + 1 // datagram reaches the receiver's downlink
	evDeliver                           // datagram leaves the downlink: HandleDatagram
	evTimer                             // a node's timer
	evAction                            // a scenario action
	evFetchRequest                      // a service request reaches the service
	evFetchSegment                      // a response segment reaches the client's downlink
	evFetchDone                         // the last segment left the downlink: done
)

// event is a value in the queue's slice; nothing per event lives on the heap
// of the Go runtime. key is the insertion sequence shifted left by 8 with the
// kind in the low byte, so ordering by key is ordering by insertion.
type event struct {
	at  time.Duration
	key uint64
	ref int32  // packet, node, action or fetch index, by kind
	aux uint32 // timer generation, or datagram size
	// Sender and receiver of a datagram, so that queueing it touches no
	// other memory.
	from, to int32
}

func (e event) kind() eventKind { return eventKind(e.key) }

func before(a, b *event) bool {
	return a.at < b.at || (a.at == b.at && a.key < b.key)
}

// eventHeap is a 4-ary min-heap of events ordered by (at, key).
type eventHeap []event

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 4
		if !before(&e, &s[p]) {
			break
		}
		s[i] = s[p]
		i = p
	}
	s[i] = e
}

// pop removes and returns the earliest event; h must not be empty.
func (h *eventHeap) pop() event {
	s := *h
	top := s[0]
	n := len(s) - 1
	last := s[n]
	*h = s[:n]
	if n > 0 {
		s[:n].siftDown(0, last)
	}
	return top
}

// siftDown places e at or below slot i.
func (h eventHeap) siftDown(i int, e event) {
	n := len(h)
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		end := min(c+4, n)
		for j := c + 1; j < end; j++ {
			if before(&h[j], &h[m]) {
				m = j
			}
		}
		if !before(&h[m], &e) {
			break
		}
		h[i] = h[m]
		i = m
	}
	h[i] = e
}

// heapify restores the heap property over arbitrary contents.
func (h eventHeap) heapify() {
	if len(h) < 2 {
		return
	}
	for i := (len(h) - 2) / 4; i >= 0; i-- {
		h.siftDown(i, h[i])
	}
}

// Calendar geometry: events within the horizon wait in per-bucket slices
// (appending is cheap and stays in cache); only the current bucket is kept as
// a heap, so the heap stays small however many datagrams are in flight.
const (
	bucketShift = 19 // a bucket spans 2^19 ns, about half a millisecond
	wheelSize   = 2048
	wheelMask   = wheelSize - 1
)

// eventQueue orders events by (at, insertion order): events at the same
// instant come out in the order they were pushed. It is a calendar queue:
// a heap for the current bucket, a wheel of unsorted buckets for the next
// second or so, and a heap for events beyond that.
type eventQueue struct {
	seq uint64

	cur  eventHeap // events of buckets before base
	base int64     // the first bucket not yet moved into cur

	wheel      [wheelSize][]event // bucket b waits in wheel[b&wheelMask]
	wheelCount int
	spare      [][]event // emptied bucket slices, for reuse

	far eventHeap // events of bucket base+wheelSize and later
}

func (q *eventQueue) len() int { return len(q.cur) + q.wheelCount + len(q.far) }

func (q *eventQueue) push(at time.Duration, kind eventKind, ref int32, aux uint32) {
	q.pushEvent(event{at: at, ref: ref, aux: aux}, kind)
}

// pushEvent queues e, setting its key from kind and the insertion order.
func (q *eventQueue) pushEvent(e event, kind eventKind) {
	q.seq++
	e.key = q.seq<<8 | uint64(kind)
	q.insert(e)
}

// insert queues e with the key it has.
func (q *eventQueue) insert(e event) {
	// Buckets are compared, not times, so that times near the end of
	// time.Duration cannot overflow a bucket boundary.
	b := int64(e.at >> bucketShift)
	if b < q.base {
		q.cur.push(e)
		return
	}
	if b-q.base < wheelSize {
		slot := &q.wheel[b&wheelMask]
		if *slot == nil {
			if k := len(q.spare); k > 0 {
				*slot = q.spare[k-1]
				q.spare = q.spare[:k-1]
			}
		}
		*slot = append(*slot, e)
		q.wheelCount++
		return
	}
	q.far.push(e)
}

// fill moves the next bucket holding events into cur until cur is not
// empty; it reports false if the queue is empty.
func (q *eventQueue) fill() bool {
	for len(q.cur) == 0 {
		switch {
		case q.wheelCount > 0:
		case len(q.far) > 0:
			q.base = int64(q.far[0].at >> bucketShift) // skip the empty wheel
		default:
			return false
		}
		slot := &q.wheel[q.base&wheelMask]
		q.base++
		if len(*slot) > 0 {
			q.cur = append(q.cur, *slot...)
			q.wheelCount -= len(*slot)
			// Most buckets are empty at any time: lend the memory on.
			q.spare = append(q.spare, (*slot)[:0])
			*slot = nil
		}
		for len(q.far) > 0 && int64(q.far[0].at>>bucketShift) < q.base {
			q.cur = append(q.cur, q.far.pop())
		}
		q.cur.heapify()
	}
	return true
}

// popBefore moves every event due before end to dst, in no particular
// order, and returns dst. Whole buckets move without being sorted.
func (q *eventQueue) popBefore(end time.Duration, dst []event) []event {
	moved := false
	if len(q.cur) > 0 {
		k := 0
		for _, e := range q.cur {
			if e.at < end {
				dst = append(dst, e)
			} else {
				q.cur[k] = e
				k++
			}
		}
		moved = k != len(q.cur)
		q.cur = q.cur[:k]
	}
	last := int64(end >> bucketShift) // the bucket end falls in
	split := func(e event) {
		if e.at < end {
			dst = append(dst, e)
		} else {
			q.cur = append(q.cur, e)
			moved = true
		}
	}
	for q.base <= last {
		if q.wheelCount == 0 {
			if len(q.far) == 0 || int64(q.far[0].at>>bucketShift) > last {
				break
			}
			q.base = max(q.base, int64(q.far[0].at>>bucketShift)) // skip the empty wheel
		}
		slot := &q.wheel[q.base&wheelMask]
		q.base++
		if len(*slot) > 0 {
			if q.base <= last {
				dst = append(dst, *slot...) // the whole bucket is due
			} else {
				for _, e := range *slot {
					split(e)
				}
			}
			q.wheelCount -= len(*slot)
			q.spare = append(q.spare, (*slot)[:0])
			*slot = nil
		}
		for len(q.far) > 0 && int64(q.far[0].at>>bucketShift) < q.base {
			split(q.far.pop())
		}
	}
	if moved {
		q.cur.heapify()
	}
	return dst
}

// peek returns the earliest event, or nil if the queue is empty.
func (q *eventQueue) peek() *event {
	if !q.fill() {
		return nil
	}
	return &q.cur[0]
}

// pop removes and returns the earliest event; the queue must not be empty.
func (q *eventQueue) pop() event {
	q.fill()
	return q.cur.pop()
}

// link is one direction of a node's access link: a FIFO served at a fixed
// rate. A FIFO at a fixed rate needs no per-byte events: the time its last
// queued bit leaves is all the state there is.
type link struct {
	rateBps   int64         // 0: unlimited
	busyUntil time.Duration // when the last admitted datagram has left
}

// admit queues sizeBytes arriving at now and returns when its last bit leaves
// the link. It refuses (ok false, state unchanged) when the datagram would
// wait longer than limit before its first bit is sent.
func (l *link) admit(now time.Duration, sizeBytes int, limit time.Duration) (leave time.Duration, ok bool) {
	if l.rateBps == 0 {
		return now, true
	}
	start := now
	if l.busyUntil > now {
		if l.busyUntil-now > limit {
			return 0, false
		}
		start = l.busyUntil
	}
	l.busyUntil = start + transmitTime(int64(sizeBytes), l.rateBps)
	return l.busyUntil, true
}

// queueDelay is how long a datagram arriving now would wait.
func (l *link) queueDelay(now time.Duration) time.Duration {
	return max(0, l.busyUntil-now)
}

// transmitTime is the time to serialise sizeBytes at rateBps, rounded up to
// the nanosecond so a link never goes faster than its rate. rateBps <= 0
// means unlimited.
func transmitTime(sizeBytes, rateBps int64) time.Duration {
	if rateBps <= 0 || sizeBytes <= 0 {
		return 0
	}
	const nsPerSecond = uint64(time.Second)
	if sizeBytes < 1<<30 { // 8e9 * 2^30 < 2^63: one multiply, one divide
		bitNs := uint64(sizeBytes) * 8 * nsPerSecond
		d := bitNs / uint64(rateBps)
		if d*uint64(rateBps) != bitNs {
			d++
		}
		return time.Duration(d)
	}
	hi, lo := bits.Mul64(uint64(sizeBytes), 8*nsPerSecond)
	if hi >= uint64(rateBps) {
		return time.Duration(1<<63 - 1)
	}
	d, rem := bits.Div64(hi, lo, uint64(rateBps))
	if rem != 0 {
		d++
	}
	return time.Duration(d)
}
